import XCTest
import Foundation

/// `tinygpt bench sample`: prefill beside decode, a checkpoint instead of the
/// random model, and the window sliding past the context (no speed asserted).
final class BenchSampleTests: CommandLineTestCase {
    func testPrefillDecodeAndCheckpoints() throws {
        let small = ["--set", "model.n_layer=1", "--set", "model.d_model=32", "--set", "model.n_head=2", "--set", "model.n_kv_head=2",
                     "--set", "model.d_ff=64", "--set", "model.context_length=24"]
        let r = try tinygpt(["bench", "sample", "--tokens", "4", "--prompt-tokens", "20", "--json"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(json["prompt_tokens"] as? Int, 20)
        XCTAssertGreaterThan(json["prefill_tokens_per_s"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(json["tokens_per_s"] as? Double ?? 0, 0)
        // More tokens than the context: the window slides, as in sample.
        XCTAssertEqual(try tinygpt(["bench", "sample", "--tokens", "40", "--weights", "int4", "--group-size", "16"] + small).status, 0)
        assertRefused(try tinygpt(["bench", "sample", "--prompt-tokens", "25"] + small), mentioning: "exceeds the model's context of 24")

        try trainTinyRun("run")
        for format in ["int8", "int4"] {
            XCTAssertEqual(try tinygpt(["quantize", "--checkpoint", "run", "--out", "q-\(format)", "--format", format]).status, 0)
        }
        for checkpoint in ["run", "q-int8", "q-int4"] {
            let c = try tinygpt(["bench", "sample", "--checkpoint", checkpoint, "--tokens", "4", "--prompt-tokens", "9"])
            XCTAssertEqual(c.status, 0, c.stderr)
            XCTAssertTrue(c.stdout.contains("prefill 9 tokens"), c.stdout)
        }
        assertRefused(try tinygpt(["bench", "sample", "--checkpoint", "run", "--weights", "int8"]), mentioning: "random model only")
    }
}
