import Foundation
import Config
import Train

let compareFlags = CommandFlags(
    command: "compare", forms: ["--vary FIELD=v1,v2,... [--vary ...] [options]"],
    about: """
        Trains every combination of the varied fields (fields joined by + change together:
        --vary model.activation+model.d_ff=gelu+512,swiglu+341), each --seeds times (seeds train.seed, +1, …), one run
        after another, with one tokenizer and token cache and the same budget: equal steps by default
        (train.max_steps, or steps=N), or equal wall seconds. Each run is an ordinary run directory under
        DIR/runs/ (sample, eval, --resume work on it). Ctrl-C stops cleanly; the same command resumes.
        Writes DIR/report.md, DIR/report.json and DIR/curves.svg, and prints the table; when the tokenizer varies,
        losses are in bits per byte (tokens of different tokenizers are different pieces of text).
        """,
    flags: [
        .repeatable("vary", "FIELD=a,b", "a config field and the values to try"),
        Flag("config", "FILE", default: "configs/default.json", "the base run config"), .set,
        Flag("data", "FILE", "text to train on (overrides data.path)"),
        Flag("out", "DIR", "the comparison's directory (default compare/<date>-<time>)"),
        Flag("seeds", "N", default: 1, "runs per variant, 1...100"),
        Flag("budget", "steps=N|seconds=S", "the budget every run gets (default: equal steps, train.max_steps)"),
        Flag("target-loss", "L", "the report's seconds to reach validation loss L (bits per byte when the tokenizer varies; default: the worst variant's)"),
        Flag("yes", "confirm a comparison of more than \(ComparisonPlan.confirmationThreshold) runs"),
    ],
    notes: "example: tinygpt compare --vary model.position=learned,rope,alibi --budget steps=500")

/// `tinygpt compare`: variants trained side by side, in one table and one picture (`Comparison`).
func runCompareCommand(_ args: [String]) throws {
    guard var a = compareFlags.parse(args) else { return }
    let vary = try a.options("vary")
    let defaultConfig = FileManager.default.fileExists(atPath: "configs/default.json") ? "configs/default.json" : nil
    var base = try readConfig(&a, defaultPath: defaultConfig)
    let dataPath = try a.option("data")
    let seeds = try a.int("seeds", in: 1...100)
    let budget = try a.option("budget")
    let targetText = try a.option("target-loss")
    let outPath = try a.option("out")
    let yes = a.flag("yes")
    try a.finish()
    if let dataPath { base.data.path = dataPath }
    base.data.path = absolutePath(base.data.path)
    let target = try targetText.map { text -> Double in
        guard let v = Double(text), v.isFinite, v > 0 else { throw CLIError("--target-loss must be a positive number, got '\(text)'") }
        return v
    }
    let plan = try ComparisonPlan(base: base, vary: vary, seeds: seeds, budget: budget, confirmed: yes)
    plan.notes.forEach(printNote)
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    let comparison = try Comparison(plan: plan, directory: URL(fileURLWithPath: outPath ?? "compare/\(formatter.string(from: Date()))"))
    let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
    if let interrupted = try comparison.train(executable: executable, progress: { printError("compare: \($0)") }) {
        printError("tinygpt: compare interrupted during \(interrupted) (saved); run the same command again to resume")
        exit(130)
    }
    print(try comparison.writeReport(target: target))
    let out = comparison.directory.path
    printError("report: \(out)/report.md, \(out)/report.json, \(out)/curves.svg; runs: \(out)/runs/")
}
