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
        XCTAssertFalse(exists("ft/latest/model.safetensors"), "adapters only: base.json names the base")
        XCTAssertTrue(exists("ft/latest/base.json"))
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

    func testExportMergesForHFAndWritesPEFTAdapters() throws {
        try trainTinyRun("base")
        XCTAssertEqual(try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "ft"] + tiny + lora + ["--set", "train.lr=0.02"]).status, 0)
        // hf: the merged model, which imports back to the adapter checkpoint's logits.
        let merged = try tinygpt(["export", "--checkpoint", "ft", "--format", "hf", "--out", "merged"])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertTrue(merged.stderr.contains("LoRA adapters merged"), merged.stderr)
        XCTAssertEqual(try tinygpt(["import", "--format", "hf", "--from", "merged", "--out", "back"]).status, 0)
        let ids = "1 2 3 4 5"
        func logits(_ checkpoint: String) throws -> [[Double]] {
            let r = try tinygpt(["logits", "--checkpoint", checkpoint, "--ids", ids])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[Double]] ?? []
        }
        let adapted = try logits("ft"), back = try logits("back"), base = try logits("base")
        XCTAssertEqual(adapted.count, 5)
        for (a, b) in zip(adapted.joined(), back.joined()) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertNotEqual(adapted, base)

        // Inference reads an adapter checkpoint as its merged model: the per-token sampling
        // path (one sequence) gives what the merged export gives, and quantize merges too.
        func sampled(_ checkpoint: String) throws -> String {
            let r = try tinygpt(["sample", "--checkpoint", checkpoint, "--prompt", "a cat", "--strategy", "sample", "--temperature", "1",
                                 "--top-k", "0", "--top-p", "1", "--seed", "7", "--max-new-tokens", "40"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout
        }
        XCTAssertEqual(try sampled("ft"), try sampled("back"))
        XCTAssertNotEqual(try sampled("ft"), try sampled("base"), "the adapters change the distribution the sampler draws from")
        let quantized = try tinygpt(["quantize", "--checkpoint", "ft", "--out", "q8"])
        XCTAssertEqual(quantized.status, 0, quantized.stderr)
        XCTAssertFalse(String(decoding: contents("q8/config.json") ?? Data(), as: UTF8.self).contains("\"lora\""))
        for (a, b) in zip(try logits("q8").joined(), back.joined()) { XCTAssertEqual(a, b, accuracy: 0.05 * max(1, abs(b))) }

        // peft: PEFT's file names, tensor names and config fields (the numbers are checked by bench/parity/lora_peft_check.py).
        let peft = try tinygpt(["export", "--checkpoint", "ft", "--format", "peft", "--out", "adapter", "--base", "my-base"])
        XCTAssertEqual(peft.status, 0, peft.stderr)
        let config = try JSONSerialization.jsonObject(with: contents("adapter/adapter_config.json") ?? Data()) as? [String: Any] ?? [:]
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(config["r"] as? Int, 2)
        XCTAssertEqual(config["lora_alpha"] as? Double, 4)
        XCTAssertEqual(config["fan_in_fan_out"] as? Bool, true, "GPT-2's Conv1D")
        XCTAssertEqual(config["base_model_name_or_path"] as? String, "my-base")
        XCTAssertEqual(config["target_modules"] as? [String], ["c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"])
        XCTAssertEqual((config["rank_pattern"] as? [String: Int])?["c_attn"], 4, "q and v stacked in c_attn: rank 2·r")
        let weights = String(decoding: contents("adapter/adapter_model.safetensors")?.prefix(4096) ?? Data(), as: UTF8.self)
        XCTAssertTrue(weights.contains("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"), weights)
        XCTAssertTrue(weights.contains("base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight"), weights)

        // A checkpoint without adapters has nothing to export as peft; nothing is written.
        assertRefused(try tinygpt(["export", "--checkpoint", "base", "--format", "peft", "--out", "none"]), mentioning: "has no LoRA adapters")
        XCTAssertFalse(exists("none"))
        assertRefused(try tinygpt(["export", "--checkpoint", "ft", "--format", "onnx", "--out", "none"]), mentioning: "--format must be hf")
        assertRefused(try tinygpt(["export", "--checkpoint", "ft", "--format", "hf", "--base", "x", "--out", "none"]), mentioning: "--base names the base model of a peft export")
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
