import Foundation
import Files
import Model
import Config
import Formats
import Train

// Inference-time position settings shared by eval, sample, logits and export:
// `--set model.rope_scaling=…` (or one member) on a model trained without it,
// and `--context N` past the trained context length.

/// The loaded model under `run.model` (which may differ from the checkpoint's
/// only in rope_scaling) with a context window of `context` if given.
func inferenceModel(_ loaded: Checkpoint.Loaded, model newModel: ModelConfig, overrides: [String], context: Int?,
                    batch: Int = 8, mergingAdapters: Bool = true) throws -> GPT {
    let trained = loaded.config.model
    var unchanged = newModel
    unchanged.ropeScaling = trained.ropeScaling
    if unchanged != trained {
        let field = overrides.first { $0.hasPrefix("model.") && !$0.hasPrefix("model.rope_scaling") }
            .map { String($0.prefix(while: { $0 != "=" })) } ?? "model"
        throw CLIError("--set \(field): only model.rope_scaling can change after training (the other model fields shape the weights)")
    }
    let window = try contextWindow(context, for: newModel, batch: batch)
    // Inference reads an adapter checkpoint as its merged model, W + (alpha/r)·B·A:
    // the same function, one matrix per projection, and the per-token path reads only weights.
    if mergingAdapters && loaded.model.hasAdapters { loaded.model.mergeAdapters() }
    if newModel == trained && window == nil { return loaded.model }
    return loaded.model.withPositions(newModel, contextWindow: window)
}

/// Checks `--context N`: ≥ 1; past the trained length only for positions that
/// extrapolate; within memory. nil when the trained window serves.
func contextWindow(_ context: Int?, for m: ModelConfig, batch: Int) throws -> Int? {
    guard let context else { return nil }
    guard context >= 1 else { throw CLIError("--context must be an integer ≥ 1, got \(context)") }
    if context <= m.contextLength { return nil }
    guard m.position.extrapolates else {
        throw CLIError("--context \(context) exceeds the trained context length \(m.contextLength), and learned positions have no embedding past row \(m.contextLength - 1); sinusoidal, rope, alibi and none positions can run longer")
    }
    let needed = inferenceBytes(m, length: context, batch: batch), available = Double(ProcessInfo.processInfo.physicalMemory)
    guard needed <= 0.8 * available else {
        throw CLIError(String(format: "--context %d needs about %.1f GB for a batch of %d windows; this machine has %.1f GB", context, needed / 1e9, batch, available / 1e9))
    }
    return context
}

/// A rough upper bound on one forward pass at `length` tokens per sequence:
/// activations of one block (a few copies of the residual and feed-forward
/// widths), the logits, every layer's key/value cache, ALiBi's (H, T, T)
/// bias and the position tables.
func inferenceBytes(_ m: ModelConfig, length: Int, batch: Int) -> Double {
    let t = Double(length), b = Double(batch), d = Double(m.dModel), v = Double(m.vocabSize ?? 1)
    var floats = b * t * (8 * d + 3 * Double(m.feedForwardSize) + 2 * v)
    floats += 2 * Double(m.nLayer) * b * t * Double(m.kvHeads * m.headSize)
    if m.position == .alibi { floats += Double(m.nHead) * t * t }
    floats += 2 * t * d
    return 4 * floats
}

/// eval --json: the totals, plus the buckets when --by-position asked for them.
func evaluationJSON(_ r: EvaluationResult, buckets: [PositionBucket]?, context: Int, stride: Int) -> String {
    var members: [(key: String, value: JSONValue)] = [("tokens", .int(r.tokens)), ("loss", .number(r.loss)),
                                                      ("perplexity", .number(r.perplexity)), ("bits_per_byte", .number(r.bitsPerByte))]
    if let buckets {
        members += [("context", .int(context)), ("stride", .int(stride)),
                    ("by_position", .array(buckets.map { .object(["start": .int($0.start), "end": .int($0.end), "tokens": .int($0.tokens), "loss": .number($0.loss)]) }))]
    }
    return JSONValue.object(members).serialized()
}

/// The buckets as aligned text rows.
func positionTable(_ buckets: [PositionBucket]) -> String {
    (["positions      tokens   loss"] + buckets.map {
        let range = "\($0.start)..<\($0.end)"
        return range.padding(toLength: max(12, range.count), withPad: " ", startingAt: 0) + String(format: " %8d   %.4f", $0.tokens, $0.loss)
    }).joined(separator: "\n")
}

/// Refuses a plot path that is a directory, before any work is done.
func checkPlotPath(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        if isDirectory.boolValue { throw CLIError("--svg '\(path)' is a directory; give a file name") }
        // Replacing an existing file is asked for by naming it, but only a plot: never the data or anything else.
        guard path.lowercased().hasSuffix(".svg") else {
            throw CLIError("--svg '\(path)' exists and is not an .svg file; give a new path or an .svg file to replace")
        }
    }
}

/// Writes the loss-against-position plot.
func writePositionPlot(_ buckets: [PositionBucket], to path: String, trainedContext: Int, context: Int, run: RunConfig) throws {
    try checkPlotPath(path)
    var title = "loss by position: \(run.model.position.rawValue) positions, context \(context)"
    if let s = run.model.ropeScaling, let type = s.type { title += ", \(type.rawValue) ×\(s.factor.map { String(format: "%g", $0) } ?? "?")" }
    let svg = positionLossSVG(series: [(label: "", buckets: buckets)], trainedContext: trainedContext, title: title)
    do {
        try AtomicFile.write(Data(svg.utf8), to: URL(fileURLWithPath: path))
    } catch {
        throw CLIError("cannot write --svg '\(path)': \((error as NSError).localizedDescription)")
    }
}
