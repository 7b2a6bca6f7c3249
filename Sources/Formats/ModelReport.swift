import Foundation
import Files
import Kernels
import Config
import Model

/// What `info` reports on a config or a checkpoint: parameters by component,
/// FLOPs per token, training memory, the weights as stored (a checkpoint's
/// dtype, non-zero count, pruning mask and quantization), decoding cost per
/// token, and the resolved config.
public struct ModelReport {
    /// The config with the vocabulary resolved (from the tokenizer section when the model leaves it null).
    public let config: RunConfig
    /// Set when the vocabulary was not in the model section.
    public let note: String?
    let cost: ModelCost
    /// The config as a run takes it: a vocabulary left to the tokenizer stays null.
    let runConfig: Data
    let quantization: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?
    let stored: (count: WeightCount, mask: PruningMask?)?
    /// An adapters-only checkpoint's base, found and checked against its record.
    let baseLine: String?

    /// A config's report.
    public init(config: RunConfig) throws {
        try self.init(config: config, quantization: nil, stored: nil, baseLine: nil)
    }

    /// A checkpoint's (or run directory's) report, with the weights as the file stores them.
    public init(checkpoint path: String) throws {
        let directory = try Checkpoint.resolve(path)
        let config = try Checkpoint.loadConfig(from: directory)
        let quantization = try QuantizedCheckpoint.quantizationInfo(directory)
        var baseLine: String?
        if let base = try Checkpoint.checkedBase(of: directory, config: config) {
            baseLine = "base: \(base.directory.path) (adapters only: the base's weights are read from there; its \(base.record.weightsFile) matches the record)"
        }
        let weights = try Checkpoint.weightsDirectory(of: directory)  // an adapters-only checkpoint's are its base's
        try self.init(config: config, quantization: quantization,
                      stored: (try WeightCount.count(checkpoint: weights, config: config.model),
                               try PruningMask.load(from: weights, parameters: config.model.parameterShapes)),
                      baseLine: baseLine)
    }

    private init(config: RunConfig, quantization: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?,
                 stored: (count: WeightCount, mask: PruningMask?)?, baseLine: String?) throws {
        var config = config
        runConfig = try config.jsonData()
        let vocabulary = config.expectedVocabularySize
        if config.model.vocabSize == nil {
            config.model.vocabSize = vocabulary
            note = config.tokenizer.type != .char
                ? "vocab_size taken from tokenizer.vocab_size (\(vocabulary))"
                : "vocab_size not set: a char tokenizer takes it from the corpus; counted here as \(vocabulary), tinyshakespeare's (set model.vocab_size to change)"
        } else {
            note = nil
        }
        self.config = config
        cost = ModelCost(config.model)
        self.quantization = quantization
        self.stored = stored
        self.baseLine = baseLine
    }

    /// One JSON object: what scripts read.
    public func json() throws -> String {
        let total = cost.parameters
        let state = cost.trainingStateBytes(optimizer: config.train.optimizer)
        var report: JSONValue = .object([:])
        report.set("parameters", .int(total))
        report.set("trainable_parameters", .int(config.peftTrainableParameters ?? total))
        report.set("components", .object(cost.parametersByComponent.map { (key: $0.component.rawValue, value: JSONValue.int($0.count)) }))
        report.set("forward_flops_per_token", .int(cost.forwardFLOPsPerToken))
        report.set("training_state_bytes", .int(state.weights + state.gradients + state.optimizer))
        report.set("weight_bytes_per_token", .int(cost.weightBytesPerToken()))
        report.set("kv_cache_bytes_per_token", .int(cost.kvCacheBytesPerToken))
        report.set("note", note.map { .string($0) } ?? .null)
        report.set("config", try JSONParser.parse(Array(runConfig)))
        return report.serialized()
    }

    /// The text report, ending with the resolved config.
    public func text() throws -> String {
        let m = cost.model, total = cost.parameters, forward = cost.forwardFLOPsPerToken
        func share(_ n: Int, of total: Int, _ format: String = "%.1f%%") -> String { String(format: format, 100 * Double(n) / Double(max(total, 1))) }
        let megabytes = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        var lines: [String] = note.map { ["note: \($0)"] } ?? []
        lines.append("parameters: \(grouped(total))")
        if let method = config.peftMethod, let trainable = config.peftTrainableParameters, let detail = config.peftDetail {
            lines.append("trainable: \(grouped(trainable)) (\(share(trainable, of: total, "%.2f%%")) of the base), \(method.rawValue): \(detail); base weights frozen")
        }
        for (component, n) in cost.parametersByComponent where n > 0 || component == .outputHead {
            let label = component == .outputHead && m.tieEmbeddings ? "output head (tied to token embedding)" : component.rawValue
            let count = grouped(n)
            lines.append("  \(label.padding(toLength: 38, withPad: " ", startingAt: 0)) \(String(repeating: " ", count: max(0, 12 - count.count)) + count)  \(share(n, of: total, "%5.1f%%"))")
        }
        lines.append("FLOPs per token: forward \(grouped(forward)), training ≈ \(grouped(3 * forward)) (forward + backward, at context \(m.contextLength))")
        let state = cost.trainingStateBytes(optimizer: config.train.optimizer)
        lines.append("memory: weights \(megabytes(state.weights)), gradients \(megabytes(state.gradients)), \(config.train.optimizer.rawValue) state \(megabytes(state.optimizer)), total \(megabytes(state.weights + state.gradients + state.optimizer)) before activations")
        if let baseLine { lines.append(baseLine) }
        if let stored {
            let (w, mask) = stored
            if w.storage != .f32 {
                lines.append("stored as \(w.storage.rawValue.lowercased()): weights \(String(format: "%.2f MB", Double(2 * w.parameters) / 1e6)) on disk, float32 once opened")
            }
            lines.append("non-zero parameters: \(grouped(w.nonZeroParameters)) of \(grouped(w.parameters)) (\(share(w.parameters - w.nonZeroParameters, of: w.parameters)) zero); "
                         + "in the blocks' matrices \(grouped(w.nonZeroPrunable)) of \(grouped(w.prunable)) (\(share(w.prunable - w.nonZeroPrunable, of: w.prunable)) zero)")
            if let mask {
                let how = mask.metadata.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                lines.append("pruning mask: \(grouped(mask.prunedCount)) of \(grouped(mask.count)) weights pruned and kept at zero by training\(how.isEmpty ? "" : " (\(how))")")
            }
        }
        lines += cost.perTokenLines(quantization: quantization)
        lines.append("resolved config:")
        return lines.joined(separator: "\n") + "\n" + String(decoding: try config.jsonData(), as: UTF8.self)
    }
}
