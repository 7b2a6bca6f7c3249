import XCTest
import Foundation

/// `tinygpt quantize` and quantized checkpoints at the command line: they
/// sample, evaluate and print logits; bad input is one line and a non-zero exit.
final class QuantizeCommandTests: CommandLineTestCase {
    func testQuantizedCheckpointsRunAndBadInputIsRefused() throws {
        try trainTinyRun("run")
        for format in ["int8", "int4"] {
            let q = try tinygpt(["quantize", "--checkpoint", "run", "--out", "q-\(format)", "--format", format])
            XCTAssertEqual(q.status, 0, q.stderr)
            let s = try tinygpt(["sample", "--checkpoint", "q-\(format)", "--prompt", "a cat", "--max-new-tokens", "8", "--strategy", "greedy"])
            XCTAssertEqual(s.status, 0, s.stderr)
            XCTAssertTrue(s.stdout.hasPrefix("a cat"))
            let e = try tinygpt(["eval", "--checkpoint", "q-\(format)", "--data", "text.txt"])
            XCTAssertEqual(e.status, 0, e.stderr)
            XCTAssertTrue(e.stdout.contains("perplexity"))
            let l = try tinygpt(["logits", "--checkpoint", "q-\(format)", "--ids", "1 2"])
            XCTAssertEqual(l.status, 0, l.stderr)
            let i = try tinygpt(["info", "--checkpoint", "q-\(format)"])
            XCTAssertTrue(i.stdout.contains("quantized: \(format)") && i.stdout.contains("KV cache per token"), i.stdout)
        }
        let before = contents("q-int8/model.safetensors")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--group-size", "0"]), mentioning: "--group-size must be ≥ 1")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--group-size", "5"]), mentioning: "does not divide")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--group-size", "32"]), mentioning: "larger than the rows")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--format", "int4", "--group-size", "1"]), mentioning: "even")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--format", "int3"]), mentioning: "int8, int4, f16, bf16 or f32")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "q-int8", "--out", "x"]), mentioning: "already quantized")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "q-int8", "--group-size", "8"]), mentioning: "never replaced")
        XCTAssertFalse(exists("x"))
        XCTAssertEqual(contents("q-int8/model.safetensors"), before, "nothing overwritten")
        assertRefused(try tinygpt(["export", "--format", "hf", "--checkpoint", "q-int8", "--out", "hf"]), mentioning: "float checkpoint")
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "fine", "--init-from", "q-int8"] + tiny), mentioning: "float checkpoint")
        XCTAssertFalse(exists("hf"))
    }

    /// quantize --format f16|bf16: a half checkpoint that every command reads as a float one
    /// (sample on the per-token and the batched path, eval, logits within the half's rounding of
    /// float32, info, export to Hugging Face in the same dtype, train --init-from).
    func testHalfCheckpointsRunEverywhereAndBadInputIsRefused() throws {
        try trainTinyRun("run")
        func logits(_ checkpoint: String) throws -> [[Double]] {
            let l = try tinygpt(["logits", "--checkpoint", checkpoint, "--ids", "1 2 3 4"])
            XCTAssertEqual(l.status, 0, l.stderr)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.stdout.utf8)) as? [[Double]])
        }
        let reference = try logits("run")
        for format in ["f16", "bf16"] {
            let out = "h-\(format)"
            let q = try tinygpt(["quantize", "--checkpoint", "run", "--out", out, "--format", format])
            XCTAssertEqual(q.status, 0, q.stderr)
            XCTAssertTrue(q.stderr.contains("wrote \(out) (\(format))"), q.stderr)
            XCTAssertTrue(String(decoding: try XCTUnwrap(contents("\(out)/model.safetensors")).prefix(400), as: UTF8.self).contains("\"dtype\":\"\(format.uppercased())\""))
            for extra in [[], ["--strategy", "sample", "--num-samples", "2"]] {
                let s = try tinygpt(["sample", "--checkpoint", out, "--prompt", "a cat", "--max-new-tokens", "8"] + (extra.isEmpty ? ["--strategy", "greedy"] : extra))
                XCTAssertEqual(s.status, 0, s.stderr)
                XCTAssertTrue(s.stdout.contains("a cat"), s.stdout)
            }
            let e = try tinygpt(["eval", "--checkpoint", out, "--data", "text.txt"])
            XCTAssertEqual(e.status, 0, e.stderr)
            XCTAssertTrue(e.stdout.contains("perplexity"))
            let half = try logits(out)
            let spread = reference.flatMap { $0 }.map(abs).max()!
            for (a, b) in zip(half.flatMap { $0 }, reference.flatMap { $0 }) {
                XCTAssertEqual(a, b, accuracy: (format == "f16" ? 2e-3 : 2e-2) * spread, format)
            }
            let i = try tinygpt(["info", "--checkpoint", out])
            XCTAssertTrue(i.stdout.contains("stored as \(format)") && i.stdout.contains("non-zero parameters"), i.stdout)
            let x = try tinygpt(["export", "--format", "hf", "--checkpoint", out, "--out", "hf-\(format)"])
            XCTAssertEqual(x.status, 0, x.stderr)
            XCTAssertTrue(String(decoding: try XCTUnwrap(contents("hf-\(format)/model.safetensors")).prefix(400), as: UTF8.self).contains("\"dtype\":\"\(format.uppercased())\""))
            let t = try tinygpt(["train", "--data", "text.txt", "--out", "fine-\(format)", "--init-from", out, "--set", "train.max_steps=2",
                                 "--set", "train.eval_interval=2", "--set", "train.eval_steps=1", "--set", "train.warmup_steps=0"])
            XCTAssertEqual(t.status, 0, t.stderr)
        }
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--format", "f16", "--group-size", "8"]), mentioning: "--group-size applies to int8 and int4")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--format", "bf16", "--float-embeddings"]), mentioning: "--float-embeddings applies to int8 and int4")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "h-f16", "--format", "bf16"]), mentioning: "never replaced")
        XCTAssertFalse(exists("x"))
    }
}
