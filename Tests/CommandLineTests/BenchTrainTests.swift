import XCTest
import Foundation

/// `bench train` times the trainer's own steps for every objective: the
/// built-in sets (no data file), LoRA, a data file, and the refusals.
final class BenchTrainTests: CommandLineTestCase {
    var small: [String] {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/shakespeare-char.json").path
        return ["--config", config] + sizes
    }
    let sizes = ["--set", "model.n_layer=1", "--set", "model.d_model=32", "--set", "model.n_head=2", "--set", "model.context_length=32",
                 "--set", "train.batch_size=2", "--steps", "2", "--threads", "1", "--json"]

    func object(_ result: Result) throws -> [String: Any] {
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func testEveryObjectiveAndLoRA() throws {
        let lm = try object(try tinygpt(["bench", "train"] + small))
        XCTAssertEqual(lm["objective"] as? String, "lm")
        XCTAssertEqual(lm["tokens_per_step"] as? Int, 2 * 32, "two windows of the context")
        XCTAssertEqual(lm["trainable"] as? Int, lm["parameters"] as? Int)
        let sft = try object(try tinygpt(["bench", "train"] + small + ["--set", "train.objective=sft", "--set", "lora.rank=4"]))
        XCTAssertEqual(sft["objective"] as? String, "sft+lora")
        XCTAssertLessThan(sft["trainable"] as! Int, sft["parameters"] as! Int, "only the adapters train")
        let dpo = try object(try tinygpt(["bench", "train"] + small + ["--set", "train.objective=dpo"]))
        XCTAssertEqual(dpo["objective"] as? String, "dpo")
        XCTAssertEqual(dpo["tokens_per_step"] as? Int, 2 * 2 * 33, "chosen and rejected of two pairs, each filling the context")
        // distill without a teacher: a fresh model of the student's config teaches.
        let distill = try object(try tinygpt(["bench", "train"] + small + ["--set", "train.objective=distill"]))
        XCTAssertEqual(distill["objective"] as? String, "distill")
        XCTAssertEqual(distill["tokens_per_step"] as? Int, 2 * 32)
    }

    func testADataFileAndItsRefusals() throws {
        let pairs = (0..<12).map { i in "{\"prompt\": \"q\(i)?\", \"chosen\": \" yes.\", \"rejected\": \" no.\"}" }.joined(separator: "\n")
        try pairs.write(to: scratch.appendingPathComponent("pairs.jsonl"), atomically: true, encoding: .utf8)
        let dpo = try object(try tinygpt(["bench", "train"] + small + ["--set", "train.objective=dpo", "--data", "pairs.jsonl"], in: scratch))
        XCTAssertEqual(dpo["objective"] as? String, "dpo")
        let wrong = try tinygpt(["bench", "train"] + small + ["--data", "pairs.jsonl"], in: scratch)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.hasPrefix("tinygpt: error: train.objective is lm but data file"), wrong.stderr)
        let missing = try tinygpt(["bench", "train"] + small + ["--data", "nothing.txt"], in: scratch)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nothing.txt"), missing.stderr)
    }
}
