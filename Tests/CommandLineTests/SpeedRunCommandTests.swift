import XCTest
import Foundation

/// Issue 33's options as a user meets them: a run with Muon, QK-norm, ReLU²,
/// soft-capped logits and an untied zero-initialised head trains (TrainTests
/// resumes one bit for bit), samples the same text with and without the KV cache, evaluates, quantizes
/// and reports its cost; export refuses what transformers and llama.cpp cannot
/// hold, and bad values are refused in one line before anything is written.
final class SpeedRunCommandTests: CommandLineTestCase {
    let options = ["--set", "train.optimizer=muon", "--set", "train.muon_lr=0.03", "--set", "model.position=rope", "--set", "model.qk_norm=true",
                   "--set", "model.activation=relu2", "--set", "model.logit_softcap=15", "--set", "model.tie_embeddings=false",
                   "--set", "model.zero_init_head=true"]

    /// sample (one row or two, the same text with and without the KV cache), eval, quantize and
    /// the quantized sample succeed on run directory `run`, and info on its config mentions `infoMentions`.
    func assertEveryReaderRuns(_ run: String, infoMentions: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let sample = ["sample", "--checkpoint", run, "--prompt", "the ", "--max-new-tokens", "30", "--strategy", "greedy"]
        for rows in ["1", "2"] {
            let cached = try tinygpt(sample + ["--num-samples", rows])
            XCTAssertEqual(cached.status, 0, cached.stderr, file: file, line: line)
            let recomputed = try tinygpt(sample + ["--num-samples", rows, "--no-kv-cache"])
            XCTAssertEqual(recomputed.stdout, cached.stdout, "\(rows) rows", file: file, line: line)
        }
        let eval = try tinygpt(["eval", "--checkpoint", run, "--data", "text.txt"])
        XCTAssertEqual(eval.status, 0, eval.stderr, file: file, line: line)
        let quantize = try tinygpt(["quantize", "--checkpoint", run, "--out", run + "-q8"])
        XCTAssertEqual(quantize.status, 0, quantize.stderr, file: file, line: line)
        let quantized = try tinygpt(["sample", "--checkpoint", run + "-q8", "--prompt", "the ", "--max-new-tokens", "10", "--strategy", "greedy"])
        XCTAssertEqual(quantized.status, 0, quantized.stderr, file: file, line: line)
        let info = try tinygpt(["info", "--config", path(run + "/latest/config.json")])
        XCTAssertEqual(info.status, 0, info.stderr, file: file, line: line)
        XCTAssertTrue(info.stdout.contains(infoMentions), info.stdout, file: file, line: line)
    }

    func testEveryPathRunsWithTheOptions() throws {
        try trainTinyRun("run", extra: options)
        let config = String(decoding: contents("run/latest/config.json") ?? Data(), as: UTF8.self)
        for text in ["\"optimizer\": \"muon\"", "\"qk_norm\": true", "\"logit_softcap\": 15", "\"activation\": \"relu2\"", "\"zero_init_head\": true"] {
            XCTAssertTrue(config.contains(text), text + " in " + config)
        }
        try assertEveryReaderRuns("run", infoMentions: "muon state")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf"]), mentioning: "model.qk_norm cannot be exported")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "gguf", "--out", "m.gguf"]), mentioning: "model.qk_norm cannot be exported")
        XCTAssertFalse(exists("hf"))
        XCTAssertFalse(exists("m.gguf"))
        try trainTinyRun("capped", extra: ["--set", "model.logit_softcap=30"])
        assertRefused(try tinygpt(["export", "--checkpoint", "capped", "--format", "hf", "--out", "hf"]), mentioning: "model.logit_softcap = 30.0 cannot be exported")
    }

    /// Value residual and value embeddings through train, sample (cached or not, one row or two), eval,
    /// quantize, info and export; sequence-length warm-up in the same run.
    func testValueOptionsAndSequenceLengthWarmup() throws {
        let value = ["--set", "model.n_layer=2", "--set", "model.value_residual=true", "--set", "model.value_embeddings=1", "--set", "model.n_kv_head=1",
                     "--set", "train.seq_len_warmup_steps=4", "--set", "train.seq_len_warmup_start=8"]
        try trainTinyRun("run", extra: options + value)
        let config = String(decoding: contents("run/latest/config.json") ?? Data(), as: UTF8.self)
        for text in ["\"value_residual\": true", "\"value_embeddings\": 1", "\"seq_len_warmup_steps\": 4"] {
            XCTAssertTrue(config.contains(text), text + " in " + config)
        }
        try assertEveryReaderRuns("run", infoMentions: "value embeddings")
        try trainTinyRun("plain-value", extra: ["--set", "model.n_layer=2", "--set", "model.value_residual=true"])
        assertRefused(try tinygpt(["export", "--checkpoint", "plain-value", "--format", "hf", "--out", "hf"]), mentioning: "model.value_residual cannot be exported")
        assertRefused(try tinygpt(["export", "--checkpoint", "plain-value", "--format", "gguf", "--out", "m.gguf"]), mentioning: "model.value_residual cannot be exported")
        try trainTinyRun("tables", extra: ["--set", "model.value_embeddings=1"])
        assertRefused(try tinygpt(["export", "--checkpoint", "tables", "--format", "hf", "--out", "hf"]), mentioning: "model.value_embeddings = 1 cannot be exported")
        XCTAssertFalse(exists("hf"))
        XCTAssertFalse(exists("m.gguf"))
    }

    func testBadValuesAreRefusedBeforeAnythingIsWritten() throws {
        for (settings, message) in [(["model.logit_softcap=0"], "model.logit_softcap must be > 0 or null (off), got 0.0"),
                                    (["model.logit_softcap=-5"], "model.logit_softcap must be > 0 or null (off), got -5.0"),
                                    (["model.zero_init_head=true"], "model.zero_init_head = true needs model.tie_embeddings = false"),
                                    (["train.muon_lr=0"], "train.muon_lr must be > 0, got 0.0"),
                                    (["train.muon_momentum=1"], "train.muon_momentum must be in [0, 1), got 1.0"),
                                    (["train.optimizer=muon", "lora.rank=2"], "train.optimizer = muon orthogonalises the updates of the blocks' 2-D weights"),
                                    (["model.value_embeddings=-1"], "model.value_embeddings must be ≥ 0, got -1"),
                                    (["model.value_embeddings=3"], "model.value_embeddings (3) must be in 0...model.n_layer (1)"),
                                    (["model.value_residual=true"], "model.value_residual = true needs model.n_layer ≥ 2"),
                                    (["train.seq_len_warmup_steps=-1"], "train.seq_len_warmup_steps must be ≥ 0, got -1"),
                                    (["train.seq_len_warmup_start=0"], "train.seq_len_warmup_start must be ≥ 1, got 0"),
                                    (["train.seq_len_warmup_steps=5", "train.seq_len_warmup_start=999"], "train.seq_len_warmup_start (999) must be in 1..."),
                                    (["train.seq_len_warmup_steps=5", "train.objective=sft"], "train.seq_len_warmup_steps (5) shortens the windows of plain text")] {
            assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "bad"] + settings.flatMap { ["--set", $0] } + tiny), mentioning: message)
            XCTAssertFalse(exists("bad"), "\(settings)")
        }
    }
}
