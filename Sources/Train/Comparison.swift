import Foundation
import Files
import Formats

/// What one finished (or budget-stopped) run of a comparison measured,
/// read back from its own metrics.jsonl, so the report always equals the runs.
public struct RunMeasurement: Sendable {
    public var name: String
    public var variant: String
    public var seed: Int
    public var parameters: Int
    public var finalStep: Int
    public var trainLoss: Double
    public var validationLoss: Double
    public var msPerStep: Double
    public var tokensPerSecond: Double
    public var peakRSSBytes: Double
    /// (step, training seconds so far, validation loss) at each evaluation.
    public var validationCurve: [(step: Int, seconds: Double, loss: Double)]

    /// Reads a run directory's metrics.jsonl. Training seconds are the sum of
    /// the logged step times (evaluations excluded), so runs compare by the
    /// cost of their steps whatever else the machine did between them.
    public init(runDirectory: URL, name: String, variant: String, seed: Int, parameters: Int, peakRSSBytes: Double) throws {
        let url = RunDirectory(runDirectory).metrics
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw TrainingError("\(url.path) is missing: the run did not start") }
        let records = text.split(separator: "\n").compactMap { MetricsRecord(json: String($0)) }
        var seconds = 0.0, lastStep = 0, msSum = 0.0, tpsSum = 0.0, logs = 0
        var curve: [(Int, Double, Double)] = []
        var final: (Int, Double, Double)?
        for r in records {
            switch r {
            case let .log(step, _, _, _, ms, tps, _):
                seconds += ms * Double(step - lastStep) / 1000
                lastStep = step
                if ms.isFinite { msSum += ms; tpsSum += tps; logs += 1 }
            case let .evaluation(step, train, validation, _):
                curve.append((step, seconds, validation))
                final = (step, train, validation)
            }
        }
        guard let final else { throw TrainingError("\(url.path) has no evaluation: the run stopped before its first") }
        self.name = name; self.variant = variant; self.seed = seed; self.parameters = parameters
        finalStep = final.0; trainLoss = final.1; validationLoss = final.2
        msPerStep = logs > 0 ? msSum / Double(logs) : .nan
        tokensPerSecond = logs > 0 ? tpsSum / Double(logs) : .nan
        self.peakRSSBytes = peakRSSBytes
        validationCurve = curve.map { (step: $0.0, seconds: $0.1, loss: $0.2) }
    }

    /// Training seconds until the validation loss first reached `target`, or nil.
    public func secondsToReach(_ target: Double) -> Double? {
        validationCurve.first { $0.loss <= target }?.seconds
    }
}

/// The numbers of one variant, over its seeds.
public struct VariantSummary: Sendable {
    public let variant: String
    public let runs: [RunMeasurement]

    public init(variant: String, runs: [RunMeasurement]) { self.variant = variant; self.runs = runs }

    public func mean(_ value: (RunMeasurement) -> Double) -> Double {
        runs.map(value).reduce(0, +) / Double(runs.count)
    }

    /// Sample standard deviation (0 for one seed).
    public func std(_ value: (RunMeasurement) -> Double) -> Double {
        guard runs.count > 1 else { return 0 }
        let m = mean(value)
        return (runs.map { (value($0) - m) * (value($0) - m) }.reduce(0, +) / Double(runs.count - 1)).squareRoot()
    }
}

/// report.md, report.json and curves.svg of a comparison.
public enum ComparisonReport {
    /// `bytesPerToken` of each variant's validation split turns nats per token into bits per byte.
    public static func markdown(_ summaries: [VariantSummary], target: Double, bytesPerToken: [String: Double], title: String) -> String {
        func pm(_ s: VariantSummary, _ f: (RunMeasurement) -> Double, _ format: String) -> String {
            let m = String(format: format, s.mean(f))
            return s.runs.count > 1 ? m + " ± " + String(format: format, s.std(f)) : m
        }
        var out = "# \(title)\n\n"
        out += "| variant | parameters | train loss | val loss | val perplexity | bits per byte | ms/step | tokens/s | peak RSS (MB) | seconds to val loss \(String(format: "%.3f", target)) |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for s in summaries {
            let bpt = bytesPerToken[s.variant] ?? .nan
            let reach = s.runs.map { $0.secondsToReach(target) }
            let reached = reach.compactMap { $0 }
            let reachText = reached.count == reach.count ? String(format: "%.2f", reached.reduce(0, +) / Double(reached.count))
                : reached.isEmpty ? "not reached" : "\(reached.count)/\(reach.count) seeds"
            out += "| \(s.variant) | \(s.runs[0].parameters) | \(pm(s, \.trainLoss, "%.4f")) | \(pm(s, \.validationLoss, "%.4f")) | "
            out += "\(String(format: "%.2f", exp(s.mean(\.validationLoss)))) | \(String(format: "%.4f", s.mean(\.validationLoss) / log(2) / bpt)) | "
            out += "\(pm(s, \.msPerStep, "%.1f")) | \(String(format: "%.0f", s.mean(\.tokensPerSecond))) | "
            out += "\(String(format: "%.1f", s.mean(\.peakRSSBytes) / 1_048_576)) | \(reachText) |\n"
        }
        let seeds = summaries.first?.runs.count ?? 1
        out += "\n\(seeds) seed\(seeds == 1 ? "" : "s") per variant"
        out += seeds > 1 ? " (mean ± sample standard deviation). " : ". "
        out += "Training seconds count the logged step times only (evaluations excluded). "
        out += "Bits per byte = validation loss / ln 2 / (bytes per token of the validation text).\n"
        return out
    }

    public static func json(_ summaries: [VariantSummary], target: Double, bytesPerToken: [String: Double]) -> Data {
        func n(_ x: Double) -> JSONValue { .number(x) }
        let variants: [JSONValue] = summaries.map { s in
            [
                "variant": .string(s.variant),
                "parameters": .int(s.runs[0].parameters),
                "train_loss": n(s.mean(\.trainLoss)), "train_loss_std": n(s.std(\.trainLoss)),
                "val_loss": n(s.mean(\.validationLoss)), "val_loss_std": n(s.std(\.validationLoss)),
                "val_perplexity": n(exp(s.mean(\.validationLoss))),
                "bits_per_byte": n(s.mean(\.validationLoss) / log(2) / (bytesPerToken[s.variant] ?? .nan)),
                "ms_per_step": n(s.mean(\.msPerStep)), "tokens_per_s": n(s.mean(\.tokensPerSecond)),
                "peak_rss_bytes": n(s.mean(\.peakRSSBytes)),
                "runs": .array(s.runs.map { r in
                    ["name": .string(r.name), "seed": .int(r.seed), "final_step": .int(r.finalStep), "train_loss": n(r.trainLoss),
                     "val_loss": n(r.validationLoss), "ms_per_step": n(r.msPerStep), "tokens_per_s": n(r.tokensPerSecond),
                     "peak_rss_bytes": n(r.peakRSSBytes), "seconds_to_target": r.secondsToReach(target).map(n) ?? .null,
                     "validation_curve": .array(r.validationCurve.map { ["step": .int($0.step), "seconds": n($0.seconds), "val_loss": n($0.loss)] })]
                }),
            ]
        }
        return JSONValue.object(["target_loss": n(target), "variants": .array(variants)]).fileData
    }

    /// Validation loss against step (left) and against training seconds
    /// (right): one colour per variant, the mean over seeds as a line and,
    /// with several seeds, their range as a band.
    public static func curvesSVG(_ summaries: [VariantSummary], title: String) -> String {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        let (panelWidth, height) = (460.0, 420.0)
        let (left, right, top, bottom) = (64.0, 16.0, 44.0, 56.0)
        let legendHeight = 18.0 * Double(summaries.count)
        let totalHeight = height + legendHeight + 10
        let losses = summaries.flatMap { $0.runs.flatMap { $0.validationCurve.map(\.loss) } }.filter(\.isFinite)
        let yTicks = AxisTicks(losses.min() ?? 0, losses.max() ?? 1)
        let yMin = yTicks.values.first!, yMax = yTicks.values.last!
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * panelWidth))" height="\(Int(totalHeight))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(panelWidth)" y="20" text-anchor="middle" font-size="15">\(escapeXML(title))</text>

        """
        for (panel, bySeconds) in [(0, false), (1, true)] {
            let x0 = Double(panel) * panelWidth
            let xs = summaries.flatMap { $0.runs.flatMap { $0.validationCurve.map { bySeconds ? $0.seconds : Double($0.step) } } }
            let xTicks = AxisTicks(0, max(xs.max() ?? 1, 1e-9))
            let xMax = xTicks.values.last!
            func x(_ v: Double) -> Double { x0 + left + v / xMax * (panelWidth - left - right) }
            func y(_ l: Double) -> Double { height - bottom - (l - yMin) / (yMax - yMin) * (height - top - bottom) }
            for v in xTicks.values {
                svg += "<line x1=\"\(x(v))\" y1=\"\(height - bottom)\" x2=\"\(x(v))\" y2=\"\(top)\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(x(v))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(xTicks.label(v))</text>\n"
            }
            for l in yTicks.values {
                svg += "<line x1=\"\(x0 + left)\" y1=\"\(y(l))\" x2=\"\(x0 + panelWidth - right)\" y2=\"\(y(l))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(x0 + left - 6)\" y=\"\(y(l) + 4)\" text-anchor=\"end\">\(yTicks.label(l))</text>\n"
            }
            svg += "<line x1=\"\(x0 + left)\" y1=\"\(height - bottom)\" x2=\"\(x0 + panelWidth - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>"
            svg += "<line x1=\"\(x0 + left)\" y1=\"\(top)\" x2=\"\(x0 + left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
            svg += "<text x=\"\(x0 + (left + panelWidth - right) / 2)\" y=\"\(height - 20)\" text-anchor=\"middle\">\(bySeconds ? "training seconds" : "step")</text>\n"
            svg += "<text x=\"\(x0 + 16)\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 \(x0 + 16) \((top + height - bottom) / 2))\">validation loss</text>\n"
            for (i, s) in summaries.enumerated() {
                let color = colors[i % colors.count]
                // Points of the mean curve: the evaluations all seeds share (same steps).
                let count = s.runs.map(\.validationCurve.count).min() ?? 0
                var mean: [(Double, Double)] = [], low: [(Double, Double)] = [], high: [(Double, Double)] = []
                for k in 0..<count {
                    let points = s.runs.map { $0.validationCurve[k] }
                    let xv = points.map { bySeconds ? $0.seconds : Double($0.step) }.reduce(0, +) / Double(points.count)
                    let ls = points.map(\.loss).filter(\.isFinite)
                    guard !ls.isEmpty else { continue }
                    mean.append((x(xv), y(ls.reduce(0, +) / Double(ls.count))))
                    low.append((x(xv), y(ls.min()!))); high.append((x(xv), y(ls.max()!)))
                }
                func coordinates(_ p: [(Double, Double)]) -> String { p.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ") }
                if s.runs.count > 1 && !mean.isEmpty {
                    svg += "<polygon fill=\"\(color)\" fill-opacity=\"0.15\" stroke=\"none\" points=\"\(coordinates(high + low.reversed()))\"/>\n"
                }
                svg += "<path class=\"variant\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" d=\"M \(coordinates(mean).replacingOccurrences(of: " ", with: " L "))\"><title>\(escapeXML(s.variant))</title></path>\n"
            }
        }
        for (i, s) in summaries.enumerated() {
            let ly = height + 8 + 18 * Double(i)
            svg += "<line x1=\"\(left)\" y1=\"\(ly)\" x2=\"\(left + 24)\" y2=\"\(ly)\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(left + 30)\" y=\"\(ly + 4)\">\(escapeXML(s.variant))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
