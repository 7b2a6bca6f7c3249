import Foundation

extension MetricsLog {
    /// DPO's reward accuracy and margin against step: training batches (from
    /// log lines) and validation examples (from evaluations).
    func preferencePanelSVG() -> String {
        var series: [(label: String, color: String, width: Double, points: [(Double, Double)])] = [
            ("reward accuracy (batches)", "#9bc", 1, []), ("reward accuracy (validation)", "#1f77b4", 2, []),
            ("reward margin (batches)", "#dba", 1, []), ("reward margin (validation)", "#d62728", 2, []),
        ]
        for r in records {
            guard let p = r.preference else { continue }
            let offset: Int
            if case .log = r { offset = 0 } else { offset = 1 }
            if p.accuracy.isFinite { series[offset].points.append((Double(r.step), p.accuracy)) }
            if p.margin.isFinite { series[2 + offset].points.append((Double(r.step), p.margin)) }
        }
        let all = series.flatMap(\.points)
        let (width, height) = (720.0, 440.0)
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0)
        let xTicks = AxisTicks(0, max(all.map(\.0).max() ?? 1, 1))
        let yTicks = AxisTicks(min(0, all.map(\.1).min() ?? 0), max(1, all.map(\.1).max() ?? 1))
        let xMax = xTicks.values.last!, yMin = yTicks.values.first!, yMax = yTicks.values.last!
        func x(_ s: Double) -> Double { left + s / xMax * (width - left - right) }
        func y(_ v: Double) -> Double { height - bottom - (v - yMin) / (yMax - yMin) * (height - top - bottom) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">DPO: reward accuracy and margin (rewards = β·(log π − log π_ref))</text>

        """
        for s in xTicks.values {
            svg += "<line x1=\"\(x(s))\" y1=\"\(height - bottom)\" x2=\"\(x(s))\" y2=\"\(top)\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(x(s))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(xTicks.label(s))</text>\n"
        }
        for v in yTicks.values {
            svg += "<line x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(width - right)\" y2=\"\(y(v))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(yTicks.label(v))</text>\n"
        }
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 18)\" text-anchor=\"middle\">step</text>\n"
        svg += "<text x=\"18\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \((top + height - bottom) / 2))\">accuracy (fraction of pairs) / margin (nats)</text>\n"
        for s in series where !s.points.isEmpty {
            let p = s.points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"\(s.width)\" points=\"\(p)\"/>\n"
        }
        for (i, s) in series.enumerated() {
            let ly = top + 10 + Double(i) * 16
            svg += "<line x1=\"\(width - right - 230)\" y1=\"\(ly)\" x2=\"\(width - right - 210)\" y2=\"\(ly)\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(width - right - 204)\" y=\"\(ly + 4)\">\(escapeXML(s.label))</text>\n"
        }
        return svg + "</svg>\n"
    }
}

/// Two SVG documents of the same width, one above the other, as one document.
func stackedSVG(_ upper: String, _ lower: String) -> String {
    func size(_ svg: String, _ attribute: String) -> Double {
        guard let range = svg.range(of: "\(attribute)=\"") else { return 0 }
        return Double(svg[range.upperBound...].prefix { $0 != "\"" }) ?? 0
    }
    let width = max(size(upper, "width"), size(lower, "width")), upperHeight = size(upper, "height")
    let height = upperHeight + size(lower, "height")
    let lowerPlaced = lower.replacingOccurrences(of: "<svg ", with: "<svg y=\"\(Int(upperHeight))\" ", options: .anchored)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\">\n" + upper + lowerPlaced + "</svg>\n"
}
