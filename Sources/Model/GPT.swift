import Foundation
import Kernels
import Autograd
import NN
import Config

/// A decoder-only transformer, built from a `ModelConfig`.
///
///     ids (B, T) → token embedding (+ learned or sinusoidal positions)
///       → n_layer × [attention, feed-forward], pre-norm, post-norm or DeepNorm residuals
///       → final norm (pre-norm only) → output projection (tied or not) → logits (B, T, V)
///       → c·tanh(logits/c) when logit_softcap is c
///
/// `contextWindow` (≥ context_length) lets positions that need no trained
/// table (sinusoidal, RoPE, ALiBi, T5, none) run past the trained length.
/// T5's relative position bias is one table (buckets, heads), looked up once
/// per forward pass and added to the scores of every layer.
/// Value embeddings are looked up once per pass too, and each serves up to two
/// layers' values; with value residual, the first layer's values are kept
/// for every later layer to mix with its own.
///
/// Dropout (when training) follows the embeddings and each residual branch,
/// as in nanoGPT; attention probabilities are not dropped (the attention op
/// is fused and never holds the full probability matrix).
public final class GPT {
    public let config: ModelConfig
    public let vocabSize: Int
    /// The longest sequence this instance accepts: context_length unless built longer.
    public let contextWindow: Int
    let tokenEmbedding: Embedding
    let positionEmbedding: Embedding?
    let sinusoidalTable: Tensor?
    /// T5's learned bias per (distance bucket, head).
    let relativePositionBias: Embedding?
    let blocks: [TransformerBlock]
    let finalNorm: Norm?
    let head: Linear?
    /// Value embeddings: tables (vocab, Hkv·D) added to some layers' values (`ModelConfig.valueEmbeddingTable`).
    let valueEmbeddings: [Embedding]
    /// Prefix tuning's per-layer keys and values (see GPTPEFT.swift), when attached.
    public internal(set) var prefixEncoder: PrefixEncoder?
    /// Prompt tuning's virtual token embeddings (N, C), when attached.
    public internal(set) var promptEmbeddings: Tensor?

    /// Builds and initialises a model. `config.vocabSize` must be resolved.
    /// `contextWindow` (default context_length) may exceed it except for learned positions.
    public init(config: ModelConfig, seed: UInt64, contextWindow: Int? = nil) {
        guard let vocab = config.vocabSize else { fatalError("GPT: vocab_size must be resolved (from the tokenizer) before building a model") }
        let window = contextWindow ?? config.contextLength
        require(window >= 1 && (window == config.contextLength || config.position.extrapolates),
                "GPT: a context window of \(window) needs positions that extrapolate (not \(config.position.rawValue) at \(config.contextLength))")
        self.config = config
        self.contextWindow = window
        vocabSize = vocab
        var generator = RandomGenerator(seed: seed)
        let d = config.dModel
        let deepNorm = config.normPosition == .deepnorm
        // DeepNorm replaces GPT-2's 1/√(2N) on residual outputs by its own gain β (applied below).
        var (initializer, outputInitializer) = config.initScheme.weightInits(layers: config.nLayer)
        if deepNorm { outputInitializer = initializer }
        tokenEmbedding = Embedding(vocab, d, generator: &generator)
        positionEmbedding = config.position == .learned ? Embedding(config.contextLength, d, generator: &generator) : nil
        sinusoidalTable = config.position == .sinusoidal ? Positions.sinusoidal(length: window, dimension: d) : nil
        relativePositionBias = config.position == .t5
            ? Embedding(config.relativeAttentionNumBuckets, config.nHead, generator: &generator) : nil
        let (activation, gated, learnedBeta) = config.feedForwardActivation
        let attentionPositions: AttentionPositions
        switch config.position {
        case .rope:
            if let scaling = config.ropeScaling {
                attentionPositions = .scaledRotary(ScaledRotary(theta: Float(config.ropeTheta), headSize: config.headSize,
                                                                scaling: scaling, trainedLength: config.contextLength))
            } else {
                attentionPositions = .rotary(theta: Float(config.ropeTheta))
            }
        case .alibi: attentionPositions = .alibi
        default: attentionPositions = .none
        }
        var blocks: [TransformerBlock] = []
        for i in 0..<config.nLayer {
            blocks.append(TransformerBlock(
                attentionNorm: Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)),
                attention: SelfAttention(modelSize: d, heads: config.nHead, kvHeads: config.kvHeads, bias: config.bias,
                                         positions: attentionPositions, queryKeyNormEps: config.qkNorm ? Float(config.normEps) : nil,
                                         valueMix: config.valueResidual && i > 0, initializer: initializer,
                                         outputInitializer: outputInitializer, generator: &generator),
                feedForwardNorm: Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)),
                feedForward: FeedForward(modelSize: d, hiddenSize: config.feedForwardSize, activation: activation, gated: gated,
                                         learnedBeta: learnedBeta, bias: config.bias, initializer: initializer,
                                         outputInitializer: outputInitializer, generator: &generator),
                residual: config.normPosition.residual(layers: config.nLayer)))
        }
        if deepNorm {
            let beta = DeepNorm.initGain(layers: config.nLayer)
            for block in blocks {
                for weight in block.deepNormScaledWeights { scaleInPlace(weight, beta) }
            }
        }
        if config.zeroInitOutput {
            // Drawn as usual, then zeroed: every other weight is the one the same seed gives without this option.
            for block in blocks {
                for weight in [block.attention.output.weight, block.feedForward.down.weight] { weight.data.update(repeating: 0, count: weight.count) }
            }
        }
        self.blocks = blocks
        finalNorm = config.normPosition == .pre ? Norm(config.norm, d, bias: config.bias, eps: Float(config.normEps)) : nil
        head = config.tieEmbeddings ? nil : Linear(d, vocab, bias: false, initializer: initializer, generator: &generator)
        if config.zeroInitHead, let head {
            // Drawn, then zeroed, as zero_init_output: the other weights stay those of the same seed.
            head.weight.data.update(repeating: 0, count: head.weight.count)
        }
        // Drawn last, so every other weight is the one the same seed gives without them.
        valueEmbeddings = (0..<config.valueEmbeddings).map { _ in Embedding(vocab, config.kvHeads * config.headSize, generator: &generator) }
    }

    /// The blocks' input (B, T, C): token embeddings plus learned or sinusoidal positions.
    public func embed(_ ids: [Int32], batch: Int, length: Int, offset: Int) -> Tensor {
        positioned(tokenEmbedding(ids, shape: [batch, length]), offset: offset)
    }

    /// Token-space inputs x (B, T, C) at positions offset..<offset+T, with their positions added.
    func positioned(_ x: Tensor, offset: Int) -> Tensor {
        let length = x.shape[1]
        if let positionEmbedding {
            return x + positionEmbedding((offset..<(offset + length)).map { Int32($0) }, shape: [length])  // + (T, C)
        }
        if let sinusoidalTable {
            // As in Attention Is All You Need (§3.4): embeddings × √d_model, then the
            // unit-amplitude sinusoids, which would otherwise drown embeddings of std 0.02.
            return scale(x, Float(config.dModel).squareRoot()) + sinusoidalTable.slice(0, offset..<(offset + length))
        }
        return x
    }

    /// Every parameter, with the names used in checkpoints.
    public var parameters: [Parameter] {
        var all = tokenEmbedding.parameters(prefixed: "token_embedding")
        if let positionEmbedding { all += positionEmbedding.parameters(prefixed: "position_embedding") }
        if let relativePositionBias { all += relativePositionBias.parameters(prefixed: "relative_attention_bias") }
        for (i, block) in blocks.enumerated() { all += block.parameters(prefixed: "blocks.\(i)") }
        if let finalNorm { all += finalNorm.parameters(prefixed: "final_norm") }
        if let head { all += head.parameters(prefixed: "lm_head") }
        for (i, table) in valueEmbeddings.enumerated() { all += table.parameters(prefixed: "value_embeddings.\(i)") }
        return all
    }

    /// Logits (B, T, V) for token ids laid out (B, T), at absolute positions
    /// offset..<offset+T. `caches` (one per layer) makes each call cost only
    /// its new positions; `dropout` is given only when training.
    /// `prefixLengths` (one per batch row; attention prefix_lm) are the
    /// prompts' lengths, attended bidirectionally; nil or 0 is causal.
    public func callAsFunction(_ ids: [Int32], batch: Int, length: Int, offset: Int = 0,
                               caches: [KeyValueCache]? = nil, dropout: Dropout? = nil, prefixLengths: [Int]? = nil) -> Tensor {
        require(ids.count == batch * length, "GPT: \(ids.count) ids do not fill (batch \(batch), length \(length))")
        require(prefixLengths == nil || config.attention == .prefix_lm, "GPT: prefix lengths need model.attention = prefix_lm")
        require(offset >= 0 && offset + length <= tokenWindow,
                "GPT: positions \(offset)..<\(offset + length) exceed the context window \(tokenWindow)"
                    + (virtualPositions > 0 ? " (\(contextWindow) less \(virtualPositions) virtual tokens)" : ""))
        require(caches == nil || caches!.count == blocks.count, "GPT: need one cache per layer (\(blocks.count))")
        if let caches, config.ropeScaling?.type == .dynamic {
            // Only dynamic scaling needs the tokens behind the cache (to recompute).
            let rows = (0..<batch).map { Array(ids[($0 * length)..<(($0 + 1) * length)]) }
            if offset > 0 && offset + length > config.contextLength { return recomputed(rows, caches: caches) }
            caches[0].tokens = caches[0].tokens.isEmpty ? rows : zip(caches[0].tokens, rows).map { $0 + $1 }
        }
        let x = transformed(ids, batch: batch, length: length, offset: offset, caches: caches, dropout: dropout, prefixLengths: prefixLengths)
        let logits = linear(x, weight: head?.weight ?? tokenEmbedding.weight)   // (B, T, V)
        return config.logitSoftcap.map { softcap(logits, cap: Float($0)) } ?? logits
    }

    /// The final hidden states (B, T, C), after the final norm: what the
    /// output projection reads, and what a score head reads instead
    /// (`ScoreModel`).
    public func hiddenStates(_ ids: [Int32], batch: Int, length: Int, dropout: Dropout? = nil) -> Tensor {
        require(ids.count == batch * length, "GPT: \(ids.count) ids do not fill (batch \(batch), length \(length))")
        require(length <= tokenWindow, "GPT: \(length) positions exceed the context window \(tokenWindow)")
        return transformed(ids, batch: batch, length: length, offset: 0, caches: nil, dropout: dropout, prefixLengths: nil)
    }

    /// Embeddings → blocks → final norm. Real tokens sit after the virtual
    /// positions of prefix or prompt tuning (0..<N), which a call from an
    /// empty cache (or without one) supplies first: prompt tuning's embeddings
    /// ahead of the tokens, prefix tuning's keys and values ahead of every
    /// layer's keys. Only the real tokens' states come out.
    private func transformed(_ ids: [Int32], batch: Int, length: Int, offset: Int, caches: [KeyValueCache]?, dropout: Dropout?,
                             prefixLengths: [Int]?) -> Tensor {
        let start = virtualPositions + offset                  // the first real token's position
        let fresh = caches == nil || offset == 0
        var tokens = tokenEmbedding(ids, shape: [batch, length])
        var first = start                                       // the position of x's first row
        if let promptEmbeddings, fresh {
            tokens = concat([batchCopies(promptEmbeddings, batch)] + [tokens], dim: 1)   // (B, N + T, C)
            first = 0
        }
        var x = positioned(tokens, offset: first)
        if let dropout { x = dropout(x) }
        let rows = x.shape[1]
        let positionBias = relativePositionBias.map {                                          // (H, rows, first + rows)
            Positions.t5Bias(table: $0.weight, queryLength: rows, keyLength: first + rows,
                             maxDistance: config.relativeAttentionMaxDistance)
        }
        let prefixRows = fresh ? prefixEncoder.map { $0.rows() } : nil
        // Value embeddings' rows for x's rows; prompt tuning's virtual rows (ahead of the tokens) get none.
        let valueRows: [Tensor] = valueEmbeddings.map { table in
            let e = table(ids, shape: [batch, length])                                    // (B, T, Hkv·D)
            return rows > length ? concat([Tensor(zeros: [batch, rows - length, e.shape[2]]), e], dim: 1) : e
        }
        let firstValues = config.valueResidual ? FirstLayerValues() : nil
        for (i, block) in blocks.enumerated() {
            var prefix: (keys: Tensor, values: Tensor)? = nil
            if let prefixEncoder, let prefixRows, fresh {
                let (k, v) = prefixEncoder.keysAndValues(prefixRows, layer: i)
                if let caches {
                    caches[i].append(keys: block.attention.headMajorCopies(k, batch: batch), values: block.attention.headMajorCopies(v, batch: batch))
                } else {
                    prefix = (k, v)
                }
            }
            x = block(x, offset: first, cache: caches?[i], dropout: dropout, bias: positionBias, prefixLengths: prefixLengths, prefix: prefix,
                      valueEmbedding: config.valueEmbeddingTable(layer: i).map { valueRows[$0] }, firstValues: firstValues)
        }
        if rows > length { x = x.slice(1, (rows - length)..<rows) }                 // the real tokens
        if let finalNorm { x = finalNorm(x) }
        return x                                                                   // (B, T, C)
    }

    /// Dynamic NTK scaling past the trained length: every position's frequencies
    /// depend on the whole length, so cached keys (and every later layer's
    /// input) of a shorter sequence are stale. Runs the cached tokens plus the
    /// new ones again from position 0 and returns the new positions' logits,
    /// which therefore equal a full forward pass over the sequence.
    private func recomputed(_ rows: [[Int32]], caches: [KeyValueCache]) -> Tensor {
        let history = caches[0].tokens
        require(history.count == rows.count, "GPT: the caches hold \(history.count) rows, the call \(rows.count)")
        let full = zip(history, rows).map { $0 + $1 }
        let (batch, length, total) = (rows.count, rows[0].count, full[0].count)
        for cache in caches { cache.clear() }
        let logits = self(full.flatMap { $0 }, batch: batch, length: total, offset: 0, caches: caches).toArray()
        var out: [Float] = []
        out.reserveCapacity(batch * length * vocabSize)
        for b in 0..<batch { out += logits[((b * total + total - length) * vocabSize)..<((b + 1) * total * vocabSize)] }
        return Tensor(out, shape: [batch, length, vocabSize])
    }

    /// Mean next-token cross-entropy of `targets` (B·T) given `ids` (B, T),
    /// with `labelSmoothing` ε (train.label_smoothing) if given.
    public func loss(_ ids: [Int32], targets: [Int32], batch: Int, length: Int, dropout: Dropout? = nil, labelSmoothing: Float = 0) -> Tensor {
        crossEntropy(self(ids, batch: batch, length: length, dropout: dropout), targets: targets, labelSmoothing: labelSmoothing)
    }

    /// Fresh, empty KV caches, one per layer.
    public func makeCaches() -> [KeyValueCache] { blocks.map { _ in KeyValueCache(capacity: contextWindow) } }

    /// The same weights under another model config that changes no parameter
    /// (rope_scaling, attention) and/or a longer context window: how eval, sample,
    /// logits and export apply inference-time position settings, and how a
    /// fine-tuning run reads its starting checkpoint as a prefix LM.
    public func withPositions(_ newConfig: ModelConfig, contextWindow window: Int? = nil) -> GPT {
        let model = GPT(config: newConfig, seed: 0, contextWindow: window)
        let old = parameters, new = model.parameters
        require(old.map(\.name) == new.map(\.name) && zip(old, new).allSatisfy { $0.tensor.shape == $1.tensor.shape },
                "GPT.withPositions: the new config changes parameters")
        for (source, target) in zip(old, new) { target.tensor.copy(from: source.tensor) }
        model.shareAdapters(from: self)
        return model
    }
}

extension PositionEncoding {
    /// Whether the model can score sequences longer than it was trained on:
    /// every kind but a learned table, which has no rows past context_length
    /// (T5's buckets stop growing at relative_attention_max_distance).
    public var extrapolates: Bool { self != .learned }
}

/// DeepNorm (DeepNet, Wang et al. 2022), decoder-only row of the paper's table:
/// x ← LN(α·x + f(x)) with α = (2N)^(1/4); value, output and feed-forward
/// weights initialised with gain β = (8N)^(−1/4). N = number of layers.
public enum DeepNorm {
    public static func residualScale(layers n: Int) -> Float { Float(pow(2.0 * Double(n), 0.25)) }
    public static func initGain(layers n: Int) -> Float { Float(pow(8.0 * Double(n), -0.25)) }
}

/// Multiplies a parameter's values in place (initialisation only, no graph).
private func scaleInPlace(_ t: Tensor, _ s: Float) {
    for i in 0..<t.count { t.data[i] *= s }
}

/// Where a block normalises and how much of the residual it keeps.
enum ResidualForm {
    /// x + f(norm(x))
    case pre
    /// norm(α·x + f(x)); α = 1 is the original post-norm transformer.
    case post(alpha: Float)
}

extension NormPosition {
    func residual(layers: Int) -> ResidualForm {
        switch self {
        case .pre: return .pre
        case .post: return .post(alpha: 1)
        case .deepnorm: return .post(alpha: DeepNorm.residualScale(layers: layers))
        }
    }
}

/// One residual block: attention then feed-forward, each wrapped as
/// pre-norm x + f(norm(x)), post-norm norm(x + f(x)) or DeepNorm norm(α·x + f(x)).
final class TransformerBlock: Layer {
    let attentionNorm: Norm, attention: SelfAttention
    let feedForwardNorm: Norm, feedForward: FeedForward
    let residual: ResidualForm
    /// Bottleneck adapters on the attention and feed-forward outputs; not in `parameters`.
    var attentionAdapter: BottleneckAdapter?, feedForwardAdapter: BottleneckAdapter?

    init(attentionNorm: Norm, attention: SelfAttention, feedForwardNorm: Norm, feedForward: FeedForward, residual: ResidualForm) {
        self.attentionNorm = attentionNorm; self.attention = attention
        self.feedForwardNorm = feedForwardNorm; self.feedForward = feedForward
        self.residual = residual
    }

    /// `bias` and `prefixLengths` go to attention (T5's shared bias; a prefix LM's prompts),
    /// and so do prefix tuning's keys and values (N, kv) when there is no cache.
    /// `valueEmbedding` and `firstValues` go to attention's values (value embeddings, value residual).
    func callAsFunction(_ x: Tensor, offset: Int, cache: KeyValueCache?, dropout: Dropout?, bias: Tensor? = nil,
                        prefixLengths: [Int]? = nil, prefix: (keys: Tensor, values: Tensor)? = nil,
                        valueEmbedding: Tensor? = nil, firstValues: FirstLayerValues? = nil) -> Tensor {
        func branch(_ y: Tensor) -> Tensor { dropout.map { $0(y) } ?? y }
        func attend(_ y: Tensor, adding residual: Tensor? = nil) -> Tensor {
            attention(y, offset: offset, cache: cache, bias: bias, prefixLengths: prefixLengths, prefix: prefix,
                      valueEmbedding: valueEmbedding, firstValues: firstValues, adding: residual)
        }
        // Bottleneck adapters act on each sublayer's output, before the residual add (Houlsby et al. 2019).
        func adaptedAttention(_ y: Tensor) -> Tensor { attentionAdapter.map { $0(y) } ?? y }
        func adaptedFeedForward(_ y: Tensor) -> Tensor { feedForwardAdapter.map { $0(y) } ?? y }
        switch residual {
        case .pre:
            guard dropout == nil && attentionAdapter == nil && feedForwardAdapter == nil else {
                let h = x + branch(adaptedAttention(attend(attentionNorm(x))))
                return h + branch(adaptedFeedForward(feedForward(feedForwardNorm(h))))
            }
            // Without dropout on the branches, each output projection adds the residual itself.
            let h = attend(attentionNorm(x), adding: x)
            return feedForward(feedForwardNorm(h), adding: h)
        case .post(let alpha):
            func kept(_ y: Tensor) -> Tensor { alpha == 1 ? y : y * alpha }
            let h = attentionNorm(kept(x) + branch(adaptedAttention(attend(x))))
            return feedForwardNorm(kept(h) + branch(adaptedFeedForward(feedForward(h))))
        }
    }

    /// The weights DeepNorm initialises with gain β: value, attention output,
    /// and every feed-forward matrix (not queries, keys, norms or biases).
    var deepNormScaledWeights: [Tensor] {
        [attention.value.weight, attention.output.weight, feedForward.up.weight, feedForward.down.weight]
            + (feedForward.gate.map { [$0.weight] } ?? [])
    }

    var parameters: [Parameter] {
        attentionNorm.parameters(prefixed: "attn_norm") + attention.parameters(prefixed: "attn")
            + feedForwardNorm.parameters(prefixed: "ffn_norm") + feedForward.parameters(prefixed: "ffn")
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
