import XCTest
import Foundation

/// Issue 28's options as a user meets them: sample without the KV cache and
/// with a minimum length, a prefix LM fine-tuned from a causal base, export
/// refusing what transformers cannot hold, and bad values refused in one line
/// before anything is written.
final class CurriculumCommandTests: CommandLineTestCase {
    func testSampleWithoutTheKeyValueCacheGivesTheSameText() throws {
        try trainTinyRun("run", extra: ["--set", "model.position=t5"])
        let sample = ["sample", "--checkpoint", "run", "--prompt", "the ", "--max-new-tokens", "40", "--strategy", "greedy"]
        for rows in ["1", "2"] {  // the per-token path, and the batched one
            let cached = try tinygpt(sample + ["--num-samples", rows])
            XCTAssertEqual(cached.status, 0, cached.stderr)
            let recomputed = try tinygpt(sample + ["--num-samples", rows, "--no-kv-cache"])
            XCTAssertEqual(recomputed.status, 0, recomputed.stderr)
            XCTAssertEqual(recomputed.stdout, cached.stdout, "\(rows) rows")
        }
        let bench = try tinygpt(["bench", "sample", "--tokens", "8", "--no-kv-cache", "--set", "model.n_layer=1", "--set", "model.d_model=32",
                                 "--set", "model.n_head=2", "--set", "model.n_kv_head=2", "--set", "model.d_ff=32"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stdout.contains("no KV cache"), bench.stdout)
    }

    func testMinNewTokensIsAFlagAndIsChecked() throws {
        try trainTinyRun("run")
        let ok = try tinygpt(["sample", "--checkpoint", "run", "--prompt", "a", "--max-new-tokens", "5", "--min-new-tokens", "5", "--strategy", "greedy"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--max-new-tokens", "5", "--min-new-tokens", "6"]),
                      mentioning: "sample.min_new_tokens (6) must not exceed sample.max_new_tokens (5)")
    }

    /// A causal base fine-tuned as a prefix LM (--set model.attention survives --init-from), sampled and scored;
    /// refused on plain text and by quantize and export, each in one line and before writing.
    func testPrefixLMFromACausalBase() throws {
        try trainTinyRun("base")
        let animals = ["cat", "dog", "rat", "ant"]
        let lines = (0..<16).map { "{\"prompt\": \"the \(animals[$0 % 4]) \", \"completion\": \"sat on the mat.\"}" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("sft.jsonl"), atomically: true, encoding: .utf8)
        let sft = try tinygpt(["train", "--init-from", path("base"), "--data", "sft.jsonl", "--out", "prefix",
                               "--set", "train.objective=sft", "--set", "model.attention=prefix_lm"] + tiny)
        XCTAssertEqual(sft.status, 0, sft.stderr)
        let config = String(decoding: contents("prefix/latest/config.json") ?? Data(), as: UTF8.self)
        XCTAssertTrue(config.contains("\"attention\": \"prefix_lm\""), config)
        for extra in [[], ["--no-kv-cache"], ["--num-samples", "2"]] {
            let sample = try tinygpt(["sample", "--checkpoint", "prefix", "--prompt", "the cat ", "--max-new-tokens", "8", "--strategy", "greedy"] + extra)
            XCTAssertEqual(sample.status, 0, sample.stderr)
        }
        let eval = try tinygpt(["eval", "--checkpoint", "prefix", "--data", "sft.jsonl"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "plain", "--set", "model.attention=prefix_lm"] + tiny),
                      mentioning: "model.attention = prefix_lm needs examples split into prompt and completion")
        XCTAssertFalse(exists("plain"))
        assertRefused(try tinygpt(["quantize", "--checkpoint", "prefix", "--out", "q"]), mentioning: "prefix LM")
        XCTAssertFalse(exists("q"))
        assertRefused(try tinygpt(["export", "--checkpoint", "prefix", "--format", "hf", "--out", "hf"]), mentioning: "model.attention = prefix_lm cannot be exported")
        XCTAssertFalse(exists("hf"))
    }

    /// Export names what transformers cannot represent; what it can (sigmoid, tanh, GLU) goes out.
    func testExportRefusesWhatTransformersCannotHold() throws {
        try trainTinyRun("t5", extra: ["--set", "model.position=t5"])
        assertRefused(try tinygpt(["export", "--checkpoint", "t5", "--format", "hf", "--out", "hf"]), mentioning: "position learned (got t5)")
        try trainTinyRun("beta", extra: ["--set", "model.activation=swish", "--set", "model.swish_beta=learnable"])
        assertRefused(try tinygpt(["export", "--checkpoint", "beta", "--format", "hf", "--out", "hf"]), mentioning: "model.swish_beta = learnable cannot be exported")
        XCTAssertFalse(exists("hf"))
        try trainTinyRun("tanh", extra: ["--set", "model.activation=tanh"])
        let tanh = try tinygpt(["export", "--checkpoint", "tanh", "--format", "hf", "--out", "hf-tanh"])
        XCTAssertEqual(tanh.status, 0, tanh.stderr)
        XCTAssertTrue(String(decoding: contents("hf-tanh/config.json") ?? Data(), as: UTF8.self).contains("\"activation_function\": \"tanh\""))
    }

    func testBadValuesAreRefusedBeforeAnythingIsWritten() throws {
        for (setting, message) in [("train.label_smoothing=1", "train.label_smoothing must be in [0, 1), got 1.0"),
                                   ("model.swish_beta=0", "model.swish_beta must be > 0 or \"learnable\" with activation swish, got 0.0"),
                                   ("sample.min_new_tokens=201", "sample.min_new_tokens (201) must not exceed sample.max_new_tokens (200)")] {
            assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "bad", "--set", "model.activation=swish", "--set", setting] + tiny),
                          mentioning: message)
            XCTAssertFalse(exists("bad"), setting)
        }
    }
}
