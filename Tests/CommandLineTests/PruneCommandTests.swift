import XCTest
import Foundation

/// `tinygpt prune`: a pruned checkpoint that every command reads, whose
/// pruned weights fine-tuning keeps at zero and whose zeros `info` counts;
/// bad input is one line and a non-zero exit, before anything is written.
final class PruneCommandTests: CommandLineTestCase {
    /// `info`'s count of non-zero weights in the blocks' matrices.
    func nonZeroInMatrices(_ checkpoint: String) throws -> String {
        let i = try tinygpt(["info", "--checkpoint", checkpoint])
        XCTAssertEqual(i.status, 0, i.stderr)
        let line = try XCTUnwrap(i.stdout.split(separator: "\n").first { $0.hasPrefix("non-zero parameters:") })
        return String(try XCTUnwrap(line.range(of: "in the blocks' matrices ").map { line[$0.upperBound...] }))
    }

    func testPrunedCheckpointsRunAndFineTuneWithTheirMask() throws {
        try trainTinyRun("run", extra: ["--set", "model.n_layer=2"])
        XCTAssertTrue(try nonZeroInMatrices("run").contains("(0.0% zero)"))
        let p = try tinygpt(["prune", "--checkpoint", "run", "--out", "mag", "--method", "magnitude", "--sparsity", "0.5", "--scope", "layer"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stderr.contains("(50.0%)"), p.stderr)
        XCTAssertTrue(exists("mag/mask.safetensors"))
        let info = try tinygpt(["info", "--checkpoint", "mag"])
        XCTAssertTrue(info.stdout.contains("pruning mask:") && info.stdout.contains("method magnitude, scope layer, sparsity 0.5"), info.stdout)
        XCTAssertTrue(try nonZeroInMatrices("mag").contains("(50.0% zero)"))
        for command in [["sample", "--checkpoint", "mag", "--prompt", "a cat", "--max-new-tokens", "4", "--strategy", "greedy"],
                        ["eval", "--checkpoint", "mag", "--data", "text.txt"], ["logits", "--checkpoint", "mag", "--ids", "1 2"]] {
            let r = try tinygpt(command)
            XCTAssertEqual(r.status, 0, "\(command[0]): \(r.stderr)")
        }
        // Fine-tuning keeps every pruned weight at zero, and its checkpoints carry the mask on.
        let t = try tinygpt(["train", "--data", "text.txt", "--out", "fine", "--init-from", "mag", "--set", "train.max_steps=4",
                             "--set", "train.eval_interval=2", "--set", "train.eval_steps=1", "--set", "train.warmup_steps=0"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertEqual(try nonZeroInMatrices("fine"), try nonZeroInMatrices("mag"))
        XCTAssertTrue(try tinygpt(["info", "--checkpoint", "fine"]).stdout.contains("pruning mask:"))
        XCTAssertNotEqual(contents("fine/latest/model.safetensors"), contents("mag/model.safetensors"), "it trained")
        // Pruning a pruned checkpoint prunes on top of its mask; a half copy keeps the mask.
        let again = try tinygpt(["prune", "--checkpoint", "fine", "--out", "mag2", "--method", "magnitude", "--sparsity", "0.25"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(try nonZeroInMatrices("mag2").contains("(50.0% zero)"), "the earlier pruned half are already the smallest")
        XCTAssertEqual(try tinygpt(["quantize", "--checkpoint", "mag", "--out", "half", "--format", "bf16"]).status, 0)
        XCTAssertTrue(exists("half/mask.safetensors"))

        // Heads, ranked on a text.
        let h = try tinygpt(["prune", "--checkpoint", "run", "--out", "heads", "--method", "heads", "--sparsity", "0.5", "--data", "text.txt", "--windows", "4"])
        XCTAssertEqual(h.status, 0, h.stderr)
        XCTAssertTrue(h.stderr.contains("layer 0 head importance:") && h.stderr.contains("pruned 2 of 4 heads"), h.stderr)
        XCTAssertTrue(try tinygpt(["info", "--checkpoint", "heads"]).stdout.contains("method heads"))
        XCTAssertEqual(try tinygpt(["eval", "--checkpoint", "heads", "--data", "text.txt"]).status, 0)
    }

    func testBadPruningInputIsRefusedBeforeAnythingIsWritten() throws {
        try trainTinyRun("run")  // 1 layer of 2 heads
        XCTAssertEqual(try tinygpt(["quantize", "--checkpoint", "run", "--out", "q", "--format", "int8"]).status, 0)
        XCTAssertEqual(try tinygpt(["prune", "--checkpoint", "run", "--out", "done", "--method", "magnitude", "--sparsity", "0.1"]).status, 0)
        let done = contents("done/model.safetensors")
        let base = ["prune", "--checkpoint", "run", "--out", "x"]
        for (sparsity, shown) in [("1", "1.0"), ("-0.1", "-0.1"), ("1.5", "1.5"), ("nan", "nan")] {
            assertRefused(try tinygpt(base + ["--method", "magnitude", "--sparsity", sparsity]), mentioning: "--sparsity \(shown) is outside [0, 1)")
        }
        assertRefused(try tinygpt(base + ["--method", "magnitude", "--sparsity", "half"]), mentioning: "--sparsity must be a number in [0, 1), got 'half'")
        assertRefused(try tinygpt(base + ["--method", "magnitude"]), mentioning: "--sparsity S is required")
        assertRefused(try tinygpt(base + ["--method", "random", "--sparsity", "0.5"]), mentioning: "--method must be magnitude or heads, got 'random'")
        assertRefused(try tinygpt(base + ["--method", "magnitude", "--sparsity", "0.5", "--scope", "row"]), mentioning: "--scope must be global or layer, got 'row'")
        assertRefused(try tinygpt(base + ["--method", "heads", "--sparsity", "0.5"]), mentioning: "--method heads needs --data FILE")
        assertRefused(try tinygpt(base + ["--method", "magnitude", "--sparsity", "0.5", "--data", "text.txt"]), mentioning: "--data is read by --method heads only")
        assertRefused(try tinygpt(base + ["--method", "heads", "--sparsity", "0.75", "--scope", "layer", "--data", "text.txt"]),
                      mentioning: "prunes 2 of the 2 heads in every layer")
        assertRefused(try tinygpt(base + ["--method", "heads", "--sparsity", "0.9", "--data", "text.txt"]), mentioning: "each layer keeps at least one")
        assertRefused(try tinygpt(base + ["--method", "heads", "--sparsity", "0.5", "--data", "missing.txt"]), mentioning: "data file 'missing.txt' does not exist")
        assertRefused(try tinygpt(base + ["--method", "heads", "--sparsity", "0.5", "--data", "text.txt", "--windows", "0"]), mentioning: "--windows must be in 1")
        assertRefused(try tinygpt(["prune", "--checkpoint", "q", "--out", "x", "--method", "magnitude", "--sparsity", "0.5"]), mentioning: "is quantized")
        assertRefused(try tinygpt(["prune", "--checkpoint", "nowhere", "--out", "x", "--method", "magnitude", "--sparsity", "0.5"]), mentioning: "nowhere")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--out", "done", "--method", "magnitude", "--sparsity", "0.5"]), mentioning: "holds a tinygpt checkpoint")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--out", "run", "--method", "magnitude", "--sparsity", "0.5", "--force"]), mentioning: "never replaced")
        XCTAssertFalse(exists("x"))
        XCTAssertEqual(contents("done/model.safetensors"), done, "nothing replaced")
        // LoRA adapters on a pruned model would fill its zeros in once merged.
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "lora", "--init-from", "done", "--set", "lora.rank=2"]), mentioning: "lora")
        XCTAssertFalse(exists("lora"))
    }

    /// --sweep: one table row per sparsity, a column per method and scope, the same model at 0 in every column; a plot.
    func testSweepTabulatesAndPlotsEveryMethod() throws {
        try trainTinyRun("run", extra: ["--set", "model.n_layer=2"])
        let before = try FileManager.default.subpathsOfDirectory(atPath: scratch.path).sorted()
        let r = try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0,0.5", "--data", "text.txt", "--svg", "sweep.svg", "--windows", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "| sparsity | magnitude global | magnitude layer | heads global | heads layer |")
        XCTAssertEqual(lines.count, 4)
        let dense = lines[2].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(dense.count, 5)
        XCTAssertEqual(Set(dense.dropFirst()).count, 1, "sparsity 0 is the unpruned model in every column: \(lines[2])")
        XCTAssertTrue(String(decoding: try XCTUnwrap(contents("sweep.svg")), as: UTF8.self).contains("heads, layer"))
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: scratch.path).sorted(), (before + ["sweep.svg"]).sorted(), "no checkpoint written")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0,1.2", "--data", "text.txt"]), mentioning: "--sparsity 1.2 is outside [0, 1)")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0,x", "--data", "text.txt"]), mentioning: "'x' is not a number")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0.5"]), mentioning: "--sweep needs --data FILE")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0.5", "--data", "text.txt", "--out", "x"]), mentioning: "--out does not apply to --sweep")
        assertRefused(try tinygpt(["prune", "--checkpoint", "run", "--sweep", "0.5", "--data", "text.txt", "--svg", "text.txt"]), mentioning: "not an .svg file")
        XCTAssertFalse(exists("x"))
    }
}
