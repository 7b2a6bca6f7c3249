import Foundation
import Files
import Kernels
import Config
import Model

/// `quantize`: a checkpoint written again with its weights stored as int8,
/// int4 (group-wise) or 16-bit floats. Each refuses before anything is
/// written and returns the one-line summary of what it wrote.
public enum CheckpointConversion {
    /// Writes `checkpoint` quantized to `format` in groups of `groupSize`
    /// (default: `QuantizedCheckpoint.defaultGroupSize`), the token embedding
    /// and head too when `embeddings`; an adapter checkpoint as its merged model.
    public static func quantize(_ checkpoint: String, out: String, format: QuantizedFormat, groupSize requestedGroup: Int?, embeddings: Bool,
                                force: Bool, note: (String) -> Void) throws -> String {
        let directory = try Checkpoint.resolve(checkpoint)
        if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
            throw UsageError("\(directory.path) is already quantized (\(q)); quantize the float checkpoint it was made from")
        }
        let config = try Checkpoint.loadConfig(from: directory)
        if config.model.attention == .prefix_lm {
            throw UsageError("\(directory.path) is a prefix LM (model.attention = prefix_lm), whose prompt is read in one bidirectional pass; quantized checkpoints run token by token: sample it as it is")
        }
        let groupSize: Int
        if let requestedGroup {
            do { try QuantizedCheckpoint.checkGroupSize(requestedGroup, config.model, format: format, embeddings: embeddings) }
            catch let e as FormatError { throw UsageError(e.description) }
            groupSize = requestedGroup
        } else {
            groupSize = QuantizedCheckpoint.defaultGroupSize(config.model, format: format, embeddings: embeddings)
        }
        try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path], note: note)
        let (loaded, quantizedConfig) = try loadMerged(directory)
        let weights = QuantizedWeights(quantizing: loaded.model, format: format, groupSize: groupSize, embeddings: embeddings)
        try QuantizedCheckpoint.save(weights, config: quantizedConfig, tokenizerJSON: loaded.tokenizerJSON,
                                     extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)), to: URL(fileURLWithPath: out))
        let cost = ModelCost(loaded.config.model)
        let floatBytes = cost.weightBytesPerToken()
        let bytes = cost.weightBytesPerToken(format: format, groupSize: groupSize, embeddings: embeddings)
        return String(format: "wrote %@ (%@, groups of %d%@): weights per token %.2f MB, float32 %.2f MB (%.2f×)", out, format.rawValue,
                      groupSize, embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(floatBytes) / 1e6,
                      Double(bytes) / Double(floatBytes))
    }

    /// Writes `checkpoint` with every weight stored in 16 bits (`dtype`).
    public static func storeHalf(_ checkpoint: String, out: String, dtype: SafeTensorsDType, force: Bool, note: (String) -> Void) throws -> String {
        let directory = try Checkpoint.resolve(checkpoint)
        if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
            throw UsageError("\(directory.path) is quantized (\(q)); store the float checkpoint it was made from in \(dtype.rawValue)")
        }
        try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path], note: note)
        let (loaded, config) = try loadMerged(directory)
        try Checkpoint.checkRepresentable(loaded.model, as: dtype)
        try Checkpoint.save(model: loaded.model, config: config, tokenizerJSON: loaded.tokenizerJSON,
                            extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)), dtype: dtype, mask: loaded.mask,
                            to: URL(fileURLWithPath: out))
        let count = loaded.model.parameters.map(\.tensor.count).reduce(0, +)
        return String(format: "wrote %@ (%@): weights %.2f MB, float32 %.2f MB; computed in float32 once opened", out, dtype.rawValue.lowercased(),
                      Double(2 * count) / 1e6, Double(4 * count) / 1e6)
    }

    /// Writes `checkpoint` whole with every weight in float32: a half checkpoint
    /// widened; an adapters-only checkpoint with a copy of its base beside its
    /// adapters (kept unmerged), so that the copy needs no other checkpoint.
    public static func storeFloat(_ checkpoint: String, out: String, force: Bool, note: (String) -> Void) throws -> String {
        let directory = try Checkpoint.resolve(checkpoint)
        if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
            throw UsageError("\(directory.path) is quantized (\(q)); its float32 weights are the float checkpoint it was quantized from")
        }
        try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path], note: note)
        let (loaded, _) = try Checkpoint.loadWithTokenizer(directory.path)
        var extraFiles = Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory))
        let score = directory.appendingPathComponent(Checkpoint.scoreFile)
        if Checkpoint.isScoreModel(directory) {
            guard let data = FileManager.default.contents(atPath: score.path) else { throw FormatError("cannot read '\(score.path)'") }
            extraFiles[Checkpoint.scoreFile] = data
        }
        try Checkpoint.save(model: loaded.model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON, extraFiles: extraFiles,
                            mask: loaded.mask, to: URL(fileURLWithPath: out))
        let count = loaded.model.parameters.map(\.tensor.count).reduce(0, +)
        let adapters = loaded.model.adapterParameters.map(\.tensor.count).reduce(0, +)
        let base = loaded.base.map { ", the base copied from \($0.directory.path)" } ?? ""
        return "wrote \(out) (float32, whole: weights \(String(format: "%.2f", Double(4 * count) / 1e6)) MB"
            + (adapters > 0 ? ", \(grouped(adapters)) adapter parameters" : "") + base + "); it needs no other checkpoint"
    }

    /// The float checkpoint with any adapters merged into its weights, and its config without them.
    private static func loadMerged(_ directory: URL) throws -> (Checkpoint.Loaded, RunConfig) {
        let (loaded, _) = try Checkpoint.loadWithTokenizer(directory.path)
        if let method = loaded.model.unmergeableMethod {
            throw UsageError("\(directory.path) has \(method.rawValue) modules, which do not merge into the base weights; quantize the base checkpoint it was trained from")
        }
        var config = loaded.config
        if loaded.model.hasAdapters {
            loaded.model.mergeAdapters()
            config.lora = nil
        }
        return (loaded, config)
    }
}

extension QuantizedCheckpoint {
    /// A checkpoint's quantization as its weights header states it (nil: float32).
    public static func quantizationInfo(_ directory: URL) throws -> (format: QuantizedFormat, groupSize: Int, embeddings: Bool)? {
        let url = directory.appendingPathComponent(Checkpoint.weightsFile)
        guard quantization(ofWeightsAt: url) != nil else { return nil }
        let loaded = try load(from: directory)  // validates every tensor
        return (loaded.weights.format, loaded.weights.groupSize, loaded.weights.quantizedEmbeddings)
    }
}

extension ModelCost {
    /// `info`'s lines on decoding cost: weight bytes one token streams, and KV-cache bytes per token.
    public func perTokenLines(quantization q: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?) -> [String] {
        let m = model
        let float = weightBytesPerToken()
        let kv = kvCacheBytesPerToken
        var lines: [String] = []
        if let q {
            let bytes = weightBytesPerToken(format: q.format, groupSize: q.groupSize, embeddings: q.embeddings)
            lines.append(String(format: "quantized: %@, groups of %d%@; weights read per token %.2f MB (float32 %.2f MB, %.2f×)", q.format.rawValue,
                                q.groupSize, q.embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(float) / 1e6, Double(bytes) / Double(float)))
        } else {
            // What `quantize` would write with its defaults.
            let group = QuantizedCheckpoint.defaultGroupSize(m, format: .int8, embeddings: true)
            let int8 = weightBytesPerToken(format: .int8, groupSize: group, embeddings: true)
            lines.append(String(format: "weights read per token: %.2f MB float32 (int8 groups of %d: %.2f MB)", Double(float) / 1e6, group, Double(int8) / 1e6))
        }
        lines.append(String(format: "KV cache per token: %d bytes (float32 keys and values, %d layers), %.2f MB at context %d", kv, m.nLayer,
                            Double(kv * m.contextLength) / 1e6, m.contextLength))
        return lines
    }
}
