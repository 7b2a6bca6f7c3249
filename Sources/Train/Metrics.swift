import Foundation
import Files
import Formats

/// One line of metrics.jsonl.
public enum MetricsRecord: Equatable {
    /// `preference`: DPO's figures over the training batches since the last log line.
    case log(step: Int, loss: Double, lr: Double, gradNorm: Double, msPerStep: Double, tokensPerSecond: Double, preference: PreferenceStats? = nil)
    /// `preference`: DPO's figures on the validation examples (TRL's eval_ names).
    case evaluation(step: Int, trainLoss: Double, validationLoss: Double, preference: PreferenceStats? = nil)

    public var step: Int {
        switch self { case .log(let s, _, _, _, _, _, _), .evaluation(let s, _, _, _): return s }
    }

    public var preference: PreferenceStats? {
        switch self { case .log(_, _, _, _, _, _, let p), .evaluation(_, _, _, let p): return p }
    }

    var json: String {
        // Six significant digits, as the console shows; NaN or infinity is null.
        func n(_ x: Double) -> JSONValue { x.isFinite ? .double(Double(String(format: "%.6g", x))!) : .null }
        switch self {
        case let .log(step, _, lr, gradNorm, ms, tps, preference?):
            let members = [("step", JSONValue.int(step))] + preference.named().map { ($0.0, n($0.1)) }
                + [("lr", n(lr)), ("grad_norm", n(gradNorm)), ("ms_per_step", n(ms)), ("tokens_per_s", n(tps))]
            return JSONValue.object(members.map { (key: $0.0, value: $0.1) }).serialized()
        case let .log(step, loss, lr, gradNorm, ms, tps, nil):
            return JSONValue.object(["step": .int(step), "loss": n(loss), "perplexity": n(exp(loss)), "lr": n(lr),
                                     "grad_norm": n(gradNorm), "ms_per_step": n(ms), "tokens_per_s": n(tps)]).serialized()
        case let .evaluation(step, train, val, preference?):
            let members = [("step", JSONValue.int(step)), ("train_loss", n(train)), ("val_loss", n(val))]
                + preference.named(prefix: "eval_").map { ($0.0, n($0.1)) }
            return JSONValue.object(members.map { (key: $0.0, value: $0.1) }).serialized()
        case let .evaluation(step, train, val, nil):
            return JSONValue.object(["step": .int(step), "train_loss": n(train), "train_perplexity": n(exp(train)),
                                     "val_loss": n(val), "val_perplexity": n(exp(val))]).serialized()
        }
    }

    init?(json line: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              let step = object["step"] as? Int else { return nil }
        func d(_ k: String) -> Double { (object[k] as? Double) ?? .nan }
        func preference(_ prefix: String) -> PreferenceStats? {
            guard object["\(prefix)rewards/accuracies"] != nil else { return nil }
            var p = PreferenceStats()
            p.loss = d("\(prefix)loss"); p.rewardsChosen = d("\(prefix)rewards/chosen"); p.rewardsRejected = d("\(prefix)rewards/rejected")
            p.accuracy = d("\(prefix)rewards/accuracies"); p.logpsChosen = d("\(prefix)logps/chosen"); p.logpsRejected = d("\(prefix)logps/rejected")
            return p
        }
        if object["val_loss"] != nil {
            self = .evaluation(step: step, trainLoss: d("train_loss"), validationLoss: d("val_loss"), preference: preference("eval_"))
        } else {
            self = .log(step: step, loss: d("loss"), lr: d("lr"), gradNorm: d("grad_norm"), msPerStep: d("ms_per_step"), tokensPerSecond: d("tokens_per_s"),
                        preference: preference(""))
        }
    }
}

/// metrics.jsonl (appended line by line) and loss.svg (redrawn at each evaluation).
public final class MetricsLog {
    public let directory: URL
    public private(set) var records: [MetricsRecord] = []
    var handle: FileHandle?

    var jsonlURL: URL { RunDirectory(directory).metrics }
    var svgURL: URL { RunDirectory(directory).lossCurve }

    /// Opens the log. When resuming at `resumeStep`, records after it (written
    /// after the checkpoint a crash left behind) are dropped, so the file reads
    /// as if the run had never stopped.
    public init(directory: URL, resumeStep: Int?) throws {
        self.directory = directory
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        if let resumeStep, fm.fileExists(atPath: jsonlURL.path) {
            guard let data = fm.contents(atPath: jsonlURL.path) else {
                throw TrainingError("cannot read '\(jsonlURL.path)' to continue it: permission denied or not a file")
            }
            let text = String(decoding: data, as: UTF8.self)
            records = text.split(separator: "\n").compactMap { MetricsRecord(json: String($0)) }.filter { $0.step <= resumeStep }
        }
        let body = records.map { $0.json + "\n" }.joined()
        try AtomicFile.write(Data(body.utf8), to: jsonlURL)
        handle = try FileHandle(forWritingTo: jsonlURL)
        try handle?.seekToEnd()
    }

    deinit { try? handle?.close() }

    /// Appends a record; a failed write (a full disk) is an error, never a trap or a silent gap.
    public func append(_ record: MetricsRecord) throws {
        records.append(record)
        do {
            try handle?.write(contentsOf: Data((record.json + "\n").utf8))
            if case .evaluation = record { try AtomicFile.write(Data(lossCurveSVG().utf8), to: svgURL) }
        } catch {
            throw TrainingError("cannot write the metrics in '\(directory.path)': \(plainReason(error))")
        }
    }

    /// Training loss (from log lines) and train/validation loss (from
    /// evaluations) against step, with labelled axes; DPO runs add a second
    /// panel with reward accuracy and margin.
    public func lossCurveSVG() -> String {
        let loss = lossPanelSVG()
        guard records.contains(where: { $0.preference != nil }) else { return loss }
        return stackedSVG(loss, preferencePanelSVG())
    }

    func lossPanelSVG() -> String {
        var logged: [(Double, Double)] = [], trainEval: [(Double, Double)] = [], valEval: [(Double, Double)] = []
        for r in records {
            switch r {
            case let .log(s, loss, _, _, _, _, _) where loss.isFinite: logged.append((Double(s), loss))
            case let .evaluation(s, t, v, _):
                if t.isFinite { trainEval.append((Double(s), t)) }
                if v.isFinite { valEval.append((Double(s), v)) }
            default: break
            }
        }
        let all = logged + trainEval + valEval
        let (width, height) = (720.0, 440.0)
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0)
        let xTicks = AxisTicks(0, max(all.map(\.0).max() ?? 1, 1))
        let yTicks = AxisTicks(all.map(\.1).min() ?? 0, all.map(\.1).max() ?? 1)
        let xMax = xTicks.values.last!, yMin = yTicks.values.first!, yMax = yTicks.values.last!
        func x(_ s: Double) -> Double { left + s / xMax * (width - left - right) }
        func y(_ l: Double) -> Double { height - bottom - (l - yMin) / (yMax - yMin) * (height - top - bottom) }
        func polyline(_ points: [(Double, Double)], _ color: String, _ w: Double) -> String {
            guard !points.isEmpty else { return "" }
            let p = points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(w)\" points=\"\(p)\"/>\n"
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">tinygpt training loss</text>

        """
        for s in xTicks.values {
            svg += "<line x1=\"\(x(s))\" y1=\"\(height - bottom)\" x2=\"\(x(s))\" y2=\"\(top)\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(x(s))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(xTicks.label(s))</text>\n"
        }
        for l in yTicks.values {
            svg += "<line x1=\"\(left)\" y1=\"\(y(l))\" x2=\"\(width - right)\" y2=\"\(y(l))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(y(l) + 4)\" text-anchor=\"end\">\(yTicks.label(l))</text>\n"
        }
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 18)\" text-anchor=\"middle\">step</text>\n"
        svg += "<text x=\"18\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \((top + height - bottom) / 2))\">cross-entropy loss (nats per token)</text>\n"
        svg += polyline(logged, "#9ab", 1)
        svg += polyline(trainEval, "#1f77b4", 2)
        svg += polyline(valEval, "#d62728", 2)
        let legend = [("#9ab", "training loss (batch)"), ("#1f77b4", "train (evaluation)"), ("#d62728", "validation (evaluation)")]
        for (i, (color, label)) in legend.enumerated() {
            let ly = top + 10 + Double(i) * 16
            svg += "<line x1=\"\(width - right - 190)\" y1=\"\(ly)\" x2=\"\(width - right - 170)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(width - right - 164)\" y=\"\(ly + 4)\">\(label)</text>\n"
        }
        return svg + "</svg>\n"
    }
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
