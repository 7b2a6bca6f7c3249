import Foundation
import Kernels
import Autograd
import Model
import Config
import Formats
import Tokenizer

/// A checkpoint opened to answer: the one type that `sample`, `chat`,
/// `eval`, `logits` and `bench sample` ask for a model's config, tokenizer,
/// chat template, limits and logits. Checkpoints differ in storage, not in
/// what is asked of them:
///
///     float       one sequence: the per-token path over the weights mapped in
///                 place; several rows, or scaled RoPE: loaded as a GPT
///     adapters    loaded, with LoRA adapters merged (W + (α/r)·B·A); bottleneck
///                 adapters, prefixes and prompts kept beside the base (batched path);
///                 the base read from the checkpoint base.json names, when it does
///     quantized   int8/int4 matrices on the per-token path only
///
/// Opening reads the config, tokenizer and chat template and checks them
/// (vocabulary, template file), so a refusal comes before any weight is read;
/// the weights are read when a logits source or model is first asked for.
public final class LanguageModel {
    public enum Storage: Equatable {
        case float, adapters
        case quantized(QuantizedFormat)
    }

    /// The checkpoint directory (a run directory resolves to its best/, else latest/).
    public let directory: URL
    /// The config as stored.
    public let config: RunConfig
    public let tokenizer: any Tokenizer
    public let tokenizerJSON: Data
    public let chatTemplate: String?
    public let storage: Storage
    /// Told how the weights were read when it matters (a copy of misaligned data).
    let note: (String) -> Void
    private let quantized: QuantizedWeights?
    private var loaded: GPT?
    private var mapped: FloatWeights?

    /// Opens a checkpoint or run directory.
    public init(_ path: String, note: @escaping (String) -> Void = { _ in }) throws {
        directory = try Checkpoint.resolve(path)
        self.note = note
        if QuantizedCheckpoint.isQuantizedCheckpoint(directory) {
            let q = try QuantizedCheckpoint.load(from: directory)  // mapped: the integer data stays in the file
            q.notes.forEach(note)
            config = q.config
            tokenizerJSON = q.tokenizerJSON
            quantized = q.weights
            storage = .quantized(q.weights.format)
        } else {
            config = try Checkpoint.loadConfig(from: directory)
            let url = directory.appendingPathComponent(Checkpoint.tokenizerFile)
            guard let json = FileManager.default.contents(atPath: url.path) else {
                throw FormatError("checkpoint '\(directory.path)' has no readable \(Checkpoint.tokenizerFile)")
            }
            tokenizerJSON = json
            quantized = nil
            storage = config.peftMethod == nil ? .float : .adapters
            // An adapters-only checkpoint's base is found and its shape checked now; its fingerprint when the weights are read.
            if storage == .adapters { _ = try Checkpoint.baseDirectory(of: directory, config: config) }
        }
        tokenizer = try TokenizerFile.load(data: tokenizerJSON, name: directory.appendingPathComponent(Checkpoint.tokenizerFile).path)
        guard let vocab = config.model.vocabSize else { throw FormatError("\(directory.path): config.json has no model.vocab_size") }
        try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: vocab, source: directory.path)
        chatTemplate = try Checkpoint.chatTemplate(in: directory)
    }

    public var vocabSize: Int { tokenizer.vocabSize }

    /// A generator over this model under `model` (the stored model config, with
    /// rope_scaling perhaps changed) for `sequences` rows at once, with a
    /// window of `context` tokens when given, stopping at the model's end tokens.
    public func generator(model: ModelConfig, context: Int?, sequences: Int) throws -> Generator {
        Generator(source: try logitsSource(model: model, context: context, sequences: sequences), tokenizer: tokenizer,
                  endTokenIds: config.tokenizer.eosTokenIds, beginTokenId: config.tokenizer.bosTokenId)
    }

    /// Next-token logits for generation: the per-token path for one sequence
    /// when the model allows it (and always for quantized weights), else a
    /// batched GPT.
    public func logitsSource(model: ModelConfig, context: Int?, sequences: Int) throws -> any LogitsSource {
        let window = try checkedWindow(model, context: context, batch: sequences)
        if let quantized {
            let size = window ?? model.contextLength
            return InferenceRows { InferenceModel(quantized: quantized, config: model, contextWindow: size) }
        }
        if sequences == 1 && InferenceModel.supports(model) && storage == .float && model == config.model {
            let weights = try mappedWeights()
            let size = window ?? model.contextLength
            return InferenceRows { InferenceModel(float: weights, config: model, contextWindow: size) }
        }
        let gpt = try positioned(model, window: window)
        // One sequence: the per-token path over the GPT's weights (no autograd); several, or PEFT modules
        // that stay beside the weights (adapters, prefixes, prompts): one batched forward per step.
        return sequences == 1 && InferenceModel.supports(gpt.config) && gpt.unmergeableMethod == nil
            ? InferenceRows { InferenceModel(model: gpt) } : BatchedModel(gpt)
    }

    /// Logits at every position of `batch` windows of `length` ids, (batch, length, vocab):
    /// what `eval` scores and `logits` prints, and the window they may span.
    public func positionLogits(model: ModelConfig, context: Int?, batch: Int) throws
        -> (contextWindow: Int, logits: ([Int32], Int, Int) -> Tensor) {
        let window = try checkedWindow(model, context: context, batch: batch)
        if let quantized {
            // One sequence at a time through the per-token model.
            let rows = InferenceModel(quantized: quantized, config: model, contextWindow: window ?? model.contextLength)
            let v = rows.vocabSize
            return (rows.contextWindow, { ids, batch, length in
                var all: [Float] = []
                for b in 0..<batch { all += rows.logits(Array(ids[(b * length)..<((b + 1) * length)])) }
                return Tensor(all, shape: [batch, length, v])
            })
        }
        let gpt = try positioned(model, window: window)
        if let context, context > gpt.tokenWindow {
            throw FormatError("--context \(context) exceeds the \(gpt.tokenWindow) positions this checkpoint's \(gpt.virtualPositions) virtual tokens leave of its window of \(gpt.contextWindow)")
        }
        return (gpt.tokenWindow, { ids, batch, length in Autograd.noGrad { gpt(ids, batch: batch, length: length) } })
    }

    /// The float model as a GPT (adapters merged), for what only the autograd
    /// model does (scoring fine-tuning examples); `purpose` names it in the refusal.
    public func gpt(model: ModelConfig, context: Int? = nil, batch: Int = 8, purpose: String) throws -> GPT {
        if case .quantized(let format) = storage {
            throw FormatError("\(directory.path) is a quantized (\(format.rawValue)) checkpoint; \(purpose) needs a float checkpoint (the one it was quantized from)")
        }
        return try positioned(model, window: try checkedWindow(model, context: context, batch: batch))
    }

    /// Checks the inference-time model config and `context` against the stored
    /// model: only rope_scaling may change (the rest shapes the weights), and
    /// quantized weights keep even that; the window grows past the trained
    /// context only for positions that extrapolate, and within memory. Returns
    /// the window when it differs from the trained context length.
    public func checkedWindow(_ model: ModelConfig, context: Int?, batch: Int) throws -> Int? {
        try model.checkInferenceChange(from: config.model)
        if quantized != nil && model != config.model {
            throw FormatError("--set model.rope_scaling: a quantized checkpoint runs with its own model settings (rope_scaling needs the float checkpoint)")
        }
        guard let context else { return nil }
        guard context >= 1 else { throw FormatError("--context must be an integer ≥ 1, got \(context)") }
        if context <= model.contextLength { return nil }
        guard model.position.extrapolates else {
            throw FormatError("--context \(context) exceeds the trained context length \(model.contextLength), and learned positions have no embedding past row \(model.contextLength - 1); sinusoidal, rope, alibi and none positions can run longer")
        }
        let needed = ModelCost(model).inferenceBytes(length: context, batch: batch)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= 0.8 * available else {
            throw FormatError(String(format: "--context %d needs about %.1f GB for a batch of %d windows; this machine has %.1f GB", context, needed / 1e9, batch, available / 1e9))
        }
        return context
    }

    /// The loaded GPT (adapters merged), under `model` and `window`.
    private func positioned(_ model: ModelConfig, window: Int?) throws -> GPT {
        let gpt: GPT
        if let loaded { gpt = loaded } else {
            gpt = try Checkpoint.load(from: directory).model
            // Inference reads a LoRA checkpoint as its merged model: one matrix per projection.
            // The other PEFT methods stay beside the base weights (they do not merge).
            if gpt.hasAdapters && gpt.unmergeableMethod == nil { gpt.mergeAdapters() }
            loaded = gpt
        }
        if model == config.model && window == nil { return gpt }
        return gpt.withPositions(model, contextWindow: window)
    }

    private func mappedWeights() throws -> FloatWeights {
        if let mapped { return mapped }
        let m = try Checkpoint.map(from: directory)
        m.notes.forEach(note)
        mapped = m.weights
        return m.weights
    }
}
