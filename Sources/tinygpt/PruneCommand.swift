import Foundation
import Files
import Formats
import Train

let pruneFlags = CommandFlags(
    command: "prune", forms: ["--checkpoint DIR --out DIR --method magnitude|heads --sparsity S [--scope global|layer] [--data FILE] [--windows N] [--force]",
                              "--checkpoint DIR --sweep S1,S2,... --data FILE [--svg FILE] [--windows N]"],
    about: """
        Writes a copy of a float checkpoint with weights set to zero, and the mask that keeps them at zero when the
        copy is fine-tuned (train --init-from OUT). S is the share pruned, in [0, 1).
        """,
    flags: [
        Flag("checkpoint", "DIR", "the float checkpoint"), Flag("out", "DIR", "the pruned copy"),
        Flag("method", "magnitude|heads", "the weights of smallest |w| in the blocks' matrices, or whole attention heads"),
        Flag("sparsity", "S", "the share pruned (heads: of all heads; every layer keeps one)"),
        Flag("scope", "global|layer", default: "global", "one ranking over the model, or the same share per matrix (per layer's heads)"),
        Flag("data", "FILE", "plain text whose loss ranks the heads (heads and --sweep)"),
        Flag("windows", "N", default: PruneRun.Request.defaultWindows, "windows of the context length that importance averages over"),
        Flag("force", "replace an existing --out"),
        Flag("sweep", "S1,S2,...", "write no checkpoint: prune with every method and scope at each sparsity, print a table of perplexity"),
        Flag("svg", "FILE", "--sweep: the plot (an existing .svg file there is replaced)"),
    ],
    notes: """
        --method magnitude keeps embeddings, output head, norms and biases. --method heads ranks heads by importance
        (Michel et al. 2019): the mean |∂loss/∂ξ| over windows of --data FILE, ξ a gate on the head's output.
        --sweep ranks heads on FILE's training split and scores every model on its validation split (the checkpoint's
        data.val_fraction). info --checkpoint OUT prints the non-zero count and the mask. More: docs/pruning.md.
        example: tinygpt prune --checkpoint runs/small/best --out runs/small-pruned --method magnitude --sparsity 0.5
        """)

func runPruneCommand(_ args: [String]) throws {
    guard var a = pruneFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt prune --help)") }
    if a.has("sweep") { try runPruneSweep(checkpoint, &a); return }
    guard let out = try a.option("out") else { throw CLIError("--out DIR is required (tinygpt prune --help)") }
    guard let methodName = try a.option("method") else { throw CLIError("--method magnitude|heads is required (tinygpt prune --help)") }
    guard let method = PruningMethod(rawValue: methodName) else { throw CLIError("--method must be magnitude or heads, got '\(methodName)'") }
    guard let sparsityText = try a.option("sparsity") else { throw CLIError("--sparsity S is required: the share pruned, in [0, 1) (tinygpt prune --help)") }
    guard let sparsity = Double(sparsityText) else { throw CLIError("--sparsity must be a number in [0, 1), got '\(sparsityText)'") }
    let scopeName = try a.value("scope")
    guard let scope = PruningScope(rawValue: scopeName) else { throw CLIError("--scope must be global or layer, got '\(scopeName)'") }
    var request = PruneRun.Request(checkpoint: checkpoint, out: out, pruning: PruningRequest(method: method, scope: scope, sparsity: sparsity))
    request.dataPath = try a.option("data")
    request.windows = try a.int("windows", in: 1...1_000_000)
    request.force = a.flag("force")
    try a.finish()
    let result = try PruneRun.run(request, note: printNote)
    if let heads = result.heads, let importance = result.importance {
        for (layer, scores) in importance.enumerated() {
            let line = scores.enumerated().map { h, s in String(format: "%@%.4g", heads[layer].contains(h) ? "×" : "", s) }
            printError("layer \(layer) head importance: " + line.joined(separator: " "))
        }
        let total = heads.reduce(0) { $0 + $1.count }
        printError("pruned \(total) of \(importance.count * (importance.first?.count ?? 0)) heads (× above)")
    }
    printError(String(format: "wrote %@: %@ of %@ weights under the mask pruned (%.1f%%)", out, grouped(result.pruned), grouped(result.masked),
                      100 * Double(result.pruned) / Double(max(result.masked, 1))))
}

/// `prune --sweep`: the table on stdout, progress on stderr, the plot to --svg.
func runPruneSweep(_ checkpoint: String, _ a: inout Arguments) throws {
    let list = try a.option("sweep") ?? ""
    let sparsities = try list.split(separator: ",", omittingEmptySubsequences: false).map { item -> Double in
        guard let s = Double(item.trimmingCharacters(in: .whitespaces)) else {
            throw CLIError("--sweep takes sparsities separated by commas, e.g. 0,0.2,0.4; '\(item)' is not a number")
        }
        return s
    }
    for option in ["out", "method", "scope", "sparsity", "force"] where a.has(option) {
        throw CLIError("--\(option) does not apply to --sweep, which prunes with every method and scope and writes no checkpoint")
    }
    guard let data = try a.option("data") else { throw CLIError("--sweep needs --data FILE: the text whose validation split scores each pruned model") }
    var request = PruningSweep.Request(checkpoint: checkpoint, dataPath: data, sparsities: sparsities)
    request.windows = try a.int("windows", in: 1...1_000_000)
    let svg = try a.option("svg")
    try a.finish()
    if let svg { try checkPlotPath(svg) }
    let result = try PruningSweep.run(request, progress: { printError($0) })
    print(result.table)
    if let svg {
        let plot = result.svg(title: "pruning \(checkpoint): validation perplexity (\(result.validationTokens) tokens) against sparsity")
        do { try AtomicFile.write(Data(plot.utf8), to: URL(fileURLWithPath: svg)) } catch {
            throw CLIError("cannot write --svg '\(svg)': \((error as NSError).localizedDescription)")
        }
        printError("plot: \(svg)")
    }
}
