import Foundation
import Kernels
import Autograd

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
