import Foundation
import Kernels
import NN
import Files

/// What a model costs, derived from its parameter shapes (`parameterShapes`)
/// without building it: parameters by component, FLOPs per token, the weight
/// bytes one decoded token reads, and the memory training, generation and a
/// forward pass take. The one cost model: `info`, training's memory check,
/// `sample`, `quantize`, `bench` and the inference checks all ask it.
public struct ModelCost {
    public let model: ModelConfig
    public let shapes: [ParameterShape]
    public let vocabulary: Int

    /// `vocabulary` when the config leaves it to the tokenizer (model.vocab_size null).
    public init(_ model: ModelConfig, vocabulary: Int? = nil) {
        var m = model
        if m.vocabSize == nil { m.vocabSize = vocabulary }
        self.model = m
        self.vocabulary = m.vocabSize ?? 0
        shapes = m.parameterShapes
    }

    // MARK: parameters and FLOPs

    public enum Component: String, CaseIterable {
        case tokenEmbedding = "token embedding", positionEmbedding = "position embedding", valueEmbeddings = "value embeddings"
        case attention, feedForward = "feed-forward", norms, outputHead = "output head"
    }

    public static func component(of p: ParameterShape) -> Component {
        if p.name.hasPrefix("token_embedding") { return .tokenEmbedding }
        if p.name.hasPrefix("value_embeddings.") { return .valueEmbeddings }
        if p.name.hasPrefix("position_embedding") || p.name.hasPrefix("relative_attention_bias") { return .positionEmbedding }
        if p.name.contains("norm") { return .norms }
        if p.name.contains(".attn.") { return .attention }
        if p.name.contains(".ffn.") { return .feedForward }
        return .outputHead
    }

    /// Parameters per component, in `Component` order.
    public var parametersByComponent: [(component: Component, count: Int)] {
        Component.allCases.map { c in (c, shapes.filter { ModelCost.component(of: $0) == c }.map(\.count).reduce(0, +)) }
    }

    public var parameters: Int { shapes.map(\.count).reduce(0, +) }

    /// Forward FLOPs per token at full context: 2 per multiply-add of every
    /// weight matrix a token passes through (the blocks' and the head's; a
    /// tied head still multiplies), plus attention's scores and weighted sum,
    /// 2·2·T·d per layer at context T.
    public var forwardFLOPsPerToken: Int {
        var multiplyAdds = 0
        for p in shapes {
            switch ModelCost.component(of: p) {
            case .attention, .feedForward: if p.decays { multiplyAdds += p.count }
            case .outputHead: multiplyAdds += p.count
            case .tokenEmbedding: if model.tieEmbeddings { multiplyAdds += p.count }
            case .positionEmbedding, .valueEmbeddings, .norms: break
            }
        }
        return 2 * multiplyAdds + 4 * model.nLayer * model.contextLength * model.dModel
    }

    /// Floats per parameter an optimizer keeps: SGD's momentum, Adam's two moments (Muon: two, one for the blocks' matrices).
    public static func optimizerFloatsPerParameter(_ optimizer: OptimizerKind) -> Int { optimizer == .sgd ? 1 : 2 }

    // MARK: decoding

    /// Which parameters quantization stores as integers: every linear weight of
    /// the blocks, and the token embedding and output head unless `embeddings` is false
    /// (position tables, learned or T5's bias, stay float32).
    public static func isQuantized(_ p: ParameterShape, embeddings: Bool) -> Bool {
        guard p.shape.count == 2 else { return false }
        if p.name == "position_embedding.weight" || p.name == "relative_attention_bias.weight" { return false }
        if p.name == "token_embedding.weight" || p.name == "lm_head.weight" || p.name.hasPrefix("value_embeddings.") { return embeddings }
        return true
    }

    /// Bytes of weights one generated token streams: every matrix and vector
    /// once, except the token embedding (one row) and the head when tied;
    /// float32, or `format` in groups of `groupSize` with a float32 scale each.
    public func weightBytesPerToken(format: QuantizedFormat? = nil, groupSize: Int = 1, embeddings: Bool = true) -> Int {
        var total = 0
        for p in shapes {
            let quantized = format != nil && ModelCost.isQuantized(p, embeddings: embeddings)
            func bytes(_ count: Int) -> Int { quantized ? format!.byteCount(count) + 4 * count / groupSize : 4 * count }
            if p.name == "token_embedding.weight" {
                total += bytes(p.shape[1])  // the looked-up row
                if model.tieEmbeddings { total += bytes(p.count) }  // also the head
            } else if p.name.hasPrefix("value_embeddings.") {
                total += bytes(p.shape[1])  // the looked-up row
            } else if p.name == "position_embedding.weight" {
                total += 4 * p.shape[1]
            } else {
                total += bytes(p.count)
            }
        }
        return total
    }

    /// Float32 keys and values of every layer, per cached token.
    public var kvCacheBytesPerToken: Int { 2 * model.nLayer * model.kvHeads * model.headSize * 4 }

    // MARK: memory

    /// A generous estimate of generating `sequences` rows at once: weights,
    /// each row's KV cache (the whole window) and logits, the prompt's
    /// activations, and the token lists. Commands compare it with the
    /// machine's memory before allocating anything.
    public func generationBytes(sequences: Int, promptLength: Int, maxNewTokens: Int, window: Int? = nil) -> Double {
        let (d, context) = (Double(model.dModel), Double(window ?? model.contextLength))
        let (vocab, hidden) = (Double(vocabulary), Double(model.feedForwardSize))
        let rows = Double(sequences), prompt = Double(max(1, min(promptLength, Int(context))))
        let cache = context * Double(kvCacheBytesPerToken) / 4
        let activations = prompt * (vocab + 8 * d + 2 * hidden)
        let tokens = Double(promptLength + maxNewTokens)
        return 4 * (Double(parameters) + rows * (cache + activations + 2 * vocab + tokens))
    }

    /// A rough upper bound on one batched forward pass at `length` tokens per
    /// sequence: activations of one block (a few copies of the residual and
    /// feed-forward widths), the logits, every layer's key/value cache,
    /// ALiBi's (H, T, T) bias and the position tables.
    public func inferenceBytes(length: Int, batch: Int) -> Double {
        let t = Double(length), b = Double(batch), d = Double(model.dModel), v = Double(vocabulary)
        var floats = b * t * (8 * d + 3 * Double(model.feedForwardSize) + 2 * v)
        floats += b * t * Double(kvCacheBytesPerToken) / 4
        if model.position == .alibi { floats += Double(model.nHead) * t * t }
        floats += 2 * t * d
        return 4 * floats
    }

    /// A lower bound on a training step's memory: three floats per parameter
    /// (weight, gradient, at least one optimizer moment; a LoRA run's frozen
    /// base only its weight) and the activations a micro-batch of `rows`
    /// sequences of `length` tokens must keep. Only there to refuse sizes that
    /// cannot possibly fit with a message instead of a failed allocation, so
    /// it never overestimates.
    public func minimumTrainingBytes(rows: Int, length: Int, adapters: Bool) -> Double {
        let (d, layers) = (Double(model.dModel), Double(model.nLayer))
        let (vocab, hidden) = (Double(vocabulary), Double(model.feedForwardSize))
        let tokens = Double(rows) * Double(length)
        let activations = layers * tokens * (4 * d + hidden) + tokens * vocab
        // With LoRA the frozen base has neither gradients nor moments (the adapters are small).
        let floatsPerParameter = adapters ? 1.0 : 3.0
        return 4 * (floatsPerParameter * Double(parameters) + activations)
    }

    /// Weights, gradients and optimizer state in bytes, before activations: what `info` prints.
    public func trainingStateBytes(optimizer: OptimizerKind) -> (weights: Int, gradients: Int, optimizer: Int) {
        // Muon keeps one momentum buffer for the blocks' matrices and AdamW's two moments for the rest.
        let hidden = optimizer == .muon ? shapes.filter { Parameter.isHiddenMatrix(name: $0.name, rank: $0.shape.count) }.map(\.count).reduce(0, +) : 0
        return (4 * parameters, 4 * parameters, 4 * (ModelCost.optimizerFloatsPerParameter(optimizer) * parameters - hidden))
    }
}

extension ModelConfig {
    /// Refuses an inference-time model config that differs from the trained
    /// one (`stored`) in anything but rope_scaling: the other fields shape the weights.
    public func checkInferenceChange(from stored: ModelConfig) throws {
        var unchanged = self
        unchanged.ropeScaling = stored.ropeScaling
        guard unchanged != stored else { return }
        var asked = RunConfig(), trained = RunConfig()
        asked.model = self
        trained.model = stored
        let field = asked.differingFields(from: trained, sections: ["model"]).first { $0 != "model.rope_scaling" } ?? "model"
        throw ConfigError("--set \(field): only model.rope_scaling can change after training (the other model fields shape the weights)")
    }
}

extension ModelCost {
    /// Refuses work that needs more than this machine's memory, before any of it
    /// is allocated: `refusal(needed, available)`, both in GB, is the message.
    public static func requireMemory(_ bytes: Double, refusal: (_ neededGB: Double, _ availableGB: Double) -> String) throws {
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= available else { throw UsageError(refusal(bytes / 1e9, available / 1e9)) }
    }
}
