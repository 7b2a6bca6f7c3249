import Foundation
import Formats
import Config
import Kernels
import Model
import Tokenizer
import Generate

let quantizeFlags = CommandFlags(
    command: "quantize", forms: ["--checkpoint DIR --out DIR [--format int8|int4] [--group-size N] [--float-embeddings] [--force]",
                                 "--checkpoint DIR --out DIR --format f16|bf16 [--force]"],
    about: """
        Writes a copy of a checkpoint whose matrices are group-wise symmetric int8 (default) or int4: each group of
        N consecutive weights of a row keeps one float scale max|w|/127 (or /7). Norm gains, biases and a learned
        position table (or T5's bias table) stay float32. A prefix LM (model.attention = prefix_lm) is refused:
        quantized checkpoints run token by token. sample, eval, logits, info and bench sample read the result
        directly; training and export need the float checkpoint. Layout: docs/formats.md.
        """,
    flags: [
        Flag("checkpoint", "DIR", "the float checkpoint"), Flag("out", "DIR", "the checkpoint to write; new or empty"),
        Flag("format", "int8|int4|f16|bf16", default: "int8", "the weights' format"),
        Flag("group-size", "N", "weights per scale (default \(QuantizedCheckpoint.preferredGroupSize), halved until it divides every row)"),
        Flag("float-embeddings", "keep the token embedding and output head float32"), .force,
    ],
    notes: """
        --format f16|bf16 stores every weight in 16 bits (IEEE half, or bfloat16), rounded to nearest even: half the
        file, computed in float32 once opened. Every command reads it as a float checkpoint (train --init-from too),
        and export --format hf writes the same dtype.
        example: tinygpt quantize --checkpoint runs/default-20261123-120000 --out runs/default-int8
        """)

func runQuantizeCommand(_ args: [String]) throws {
    guard var a = quantizeFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt quantize --help)") }
    guard let out = try a.option("out") else { throw CLIError("--out DIR is required (tinygpt quantize --help)") }
    let formatName = try a.value("format")
    let groupText = try a.option("group-size")
    let floatEmbeddings = a.flag("float-embeddings")
    let force = a.flag("force")
    try a.finish()
    if let half = HalfFloat(rawValue: formatName) {
        if let option = [("--group-size", groupText != nil), ("--float-embeddings", floatEmbeddings)].first(where: \.1) {
            throw CLIError("\(option.0) applies to int8 and int4; --format \(half.rawValue) stores every weight in 16 bits")
        }
        try writeHalfCheckpoint(checkpoint, out: out, dtype: SafeTensorsDType(half), force: force)
        return
    }
    guard let format = QuantizedFormat(rawValue: formatName) else { throw CLIError("--format must be int8, int4, f16 or bf16, got '\(formatName)'") }
    let requestedGroup = try groupText.map { text -> Int in
        guard let g = Int(text) else { throw CLIError("--group-size must be an integer ≥ 1, got '\(text)'") }
        return g
    }
    let directory = try Checkpoint.resolve(checkpoint)
    if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
        throw CLIError("\(directory.path) is already quantized (\(q)); quantize the float checkpoint it was made from")
    }
    let config = try Checkpoint.loadConfig(from: directory)
    if config.model.attention == .prefix_lm {
        throw CLIError("\(directory.path) is a prefix LM (model.attention = prefix_lm), whose prompt is read in one bidirectional pass; quantized checkpoints run token by token: sample it as it is")
    }
    let embeddings = !floatEmbeddings
    let groupSize: Int
    if let requestedGroup {
        do { try QuantizedCheckpoint.checkGroupSize(requestedGroup, config.model, format: format, embeddings: embeddings) }
        catch let e as FormatError { throw CLIError(e.description) }
        groupSize = requestedGroup
    } else {
        groupSize = QuantizedCheckpoint.defaultGroupSize(config.model, format: format, embeddings: embeddings)
    }
    try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path], note: { printError("tinygpt: note: \($0)") })
    let (loaded, _) = try Checkpoint.loadWithTokenizer(directory.path)
    if let method = loaded.model.unmergeableMethod {
        throw CLIError("\(directory.path) has \(method.rawValue) modules, which do not merge into the base weights; quantize the base checkpoint it was trained from")
    }
    var quantizedConfig = loaded.config
    if loaded.model.hasAdapters {  // an adapter checkpoint is quantized as its merged model
        loaded.model.mergeAdapters()
        quantizedConfig.lora = nil
    }
    let weights = QuantizedWeights(quantizing: loaded.model, format: format, groupSize: groupSize, embeddings: embeddings)
    try QuantizedCheckpoint.save(weights, config: quantizedConfig, tokenizerJSON: loaded.tokenizerJSON,
                                 extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)), to: URL(fileURLWithPath: out))
    let cost = ModelCost(loaded.config.model)
    let floatBytes = cost.weightBytesPerToken()
    let bytes = cost.weightBytesPerToken(format: format, groupSize: groupSize, embeddings: embeddings)
    printError(String(format: "wrote %@ (%@, groups of %d%@): weights per token %.2f MB, float32 %.2f MB (%.2f×)", out, format.rawValue,
                      groupSize, embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(floatBytes) / 1e6,
                      Double(bytes) / Double(floatBytes)))
}

/// `quantize --format f16|bf16`: the checkpoint with its weights stored in 16 bits.
func writeHalfCheckpoint(_ checkpoint: String, out: String, dtype: SafeTensorsDType, force: Bool) throws {
    let directory = try Checkpoint.resolve(checkpoint)
    if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
        throw CLIError("\(directory.path) is quantized (\(q)); store the float checkpoint it was made from in \(dtype.rawValue)")
    }
    try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path], note: { printError("tinygpt: note: \($0)") })
    let (loaded, _) = try Checkpoint.loadWithTokenizer(directory.path)
    if let method = loaded.model.unmergeableMethod {
        throw CLIError("\(directory.path) has \(method.rawValue) modules, which do not merge into the base weights; quantize the base checkpoint it was trained from")
    }
    var config = loaded.config
    if loaded.model.hasAdapters {  // an adapter checkpoint is stored as its merged model
        loaded.model.mergeAdapters()
        config.lora = nil
    }
    try Checkpoint.checkRepresentable(loaded.model, as: dtype)
    try Checkpoint.save(model: loaded.model, config: config, tokenizerJSON: loaded.tokenizerJSON,
                        extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)), dtype: dtype, mask: loaded.mask, to: URL(fileURLWithPath: out))
    let count = loaded.model.parameters.map(\.tensor.count).reduce(0, +)
    printError(String(format: "wrote %@ (%@): weights %.2f MB, float32 %.2f MB; computed in float32 once opened", out, dtype.rawValue.lowercased(),
                      Double(2 * count) / 1e6, Double(4 * count) / 1e6))
}

/// A checkpoint's quantization as its weights header states it (nil: float32).
func quantizationInfo(_ directory: URL) throws -> (format: QuantizedFormat, groupSize: Int, embeddings: Bool)? {
    let url = directory.appendingPathComponent(Checkpoint.weightsFile)
    guard QuantizedCheckpoint.quantization(ofWeightsAt: url) != nil else { return nil }
    let loaded = try QuantizedCheckpoint.load(from: directory)  // validates every tensor
    return (loaded.weights.format, loaded.weights.groupSize, loaded.weights.quantizedEmbeddings)
}

/// `info`'s lines on decoding cost: weight bytes one token streams, and KV-cache bytes per token.
func printPerTokenBytes(_ cost: ModelCost, quantization q: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?) {
    let m = cost.model
    let float = cost.weightBytesPerToken()
    let kv = cost.kvCacheBytesPerToken
    if let q {
        let bytes = cost.weightBytesPerToken(format: q.format, groupSize: q.groupSize, embeddings: q.embeddings)
        print(String(format: "quantized: %@, groups of %d%@; weights read per token %.2f MB (float32 %.2f MB, %.2f×)", q.format.rawValue,
                     q.groupSize, q.embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(float) / 1e6, Double(bytes) / Double(float)))
    } else {
        // What `quantize` would write with its defaults.
        let group = QuantizedCheckpoint.defaultGroupSize(m, format: .int8, embeddings: true)
        let int8 = cost.weightBytesPerToken(format: .int8, groupSize: group, embeddings: true)
        print(String(format: "weights read per token: %.2f MB float32 (int8 groups of %d: %.2f MB)", Double(float) / 1e6, group, Double(int8) / 1e6))
    }
    print(String(format: "KV cache per token: %d bytes (float32 keys and values, %d layers), %.2f MB at context %d", kv, m.nLayer,
                 Double(kv * m.contextLength) / 1e6, m.contextLength))
}
