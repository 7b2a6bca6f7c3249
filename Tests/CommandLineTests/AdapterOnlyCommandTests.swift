import XCTest
import Foundation

/// Adapter checkpoints hold adapters only and name their base: every command
/// that reads one finds the base, and refuses in one line when it is missing
/// or changed; `quantize --format f32` writes a copy that needs nothing else.
final class AdapterOnlyCommandTests: CommandLineTestCase {
    let lora = ["--set", "lora.rank=2", "--set", "lora.alpha=4", "--set", "lora.targets=q,v", "--set", "train.lr=0.02"]

    func testAdapterCheckpointNamesItsBaseAndEveryReaderChecksIt() throws {
        try trainTinyRun("base")
        let train = try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "ft"] + tiny + lora)
        XCTAssertEqual(train.status, 0, train.stderr)
        for checkpoint in ["ft/latest", "ft/best"] {
            XCTAssertFalse(exists("\(checkpoint)/model.safetensors"), checkpoint)
            XCTAssertTrue(exists("\(checkpoint)/adapter.safetensors"), checkpoint)
            XCTAssertTrue(exists("\(checkpoint)/base.json"), checkpoint)
        }
        let record = try JSONSerialization.jsonObject(with: contents("ft/latest/base.json") ?? Data()) as? [String: Any] ?? [:]
        XCTAssertEqual(record["path"] as? String, "base")
        XCTAssertEqual(record["relative"] as? String, "../../base/best")
        let ids = ["--ids", "1 2 3 4"]
        let adapted = try tinygpt(["logits", "--checkpoint", "ft"] + ids)
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        let info = try tinygpt(["info", "--checkpoint", "ft"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("base: \(path("base/best")) (adapters only"), info.stdout)
        XCTAssertTrue(info.stdout.contains("non-zero parameters"), info.stdout)

        // A whole copy: the base beside the adapters, no record.
        let whole = try tinygpt(["quantize", "--checkpoint", "ft", "--format", "f32", "--out", "whole"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stderr.contains("needs no other checkpoint"), whole.stderr)
        XCTAssertEqual(contents("whole/model.safetensors"), contents("base/best/model.safetensors"), "the base's weights, copied")
        XCTAssertEqual(contents("whole/adapter.safetensors"), contents("ft/latest/adapter.safetensors"))
        XCTAssertFalse(exists("whole/base.json"))

        // The base moved away: every reader refuses in one line, writing nothing.
        try FileManager.default.moveItem(atPath: path("base"), toPath: path("moved"))
        let readers: [[String]] = [
            ["sample", "--checkpoint", "ft", "--prompt", "a cat", "--set", "sample.max_new_tokens=3"],
            ["eval", "--checkpoint", "ft", "--data", "text.txt"], ["logits", "--checkpoint", "ft"] + ids, ["info", "--checkpoint", "ft"],
            ["export", "--checkpoint", "ft", "--format", "hf", "--out", "hf"], ["export", "--checkpoint", "ft", "--format", "peft", "--out", "peft"],
            ["export", "--checkpoint", "ft", "--format", "gguf", "--out", "ft.gguf"],
            ["quantize", "--checkpoint", "ft", "--out", "q8"], ["prune", "--checkpoint", "ft", "--out", "pruned", "--method", "magnitude", "--sparsity", "0.5"],
            ["train", "--init-from", "ft", "--data", "text.txt", "--out", "again"] + tiny,
        ]
        for arguments in readers {
            assertRefused(try tinygpt(arguments), mentioning: "names its base 'base' (\(path("base/best"))), which does not exist")
        }
        for out in ["hf", "peft", "ft.gguf", "q8", "pruned", "again"] { XCTAssertFalse(exists(out), out) }
        let standalone = try tinygpt(["logits", "--checkpoint", "whole"] + ids)
        XCTAssertEqual(standalone.status, 0, standalone.stderr)
        XCTAssertEqual(standalone.stdout, adapted.stdout, "the whole copy computes what the adapter checkpoint did")

        // Back in place it works again; retrained, it is refused as changed.
        try FileManager.default.moveItem(atPath: path("moved"), toPath: path("base"))
        XCTAssertEqual(try tinygpt(["logits", "--checkpoint", "ft"] + ids).stdout, adapted.stdout)
        let retrained = try tinygpt(["train", "--force", "--data", "text.txt", "--out", "base"] + tiny + ["--set", "train.seed=7"])
        XCTAssertEqual(retrained.status, 0, retrained.stderr)
        assertRefused(try tinygpt(["sample", "--checkpoint", "ft", "--prompt", "a cat"]), mentioning: "changed since the adapters were trained")
    }
}
