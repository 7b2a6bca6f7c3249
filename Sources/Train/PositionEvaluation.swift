import Foundation
import Kernels
import Autograd
import Files
import Config

/// Summed next-token loss and counts by position inside the evaluation
/// window: the picture of length extrapolation (loss against how far into
/// the window a token sits).
public struct PositionLosses: Equatable {
    public private(set) var nats: [Double]
    public private(set) var counts: [Int]

    public init(length: Int) {
        nats = [Double](repeating: 0, count: length)
        counts = [Int](repeating: 0, count: length)
    }

    /// Adds the cross-entropy of every scored target (−100 = skip) of logits
    /// (B, T, V), row t of each window at position t; returns the nats added.
    mutating func add(logits: Tensor, targets: [Int32], length: Int) -> Double {
        let v = logits.shape[logits.rank - 1]
        var added = 0.0
        for (row, target) in targets.enumerated() where target != -100 {
            let z = logits.data + row * v
            var top = -Float.infinity
            for j in 0..<v { top = max(top, z[j]) }
            var sum = 0.0
            for j in 0..<v { sum += exp(Double(z[j] - top)) }
            let nats = Double(top) + log(sum) - Double(z[Int(target)])
            self.nats[row % length] += nats
            counts[row % length] += 1
            added += nats
        }
        return added
    }

    /// Mean loss over equal-width position buckets (the last may be shorter);
    /// empty buckets are left out.
    public func buckets(width: Int) -> [PositionBucket] {
        require(width >= 1, "position buckets need a width of at least 1")
        return stride(from: 0, to: nats.count, by: width).compactMap { start in
            let end = min(start + width, nats.count)
            let n = counts[start..<end].reduce(0, +)
            guard n > 0 else { return nil }
            return PositionBucket(start: start, end: end, tokens: n, loss: nats[start..<end].reduce(0, +) / Double(n))
        }
    }
}

/// Positions start..<end of the window: `tokens` scored there, mean loss.
public struct PositionBucket: Equatable {
    public let start: Int, end: Int, tokens: Int
    public let loss: Double
}

/// Loss against position for one or more series, with the trained context
/// marked: what `eval --by-position --svg` and the extrapolation experiment draw.
public func positionLossSVG(series: [(label: String, buckets: [PositionBucket])], trainedContext: Int?, title: String) -> String {
    let colors = ["#d62728"] + LinePlot.palette.filter { $0 != "#d62728" }
    var plot = LinePlot(title: title, xLabel: "position in the window (tokens of context − 1)", yLabel: "mean loss (nats per token)",
                        series: series.enumerated().map { k, s in
                            .init(s.label, color: colors[k % colors.count], points: s.buckets.map { (Double($0.start + $0.end - 1) / 2, $0.loss) })
                        })
    plot.xIncludes = series.flatMap { $0.buckets.map { Double($0.end) } }
    plot.marker = trainedContext.map { (Double($0), "trained context \($0)") }
    if series.count == 1 && series[0].label.isEmpty { plot.legend = .none }
    return plot.svg()
}

/// eval --json: the totals, plus the buckets when --by-position asked for them.
public func evaluationJSON(_ r: EvaluationResult, buckets: [PositionBucket]?, context: Int, stride: Int) -> String {
    var members: [(key: String, value: JSONValue)] = [("tokens", .int(r.tokens)), ("loss", .number(r.loss)),
                                                      ("perplexity", .number(r.perplexity)), ("bits_per_byte", .number(r.bitsPerByte))]
    if let buckets {
        members += [("context", .int(context)), ("stride", .int(stride)),
                    ("by_position", .array(buckets.map { .object(["start": .int($0.start), "end": .int($0.end), "tokens": .int($0.tokens), "loss": .number($0.loss)]) }))]
    }
    return JSONValue.object(members).serialized()
}

/// The buckets as aligned text rows.
public func positionTable(_ buckets: [PositionBucket]) -> String {
    (["positions      tokens   loss"] + buckets.map {
        let range = "\($0.start)..<\($0.end)"
        return range.padding(toLength: max(12, range.count), withPad: " ", startingAt: 0) + String(format: " %8d   %.4f", $0.tokens, $0.loss)
    }).joined(separator: "\n")
}

/// Refuses a plot path (`--svg`) that is a directory, or an existing file
/// other than a plot, before any work is done.
public func checkPlotPath(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        if isDirectory.boolValue { throw UsageError("--svg '\(path)' is a directory; give a file name") }
        // Replacing an existing file is asked for by naming it, but only a plot: never the data or anything else.
        guard path.lowercased().hasSuffix(".svg") else {
            throw UsageError("--svg '\(path)' exists and is not an .svg file; give a new path or an .svg file to replace")
        }
    }
}

/// Writes the loss-against-position plot of `run`'s model evaluated with windows of `context` tokens.
public func writePositionPlot(_ buckets: [PositionBucket], to path: String, trainedContext: Int, context: Int, run: RunConfig) throws {
    try checkPlotPath(path)
    var title = "loss by position: \(run.model.position.rawValue) positions, context \(context)"
    if let s = run.model.ropeScaling, let type = s.type { title += ", \(type.rawValue) ×\(s.factor.map { String(format: "%g", $0) } ?? "?")" }
    let svg = positionLossSVG(series: [(label: "", buckets: buckets)], trainedContext: trainedContext, title: title)
    do {
        try AtomicFile.write(Data(svg.utf8), to: URL(fileURLWithPath: path))
    } catch {
        throw UsageError("cannot write --svg '\(path)': \((error as NSError).localizedDescription)")
    }
}
