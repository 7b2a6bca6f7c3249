import XCTest
import Foundation

/// One test per rough edge that a hostile battery and a literal walk through
/// the docs found (issue 32): data loss, accepted nonsense, recovery, and the
/// frictions a newcomer meets. Each runs the built tinygpt as a user would.
final class RoughEdgeTests: CommandLineTestCase {

    // MARK: helpers

    /// Rewrites a safetensors file's JSON header (the data that follows is unchanged).
    func editHeader(_ name: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = scratch.appendingPathComponent(name)
        let bytes = [UInt8](try Data(contentsOf: url))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        edit(&header)
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        let size = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) }
        try Data(size + json + bytes[(8 + length)...]).write(to: url)
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

    // MARK: recovery

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
}
