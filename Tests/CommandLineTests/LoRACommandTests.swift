import XCTest
import Foundation

/// LoRA from the command line: train adapters on a trained base, then use the
/// adapter checkpoint with eval, sample and logits; bad lora sections refused.
final class LoRACommandTests: CommandLineTestCase {
    let lora = ["--set", "lora.rank=2", "--set", "lora.alpha=4", "--set", "lora.targets=q,v,o,up,down", "--set", "lora.dropout=0.1"]

    func testAdapterRunFromABaseIsUsableByEveryCommand() throws {
        try trainTinyRun("base")
        let result = try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "ft"] + tiny + lora)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(exists("ft/latest/adapter.safetensors"))
        XCTAssertEqual(contents("ft/latest/model.safetensors"), contents("base/best/model.safetensors"), "the base is copied unchanged")
        let config = String(decoding: contents("ft/latest/config.json") ?? Data(), as: UTF8.self)
        XCTAssertTrue(config.contains("\"lora\": {"), config)
        XCTAssertFalse(String(decoding: contents("base/best/config.json") ?? Data(), as: UTF8.self).contains("lora"))

        let eval = try tinygpt(["eval", "--checkpoint", "ft", "--data", "text.txt"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("perplexity"), eval.stdout)
        let sample = try tinygpt(["sample", "--checkpoint", "ft", "--prompt", "a cat", "--set", "sample.max_new_tokens=5"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        let adapted = try tinygpt(["logits", "--checkpoint", "ft/latest", "--ids", "1 2 3"])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        let base = try tinygpt(["logits", "--checkpoint", "base/best", "--ids", "1 2 3"])
        XCTAssertNotEqual(adapted.stdout, base.stdout, "the trained adapters change the logits")

        // The same command gives the same adapters (bit-exact resumption is TrainTests' LoRATrainTests),
        // and --resume of the finished run accepts its lora section.
        let same = try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "same"] + tiny + lora)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(contents("same/latest/adapter.safetensors"), contents("ft/latest/adapter.safetensors"))
        let again = try tinygpt(["train", "--resume", "--out", "ft", "--data", "text.txt"] + tiny + lora)
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    func testBadLoRASectionsAreRefusedBeforeAnythingIsWritten() throws {
        try trainTinyRun("base")
        let cases: [([String], String)] = [
            (["--set", "lora.rank=0"], "lora.rank must be in [1"),
            (["--set", "lora.targets=q,qkv"], "unknown target 'qkv'"),
            (["--set", "lora.rank=17"], "lora.rank (17) exceeds the q projection's smaller side (16 × 16)"),
            (["--set", "lora.targets=gate"], "'gate' needs a gated feed-forward"),
            (["--set", "lora.ranks=2"], "unknown key 'lora.ranks'"),
        ]
        for (settings, message) in cases {
            assertRefused(try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "bad"] + tiny + settings), mentioning: message)
            XCTAssertFalse(exists("bad"), "\(settings): nothing written")
        }
    }
}
