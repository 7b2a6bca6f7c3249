import Foundation

/// A line chart as an SVG document: frame, ticks at round values, axis
/// labels, a legend, and one path per series (with an optional band, e.g. the
/// range over seeds). Every picture tinygpt writes is made of these: loss.svg
/// and its DPO panel, compare's curves.svg, `eval --by-position --svg`.
public struct LinePlot {
    public struct Series {
        public var label: String
        public var color: String
        public var width: Double
        public var points: [(x: Double, y: Double)]
        /// Lower and upper edges drawn as a translucent band under the line.
        public var band: (low: [(x: Double, y: Double)], high: [(x: Double, y: Double)])?

        public init(_ label: String, color: String, width: Double = 2, points: [(x: Double, y: Double)],
                    band: (low: [(x: Double, y: Double)], high: [(x: Double, y: Double)])? = nil) {
            self.label = label; self.color = color; self.width = width; self.points = points; self.band = band
        }
    }

    public enum Legend { case topRight, below, none }

    /// Colours for series that have no colour of their own meaning.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    /// The palette's colour for series `i`, round again past its end.
    public static func color(_ i: Int) -> String { palette[i % palette.count] }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Values each axis must include besides the data (the x axis always starts at 0).
    public var xIncludes: [Double] = []
    public var yIncludes: [Double] = []
    /// A dashed vertical line with its label (e.g. the trained context).
    public var marker: (x: Double, label: String)? = nil
    public var legend = Legend.topRight
    public var width = 720.0, height = 440.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    /// The chart as a standalone SVG document.
    public func svg() -> String {
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0)
        let shown = series.map { s in s.points.filter { $0.x.isFinite && $0.y.isFinite } }
        let bands = series.flatMap { ($0.band?.low ?? []) + ($0.band?.high ?? []) }.filter { $0.y.isFinite }
        let xs = shown.flatMap { $0.map(\.x) } + xIncludes + (marker.map { [$0.x] } ?? [])
        let ys = shown.flatMap { $0.map(\.y) } + bands.map(\.y) + yIncludes
        let xTicks = AxisTicks(0, max(xs.max() ?? 1, 1e-9))
        let yTicks = AxisTicks(ys.min() ?? 0, ys.max() ?? 1)
        let xMax = xTicks.values.last!, yMin = yTicks.values.first!, yMax = yTicks.values.last!
        let plotBottom = height - bottom
        func px(_ v: Double) -> Double { left + v / xMax * (width - left - right) }
        func py(_ v: Double) -> Double { plotBottom - (v - yMin) / (yMax - yMin) * (plotBottom - top) }
        func x(_ v: Double) -> String { f(px(v)) }
        func y(_ v: Double) -> String { f(py(v)) }
        func coordinates(_ p: [(x: Double, y: Double)]) -> String { p.map { "\(x($0.x)),\(y($0.y))" }.joined(separator: " ") }

        let legendRows = legend == .below ? Double(series.count) * 18 + 10 : 0
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height + legendRows))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15">\(escapeXML(title))</text>

        """
        for v in xTicks.values {
            svg += "<line x1=\"\(x(v))\" y1=\"\(f(plotBottom))\" x2=\"\(x(v))\" y2=\"\(f(top))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(x(v))\" y=\"\(f(plotBottom + 18))\" text-anchor=\"middle\">\(xTicks.label(v))</text>\n"
        }
        for v in yTicks.values {
            svg += "<line x1=\"\(f(left))\" y1=\"\(y(v))\" x2=\"\(f(width - right))\" y2=\"\(y(v))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\">\(yTicks.label(v))</text>\n"
        }
        if let marker {
            svg += "<line x1=\"\(x(marker.x))\" y1=\"\(f(plotBottom))\" x2=\"\(x(marker.x))\" y2=\"\(f(top))\" stroke=\"#444\" stroke-dasharray=\"4 4\"/>"
            svg += "<text x=\"\(f(px(marker.x) + 4))\" y=\"\(f(top + 12))\">\(escapeXML(marker.label))</text>\n"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(plotBottom))\" x2=\"\(f(width - right))\" y2=\"\(f(plotBottom))\" stroke=\"black\"/>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(plotBottom))\" stroke=\"black\"/>\n"
        svg += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(plotBottom + 42))\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        let middle = f((top + plotBottom) / 2)
        svg += "<text x=\"18\" y=\"\(middle)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(middle))\">\(escapeXML(yLabel))</text>\n"
        for (s, points) in zip(series, shown) {
            if let band = s.band, !band.low.isEmpty {
                svg += "<polygon fill=\"\(s.color)\" fill-opacity=\"0.15\" stroke=\"none\" points=\"\(coordinates(band.high + band.low.reversed()))\"/>\n"
            }
            guard !points.isEmpty else { continue }
            let d = "M " + coordinates(points).replacingOccurrences(of: " ", with: " L ")
            svg += "<path fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"\(s.width)\" d=\"\(d)\"><title>\(escapeXML(s.label))</title></path>\n"
        }
        for (i, s) in series.enumerated() where legend != .none {
            let (lx, ly) = legend == .below ? (left, height + 8 + 18 * Double(i)) : (width - right - 230, top + 10 + 16 * Double(i))
            svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 20))\" y2=\"\(f(ly))\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(f(lx + 26))\" y=\"\(f(ly + 4))\">\(escapeXML(s.label))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// SVG documents placed one after another (`horizontal`: side by side,
/// else stacked), as one document.
func arrangedSVG(_ parts: [String], horizontal: Bool) -> String {
    func size(_ svg: String, _ attribute: String) -> Double {
        guard let range = svg.range(of: "\(attribute)=\"") else { return 0 }
        return Double(svg[range.upperBound...].prefix { $0 != "\"" }) ?? 0
    }
    var offset = 0.0, across = 0.0, body = ""
    for part in parts {
        let placed = part.replacingOccurrences(of: "<svg ", with: "<svg \(horizontal ? "x" : "y")=\"\(Int(offset))\" ", options: .anchored)
        body += placed
        offset += size(part, horizontal ? "width" : "height")
        across = max(across, size(part, horizontal ? "height" : "width"))
    }
    let (width, height) = horizontal ? (offset, across) : (across, offset)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\">\n" + body + "</svg>\n"
}

/// Axis ticks at round values (1, 2 or 5 × 10^k apart) whose range covers
/// [low, high], about `count` of them, as plotting libraries place them.
public struct AxisTicks {
    public let values: [Double]
    public let step: Double

    public init(_ low: Double, _ high: Double, count: Int = 5) {
        let (low, high) = low < high ? (low, high) : (low - 0.5, low + 0.5)
        let raw = (high - low) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = floor(low / step), last = ceil(high / step)
        self.step = step
        let scale = pow(10, Double(max(0, Int(-floor(log10(step))))))  // so 8 × 0.2 is 1.6, not 1.6000000000000001
        values = stride(from: first, through: last, by: 1).map { ($0 * step * scale).rounded() / scale }
    }

    /// A tick's label with as many decimals as the step needs.
    public func label(_ value: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step))))
        return String(format: "%.\(decimals)f", value)
    }
}

/// Text for an SVG document: &, <, > and " escaped (plot titles and legends).
func escapeXML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
