import XCTest
import Foundation

/// Knowledge distillation as a user runs it: a teacher run, then a student
/// distilled from it on text and on prompt–completion examples; bad input
/// refused with one line before anything is written.
final class DistillCommandTests: CommandLineTestCase {
    func writeExamples() throws {
        let animals = ["cat", "dog", "rat", "mat"]
        let lines = (0..<24).map { i in "{\"prompt\": \"the \(animals[i % 4]) \", \"completion\": \"sat on the mat.\"}" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("pairs.jsonl"), atomically: true, encoding: .utf8)
    }

    func testDistillFromATeacherOnTextAndExamples() throws {
        try trainTinyRun("teacher", extra: ["--set", "model.n_layer=2", "--set", "model.d_model=32"])
        // No tokenizer settings: the student takes the teacher's.
        let student = try tinygpt(["train", "--data", "text.txt", "--out", "student", "--teacher", path("teacher"),
                                   "--set", "train.objective=distill", "--set", "train.distill_temperature=3"] + tiny)
        XCTAssertEqual(student.status, 0, student.stderr)
        XCTAssertTrue(student.stderr.contains("distill: teacher"), student.stderr)
        XCTAssertTrue(student.stdout.contains("| ce ") && student.stdout.contains("| kl "), student.stdout)
        XCTAssertEqual(contents("student/latest/tokenizer.json"), contents("teacher/latest/tokenizer.json"))
        let metrics = String(decoding: contents("student/metrics.jsonl") ?? Data(), as: UTF8.self)
        for key in ["\"distill/ce\"", "\"distill/kl\"", "\"val_perplexity\""] { XCTAssertTrue(metrics.contains(key), key) }
        XCTAssertTrue(String(decoding: contents("student/config.json") ?? Data(), as: UTF8.self).contains("\"teacher\": \"\(path("teacher"))\""))
        // Prompt–completion examples: the completion-only mode, as sft.
        try writeExamples()
        let sft = try tinygpt(["train", "--data", "pairs.jsonl", "--out", "sft", "--teacher", path("teacher"),
                               "--set", "train.objective=distill"] + tiny)
        XCTAssertEqual(sft.status, 0, sft.stderr)
        XCTAssertTrue(sft.stderr.contains("prompt-completion examples, objective distill"), sft.stderr)
    }

    func testBadDistillationInputIsRefusedBeforeAnythingIsWritten() throws {
        try trainTinyRun("teacher")
        let distill = ["--data", "text.txt", "--out", "a", "--set", "train.objective=distill"] + tiny
        assertRefused(try tinygpt(["train", "--teacher", path("nowhere")] + distill), mentioning: "--teacher")
        assertRefused(try tinygpt(["train"] + distill), mentioning: "needs a teacher")
        assertRefused(try tinygpt(["train", "--teacher", path("teacher"), "--data", "text.txt", "--out", "a"] + tiny), mentioning: "--teacher")
        assertRefused(try tinygpt(["train", "--teacher", path("teacher")] + distill + ["--set", "train.distill_temperature=0"]),
                      mentioning: "train.distill_temperature")
        assertRefused(try tinygpt(["train", "--teacher", path("teacher")] + distill + ["--set", "train.distill_alpha=1.5"]),
                      mentioning: "train.distill_alpha")
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "a", "--set", "train.distill_alpha=0.9"] + tiny),
                      mentioning: "applies to train.objective distill")
        assertRefused(try tinygpt(["train", "--teacher", path("teacher")] + distill + ["--set", "model.context_length=32"]),
                      mentioning: "context")
        // A teacher with another tokenizer (a student started from another run keeps its own).
        try String(repeating: "a zebra quietly buzzed by the lake. ", count: 60).write(toFile: path("other.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try tinygpt(["train", "--data", "other.txt", "--out", "other"] + tiny).status, 0)
        assertRefused(try tinygpt(["train", "--teacher", path("teacher"), "--init-from", path("other")] + distill),
                      mentioning: "different tokenizer")
        XCTAssertFalse(exists("a"), "nothing written")
    }
}
