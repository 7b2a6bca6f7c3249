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
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "x", "--format", "int3"]), mentioning: "int8, int4, f16 or bf16")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "q-int8", "--out", "x"]), mentioning: "already quantized")
        assertRefused(try tinygpt(["quantize", "--checkpoint", "run", "--out", "q-int8", "--group-size", "8"]), mentioning: "never replaced")
        XCTAssertFalse(exists("x"))
        XCTAssertEqual(contents("q-int8/model.safetensors"), before, "nothing overwritten")
        assertRefused(try tinygpt(["export", "--format", "hf", "--checkpoint", "q-int8", "--out", "hf"]), mentioning: "float checkpoint")
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "fine", "--init-from", "q-int8"] + tiny), mentioning: "float checkpoint")
        XCTAssertFalse(exists("hf"))
    }
}
