import Foundation
import Formats
import Config
import Kernels
import Model
import Tokenizer
import Generate

let quantizeUsage = """
    usage: tinygpt quantize --checkpoint DIR --out DIR [--format int8|int4] [--group-size N] [--float-embeddings] [--force]

    Writes a copy of a checkpoint whose matrices are group-wise symmetric int8 (default) or int4: each group of
    N consecutive weights of a row keeps one float scale max|w|/127 (or /7). Norm gains, biases and a learned
    position table (or T5's bias table) stay float32; the token embedding and output head are quantized too unless
    --float-embeddings. A prefix LM (model.attention = prefix_lm) is refused: quantized checkpoints run token by token.
    N defaults to 64, halved until it divides every row. sample, eval, logits, info and bench sample read the result
    directly; training and export need the float checkpoint. Layout: docs/formats.md.
    example: tinygpt quantize --checkpoint runs/default-20261123-120000 --out runs/default-int8
    """

func runQuantizeCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(quantizeUsage); return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt quantize --help)") }
    guard let out = try a.option("out") else { throw CLIError("--out DIR is required (tinygpt quantize --help)") }
    let formatName = try a.option("format") ?? "int8"
    guard let format = QuantizedFormat(rawValue: formatName) else { throw CLIError("--format must be int8 or int4, got '\(formatName)'") }
    let groupText = try a.option("group-size")
    let floatEmbeddings = a.flag("float-embeddings")
    let force = a.flag("force")
    try a.finish()
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
    try OutputDirectory.check(out, force: force, sources: [checkpoint, directory.path])
    let (loaded, _) = try loadCheckpointWithTokenizer(directory.path)
    var quantizedConfig = loaded.config
    if loaded.model.hasAdapters {  // an adapter checkpoint is quantized as its merged model
        loaded.model.mergeAdapters()
        quantizedConfig.lora = nil
    }
    let weights = QuantizedWeights(quantizing: loaded.model, format: format, groupSize: groupSize, embeddings: embeddings)
    try QuantizedCheckpoint.save(weights, config: quantizedConfig, tokenizerJSON: loaded.tokenizerJSON,
                                 extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)), to: URL(fileURLWithPath: out))
    let floatBytes = QuantizedCheckpoint.weightBytesPerToken(loaded.config.model, format: nil, groupSize: groupSize, embeddings: embeddings)
    let bytes = QuantizedCheckpoint.weightBytesPerToken(loaded.config.model, format: format, groupSize: groupSize, embeddings: embeddings)
    printError(String(format: "wrote %@ (%@, groups of %d%@): weights per token %.2f MB, float32 %.2f MB (%.2f×)", out, format.rawValue,
                      groupSize, embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(floatBytes) / 1e6,
                      Double(bytes) / Double(floatBytes)))
}

/// A quantized checkpoint with its tokenizer, or nil when `path` holds a
/// float one (read only the weights header to tell).
func loadQuantizedCheckpoint(_ path: String) throws -> (checkpoint: QuantizedCheckpoint.Loaded, tokenizer: any Tokenizer)? {
    let directory = try Checkpoint.resolve(path)
    guard QuantizedCheckpoint.isQuantizedCheckpoint(directory) else { return nil }
    let loaded = try QuantizedCheckpoint.load(from: directory)
    let tokenizer = try TokenizerFile.load(data: loaded.tokenizerJSON, name: directory.appendingPathComponent(Checkpoint.tokenizerFile).path)
    try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: loaded.config.model.vocabSize!, source: directory.path)
    return (loaded, tokenizer)
}

/// The per-token model factory for a quantized checkpoint under the
/// command's model settings (only the context may grow, as for float ones).
func quantizedRows(_ loaded: QuantizedCheckpoint.Loaded, model newModel: ModelConfig, context: Int?) throws -> InferenceRows {
    guard newModel == loaded.config.model else {
        throw CLIError("--set model.*: a quantized checkpoint runs with its own model settings (rope_scaling needs the float checkpoint)")
    }
    let window = try contextWindow(context, for: newModel, batch: 1) ?? newModel.contextLength
    let weights = loaded.weights
    return InferenceRows { InferenceModel(quantized: weights, config: newModel, contextWindow: window) }
}

/// A checkpoint's quantization as its weights header states it (nil: float32).
func quantizationInfo(_ directory: URL) throws -> (format: QuantizedFormat, groupSize: Int, embeddings: Bool)? {
    let url = directory.appendingPathComponent(Checkpoint.weightsFile)
    guard QuantizedCheckpoint.quantization(ofWeightsAt: url) != nil else { return nil }
    let loaded = try QuantizedCheckpoint.load(from: directory)  // validates every tensor
    return (loaded.weights.format, loaded.weights.groupSize, loaded.weights.quantizedEmbeddings)
}

/// `info`'s lines on decoding cost: weight bytes one token streams, and KV-cache bytes per token.
func printPerTokenBytes(_ m: ModelConfig, quantization q: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?) {
    let float = QuantizedCheckpoint.weightBytesPerToken(m, format: nil, groupSize: 1, embeddings: true)
    let kv = 2 * m.nLayer * m.kvHeads * m.headSize * 4
    if let q {
        let bytes = QuantizedCheckpoint.weightBytesPerToken(m, format: q.format, groupSize: q.groupSize, embeddings: q.embeddings)
        print(String(format: "quantized: %@, groups of %d%@; weights read per token %.2f MB (float32 %.2f MB, %.2f×)", q.format.rawValue,
                     q.groupSize, q.embeddings ? "" : ", float embeddings", Double(bytes) / 1e6, Double(float) / 1e6, Double(bytes) / Double(float)))
    } else {
        let int8 = QuantizedCheckpoint.weightBytesPerToken(m, format: .int8, groupSize: 32, embeddings: true)
        print(String(format: "weights read per token: %.2f MB float32 (int8 groups of 32: %.2f MB)", Double(float) / 1e6, Double(int8) / 1e6))
    }
    print(String(format: "KV cache per token: %d bytes (float32 keys and values, %d layers), %.2f MB at context %d", kv, m.nLayer,
                 Double(kv * m.contextLength) / 1e6, m.contextLength))
}
