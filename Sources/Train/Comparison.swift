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

    /// The losses in bits per byte: divided by ln 2 and by the bytes per token
    /// of the validation text (the training loss with the same factor).
    public func inBitsPerByte(bytesPerToken: Double) -> RunMeasurement {
        var r = self
        let factor = 1 / (log(2) * bytesPerToken)
        r.trainLoss *= factor
        r.validationLoss *= factor
        r.validationCurve = validationCurve.map { (step: $0.step, seconds: $0.seconds, loss: $0.loss * factor) }
        return r
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

/// The unit of a comparison's losses. Nats per token compare models that
/// share a tokenizer; across tokenizers a token is a different piece of text,
/// so the losses are put in bits per byte of the validation text.
public enum LossUnit: String, Sendable {
    case natsPerToken = "nats_per_token", bitsPerByte = "bits_per_byte"

    /// The name of a loss column or axis: "val loss", "val bits/byte".
    func label(_ split: String) -> String { self == .natsPerToken ? "\(split) loss" : "\(split) bits/byte" }
}

/// report.md, report.json and curves.svg of a comparison.
public enum ComparisonReport {
    /// Losses in `unit` (the summaries already converted); with nats per token, `bytesPerToken`
    /// of each variant's validation split gives the bits per byte column.
    public static func markdown(_ summaries: [VariantSummary], target: Double, unit: LossUnit, bytesPerToken: [String: Double], title: String) -> String {
        func pm(_ s: VariantSummary, _ f: (RunMeasurement) -> Double, _ format: String) -> String {
            let m = String(format: format, s.mean(f))
            return s.runs.count > 1 ? m + " ± " + String(format: format, s.std(f)) : m
        }
        var out = "# \(title)\n\n"
        let perToken = unit == .natsPerToken
        out += "| variant | parameters | \(unit.label("train")) | \(unit.label("val")) | " + (perToken ? "val perplexity | bits per byte | " : "")
        out += "ms/step | tokens/s | peak RSS (MB) | seconds to \(unit.label("val")) \(String(format: "%.3f", target)) |\n"
        out += "|---|---:|---:|---:|" + (perToken ? "---:|---:|" : "") + "---:|---:|---:|---:|\n"
        for s in summaries {
            let bpt = bytesPerToken[s.variant] ?? .nan
            let reach = s.runs.map { $0.secondsToReach(target) }
            let reached = reach.compactMap { $0 }
            let reachText = reached.count == reach.count ? String(format: "%.2f", reached.reduce(0, +) / Double(reached.count))
                : reached.isEmpty ? "not reached" : "\(reached.count)/\(reach.count) seeds"
            out += "| \(s.variant) | \(s.runs[0].parameters) | \(pm(s, \.trainLoss, "%.4f")) | \(pm(s, \.validationLoss, "%.4f")) | "
            if perToken { out += "\(String(format: "%.2f", exp(s.mean(\.validationLoss)))) | \(String(format: "%.4f", s.mean(\.validationLoss) / log(2) / bpt)) | " }
            out += "\(pm(s, \.msPerStep, "%.1f")) | \(String(format: "%.0f", s.mean(\.tokensPerSecond))) | "
            out += "\(String(format: "%.1f", s.mean(\.peakRSSBytes) / 1_048_576)) | \(reachText) |\n"
        }
        let seeds = summaries.first?.runs.count ?? 1
        out += "\n\(seeds) seed\(seeds == 1 ? "" : "s") per variant"
        out += seeds > 1 ? " (mean ± sample standard deviation). " : ". "
        out += "Training seconds count the logged step times only (evaluations excluded). "
        out += perToken ? "Bits per byte = validation loss / ln 2 / (bytes per token of the validation text).\n"
            : "The variants' tokenizers differ, so losses are in bits per byte: nats per token / ln 2 / (bytes per token of the validation text).\n"
        return out
    }

    /// Every loss in `unit`, which the document names.
    public static func json(_ summaries: [VariantSummary], target: Double, unit: LossUnit, bytesPerToken: [String: Double]) -> Data {
        func n(_ x: Double) -> JSONValue { .number(x) }
        let variants: [JSONValue] = summaries.map { s in
            [
                "variant": .string(s.variant),
                "parameters": .int(s.runs[0].parameters),
                "train_loss": n(s.mean(\.trainLoss)), "train_loss_std": n(s.std(\.trainLoss)),
                "val_loss": n(s.mean(\.validationLoss)), "val_loss_std": n(s.std(\.validationLoss)),
                "val_perplexity": unit == .natsPerToken ? n(exp(s.mean(\.validationLoss))) : .null,
                "bits_per_byte": n(unit == .bitsPerByte ? s.mean(\.validationLoss) : s.mean(\.validationLoss) / log(2) / (bytesPerToken[s.variant] ?? .nan)),
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
        return JSONValue.object(["loss_unit": .string(unit.rawValue), "target_loss": n(target), "variants": .array(variants)]).fileData
    }

    /// Validation loss against step (left) and against training seconds
    /// (right): one colour per variant, the mean over seeds as a line and,
    /// with several seeds, their range as a band.
    public static func curvesSVG(_ summaries: [VariantSummary], unit: LossUnit, title: String) -> String {
        var panels: [String] = []
        for bySeconds in [false, true] {
            var series: [LinePlot.Series] = []
            for (i, summary) in summaries.enumerated() {
                series.append(meanCurve(summary, color: LinePlot.color(i), bySeconds: bySeconds))
            }
            var plot = LinePlot(title: bySeconds ? "against training seconds" : title, xLabel: bySeconds ? "training seconds" : "step",
                                yLabel: unit == .natsPerToken ? "validation loss (nats per token)" : "validation bits per byte", series: series)
            plot.width = 460
            plot.legend = bySeconds ? .none : .below
            panels.append(plot.svg())
        }
        return arrangedSVG(panels, horizontal: true)
    }

    /// One variant's mean validation curve over its seeds (the evaluations
    /// all seeds share), with the seeds' range as a band when there are several.
    private static func meanCurve(_ summary: VariantSummary, color: String, bySeconds: Bool) -> LinePlot.Series {
        let sharedCount = summary.runs.map { (run: RunMeasurement) -> Int in run.validationCurve.count }.min() ?? 0
        var mean: [(x: Double, y: Double)] = [], low: [(x: Double, y: Double)] = [], high: [(x: Double, y: Double)] = []
        for k in 0..<sharedCount {
            var xSum = 0.0
            var losses: [Double] = []
            for run in summary.runs {
                let point = run.validationCurve[k]
                xSum += bySeconds ? point.seconds : Double(point.step)
                if point.loss.isFinite { losses.append(point.loss) }
            }
            guard let lowest = losses.min(), let highest = losses.max() else { continue }
            let x = xSum / Double(summary.runs.count)
            let average: Double = losses.reduce(0, +) / Double(losses.count)
            mean.append((x: x, y: average))
            low.append((x: x, y: lowest)); high.append((x: x, y: highest))
        }
        var band: (low: [(x: Double, y: Double)], high: [(x: Double, y: Double)])? = nil
        if summary.runs.count > 1 { band = (low: low, high: high) }
        return LinePlot.Series(summary.variant, color: color, points: mean, band: band)
    }
}
