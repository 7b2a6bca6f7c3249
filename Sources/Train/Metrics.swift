import Foundation
import Files
import Formats

/// An objective's figures under the names TRL gives them, in the order they
/// are reported (DPO's rewards/…, a reward model's accuracy and margin,
/// PPO's objective/… and GRPO's reward, kl, …).
public struct Figures: Equatable, Sendable {
    public var items: [(name: String, value: Double)]

    public init(_ items: [(String, Double)]) { self.items = items.map { (name: $0.0, value: $0.1) } }

    public subscript(name: String) -> Double? { items.first { $0.name == name }?.value }

    /// The figure `name` set to `value` (replaced in place, or appended).
    public func setting(_ name: String, _ value: Double) -> Figures {
        var copy = self
        if let i = items.firstIndex(where: { $0.name == name }) { copy.items[i].value = value } else { copy.items.append((name, value)) }
        return copy
    }

    public static func == (a: Figures, b: Figures) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && ($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN)) }
    }
}

/// One line of metrics.jsonl.
public enum MetricsRecord: Equatable {
    /// `figures`: the objective's figures over the training steps since the
    /// last log line, "loss" (the step's) first; nil for lm and sft (which log
    /// perplexity instead).
    case log(step: Int, loss: Double, lr: Double, gradNorm: Double, msPerStep: Double, tokensPerSecond: Double, figures: Figures? = nil)
    /// `figures`: the objective's figures on the validation split (written with TRL's eval_ prefix).
    case evaluation(step: Int, trainLoss: Double, validationLoss: Double, figures: Figures? = nil)

    public var step: Int {
        switch self { case .log(let s, _, _, _, _, _, _), .evaluation(let s, _, _, _): return s }
    }

    public var figures: Figures? {
        switch self { case .log(_, _, _, _, _, _, let f), .evaluation(_, _, _, let f): return f }
    }

    static let logKeys: Set = ["step", "loss", "perplexity", "lr", "grad_norm", "ms_per_step", "tokens_per_s"]
    static let evaluationKeys: Set = ["step", "train_loss", "train_perplexity", "val_loss", "val_perplexity"]

    var json: String {
        // Six significant digits, as the console shows; NaN or infinity is null.
        func n(_ x: Double) -> JSONValue { x.isFinite ? .double(Double(String(format: "%.6g", x))!) : .null }
        switch self {
        case let .log(step, loss, lr, gradNorm, ms, tps, figures?):
            let named = figures["loss"] == nil ? [("loss", loss)] + figures.items.map { ($0.name, $0.value) } : figures.items.map { ($0.name, $0.value) }
            let members = [("step", JSONValue.int(step))] + named.map { ($0.0, n($0.1)) }
                + [("lr", n(lr)), ("grad_norm", n(gradNorm)), ("ms_per_step", n(ms)), ("tokens_per_s", n(tps))]
            return JSONValue.object(members.map { (key: $0.0, value: $0.1) }).serialized()
        case let .log(step, loss, lr, gradNorm, ms, tps, nil):
            return JSONValue.object(["step": .int(step), "loss": n(loss), "perplexity": n(exp(loss)), "lr": n(lr),
                                     "grad_norm": n(gradNorm), "ms_per_step": n(ms), "tokens_per_s": n(tps)]).serialized()
        case let .evaluation(step, train, val, figures?):
            let members = [("step", JSONValue.int(step)), ("train_loss", n(train)), ("val_loss", n(val))]
                + figures.items.map { ("eval_" + $0.name, n($0.value)) }
            return JSONValue.object(members.map { (key: $0.0, value: $0.1) }).serialized()
        case let .evaluation(step, train, val, nil):
            return JSONValue.object(["step": .int(step), "train_loss": n(train), "train_perplexity": n(exp(train)),
                                     "val_loss": n(val), "val_perplexity": n(exp(val))]).serialized()
        }
    }

    init?(json line: String) {
        guard let object = try? JSONParser.parse(Array(line.utf8)), case .object(let members) = object, let step = object["step"]?.int else { return nil }
        func d(_ k: String) -> Double { object[k]?.double ?? .nan }
        if object["val_loss"] != nil {
            let extra = members.filter { !MetricsRecord.evaluationKeys.contains($0.key) }
            let figures = extra.isEmpty ? nil : Figures(extra.map { (String($0.key.dropFirst($0.key.hasPrefix("eval_") ? 5 : 0)), $0.value.double ?? .nan) })
            self = .evaluation(step: step, trainLoss: d("train_loss"), validationLoss: d("val_loss"), figures: figures)
        } else {
            // An objective's figures: every member but the common ones ("loss" among them when the line has no perplexity).
            let common = object["perplexity"] != nil ? MetricsRecord.logKeys : MetricsRecord.logKeys.subtracting(["loss"])
            let extra = members.filter { !common.contains($0.key) }
            let figures = object["perplexity"] != nil || extra.isEmpty ? nil : Figures(extra.map { ($0.key, $0.value.double ?? .nan) })
            self = .log(step: step, loss: d("loss"), lr: d("lr"), gradNorm: d("grad_norm"), msPerStep: d("ms_per_step"), tokensPerSecond: d("tokens_per_s"),
                        figures: figures)
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
    /// evaluations) against step, with labelled axes; DPO and reward-model
    /// runs add a panel with reward accuracy and margin, PPO and GRPO runs
    /// panels with the reward and the KL to the reference.
    public func lossCurveSVG() -> String {
        let loss = lossPanelSVG()
        let panels = objectivePanelsSVG()
        return panels.isEmpty ? loss : arrangedSVG([loss] + panels, horizontal: false)
    }

    func lossPanelSVG() -> String {
        var logged: [(x: Double, y: Double)] = [], trainEval: [(x: Double, y: Double)] = [], valEval: [(x: Double, y: Double)] = []
        for r in records {
            switch r {
            case let .log(s, loss, _, _, _, _, _): logged.append((Double(s), loss))
            case let .evaluation(s, t, v, _):
                trainEval.append((Double(s), t))
                valEval.append((Double(s), v))
            default: break
            }
        }
        return LinePlot(title: "tinygpt training loss", xLabel: "step", yLabel: "cross-entropy loss (nats per token)", series: [
            .init("training loss (batch)", color: "#9ab", width: 1, points: logged),
            .init("train (evaluation)", color: "#1f77b4", points: trainEval),
            .init("validation (evaluation)", color: "#d62728", points: valEval),
        ]).svg()
    }
}
