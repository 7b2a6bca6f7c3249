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
        guard let object = try? JSONParser.parse(Array(line.utf8)), let step = object["step"]?.int else { return nil }
        func d(_ k: String) -> Double { object[k]?.double ?? .nan }
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
        return arrangedSVG([loss, preferencePanelSVG()], horizontal: false)
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
