import XCTest
import Foundation

/// One test per finding of the reliability battery (issue: never lose a
/// user's data). Each runs the built tinygpt as a user would; the battery
/// itself is bench/parity/reliability.py.
final class ReliabilityTests: CommandLineTestCase {

    // 1. export/import --out never deletes what it must not.
    func testOutputDirectoriesAreNeverReplacedCarelessly() throws {
        try trainTinyRun("run")
        let weights = contents("run/latest/model.safetensors")
        for force in [[], ["--force"]] {
            assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "run"] + force), mentioning: "run")
            assertRefused(try tinygpt(["export", "--checkpoint", "run/best", "--format", "hf", "--out", "run"] + force), mentioning: "source")
            assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "."] + force), mentioning: "working directory")
        }
        XCTAssertEqual(contents("run/latest/model.safetensors"), weights)
        XCTAssertTrue(exists("text.txt"))

        try "keep me".write(toFile: path("file.json"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "file.json", "--force"]), mentioning: "is a file")
        XCTAssertEqual(contents("file.json"), Data("keep me".utf8))

        // A non-empty directory: only with --force, and then replaced whole.
        try FileManager.default.createDirectory(atPath: path("mine"), withIntermediateDirectories: true)
        try "notes".write(toFile: path("mine/notes.txt"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "mine"]), mentioning: "--force")
        XCTAssertTrue(exists("mine/notes.txt"))
        XCTAssertEqual(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "mine", "--force"]).status, 0)
        XCTAssertTrue(exists("mine/model.safetensors"))

        // import: never over a tinygpt checkpoint or run, even with --force, nor over its source.
        XCTAssertEqual(try tinygpt(["import", "--format", "hf", "--from", "mine", "--out", "imported"]).status, 0)
        assertRefused(try tinygpt(["import", "--format", "hf", "--from", "mine", "--out", "imported", "--force"]), mentioning: "tinygpt checkpoint")
        assertRefused(try tinygpt(["import", "--format", "hf", "--from", "mine", "--out", "run", "--force"]), mentioning: "tinygpt run")
        assertRefused(try tinygpt(["import", "--format", "hf", "--from", "mine", "--out", "mine", "--force"]), mentioning: "source")
        XCTAssertEqual(contents("run/latest/model.safetensors"), weights)

        // train --out: a directory holding other files is not a run.
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "mine", "--force"] + tiny), mentioning: "choose a new or empty directory")
        XCTAssertTrue(exists("mine/model.safetensors"))

        // tokenizer train --out: an existing file only with --force, never the training text.
        assertRefused(try tinygpt(["tokenizer", "train", "--type", "char", "--data", "text.txt", "--out", "file.json"]), mentioning: "--force")
        assertRefused(try tinygpt(["tokenizer", "train", "--type", "char", "--data", "text.txt", "--out", "text.txt", "--force"]), mentioning: "training file itself")
        XCTAssertEqual(contents("file.json"), Data("keep me".utf8))
    }

    // 2. One trainer per run directory: a second process is refused and a killed holder's lock is taken over.
    func testASecondTrainerOnTheSameRunIsRefused() throws {
        let first = Process()
        first.executableURL = executable
        first.arguments = ["train", "--data", "text.txt", "--out", "shared"] + tiny
            + ["--set", "train.max_steps=100000000", "--set", "train.eval_interval=1000000", "--set", "train.log_interval=1000000"]
        first.currentDirectoryURL = scratch
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        // Wait until the first trainer holds the run (its marker names it).
        let marker = path("shared/.tinygpt-run")
        let deadline = Date().addingTimeInterval(60)
        while String(decoding: FileManager.default.contents(atPath: marker) ?? Data(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines) != "\(first.processIdentifier)" {
            XCTAssertLessThan(Date(), deadline, "the first trainer never started")
            XCTAssertTrue(first.isRunning)
            Thread.sleep(forTimeInterval: 0.05)
        }
        let second = try tinygpt(["train", "--data", "text.txt", "--out", "shared", "--force"] + tiny)
        assertRefused(second, mentioning: "is in use by process \(first.processIdentifier)")
        assertRefused(try tinygpt(["train", "--out", "shared", "--resume"]), mentioning: "in use")

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // The kernel released the dead trainer's lock: the next one takes the directory over.
        let after = try tinygpt(["train", "--data", "text.txt", "--out", "shared", "--force"] + tiny)
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertTrue(exists("shared/latest/model.safetensors"))
    }

    // A full device (Linux has /dev/full, macOS none) and a closed descriptor.
    #if os(Linux)
    static let failingStdoutRedirects = ["> /dev/full", ">&-"]
    #else
    static let failingStdoutRedirects = [">&-"]
    #endif

    // 3 and 6. A failed write to standard output is an error, never a success or a trap.
    func testFailedStandardOutputIsAnError() throws {
        try trainTinyRun("run")
        let commands: [[String]] = [
            ["logits", "--checkpoint", "run", "--ids", "1 2 3"],
            ["eval", "--checkpoint", "run", "--data", "text.txt", "--json"],
            ["info", "--config", path("run/latest/config.json")],
            ["help"],
            ["sample", "--checkpoint", "run", "--max-new-tokens", "5", "--no-stream"],
            ["sample", "--checkpoint", "run", "--max-new-tokens", "5", "--stream"],
            ["tokenizer", "encode", "--tokenizer", path("run/tokenizer.json"), "--text", "a cat"],
            ["tokenizer", "decode", "--tokenizer", path("run/tokenizer.json"), "--ids", "1 2 3"],
            ["train", "--data", "text.txt", "--out", "viafull"] + tiny,
        ]
        for command in commands {
            for (n, redirect) in Self.failingStdoutRedirects.enumerated() {
                // A run stopped by its output saves latest/ first, so each redirect trains into its own directory.
                let command = command.map { $0 == "viafull" ? "viafull\(n)" : $0 }
                let result = try tinygpt(command, stdoutRedirect: redirect)
                XCTAssertEqual(result.status, 1, "\(command) \(redirect): \(result.stderr)")
                let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
                XCTAssertTrue(last.hasPrefix("tinygpt: error: cannot write the output to standard output"), "\(command) \(redirect): \(result.stderr)")
            }
        }
        XCTAssertTrue(exists("viafull0/latest/model.safetensors") && exists("viafull1/latest/model.safetensors"))
    }

    // 4. --resume refuses a corpus that changed since the run started.
    func testResumeRefusesChangedData() throws {
        try String(repeating: "a cat sat on the mat and the dog ran to the cat. ", count: 60).write(toFile: path("data.txt"), atomically: true, encoding: .utf8)
        let run = try tinygpt(["train", "--data", "data.txt", "--out", "run"] + tiny + ["--set", "train.max_steps=12"])
        XCTAssertEqual(run.status, 0, run.stderr)
        // Same size, one character different.
        try String(repeating: "a cat sat on the mat and the dog ran to the cat! ", count: 60).write(toFile: path("data.txt"), atomically: true, encoding: .utf8)
        try rewindLatest("run", to: 3)
        assertRefused(try tinygpt(["train", "--out", "run", "--resume"]), mentioning: "changed since the run started (same size")
        try "short".write(toFile: path("data.txt"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["train", "--out", "run", "--resume"]), mentioning: "2940 bytes when the run started, 5 bytes now")
    }

    /// Makes a finished run resumable by setting its latest step back (the
    /// weights stay; only the record of progress changes).
    func rewindLatest(_ run: String, to step: Int) throws {
        let url = scratch.appendingPathComponent(run).appendingPathComponent("latest/trainer_state.json")
        var state = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        state["step"] = step
        try JSONSerialization.data(withJSONObject: state).write(to: url)
    }

    // 5. Leftovers of a crash are cleaned, latest/ is recovered, and a run that never saved can be rerun.
    func testCrashLeftoversAreRecovered() throws {
        try trainTinyRun("run", extra: ["--set", "train.max_steps=12"])
        try rewindLatest("run", to: 6)
        let fm = FileManager.default
        // A crash between the two renames of a save: latest/ moved aside, its replacement half-written.
        try fm.moveItem(atPath: path("run/latest"), toPath: path("run/.latest.old-123-456"))
        try fm.copyItem(atPath: path("run/best"), toPath: path("run/.best.tmp-123-789"))
        let resumed = try tinygpt(["train", "--out", "run", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("recovered latest/ from .latest.old-123-456"), resumed.stderr)
        let left = try fm.contentsOfDirectory(atPath: path("run")).filter { $0.contains(".tmp-") || $0.contains(".old-") }
        XCTAssertEqual(left, [])

        // A fresh run that stopped before its first checkpoint: rerun without --force.
        try fm.createDirectory(atPath: path("failed"), withIntermediateDirectories: true)
        try "4242\n".write(toFile: path("failed/.tinygpt-run"), atomically: true, encoding: .utf8)
        try "{\"type\":\"log\",\"step\":1}\n".write(toFile: path("failed/metrics.jsonl"), atomically: true, encoding: .utf8)
        let rerun = try tinygpt(["train", "--data", "text.txt", "--out", "failed"] + tiny)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(exists("failed/latest/model.safetensors"))
    }

    // 7. info computes sizes from the config; it never builds the model.
    func testInfoDescribesHugeConfigsWithoutBuildingThem() throws {
        let seven = ["--set", "model.n_layer=32", "--set", "model.d_model=4096", "--set", "model.n_head=32",
                     "--set", "model.d_ff=11008", "--set", "model.vocab_size=32000", "--set", "model.context_length=4096",
                     "--set", "model.norm=rmsnorm", "--set", "model.activation=swiglu", "--set", "model.position=rope",
                     "--set", "model.bias=false", "--set", "model.tie_embeddings=false"]
        let result = try tinygpt(["info"] + seven)
        XCTAssertEqual(result.status, 0, result.stderr)
        // LLaMA-7B: 32 × (4·4096² + 3·4096·11008 + 2·4096) + 2·32000·4096 + 4096.
        XCTAssertTrue(result.stdout.contains("parameters: 6,738,415,616"), result.stdout)
        let extreme = try tinygpt(["info", "--set", "model.n_layer=1000", "--set", "model.d_model=65536", "--set", "model.n_head=64",
                                   "--set", "model.vocab_size=1000000"])
        XCTAssertEqual(extreme.status, 0, extreme.stderr)
    }

    // 8. Sizes that would exhaust memory are refused before anything is allocated.
    func testSampleSizesAreBounded() throws {
        try trainTinyRun("run")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--num-samples", "100000000"]), mentioning: "num_samples must be in [1, 10000]")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--strategy", "beam", "--beam-width", "100000"]), mentioning: "beam_width")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--max-new-tokens", "1000000000"]), mentioning: "max_new_tokens")
    }

    // 9. A checkpoint with a non-finite weight is refused on load, naming the tensor.
    func testNonFiniteWeightsAreRefused() throws {
        try trainTinyRun("run")
        let file = path("run/best/model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let nan: [UInt8] = [0x00, 0x00, 0xC0, 0x7F]
        bytes.replaceSubrange((8 + headerLength)..<(12 + headerLength), with: nan)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        for command in [["sample", "--checkpoint", "run/best"], ["eval", "--checkpoint", "run/best", "--data", "text.txt"],
                        ["export", "--checkpoint", "run/best", "--format", "hf", "--out", "hf"]] {
            assertRefused(try tinygpt(command), mentioning: "non-finite value")
        }
        XCTAssertFalse(exists("hf"))
    }

    // 10. One vocabulary rule for sample, eval, logits and export.
    func testTokenizerAndModelVocabulariesMustAgree() throws {
        try trainTinyRun("run")
        let file = path("run/best/tokenizer.json")
        var json = try String(contentsOfFile: file, encoding: .utf8)
        json = json.replacingOccurrences(of: "\"vocab\": {", with: "\"vocab\": {\"z\": 14,")
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        for command in [["sample", "--checkpoint", "run/best"], ["eval", "--checkpoint", "run/best", "--data", "text.txt"],
                        ["logits", "--checkpoint", "run/best", "--ids", "1"],
                        ["export", "--checkpoint", "run/best", "--format", "hf", "--out", "hf"]] {
            assertRefused(try tinygpt(command), mentioning: "the tokenizer has 15 tokens but the model's vocabulary has 14")
        }
        XCTAssertFalse(exists("hf"))
    }

    // 11. Lenient parsing.
    func testNonsenseIsRefused() throws {
        try trainTinyRun("run")
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "hex"] + tiny + ["--set", "train.lr=0x10"]), mentioning: "0x10")
        XCTAssertFalse(exists("hex"))
        for ids in ["[[1]],,]2[", "1,,2", ",1", "1,", "[1 2", "1]"] {
            assertRefused(try tinygpt(["tokenizer", "decode", "--tokenizer", path("run/tokenizer.json"), "--ids", ids]), mentioning: "ids:")
        }
        XCTAssertEqual(try tinygpt(["tokenizer", "decode", "--tokenizer", path("run/tokenizer.json"), "--ids", "[3, 4,5]"]).stdout, "cde")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--strategy", "beam", "--beam-width", "2", "--num-samples", "5"]),
                      mentioning: "must not exceed sample.beam_width")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--set", "model.d_model=32"]), mentioning: "sample.* settings only")
        let withRunConfig = try tinygpt(["sample", "--checkpoint", "run", "--config", path("run/latest/config.json"), "--max-new-tokens", "2"])
        XCTAssertEqual(withRunConfig.status, 0, withRunConfig.stderr)
        XCTAssertTrue(withRunConfig.stderr.contains("only its sample section is used"), withRunConfig.stderr)

        try rewindLatest("run", to: -3)
        assertRefused(try tinygpt(["train", "--out", "run", "--resume"]), mentioning: "step -3 is negative")
    }

    // 12. Messages name the path and the reason in plain words.
    func testFileErrorsAreInPlainWords() throws {
        try trainTinyRun("run")
        try FileManager.default.createDirectory(atPath: path("locked"), withIntermediateDirectories: true)
        chmod(path("locked"), 0o500)
        defer { chmod(path("locked"), 0o700) }
        if getuid() != 0 {  // root may write anywhere
            assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "locked/hf"]), mentioning: "cannot write '\(path("locked/hf"))': permission denied")
        }
        assertRefused(try tinygpt(["export", "--checkpoint", "run", "--format", "hf", "--out", "/proc/tinygpt-test"]), mentioning: "/proc/tinygpt-test")
        assertRefused(try tinygpt(["train", "--config", scratch.path, "--data", "text.txt"]), mentioning: "is a directory")
        assertRefused(try tinygpt(["train", "--data", "/dev/null", "--out", "null"] + tiny), mentioning: "'/dev/null' is a device, not a text file")
        assertRefused(try tinygpt(["train", "--data", "missing.txt", "--out", "m"] + tiny), mentioning: "missing.txt")
    }

    // Issue 18's friction: a warmup longer than a short run is shortened, with a note.
    func testAWarmupLongerThanTheRunIsShortened() throws {
        let result = try tinygpt(["train", "--data", "text.txt", "--out", "short"] + tiny + ["--set", "train.warmup_steps=100"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("train.warmup_steps (100) is longer than train.max_steps (6)"), result.stderr)
        XCTAssertTrue(try String(contentsOfFile: path("short/config.json"), encoding: .utf8).contains("\"warmup_steps\": 6"))
    }
}
