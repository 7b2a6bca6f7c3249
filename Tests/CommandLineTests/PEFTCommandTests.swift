import XCTest
import Foundation

/// Bottleneck adapters, prefix tuning and prompt tuning from the command line:
/// train on a trained base, then info, eval, sample, logits and export on the
/// adapter checkpoint; bad sections refused before anything is written.
final class PEFTCommandTests: CommandLineTestCase {
    let methods: [(String, [String])] = [
        ("adapter", ["--set", "adapter.bottleneck=4", "--set", "adapter.nonlinearity=gelu"]),
        ("prefix_tuning", ["--set", "prefix_tuning.num_virtual_tokens=3", "--set", "prefix_tuning.encoder_hidden_size=8"]),
        ("prompt_tuning", ["--set", "prompt_tuning.num_virtual_tokens=3", "--set", "prompt_tuning.prompt_tuning_init=TEXT",
                           "--set", "prompt_tuning.prompt_tuning_init_text=cat"]),
    ]

    func testEveryMethodTrainsAndEveryCommandReadsItsCheckpoint() throws {
        try trainTinyRun("base")
        let base = try tinygpt(["logits", "--checkpoint", "base/best", "--ids", "1 2 3"])
        for (method, settings) in methods {
            let out = "ft-\(method)"
            let train = try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", out] + tiny + settings + ["--set", "train.lr=0.05"])
            XCTAssertEqual(train.status, 0, train.stderr)
            XCTAssertTrue(train.stderr.contains("\(method): "), train.stderr)
            XCTAssertTrue(train.stderr.contains("trainable parameters"), train.stderr)
            XCTAssertTrue(exists("\(out)/latest/adapter.safetensors"), method)
            XCTAssertFalse(exists("\(out)/latest/model.safetensors"), "\(method): adapters only, base.json names the base")
            XCTAssertTrue(exists("\(out)/latest/base.json"), method)

            let info = try tinygpt(["info", "--checkpoint", out])
            XCTAssertEqual(info.status, 0, info.stderr)
            XCTAssertTrue(info.stdout.contains("trainable: "), info.stdout)
            let eval = try tinygpt(["eval", "--checkpoint", out, "--data", "text.txt"])
            XCTAssertEqual(eval.status, 0, eval.stderr)
            let sample = try tinygpt(["sample", "--checkpoint", out, "--prompt", "a cat", "--set", "sample.max_new_tokens=20"])
            XCTAssertEqual(sample.status, 0, sample.stderr)
            let beams = try tinygpt(["sample", "--checkpoint", out, "--prompt", "a cat", "--strategy", "beam", "--set", "sample.beam_width=2",
                                     "--set", "sample.max_new_tokens=5"])
            XCTAssertEqual(beams.status, 0, beams.stderr)
            let logits = try tinygpt(["logits", "--checkpoint", "\(out)/latest", "--ids", "1 2 3"])
            XCTAssertEqual(logits.status, 0, logits.stderr)
            XCTAssertNotEqual(logits.stdout, base.stdout, "\(method) changes the logits")
            let resumed = try tinygpt(["train", "--resume", "--out", out, "--data", "text.txt"] + tiny + settings + ["--set", "train.lr=0.05"])
            XCTAssertEqual(resumed.status, 0, resumed.stderr)

            let hf = try tinygpt(["export", "--checkpoint", out, "--format", "hf", "--out", "hf-\(method)"])
            assertRefused(hf, mentioning: method == "adapter" ? "nonlinear" : "--format peft")
            XCTAssertFalse(exists("hf-\(method)"))
            let peft = try tinygpt(["export", "--checkpoint", out, "--format", "peft", "--out", "peft-\(method)"])
            if method == "adapter" {
                assertRefused(peft, mentioning: "PEFT has no bottleneck")
            } else {
                XCTAssertEqual(peft.status, 0, peft.stderr)
                let config = try JSONSerialization.jsonObject(with: contents("peft-\(method)/adapter_config.json") ?? Data()) as? [String: Any] ?? [:]
                XCTAssertEqual(config["peft_type"] as? String, method == "prefix_tuning" ? "PREFIX_TUNING" : "PROMPT_TUNING")
                XCTAssertEqual(config["num_virtual_tokens"] as? Int, 3)
            }
            assertRefused(try tinygpt(["train", "--init-from", out, "--data", "text.txt", "--out", "again"] + tiny), mentioning: "do not merge")
        }
    }

    func testBadSectionsAreRefusedBeforeAnythingIsWritten() throws {
        try trainTinyRun("base")
        let cases: [([String], String)] = [
            (["--set", "lora.rank=2", "--set", "adapter.bottleneck=2"], "keep one"),
            (["--set", "prefix_tuning.num_virtual_tokens=0"], "prefix_tuning.num_virtual_tokens must be in [1"),
            (["--set", "adapter.bottleneck=0"], "adapter.bottleneck must be in [1"),
            (["--set", "adapter.bottleneck=17"], "exceeds model.d_model (16)"),
            (["--set", "prompt_tuning.num_virtual_tokens=16"], "leaves no room in model.context_length (16)"),
            (["--set", "prompt_tuning.num_virtual_tokens=2", "--set", "prompt_tuning.prompt_tuning_init=TEXT",
              "--set", "prompt_tuning.prompt_tuning_init_text=a cat"], "more than prompt_tuning.num_virtual_tokens (2)"),
        ]
        for (settings, expected) in cases {
            let result = try tinygpt(["train", "--init-from", "base", "--data", "text.txt", "--out", "bad"] + tiny + settings)
            assertRefused(result, mentioning: expected)
            XCTAssertFalse(exists("bad"), "\(settings)")
        }
    }
}
