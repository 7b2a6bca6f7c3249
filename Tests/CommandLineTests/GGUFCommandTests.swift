import XCTest
import Foundation
import TestSupport

/// `export --format gguf` and `import --format gguf` at the command line: the
/// round trip gives the same logits, the output file rule holds, and a
/// damaged GGUF is refused with one line and nothing written at --out.
final class GGUFCommandTests: CommandLineTestCase {
    /// A tiny LLaMA-style run with a byte-level BPE tokenizer that has an end token.
    func trainLlamaRun(_ name: String) throws {
        try trainTinyRun(name, extra: ["--set", "model.norm=rmsnorm", "--set", "model.position=rope", "--set", "model.activation=swiglu",
                                       "--set", "model.n_kv_head=1", "--set", "tokenizer.type=bpe", "--set", "tokenizer.vocab_size=280",
                                       "--set", "tokenizer.special_tokens=<|endoftext|>"])
    }

    func logits(_ checkpoint: String) throws -> [[Double]] {
        let result = try tinygpt(["logits", "--checkpoint", checkpoint, "--ids", "3 1 4 1 5 9 2 6"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[Double]]
    }

    func testExportImportRoundTripAndTheOutputFileRule() throws {
        try trainLlamaRun("run")
        let export = try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "model.gguf"])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stderr.contains("architecture llama"), export.stderr)
        let back = try tinygpt(["import", "--format", "gguf", "--from", "model.gguf", "--out", "back"])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertTrue(back.stderr.contains("dequantized to float32") || back.stderr.contains("kept"), back.stderr)
        for (a, b) in zip(try logits("run").joined(), try logits("back").joined()) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a))) }
        let q8 = try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--type", "q8_0", "--out", "q8.gguf"])
        XCTAssertEqual(q8.status, 0, q8.stderr)

        let before = contents("model.gguf")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "model.gguf"]), mentioning: "--force")
        XCTAssertEqual(contents("model.gguf"), before)
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "run/latest/model.safetensors", "--force"]),
                      mentioning: "never replaced")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "back/config.json", "--force"]),
                      mentioning: "tinygpt checkpoint")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "back"]), mentioning: "is a directory")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "nowhere/x.gguf"]), mentioning: "does not exist")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--type", "q4_0", "--out", "x.gguf"]), mentioning: "f32, f16, q8_0")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--type", "f16", "--out", "x"]), mentioning: "--type")
        assertRefused(try tinygpt(["import", "--format", "hf", "--from", "model.gguf", "--out", "x", "--dequantize"]), mentioning: "--dequantize")
        let forced = try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--type", "f16", "--out", "model.gguf", "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertNotEqual(contents("model.gguf"), before)

        try trainTinyRun("chars", extra: ["--set", "model.activation=gelu_tanh"])
        assertRefused(try tinygpt(["export", "--checkpoint", "chars", "--format", "gguf", "--out", "c.gguf"]), mentioning: "tokenizer")
        XCTAssertFalse(exists("x.gguf") || exists("c.gguf") || exists("x"))
    }

    func testDamagedGGUFFilesAreRefusedWithOneLine() throws {
        try trainLlamaRun("run")
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "good.gguf"]).status, 0)
        let good = [UInt8](try XCTUnwrap(contents("good.gguf")))
        let fields = try XCTUnwrap(GGUFBytes.tensorInfoFields(good, name: "blk.0.ffn_down.weight"))
        var cases: [(String, [UInt8], String)] = [("truncated", Array(good[0..<(good.count - 100)]), "truncated")]
        var offset = good
        GGUFBytes.store(UInt64(good.count * 2), at: fields.offset, in: &offset)
        cases.append(("offset", offset, "'blk.0.ffn_down.weight'"))
        var size = good
        GGUFBytes.store(UInt64(1 << 24), at: fields.type - 8, in: &size)
        cases.append(("size", size, "the file is truncated or the offset or size is wrong"))
        var type = good
        GGUFBytes.store(UInt32(77), at: fields.type, in: &type)
        cases.append(("type", type, "supported tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K"))
        var architecture = good
        architecture.replaceSubrange(try XCTUnwrap(GGUFBytes.stringValue(good, key: "general.architecture")), with: Array("mamba".utf8))
        cases.append(("architecture", architecture, "architecture 'mamba' is not supported; supported: llama, gpt2"))
        var tokenizer = good
        tokenizer.replaceSubrange(try XCTUnwrap(GGUFBytes.stringValue(good, key: "tokenizer.ggml.model")), with: Array("rwkv".utf8))
        cases.append(("tokenizer", tokenizer, "rwkv"))
        for (name, bytes, mentioning) in cases {
            try Data(bytes).write(to: scratch.appendingPathComponent("\(name).gguf"))
            assertRefused(try tinygpt(["import", "--format", "gguf", "--from", "\(name).gguf", "--out", "out-\(name)"]), mentioning: mentioning)
            XCTAssertFalse(exists("out-\(name)"), name)
        }
        assertRefused(try tinygpt(["import", "--format", "gguf", "--from", "missing.gguf", "--out", "out"]), mentioning: "missing.gguf")
        assertRefused(try tinygpt(["import", "--format", "gguf", "--from", "run", "--out", "out"]), mentioning: "directory")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") || $0.hasPrefix("out") }
        XCTAssertEqual(leftovers, [], "nothing written at --out")
    }
}
