import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `tinygpt compare` as a user runs it.
final class CompareCommandTests: CommandLineTestCase {
    var small: [String] { tiny.map { $0 == "train.max_steps=6" ? "train.max_steps=12" : $0 } }

    func testTwoByTwoProducesFourRunsAndAReportThatEqualsThem() throws {
        let arguments = ["compare", "--data", "text.txt", "--out", "cmp"] + small
            + ["--vary", "model.norm=layernorm,rmsnorm", "--vary", "model.position=learned,rope"]
        let first = try tinygpt(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let runs = try FileManager.default.contentsOfDirectory(atPath: path("cmp/runs")).sorted()
        XCTAssertEqual(runs, ["norm=layernorm,position=learned", "norm=layernorm,position=rope",
                              "norm=rmsnorm,position=learned", "norm=rmsnorm,position=rope"])

        // Each row equals the run's own last evaluation.
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("cmp/report.json"))) as! [String: Any]
        let variants = report["variants"] as! [[String: Any]]
        XCTAssertEqual(variants.count, 4)
        for variant in variants {
            let run = (variant["runs"] as! [[String: Any]])[0]
            let lines = try String(contentsOfFile: path("cmp/runs/\(run["name"] as! String)/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            let last = try JSONSerialization.jsonObject(with: Data(lines.last { $0.contains("val_loss") }!.utf8)) as! [String: Any]
            XCTAssertEqual(run["val_loss"] as! Double, last["val_loss"] as! Double)
            XCTAssertEqual(run["train_loss"] as! Double, last["train_loss"] as! Double)
            XCTAssertEqual(run["final_step"] as! Int, 12)
        }
        XCTAssertTrue(first.stdout.contains("| model.norm=rmsnorm model.position=rope |"), first.stdout)

        // The picture parses as XML and has a curve per variant in each of its two panels.
        let svg = try XMLDocument(contentsOf: scratch.appendingPathComponent("cmp/curves.svg"))
        XCTAssertEqual(try svg.nodes(forXPath: "//*[local-name()='path']").count, 2 * 4)

        // An ordinary run directory: sample works on it.
        XCTAssertEqual(try tinygpt(["sample", "--checkpoint", "cmp/runs/norm=rmsnorm,position=rope", "--max-new-tokens", "3"]).status, 0)

        // Rerunning skips finished runs.
        let weights = contents("cmp/runs/norm=rmsnorm,position=rope/latest/model.safetensors")
        let again = try tinygpt(arguments)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("compare: run"), again.stderr)
        XCTAssertEqual(contents("cmp/runs/norm=rmsnorm,position=rope/latest/model.safetensors"), weights)

        // Another comparison in the same directory is refused.
        assertRefused(try tinygpt(["compare", "--data", "text.txt", "--out", "cmp"] + small + ["--vary", "model.norm=layernorm,rmsnorm"]),
                      mentioning: "holds a different comparison")
    }

    func testAnInterruptedComparisonResumes() throws {
        // The first run saves latest/ at step 3, well inside its budget even on
        // a loaded machine, so the interrupt below lands while it trains.
        let long = small.map { $0 == "train.max_steps=12" ? "train.max_steps=100000000" : $0 }
        let arguments = ["compare", "--data", "text.txt", "--out", "cmp", "--budget", "seconds=4",
                         "--vary", "model.norm=layernorm,rmsnorm"] + long
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = scratch
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let latest = path("cmp/runs/norm=layernorm/latest")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: latest) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        kill(process.processIdentifier, SIGINT)  // passed on to the run in progress, which saves
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertFalse(exists("cmp/runs/norm=rmsnorm/latest"))
        XCTAssertFalse(exists("cmp/report.md"))

        let resumed = try tinygpt(arguments)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let log = try String(contentsOfFile: path("cmp/logs/norm=layernorm.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("resuming at step"), log)
        XCTAssertTrue(exists("cmp/report.md"))
    }

    func testASecondsBudgetStopsEachRun() throws {
        let long = small.map { $0 == "train.max_steps=12" ? "train.max_steps=100000000" : $0 }
            .map { $0 == "train.eval_interval=3" ? "train.eval_interval=200" : $0 }
        let result = try tinygpt(["compare", "--data", "text.txt", "--out", "cmp", "--budget", "seconds=1",
                                  "--vary", "model.activation=gelu,swiglu"] + long)
        XCTAssertEqual(result.status, 0, result.stderr)
        for run in ["activation=gelu", "activation=swiglu"] {
            let log = try String(contentsOfFile: path("cmp/logs/\(run).log"), encoding: .utf8)
            XCTAssertTrue(log.contains("time budget reached at step"), log)
        }
    }

    /// Tokens of different tokenizers are different pieces of text: varying the
    /// tokenizer puts the table, report.json and the curves in bits per byte.
    func testVaryingTheTokenizerReportsBitsPerByte() throws {
        let result = try tinygpt(["compare", "--data", "text.txt", "--out", "cmp", "--vary", "tokenizer.type=char,bpe",
                                  "--set", "tokenizer.vocab_size=270"] + small)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("| val bits/byte |"), result.stdout)
        XCTAssertFalse(result.stdout.contains("val perplexity"), result.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("cmp/report.json"))) as! [String: Any]
        XCTAssertEqual(report["loss_unit"] as? String, "bits_per_byte")
        for variant in report["variants"] as! [[String: Any]] {
            let run = (variant["runs"] as! [[String: Any]])[0]
            let lines = try String(contentsOfFile: path("cmp/runs/\(run["name"] as! String)/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            let last = try JSONSerialization.jsonObject(with: Data(lines.last { $0.contains("val_loss") }!.utf8)) as! [String: Any]
            // The run's own loss in nats per token, turned into bits per byte of the validation text.
            let nats = last["val_loss"] as! Double, bits = run["val_loss"] as! Double
            XCTAssertEqual(variant["bits_per_byte"] as! Double, bits, accuracy: 1e-12)
            XCTAssertLessThanOrEqual(bits, nats / log(2) + 1e-9, "bytes per token ≥ 1 here")
            XCTAssertEqual(variant["val_perplexity"] is NSNull, true)
        }
        let svg = try String(contentsOfFile: path("cmp/curves.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("validation bits per byte"))

        let same = try tinygpt(["compare", "--data", "text.txt", "--out", "cmp2", "--vary", "model.activation=gelu,swiglu"] + small)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("| val loss |"), same.stdout)
        XCTAssertTrue(try String(contentsOfFile: path("cmp2/curves.svg"), encoding: .utf8).contains("validation loss (nats per token)"))
    }

    func testBadComparisonsAreRefusedBeforeAnyRun() throws {
        let base = ["compare", "--data", "text.txt", "--out", "cmp"] + small
        assertRefused(try tinygpt(base + ["--vary", "model.nrom=layernorm,rmsnorm"]), mentioning: "did you mean 'norm'")
        assertRefused(try tinygpt(base + ["--vary", "model.n_layer=1,0"]), mentioning: "model.n_layer=0")
        assertRefused(try tinygpt(base + ["--vary", "model.norm=layernorm", "--vary", "model.norm=rmsnorm"]), mentioning: "given twice")
        assertRefused(try tinygpt(base + ["--vary", "model.n_layer=1,2,3,4,5,6,7,8,9", "--vary", "train.lr=1e-3,2e-3,3e-3,4e-3,5e-3,6e-3,7e-3,8e-3"]),
                      mentioning: "--yes")
        assertRefused(try tinygpt(base + ["--vary", "model.n_head=2,3"]), mentioning: "variant model.n_head=3")
        XCTAssertFalse(exists("cmp"))
        assertRefused(try tinygpt(["compare", "--data", "text.txt"] + small), mentioning: "--vary")
    }
}
