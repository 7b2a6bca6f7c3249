import XCTest
import Foundation

/// One test per rough edge that a hostile battery and a literal walk through
/// the docs found (issue 32): data loss, accepted nonsense, recovery, and the
/// frictions a newcomer meets. Each runs the built tinygpt as a user would.
final class RoughEdgeTests: CommandLineTestCase {

    // MARK: helpers

    /// The train.* settings of `tiny`, for runs whose model comes from --init-from.
    var tinyTraining: [String] {
        stride(from: 0, to: tiny.count, by: 2).filter { tiny[$0 + 1].hasPrefix("train.") }.flatMap { [tiny[$0], tiny[$0 + 1]] }
    }

    /// Rewrites a safetensors file's JSON header (the data that follows is unchanged).
    func editHeader(_ name: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = scratch.appendingPathComponent(name)
        let bytes = [UInt8](try Data(contentsOf: url))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        edit(&header)
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        let size = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) }
        var file = size + json
        file.append(contentsOf: bytes[(8 + length)...])
        try Data(file).write(to: url)
    }

    /// Replaces the first float of a safetensors file's data (the first tensor's first value).
    func setFirstWeight(_ name: String, to value: Float) throws {
        let url = scratch.appendingPathComponent(name)
        var bytes = [UInt8](try Data(contentsOf: url))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let bits = value.bitPattern
        bytes.replaceSubrange((8 + length)..<(12 + length), with: (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) })
        try Data(bytes).write(to: url)
    }

    func setStep(_ run: String, _ checkpoint: String = "latest", to step: Int) throws {
        let url = scratch.appendingPathComponent(run).appendingPathComponent(checkpoint).appendingPathComponent("trainer_state.json")
        var state = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        state["step"] = step
        try JSONSerialization.data(withJSONObject: state).write(to: url)
    }

    // MARK: data loss

    // 1. A run never replaces the checkpoint it starts from, and a run stopped early keeps a checkpoint.
    func testARunNeverDeletesItsInitCheckpoint() throws {
        try trainTinyRun("run")
        let weights = contents("run/best/model.safetensors")
        try FileManager.default.createSymbolicLink(atPath: path("link"), withDestinationPath: path("run"))
        for source in ["run", "run/best", "run/latest", "link/best"] {
            for force in [[], ["--force"]] {
                assertRefused(try tinygpt(["train", "--init-from", source, "--out", "run", "--data", "text.txt"] + tiny + force),
                              mentioning: "the checkpoint it starts from")
            }
        }
        assertRefused(try tinygpt(["train", "--init-from", "run/best", "--out", "run/best/inner", "--data", "text.txt"] + tiny),
                      mentioning: "lies inside the --init-from checkpoint")
        XCTAssertEqual(contents("run/best/model.safetensors"), weights)
        XCTAssertTrue(exists("run/tokens.bin"))

        // Its stdout piped to a reader that leaves: the run saves latest/ and says so.
        let stopped = try tinygpt(["train", "--data", "text.txt", "--out", "piped"] + tiny
                                  + ["--set", "train.max_steps=100000", "--set", "train.eval_interval=100000", "--set", "train.log_interval=1"],
                                  pipedInto: "head -c 1")
        XCTAssertEqual(stopped.status, 1, stopped.stderr)
        XCTAssertTrue(stopped.stderr.contains("tinygpt: error: cannot write the output to standard output: broken pipe; stopped at step"), stopped.stderr)
        XCTAssertTrue(exists("piped/latest/model.safetensors"), "a run stopped early keeps latest/")
        let resumed = try tinygpt(["train", "--out", "piped", "--resume", "--set", "train.max_steps=100000"], pipedInto: "head -c 1")
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
    }

    // 1. SIGTERM stops a run as Ctrl-C does, saving latest/; SIGHUP too, unless the caller ignores it (nohup).
    func testSignalsStopARunWithACheckpoint() throws {
        let endless = tiny + ["--set", "train.max_steps=100000000", "--set", "train.eval_interval=100000000", "--set", "train.log_interval=100000000"]
        func start(_ name: String, ignoringHangup: Bool) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let command = (["exec", executable.path, "train", "--data", "text.txt", "--out", name] + endless).joined(separator: " ")
            process.arguments = ["-c", (ignoringHangup ? "trap '' HUP; " : "") + command]
            process.currentDirectoryURL = scratch
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let marker = path("\(name)/.tinygpt-run"), deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: marker) || !exists("\(name)/config.json") {
                XCTAssertLessThan(Date(), deadline, "the trainer never started")
                Thread.sleep(forTimeInterval: 0.05)
            }
            Thread.sleep(forTimeInterval: 0.3)  // into the steps
            return process
        }
        let terminated = try start("term", ignoringHangup: false)
        kill(terminated.processIdentifier, SIGTERM)
        terminated.waitUntilExit()
        XCTAssertEqual(terminated.terminationStatus, 143)
        XCTAssertTrue(exists("term/latest/model.safetensors"))

        let hungUp = try start("hup", ignoringHangup: false)
        kill(hungUp.processIdentifier, SIGHUP)
        hungUp.waitUntilExit()
        XCTAssertEqual(hungUp.terminationStatus, 129)
        XCTAssertTrue(exists("hup/latest/model.safetensors"))

        let nohup = try start("nohup", ignoringHangup: true)
        defer { if nohup.isRunning { kill(nohup.processIdentifier, SIGKILL) } }
        kill(nohup.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertTrue(nohup.isRunning, "an ignored SIGHUP stays ignored")
        kill(nohup.processIdentifier, SIGTERM)
        nohup.waitUntilExit()
        XCTAssertTrue(exists("nohup/latest/model.safetensors"))
    }

    // 2. Neither the passwd entry's home nor $HOME is ever replaced.
    func testHomeFromTheEnvironmentIsNeverReplaced() throws {
        try trainTinyRun("run")
        let home = path("home")
        try FileManager.default.createDirectory(atPath: home + "/notes", withIntermediateDirectories: true)
        try "mine".write(toFile: home + "/notes/a.txt", atomically: true, encoding: .utf8)
        for out in [home, home + "/", path("home/../home")] {
            assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", out, "--force"], environment: ["HOME": home]),
                          mentioning: "is the home directory")
        }
        assertRefused(try tinygpt(["export", "--checkpoint", path("run"), "--format", "hf", "--out", scratch.path, "--force"],
                                  in: URL(fileURLWithPath: "/"), environment: ["HOME": home]), mentioning: "contains the home directory")
        XCTAssertEqual(contents("home/notes/a.txt"), Data("mine".utf8))
    }

    // MARK: nonsense accepted

    // 3. Weights that config.json does not describe are an error, named.
    func testImportRefusesTensorsTheConfigDoesNotUse() throws {
        try trainTinyRun("run", extra: ["--set", "model.n_layer=2"])
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf"]).status, 0)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("hf/config.json"))) as! [String: Any]
        config["n_layer"] = 1
        try JSONSerialization.data(withJSONObject: config).write(to: scratch.appendingPathComponent("hf/config.json"))
        assertRefused(try tinygpt(["import", "--format", "hf", "--from", "hf", "--out", "imported"]), mentioning: "'transformer.h.1.")
        XCTAssertFalse(exists("imported"))
    }

    // 4. A metric that is not finite is an error, in eval and at a fine-tuning run's step 0.
    func testNonFiniteMetricsAreErrors() throws {
        try trainTinyRun("run")
        try FileManager.default.copyItem(atPath: path("run/best"), toPath: path("huge"))
        try setFirstWeight("huge/model.safetensors", to: 3e38)
        assertRefused(try tinygpt(["eval", "--checkpoint", "huge", "--data", "text.txt"]), mentioning: "is nan: the model's outputs are not finite")
        assertRefused(try tinygpt(["eval", "--checkpoint", "huge", "--data", "text.txt", "--json"]), mentioning: "not finite")
        let tuned = try tinygpt(["train", "--init-from", "huge", "--data", "text.txt", "--out", "tuned"] + tiny)
        XCTAssertEqual(tuned.status, 1, tuned.stderr)
        XCTAssertTrue(tuned.stderr.contains("loss at step 0 is ") && tuned.stderr.contains("nothing was trained"), tuned.stderr)
        XCTAssertFalse(exists("tuned/latest"))
    }

    // 5. A saved step beyond train.max_steps is refused on --resume.
    func testAStepBeyondMaxStepsIsRefused() throws {
        try trainTinyRun("run")
        try setStep("run", to: 1_000_000_000)
        assertRefused(try tinygpt(["train", "--out", "run", "--resume"]), mentioning: "step 1000000000 is beyond train.max_steps (6)")
    }

    // 6. A weights file from a newer format is refused, naming both versions.
    func testANewerFormatVersionIsRefused() throws {
        try trainTinyRun("run")
        try editHeader("run/best/model.safetensors") { header in
            var metadata = header["__metadata__"] as! [String: Any]
            metadata["format_version"] = "99"
            header["__metadata__"] = metadata
        }
        for command in [["sample", "--checkpoint", "run/best", "--max-new-tokens", "2"], ["eval", "--checkpoint", "run/best", "--data", "text.txt"],
                        ["export", "--checkpoint", "run/best", "--format", "hf", "--out", "hf"], ["train", "--init-from", "run/best", "--data", "text.txt", "--out", "tuned"] + tiny] {
            assertRefused(try tinygpt(command), mentioning: "format_version 99 is newer than this build of tinygpt reads (1 to 2)")
        }
        XCTAssertEqual(try tinygpt(["quantize", "--checkpoint", "run/latest", "--out", "q"]).status, 0)
        try editHeader("q/model.safetensors") { header in
            var metadata = header["__metadata__"] as! [String: Any]
            metadata["format_version"] = "99"
            header["__metadata__"] = metadata
        }
        assertRefused(try tinygpt(["sample", "--checkpoint", "q", "--max-new-tokens", "2"]), mentioning: "format_version 99")
    }

    // 7. An option that has no effect is an error.
    func testBucketsWithoutByPositionIsRefused() throws {
        try trainTinyRun("run")
        assertRefused(try tinygpt(["eval", "--checkpoint", "run", "--data", "text.txt", "--buckets", "4"]), mentioning: "--by-position")
        let withTable = try tinygpt(["eval", "--checkpoint", "run", "--data", "text.txt", "--by-position", "--buckets", "4"])
        XCTAssertEqual(withTable.status, 0, withTable.stderr)
        XCTAssertEqual(withTable.stdout.split(separator: "\n").count, 6, withTable.stdout)  // totals, header, 4 buckets
    }

    // 8. A config is validated the same wherever it is read: info refuses what train refuses.
    func testInfoAndTrainValidateAConfigAlike() throws {
        for command in [["info"], ["train", "--data", "text.txt", "--out", "gate"] + tiny] {
            assertRefused(try tinygpt(command + ["--set", "lora.targets=gate"]), mentioning: "'gate' needs a gated feed-forward")
        }
        try #"{"model": {"activation": "gelu"}, "lora": {"targets": ["q", "gate"]}}"#.write(toFile: path("gate.json"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["info", "--config", "gate.json"]), mentioning: "'gate' needs a gated feed-forward")
        // Under --init-from the rule sees the checkpoint's model (here gated), not the config file's.
        try trainTinyRun("swiglu", extra: ["--set", "model.activation=swiglu"])
        let adapters = try tinygpt(["train", "--init-from", "swiglu", "--config", "gate.json", "--data", "text.txt", "--out", "lora"]
                                   + tiny + ["--set", "lora.rank=2"])
        XCTAssertEqual(adapters.status, 0, adapters.stderr)
        XCTAssertTrue(adapters.stderr.contains("the model section of \(path("gate.json")) is not used"), adapters.stderr)
    }

    // 9. Optimizer state is checked on load like weights.
    func testNonFiniteOptimizerStateIsRefusedOnResume() throws {
        try trainTinyRun("run", extra: ["--set", "train.max_steps=12"])
        try setStep("run", to: 6)
        try setFirstWeight("run/latest/optimizer.safetensors", to: .nan)
        assertRefused(try tinygpt(["train", "--out", "run", "--resume"]), mentioning: "optimizer.safetensors: tensor 'm.")
    }

    // MARK: recovery

    // 10. A run whose latest/ is missing (a save cut short) resumes from best/, saying so.
    func testResumeContinuesFromBestWhenLatestIsMissing() throws {
        try trainTinyRun("run", extra: ["--set", "train.max_steps=12"])
        try setStep("run", "best", to: 3)
        try FileManager.default.removeItem(atPath: path("run/latest"))
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny), mentioning: "use --resume to continue it")
        let resumed = try tinygpt(["train", "--out", "run", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("has no latest/ (its last save did not complete); resuming from best/ at step 3"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming at step 3"), resumed.stderr)
        XCTAssertTrue(exists("run/latest/model.safetensors"))
    }

    /// The id of a process that has exited.
    func deadProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    // 11. What a killed export left beside its target is cleaned by the next one.
    func testExportCleansLeftoversOfAKilledExport() throws {
        try trainTinyRun("run")
        let dead = try deadProcessID(), fm = FileManager.default
        for leftover in [".hf.tmp-\(dead)-12345", ".hf.old-\(dead)-6789", ".hf.tmp-\(getpid())-1"] {
            try fm.createDirectory(atPath: path(leftover), withIntermediateDirectories: true)
            try "half".write(toFile: path(leftover + "/model.safetensors"), atomically: true, encoding: .utf8)
        }
        // The old copy of a replaced directory goes back in place (its replacement never arrived), so hf/ needs --force again.
        let first = try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf"])
        XCTAssertTrue(first.stderr.contains("recovered hf/ from .hf.old-\(dead)-6789"), first.stderr)
        XCTAssertTrue(first.stderr.contains("removed .hf.tmp-\(dead)-12345, a half-written save"), first.stderr)
        XCTAssertTrue(first.stderr.contains("tinygpt: error: --out 'hf' exists and is not empty"), first.stderr)
        XCTAssertEqual(contents("hf/model.safetensors"), Data("half".utf8))
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf", "--force"]).status, 0)
        XCTAssertTrue(exists("hf/config.json"))
        let left = try fm.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".hf.") }
        XCTAssertEqual(left, [".hf.tmp-\(getpid())-1"], "a running process's temporary directory is its own")
    }

    // 12. A pipe whose reader has gone is an error with exit status 1, as docs/reliability.md says.
    func testAClosedPipeIsAnError() throws {
        try trainTinyRun("run")
        // More than a pipe holds (64 KiB), so tinygpt is still writing when head leaves.
        for command in [["sample", "--checkpoint", "run", "--max-new-tokens", "200000", "--stream"],
                        ["sample", "--checkpoint", "run", "--max-new-tokens", "1000", "--num-samples", "100"]] {
            let result = try tinygpt(command, pipedInto: "head -c 10")
            XCTAssertEqual(result.status, 1, "\(command): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("tinygpt: error: cannot write the output to standard output: broken pipe"), result.stderr)
        }
    }

    // MARK: frictions

    // 13. A schedule that passes over the data many times says so; runs are named after what they were given.
    func testManyEpochsAreNotedAndRunsAreNamedAfterTheirData() throws {
        let many = try tinygpt(["train", "--data", "text.txt"] + tiny + ["--set", "train.max_steps=3000", "--max-seconds", "0.5"])
        XCTAssertEqual(many.status, 0, many.stderr)
        XCTAssertTrue(many.stderr.contains("note: the schedule passes over the training data about 36 times (epochs: train.max_steps 3000 × 2 windows of 16 tokens per step, over 2646 training tokens)"), many.stderr)
        let runs = try FileManager.default.contentsOfDirectory(atPath: path("runs"))
        XCTAssertEqual(runs.count, 1)
        XCTAssertTrue(runs[0].hasPrefix("text-"), runs[0])
        let tuned = try tinygpt(["train", "--init-from", "runs/\(runs[0])", "--data", "text.txt"] + tiny)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertFalse(tuned.stderr.contains("passes over"), tuned.stderr)
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: path("runs")).contains { $0.hasPrefix(runs[0] + "-text-") })
    }

    // 14. Step 0's evaluation is the starting point, not a best that was saved.
    func testStepZeroIsTheStartingPoint() throws {
        let result = try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny)
        let first = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("eval step 0 ") && first.hasSuffix("(starting point)"), first)
        XCTAssertFalse(first.contains("best so far"), first)
    }

    // 18. eval shows train's progress line on a terminal (and nothing of it elsewhere).
    func testEvalShowsProgressOnATerminal() throws {
        try trainTinyRun("run")
        let shown = try tinygptWithTerminal(["eval", "--checkpoint", "run", "--data", "text.txt"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stderr.contains("/367 windows ETA"), shown.stderr)
        XCTAssertTrue(shown.stdout.hasPrefix("tokens 2939 | loss"), shown.stdout)
        let piped = try tinygpt(["eval", "--checkpoint", "run", "--data", "text.txt"])
        XCTAssertEqual(piped.stderr, "")
    }

    // 16. info's int8 estimate uses the group size quantize uses.
    func testInfoAndQuantizeAgreeOnTheGroupSize() throws {
        try trainTinyRun("run")
        XCTAssertTrue(try tinygpt(["info", "--checkpoint", "run"]).stdout.contains("int8 groups of 16:"))
        XCTAssertTrue(try tinygpt(["quantize", "--checkpoint", "run", "--out", "q"]).stderr.contains("groups of 16)"))
        XCTAssertTrue(try tinygpt(["info"]).stdout.contains("int8 groups of 64:"))
    }

    // 19. Fine-tuning's memory check counts the examples' length, not the context;
    //     model.context_length is honoured under --init-from where the model allows it.
    func testFineTuningMemoryAndContextUnderInitFrom() throws {
        try trainTinyRun("rope", extra: ["--set", "model.position=rope"])
        try FileManager.default.copyItem(atPath: path("rope/best"), toPath: path("long"))
        let config = try String(contentsOfFile: path("long/config.json"), encoding: .utf8)
        try config.replacingOccurrences(of: "\"context_length\": 16", with: "\"context_length\": 1048576")
            .write(toFile: path("long/config.json"), atomically: true, encoding: .utf8)
        try String(repeating: "{\"prompt\": \"a cat\", \"completion\": \" sat on the mat.\"}\n", count: 12)
            .write(toFile: path("sft.jsonl"), atomically: true, encoding: .utf8)
        let sft = try tinygpt(["train", "--init-from", "long", "--data", "sft.jsonl", "--out", "sft"] + tinyTraining
                              + ["--set", "train.objective=sft", "--set", "train.batch_size=4096", "--set", "train.max_steps=2", "--set", "train.eval_interval=2"])
        XCTAssertEqual(sft.status, 0, sft.stderr)

        let shorter = try tinygpt(["train", "--init-from", "rope", "--data", "text.txt", "--out", "short"] + tinyTraining + ["--set", "model.context_length=8"])
        XCTAssertEqual(shorter.status, 0, shorter.stderr)
        XCTAssertTrue(try String(contentsOfFile: path("short/config.json"), encoding: .utf8).contains("\"context_length\": 8,"))
        try trainTinyRun("learned")
        assertRefused(try tinygpt(["train", "--init-from", "learned", "--data", "text.txt", "--out", "l"] + tinyTraining + ["--set", "model.context_length=8"]),
                      mentioning: "has learned positions")
        assertRefused(try tinygpt(["train", "--init-from", "rope", "--data", "text.txt", "--out", "l"] + tiny + ["--set", "model.n_layer=2"]),
                      mentioning: "model.n_layer cannot change under --init-from")
        XCTAssertFalse(exists("l"))
    }

    // 17. early_stopping is a setting, exported with the beam settings; a flag the strategy ignores is an error.
    func testBeamEarlyStoppingAndFlagsWithoutEffect() throws {
        try trainTinyRun("run")
        for rule in ["never", "true", "false"] {
            let beam = try tinygpt(["sample", "--checkpoint", "run", "--strategy", "beam", "--early-stopping", rule, "--max-new-tokens", "4"])
            XCTAssertEqual(beam.status, 0, beam.stderr)
        }
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--early-stopping", "maybe", "--strategy", "beam"]),
                      mentioning: "sample.early_stopping must be one of never, true, false")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--strategy", "beam", "--temperature", "0.5"]),
                      mentioning: "--temperature has no effect with strategy beam")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--strategy", "beam", "--set", "sample.top_k=5"]),
                      mentioning: "--top-k has no effect with strategy beam")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--strategy", "greedy", "--seed", "3"]),
                      mentioning: "--seed has no effect with strategy greedy")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--beam-width", "3"]), mentioning: "--beam-width has no effect with strategy sample")

        // A JSON boolean works as in transformers' generation_config.json, and export writes the beam settings.
        try #"{"sample": {"strategy": "beam", "beam_width": 3, "length_penalty": 2.0, "early_stopping": true}}"#
            .write(toFile: path("beam.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf", "--config", "beam.json"]).status, 0)
        var generation = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("hf/generation_config.json"))) as! [String: Any]
        XCTAssertEqual(generation["num_beams"] as? Int, 3)
        XCTAssertEqual(generation["length_penalty"] as? Double, 2)
        XCTAssertEqual(generation["early_stopping"] as? Bool, true)
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf2", "--set", "sample.strategy=beam",
                                    "--set", "sample.early_stopping=never"]).status, 0)
        generation = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("hf2/generation_config.json"))) as! [String: Any]
        XCTAssertEqual(generation["early_stopping"] as? String, "never")
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "hf3", "--set", "train.lr=1"]),
                      mentioning: "export takes sample.* settings")
    }
}
