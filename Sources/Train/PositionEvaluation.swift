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
    let colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    let points = series.map { s in s.buckets.map { (Double($0.start + $0.end - 1) / 2, $0.loss) } }
    let all = points.flatMap { $0 }.filter { $0.1.isFinite }
    let (width, height) = (720.0, 440.0)
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0)
    let xTicks = AxisTicks(0, max(Double(series.flatMap { $0.buckets.map(\.end) }.max() ?? 1), Double(trainedContext ?? 1)))
    let yTicks = AxisTicks(all.map(\.1).min() ?? 0, all.map(\.1).max() ?? 1)
    let xMax = xTicks.values.last!, yMin = yTicks.values.first!, yMax = yTicks.values.last!
    func x(_ p: Double) -> Double { left + p / xMax * (width - left - right) }
    func y(_ l: Double) -> Double { height - bottom - (min(l, yMax) - yMin) / (yMax - yMin) * (height - top - bottom) }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escapeXML(title))</text>

    """
    for p in xTicks.values {
        svg += "<line x1=\"\(f(x(p)))\" y1=\"\(f(height - bottom))\" x2=\"\(f(x(p)))\" y2=\"\(f(top))\" stroke=\"#eee\"/>"
        svg += "<text x=\"\(f(x(p)))\" y=\"\(f(height - bottom + 18))\" text-anchor=\"middle\">\(xTicks.label(p))</text>\n"
    }
    for l in yTicks.values {
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(l)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(l)))\" stroke=\"#eee\"/>"
        svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y(l) + 4))\" text-anchor=\"end\">\(yTicks.label(l))</text>\n"
    }
    if let trainedContext {
        svg += "<line x1=\"\(f(x(Double(trainedContext))))\" y1=\"\(f(height - bottom))\" x2=\"\(f(x(Double(trainedContext))))\" y2=\"\(f(top))\" stroke=\"#444\" stroke-dasharray=\"4 4\"/>"
        svg += "<text x=\"\(f(x(Double(trainedContext)) + 4))\" y=\"\(f(top + 12))\">trained context \(trainedContext)</text>\n"
    }
    svg += "<line x1=\"\(f(left))\" y1=\"\(f(height - bottom))\" x2=\"\(f(width - right))\" y2=\"\(f(height - bottom))\" stroke=\"black\"/>"
    svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(height - bottom))\" stroke=\"black\"/>\n"
    svg += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 18))\" text-anchor=\"middle\">position in the window (tokens of context − 1)</text>\n"
    svg += "<text x=\"18\" y=\"\(f((top + height - bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(f((top + height - bottom) / 2)))\">mean loss (nats per token)</text>\n"
    for (k, s) in series.enumerated() {
        let color = colors[k % colors.count]
        let p = points[k].filter { $0.1.isFinite }.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
        if !p.isEmpty { svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(p)\"/>\n" }
        if series.count > 1 || !s.label.isEmpty {
            let ly = top + 10 + Double(k) * 16
            svg += "<line x1=\"\(f(width - right - 190))\" y1=\"\(f(ly))\" x2=\"\(f(width - right - 170))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(f(width - right - 164))\" y=\"\(f(ly + 4))\">\(escapeXML(s.label))</text>\n"
        }
    }
    return svg + "</svg>\n"
}

