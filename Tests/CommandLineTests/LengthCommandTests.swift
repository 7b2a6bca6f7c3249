import XCTest
import Foundation

/// eval/sample/logits/export past the trained context and with RoPE scaling,
/// as a user runs them: the built executable on tiny trained checkpoints.
final class LengthCommandTests: CommandLineTestCase {
    override var tiny: [String] {
        ["--set", "model.n_layer=1", "--set", "model.d_model=16", "--set", "model.n_head=2",
         "--set", "model.context_length=16", "--set", "train.batch_size=2", "--set", "train.max_steps=4",
         "--set", "train.warmup_steps=1", "--set", "train.eval_interval=4", "--set", "train.eval_steps=1",
         "--set", "train.log_interval=4", "--set", "tokenizer.type=char"]
    }
    override var textRepeats: Int { 40 }

    func train(_ name: String, _ extra: [String]) throws {
        let r = try tinygpt(["train", "--data", "text.txt", "--out", name] + tiny + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testEvalPastTheContext() throws {
        try train("learned", [])
        try train("rope", ["--set", "model.position=rope"])
        try train("alibi", ["--set", "model.position=alibi"])
        let data = ["--data", "text.txt"]

        assertRefused(try tinygpt(["eval", "--checkpoint", "learned", "--context", "32"] + data), mentioning: "learned positions have no embedding")
        assertRefused(try tinygpt(["eval", "--checkpoint", "rope", "--context", "0"] + data), mentioning: "--context must be an integer ≥ 1")
        assertRefused(try tinygpt(["eval", "--checkpoint", "alibi", "--context", "1000000"] + data), mentioning: "GB")
        assertRefused(try tinygpt(["eval", "--checkpoint", "rope", "--set", "model.rope_scaling={\"rope_type\":\"ntk\",\"factor\":2}"] + data),
                      mentioning: "model.rope_scaling.rope_type must be one of linear, dynamic, yarn")
        assertRefused(try tinygpt(["eval", "--checkpoint", "rope", "--set", "model.rope_scaling.rope_type=linear", "--set", "model.rope_scaling.factor=0"] + data),
                      mentioning: "model.rope_scaling.factor must be a finite number ≥ 1")
        assertRefused(try tinygpt(["eval", "--checkpoint", "alibi", "--set", "model.rope_scaling={\"rope_type\":\"linear\",\"factor\":2}"] + data),
                      mentioning: "applies only to model.position = rope")
        assertRefused(try tinygpt(["eval", "--checkpoint", "rope", "--set", "model.n_layer=2"] + data),
                      mentioning: "only model.rope_scaling can change after training")

        // Past the trained context, by position, with JSON and a plot.
        let r = try tinygpt(["eval", "--checkpoint", "rope", "--context", "48", "--by-position", "--buckets", "3", "--svg", "plot.svg", "--json",
                             "--set", "model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":3}"] + data)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let buckets = json["by_position"] as! [[String: Any]]
        XCTAssertEqual(buckets.map { $0["start"] as! Int }, [0, 16, 32])
        XCTAssertEqual(json["context"] as? Int, 48)
        let svg = try String(contentsOf: scratch.appendingPathComponent("plot.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("<path") && svg.contains("trained context 16"))

        let plain = try tinygpt(["eval", "--checkpoint", "alibi", "--context", "40"] + data)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.hasPrefix("tokens "), plain.stdout)
    }

    func testSampleLogitsAndExportWithPositions() throws {
        try train("rope", ["--set", "model.position=rope", "--set", "model.norm=rmsnorm", "--set", "model.activation=swiglu",
                           "--set", "model.bias=false"])
        let s = try tinygpt(["sample", "--checkpoint", "rope", "--context", "40", "--max-new-tokens", "60", "--no-stream",
                             "--set", "model.rope_scaling={\"rope_type\":\"dynamic\",\"factor\":2}"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let ids = (0..<30).map { String($0 % 10) }.joined(separator: " ")
        let l = try tinygpt(["logits", "--checkpoint", "rope", "--ids", ids, "--set", "model.rope_scaling.rope_type=linear",
                             "--set", "model.rope_scaling.factor=2"])
        XCTAssertEqual(l.status, 0, l.stderr)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(l.stdout.utf8)) as! [[Double]]).count, 30)
        let e = try tinygpt(["export", "--checkpoint", "rope", "--format", "hf", "--out", "hf",
                             "--set", "model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":4}"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("hf/config.json"))) as! [String: Any]
        XCTAssertEqual((config["rope_scaling"] as? [String: Any])?["rope_type"] as? String, "yarn")

        try train("deep", ["--set", "model.norm_position=deepnorm", "--set", "model.init=xavier"])
        assertRefused(try tinygpt(["export", "--checkpoint", "deep", "--format", "hf", "--out", "hf2"]), mentioning: "deepnorm cannot be exported")
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "deep2", "--set", "model.norm_position=deepnorm",
                                   "--set", "model.init=gpt2"] + tiny),
                      mentioning: "model.init = gpt2")
    }
}
