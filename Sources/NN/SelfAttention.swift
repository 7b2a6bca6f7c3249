import Autograd
import Kernels

/// How attention learns where tokens are, if it does so itself.
public enum AttentionPositions: Equatable, Sendable {
    case none
    /// Rotate queries and keys (RoPE) with this base θ.
    case rotary(theta: Float)
    /// RoPE with scaled frequencies (linear, dynamic NTK or YaRN).
    case scaledRotary(ScaledRotary)
    /// Add −slope·distance to the scores (ALiBi).
    case alibi
}

/// Cached keys and values of earlier positions for one layer:
/// (B, Hkv, capacity, D) buffers, sized by the K/V heads (not the query
/// heads) and allocated once, so a new token costs one position's copy.
public final class KeyValueCache {
    public let capacity: Int
    public private(set) var keys: Tensor?
    public private(set) var values: Tensor?
    /// Number of cached positions.
    public private(set) var length = 0
    /// The token ids behind the cached positions, one row per batch row, when
    /// the model keeps them (GPT does, to recompute a dynamic-RoPE sequence).
    public var tokens: [[Int32]] = []

    public init(capacity: Int) { self.capacity = capacity }

    public func clear() { length = 0; tokens = [] }

    /// Appends k, v (B, Hkv, T, D) after the cached positions.
    public func append(keys k: Tensor, values v: Tensor) {
        let (b, h, t, d) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        require(length + t <= capacity, "KeyValueCache: \(length) + \(t) positions exceed the capacity \(capacity)")
        if keys == nil || keys!.shape[0] != b || keys!.shape[1] != h || keys!.shape[3] != d {
            require(length == 0, "KeyValueCache: batch or head shape changed with \(length) positions cached")
            keys = Tensor(zeros: [b, h, capacity, d])
            values = Tensor(zeros: [b, h, capacity, d])
        }
        for (source, target) in [(k, keys!), (v, values!)] {
            for row in 0..<(b * h) {
                (target.data + (row * capacity + length) * d).update(from: source.data + row * t * d, count: t * d)
            }
        }
        length += t
    }

    /// Keeps batch rows in the order given (a row may repeat): how beam search
    /// carries each surviving hypothesis's past to its continuations.
    public func reorder(rows: [Int]) {
        func gather(_ t: Tensor?) -> Tensor? {
            guard let t else { return nil }
            let rowSize = t.count / t.shape[0]
            let out = Tensor(zeros: [rows.count] + Array(t.shape.dropFirst()))
            for (i, r) in rows.enumerated() { (out.data + i * rowSize).update(from: t.data + r * rowSize, count: rowSize) }
            return out
        }
        keys = gather(keys)
        values = gather(values)
        if !tokens.isEmpty { tokens = rows.map { tokens[$0] } }
    }
}

/// The first layer's values (B, T, Hkv·D) of one forward pass, kept for
/// the later layers to mix with (value residual learning).
public final class FirstLayerValues {
    public internal(set) var values: Tensor?
    public init() {}
}

/// Causal (or prefix-LM) multi-head self-attention with grouped K/V heads
/// (MHA: kvHeads = heads; MQA: kvHeads = 1; GQA: in between).
public final class SelfAttention: Layer {
    public let heads: Int, kvHeads: Int, headSize: Int
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let positions: AttentionPositions
    let slopes: [Float]
    /// QK-norm's ε, when queries and keys are RMS-normalised per head (a gain of ones, not trained).
    public let queryKeyNormEps: Float?
    let unitGain: Tensor?
    /// Value residual's λ (one element, from 0.5): this layer's values become λ·v + (1 − λ)·v₁.
    public let valueMix: Tensor?

    public init(modelSize: Int, heads: Int, kvHeads: Int, bias: Bool, positions: AttentionPositions, queryKeyNormEps: Float? = nil,
                valueMix: Bool = false, initializer: WeightInit, outputInitializer: WeightInit, generator: inout RandomGenerator) {
        require(heads > 0 && modelSize % heads == 0, "SelfAttention: \(heads) heads must divide model size \(modelSize)")
        require(kvHeads > 0 && heads % kvHeads == 0, "SelfAttention: \(kvHeads) K/V heads must divide \(heads) heads")
        self.heads = heads
        self.kvHeads = kvHeads
        headSize = modelSize / heads
        self.positions = positions
        query = Linear(modelSize, modelSize, bias: bias, initializer: initializer, generator: &generator)
        key = Linear(modelSize, kvHeads * headSize, bias: bias, initializer: initializer, generator: &generator)
        value = Linear(modelSize, kvHeads * headSize, bias: bias, initializer: initializer, generator: &generator)
        output = Linear(modelSize, modelSize, bias: bias, initializer: outputInitializer, generator: &generator)
        slopes = positions == .alibi ? Positions.alibiSlopes(heads: heads) : []
        self.queryKeyNormEps = queryKeyNormEps
        unitGain = queryKeyNormEps.map { _ in Tensor([Float](repeating: 1, count: modelSize / heads), shape: [modelSize / heads]) }
        self.valueMix = valueMix ? Tensor([0.5], shape: [1], requiresGrad: true) : nil
    }

    /// x (B, T, C) at absolute positions offset..<offset+T → (B, T, C).
    /// With a cache, keys and values of this call are appended to it and the
    /// queries attend over everything cached (offset must equal cache.length).
    /// Without one (training), attention reads the projections' (B, T, H·D)
    /// output in place, token-major, and its output feeds `output` as is; the
    /// cache keeps its head-major (B, Hkv, capacity, D) buffers. `residual`,
    /// if given, is added by the output projection (a pre-norm block's x + f(x)).
    /// `bias` (H, T, keys) is added to the scores (T5's relative positions, computed once for every layer);
    /// `prefixLengths` (one per batch row) makes a prefix LM's prompt visible to every query.
    /// `prefix` (N, Hkv·D keys and values, no position applied) goes before
    /// this call's keys without a cache (prefix tuning's training path; with a
    /// cache, the caller appends it to the cache first).
    /// `valueEmbedding` (B, T, Hkv·D) is added to the values (value embeddings);
    /// then, with `firstValues`, the first layer keeps its values there and a
    /// layer with `valueMix` mixes its own with them (value residual). The
    /// cache holds the values as attention reads them, after both.
    public func callAsFunction(_ x: Tensor, offset: Int = 0, cache: KeyValueCache? = nil, bias givenBias: Tensor? = nil,
                               prefixLengths: [Int]? = nil, prefix: (keys: Tensor, values: Tensor)? = nil,
                               valueEmbedding: Tensor? = nil, firstValues: FirstLayerValues? = nil,
                               adding residual: Tensor? = nil) -> Tensor {
        let (batch, length) = (x.shape[0], x.shape[1])
        let layout: HeadLayout = cache == nil ? .tokenMajor : .headMajor
        func split(_ t: Tensor, _ n: Int) -> Tensor {
            layout == .tokenMajor ? t.reshaped([batch, length, n, headSize]) : t.splitHeads(n)
        }
        var q = split(query(x), heads)      // (B, T, H, D) or (B, H, T, D)
        var k = split(key(x), kvHeads)      // (B, T, Hkv, D) or (B, Hkv, T, D)
        var values = value(x)               // (B, T, Hkv·D)
        if let valueEmbedding { values = values + valueEmbedding }
        if let firstValues {
            if let first = firstValues.values, let valueMix {
                values = interpolate(values, first, weight: valueMix)
            } else if firstValues.values == nil {
                firstValues.values = values
            }
        }
        var v = split(values, kvHeads)
        if let eps = queryKeyNormEps, let unitGain {
            // QK-norm: each head's query and key vector to unit RMS, before RoPE.
            q = rmsNorm(q, gain: unitGain, eps: eps)
            k = rmsNorm(k, gain: unitGain, eps: eps)
        }
        switch positions {
        case .rotary(let theta):
            q = rotaryEmbedding(q, offset: offset, theta: theta, layout: layout)
            k = rotaryEmbedding(k, offset: offset, theta: theta, layout: layout)
        case .scaledRotary(let rotary):
            // Dynamic scaling's frequencies depend on the sequence length: GPT
            // recomputes the whole sequence rather than mix cached keys of another length.
            let (f, factor) = rotary.frequencies(sequenceLength: offset + length)
            q = rotaryEmbedding(q, offset: offset, inverseFrequencies: f, attentionFactor: factor, layout: layout)
            k = rotaryEmbedding(k, offset: offset, inverseFrequencies: f, attentionFactor: factor, layout: layout)
        default: break
        }
        var keyLength: Int? = nil
        if let prefix, cache == nil {
            let n = prefix.keys.shape[0]
            func ahead(_ p: Tensor, _ t: Tensor) -> Tensor {             // (B, N + T, Hkv, D)
                concat([batchCopies(p.reshaped([n, kvHeads, headSize]), batch), t], dim: 1)
            }
            k = ahead(prefix.keys, k)
            v = ahead(prefix.values, v)
        }
        if let cache {
            // Inference only: the cache holds values, not a graph.
            require(offset == cache.length, "SelfAttention: offset \(offset) does not match the \(cache.length) cached positions")
            cache.append(keys: k, values: v)
            k = cache.keys!
            v = cache.values!
            keyLength = cache.length
        }
        let bias = slopes.isEmpty ? givenBias : Positions.alibiBias(slopes: slopes, queryLength: length, keyLength: keyLength ?? k.shape[1])
        let y = attention(q, k, v, bias: bias, causal: true, prefixLengths: prefixLengths, keyLength: keyLength, layout: layout)
        return output(layout == .tokenMajor ? y.reshaped([batch, length, heads * headSize]) : y.mergeHeads(), adding: residual)  // (B, T, C)
    }

    /// Prefix keys or values (N, Hkv·D) as a cache takes them: (B, Hkv, N, D), one copy per row.
    public func headMajorCopies(_ p: Tensor, batch: Int) -> Tensor {
        let n = p.shape[0]
        return batchCopies(p.reshaped([n, kvHeads, headSize]).transposed(0, 1), batch)
    }

    public var parameters: [Parameter] {
        query.parameters(prefixed: "q") + key.parameters(prefixed: "k") + value.parameters(prefixed: "v") + output.parameters(prefixed: "out")
            + (valueMix.map { [Parameter(name: "value_mix", tensor: $0)] } ?? [])
    }
}
