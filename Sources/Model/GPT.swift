import Foundation
import Kernels
import Autograd
import NN

/// A decoder-only transformer, built from a `ModelConfig`.
///
///     ids (B, T) → token embedding (+ learned or sinusoidal positions)
///       → n_layer × [attention, feed-forward], pre- or post-norm residuals
///       → final norm (pre-norm only) → output projection (tied or not) → logits (B, T, V)
///
/// Dropout (when training) follows the embeddings and each residual branch,
/// as in nanoGPT; attention probabilities are not dropped (the attention op
/// is fused and never holds the full probability matrix).
public final class GPT {
    public let config: ModelConfig
    public let vocabSize: Int
    let tokenEmbedding: Embedding
    let positionEmbedding: Embedding?
    let sinusoidalTable: Tensor?
    let blocks: [TransformerBlock]
    let finalNorm: Norm?
    let head: Linear?

    /// Builds and initialises a model. `config.vocabSize` must be resolved.
    public init(config: ModelConfig, seed: UInt64) {
        guard let vocab = config.vocabSize else { fatalError("GPT: vocab_size must be resolved (from the tokenizer) before building a model") }
        self.config = config
        vocabSize = vocab
        var generator = RandomGenerator(seed: seed)
        let d = config.dModel
        let (initializer, outputInitializer) = config.initialization.weightInits(layers: config.nLayer)
        tokenEmbedding = Embedding(vocab, d, generator: &generator)
        positionEmbedding = config.position == .learned ? Embedding(config.contextLength, d, generator: &generator) : nil
        sinusoidalTable = config.position == .sinusoidal ? Positions.sinusoidal(length: config.contextLength, dimension: d) : nil
        let (activation, gated) = config.activation.feedForward
        let attentionPositions: AttentionPositions
        switch config.position {
        case .rope: attentionPositions = .rotary(theta: Float(config.ropeTheta))
        case .alibi: attentionPositions = .alibi
        default: attentionPositions = .none
        }
        var blocks: [TransformerBlock] = []
        for _ in 0..<config.nLayer {
            blocks.append(TransformerBlock(
                attentionNorm: Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)),
                attention: SelfAttention(modelSize: d, heads: config.nHead, kvHeads: config.kvHeads, bias: config.bias,
                                         positions: attentionPositions, initializer: initializer,
                                         outputInitializer: outputInitializer, generator: &generator),
                feedForwardNorm: Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)),
                feedForward: FeedForward(modelSize: d, hiddenSize: config.feedForwardSize, activation: activation, gated: gated,
                                         bias: config.bias, initializer: initializer, outputInitializer: outputInitializer,
                                         generator: &generator),
                preNorm: config.normPosition == .pre))
        }
        self.blocks = blocks
        finalNorm = config.normPosition == .pre ? Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)) : nil
        head = config.tieEmbeddings ? nil : Linear(d, vocab, bias: false, initializer: initializer, generator: &generator)
    }

    /// Every parameter, with the names used in checkpoints.
    public var parameters: [Parameter] {
        var all = tokenEmbedding.parameters(prefixed: "token_embedding")
        if let positionEmbedding { all += positionEmbedding.parameters(prefixed: "position_embedding") }
        for (i, block) in blocks.enumerated() { all += block.parameters(prefixed: "blocks.\(i)") }
        if let finalNorm { all += finalNorm.parameters(prefixed: "final_norm") }
        if let head { all += head.parameters(prefixed: "lm_head") }
        return all
    }

    /// Logits (B, T, V) for token ids laid out (B, T), at absolute positions
    /// offset..<offset+T. `caches` (one per layer) makes each call cost only
    /// its new positions; `dropout` is given only when training.
    public func callAsFunction(_ ids: [Int32], batch: Int, length: Int, offset: Int = 0,
                               caches: [KeyValueCache]? = nil, dropout: Dropout? = nil) -> Tensor {
        require(ids.count == batch * length, "GPT: \(ids.count) ids do not fill (batch \(batch), length \(length))")
        require(offset >= 0 && offset + length <= config.contextLength,
                "GPT: positions \(offset)..<\(offset + length) exceed the context length \(config.contextLength)")
        require(caches == nil || caches!.count == blocks.count, "GPT: need one cache per layer (\(blocks.count))")
        var x = tokenEmbedding(ids, shape: [batch, length])                      // (B, T, C)
        if let positionEmbedding {
            x = x + positionEmbedding((offset..<(offset + length)).map { Int32($0) }, shape: [length])  // + (T, C)
        } else if let sinusoidalTable {
            x = x + sinusoidalTable.slice(0, offset..<(offset + length))
        }
        if let dropout { x = dropout(x) }
        for (i, block) in blocks.enumerated() {
            x = block(x, offset: offset, cache: caches?[i], dropout: dropout)
        }
        if let finalNorm { x = finalNorm(x) }
        return linear(x, weight: head?.weight ?? tokenEmbedding.weight)          // (B, T, V)
    }

    /// Mean next-token cross-entropy of `targets` (B·T) given `ids` (B, T).
    public func loss(_ ids: [Int32], targets: [Int32], batch: Int, length: Int, dropout: Dropout? = nil) -> Tensor {
        crossEntropy(self(ids, batch: batch, length: length, dropout: dropout), targets: targets)
    }

    /// Fresh, empty KV caches, one per layer.
    public func makeCaches() -> [KeyValueCache] { blocks.map { _ in KeyValueCache(capacity: config.contextLength) } }
}

/// One residual block: attention then feed-forward, each wrapped as
/// pre-norm x + f(norm(x)) or post-norm norm(x + f(x)).
final class TransformerBlock: Layer {
    let attentionNorm: Norm, attention: SelfAttention
    let feedForwardNorm: Norm, feedForward: FeedForward
    let preNorm: Bool

    init(attentionNorm: Norm, attention: SelfAttention, feedForwardNorm: Norm, feedForward: FeedForward, preNorm: Bool) {
        self.attentionNorm = attentionNorm; self.attention = attention
        self.feedForwardNorm = feedForwardNorm; self.feedForward = feedForward
        self.preNorm = preNorm
    }

    func callAsFunction(_ x: Tensor, offset: Int, cache: KeyValueCache?, dropout: Dropout?) -> Tensor {
        func branch(_ y: Tensor) -> Tensor { dropout.map { $0(y) } ?? y }
        if preNorm {
            let h = x + branch(attention(attentionNorm(x), offset: offset, cache: cache))
            return h + branch(feedForward(feedForwardNorm(h)))
        }
        let h = attentionNorm(x + branch(attention(x, offset: offset, cache: cache)))
        return feedForwardNorm(h + branch(feedForward(h)))
    }

    var parameters: [Parameter] {
        attentionNorm.parameters(prefixed: "attn_norm") + attention.parameters(prefixed: "attn")
            + feedForwardNorm.parameters(prefixed: "ffn_norm") + feedForward.parameters(prefixed: "ffn")
    }
}

extension ActivationKind {
    /// The pointwise function and whether the feed-forward is gated (GLU variants).
    var feedForward: (Activation, gated: Bool) {
        switch self {
        case .relu: return (.relu, false)
        case .gelu: return (.gelu, false)
        case .gelu_tanh: return (.geluTanh, false)
        case .swish: return (.swish(beta: 1), false)
        case .swiglu: return (.swish(beta: 1), true)
        case .geglu: return (.gelu, true)
        case .reglu: return (.relu, true)
        }
    }
}

extension InitScheme {
    /// (most weights, residual output projections). GPT-2 scales the latter
    /// by 1/√(2·n_layer) so the residual stream's variance does not grow with depth.
    func weightInits(layers: Int) -> (WeightInit, WeightInit) {
        switch self {
        case .gpt2: return (.normal(std: 0.02), .normal(std: 0.02 / Float(2 * layers).squareRoot()))
        case .xavier: return (.xavier, .xavier)
        case .kaiming: return (.kaiming, .kaiming)
        }
    }
}
