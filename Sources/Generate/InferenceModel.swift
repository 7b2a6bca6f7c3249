import Foundation
import Kernels
import Autograd
import NN
import Model
import Config

/// The network for one sequence, one token at a time, without autograd: what
/// decoding at batch 1 is (llama2.c's `forward(token, pos)`). Every weight is
/// streamed once per token by matrix–vector products (several per parallel
/// region), the KV cache is two plain buffers per layer, and nothing is
/// allocated per token. Weights are float32 (pointers into a GPT's tensors)
/// or group-wise int8/int4 (`QuantizedMatrix`), whose products quantize the
/// input vector per group on the fly and multiply-add in integer lanes.
///
/// Covers every model the config allows except scaled RoPE (`rope_scaling`)
/// and prefix-LM attention (its prompt is read bidirectionally, not token by
/// token); `supports(_:)` says so, and callers use `GPT` for those cases.
public final class InferenceModel {
    public let config: ModelConfig
    public let vocabSize: Int
    public let contextWindow: Int
    /// The quantization of the matrices, nil for float32.
    public let quantization: QuantizedFormat?

    struct Linear {
        let weights: MatVecJob.Weights
        let rows: Int, cols: Int
        let bias: UnsafePointer<Float>?
    }
    struct NormWeights { let gain: UnsafePointer<Float>; let bias: UnsafePointer<Float>? }
    struct Block {
        let attentionNorm: NormWeights, q: Linear, k: Linear, v: Linear, out: Linear
        let feedForwardNorm: NormWeights, gate: Linear?, up: Linear, down: Linear
    }

    let blocks: [Block]
    let tokenEmbedding: MatVecJob.Weights
    let positionTable: UnsafePointer<Float>?   // learned or sinusoidal, (window, d)
    let embeddingScale: Float                  // √d for sinusoidal positions
    let finalNorm: NormWeights?
    let head: Linear
    let activation: Activation
    let residualScale: Float?                  // nil: pre-norm; α for post-norm/DeepNorm
    let headSize: Int, heads: Int, kvHeads: Int, hidden: Int, d: Int
    let ropeTable: GrowingRotaryTable?         // (window, headSize/2) × (cos, sin), filled as positions are reached
    let slopes: [Float]                        // ALiBi
    let relativeBias: UnsafePointer<Float>?    // T5: (buckets, heads)
    let relativeBuckets: [Int]                 // T5: the bucket of each distance 0..<window
    let swishBetas: [UnsafePointer<Float>?]    // per layer, a learned Swish β per hidden unit
    let queryKeyNormEps: Float?                // QK-norm: RMS-normalise each head's query and key
    let logitSoftcap: Float?                   // logits ← c·tanh(logits/c)
    let valueTables: [MatVecJob.Weights]       // value embeddings, (vocab, kvDim) each
    let valueTableOfLayer: [Int?]              // the table each layer adds to its values
    let valueMixes: [UnsafePointer<Float>?]    // value residual's λ per layer (nil in the first)
    /// Whether either value option is on; without them every path skips `mixValues`.
    let mixesValues: Bool
    /// Keeps the float storage the pointers point into alive.
    let owners: [AnyObject]

    // State, allocated once.
    /// Per layer (kvHeads, window, headSize): the layout of Kernels' attention.
    let keys: [UnsafeMutablePointer<Float>], values: [UnsafeMutablePointer<Float>]
    let x, normed, attended, branch, q, k, v, gateOut, upOut, alibiBias, logSumExp, logitsBuffer: UnsafeMutablePointer<Float>
    let statistics: UnsafeMutablePointer<Float>
    /// The first layer's values of the current token (value residual), and a dequantized value-embedding row.
    let firstValues, valueRow: UnsafeMutablePointer<Float>
    let activations: QuantizedActivations
    /// Each layer's products, made once: (q, k, v), out, (gate, up) or up, down; then the head.
    var layerJobs: [(attention: [MatVecJob], out: [MatVecJob], up: [MatVecJob], down: [MatVecJob])] = []
    var headJobs: [MatVecJob] = []
    /// Positions in the cache.
    public internal(set) var length = 0

    /// Whether this path covers a config (every one but scaled RoPE and prefix-LM attention).
    public static func supports(_ config: ModelConfig) -> Bool { config.ropeScaling == nil && config.attention == .causal }

    /// A float32 model over a GPT's weights (shared, not copied). Packs the
    /// GPT's parameters into one block first (`Tensor.pack`), in the order a
    /// token reads them.
    public convenience init(model: GPT) {
        let parameters = model.parameters
        Tensor.pack(parameters.map(\.tensor))
        var tensors: [String: UnsafePointer<Float>] = [:]
        for p in parameters { tensors[p.name] = UnsafePointer(p.tensor.data) }
        self.init(config: model.config, contextWindow: model.contextWindow, quantization: nil, owners: [model],
                  matrix: { name, _, _ in .float(tensors[name]!) }, vector: { tensors[$0] })
    }

    /// A float32 model over weights read in place (a mapped checkpoint).
    public convenience init(float w: FloatWeights, config: ModelConfig, contextWindow: Int? = nil) {
        self.init(config: config, contextWindow: contextWindow ?? config.contextLength, quantization: nil, owners: [w.owner],
                  matrix: { name, _, _ in .float(w.tensors[name]!) }, vector: { w.tensors[$0] })
    }

    /// A model over a quantized checkpoint's weights.
    public convenience init(quantized w: QuantizedWeights, config: ModelConfig, contextWindow: Int? = nil) {
        var buffers: [String: FloatBuffer] = [:]
        for (name, values) in w.floats { buffers[name] = FloatBuffer(values) }
        self.init(config: config, contextWindow: contextWindow ?? config.contextLength, quantization: w.format,
                  owners: Array(buffers.values),
                  matrix: { name, _, _ in w.matrices[name].map { .quantized($0) } ?? .float(UnsafePointer(buffers[name]!.pointer)) },
                  vector: { buffers[$0].map { UnsafePointer($0.pointer) } })
    }

    init(config: ModelConfig, contextWindow window: Int, quantization: QuantizedFormat?, owners: [AnyObject],
         matrix: (String, Int, Int) -> MatVecJob.Weights, vector: (String) -> UnsafePointer<Float>?) {
        require(Self.supports(config), "InferenceModel: rope_scaling and prefix_lm attention are not supported on this path")
        let vocab = config.vocabSize!
        self.config = config; vocabSize = vocab; contextWindow = window; self.quantization = quantization
        let d = config.dModel, hidden = config.feedForwardSize, headSize = config.headSize
        self.d = d; heads = config.nHead; kvHeads = config.kvHeads; self.headSize = headSize; self.hidden = hidden
        let kvDim = config.kvHeads * headSize, heads = config.nHead
        func linear(_ prefix: String, _ inputs: Int, _ outputs: Int) -> Linear {
            Linear(weights: matrix(prefix + ".weight", outputs, inputs), rows: outputs, cols: inputs, bias: vector(prefix + ".bias"))
        }
        func norm(_ prefix: String) -> NormWeights { NormWeights(gain: vector(prefix + ".weight")!, bias: vector(prefix + ".bias")) }
        let gated = config.activation.feedForward.gated
        blocks = (0..<config.nLayer).map { i in
            let b = "blocks.\(i)"
            return Block(attentionNorm: norm(b + ".attn_norm"), q: linear(b + ".attn.q", d, d), k: linear(b + ".attn.k", d, kvDim),
                         v: linear(b + ".attn.v", d, kvDim), out: linear(b + ".attn.out", d, d),
                         feedForwardNorm: norm(b + ".ffn_norm"), gate: gated ? linear(b + ".ffn.gate", d, hidden) : nil,
                         up: linear(b + ".ffn.up", d, hidden), down: linear(b + ".ffn.down", hidden, d))
        }
        tokenEmbedding = matrix("token_embedding.weight", vocab, d)
        var owned = owners
        switch config.position {
        case .learned:
            positionTable = vector("position_embedding.weight")
            embeddingScale = 1
        case .sinusoidal:
            let table = FloatBuffer(Positions.sinusoidal(length: window, dimension: d).toArray())
            owned.append(table)
            positionTable = UnsafePointer(table.pointer)
            embeddingScale = Float(d).squareRoot()
        default:
            positionTable = nil
            embeddingScale = 1
        }
        self.owners = owned
        finalNorm = config.normPosition == .pre ? norm("final_norm") : nil
        head = config.tieEmbeddings ? Linear(weights: tokenEmbedding, rows: vocab, cols: d, bias: nil) : linear("lm_head", d, vocab)
        activation = config.feedForwardActivation.activation
        swishBetas = (0..<config.nLayer).map { vector("blocks.\($0).ffn.swish_beta") }
        queryKeyNormEps = config.qkNorm ? Float(config.normEps) : nil
        logitSoftcap = config.logitSoftcap.map { Float($0) }
        valueTables = (0..<config.valueEmbeddings).map { matrix("value_embeddings.\($0).weight", vocab, kvDim) }
        valueTableOfLayer = (0..<config.nLayer).map { config.valueEmbeddingTable(layer: $0) }
        valueMixes = (0..<config.nLayer).map { config.valueResidual && $0 > 0 ? vector("blocks.\($0).attn.value_mix") : nil }
        mixesValues = config.valueResidual || config.valueEmbeddings > 0
        switch config.normPosition {
        case .pre: residualScale = nil
        case .post: residualScale = 1
        case .deepnorm: residualScale = DeepNorm.residualScale(layers: config.nLayer)
        }
        // Kernels' RoPE table, (window, headSize): cos and sin of p·θ^(−2i/D), interleaved.
        ropeTable = config.position != .rope ? nil
            : GrowingRotaryTable(capacity: window, inverseFrequencies: rotaryInverseFrequencies(theta: Double(Float(config.ropeTheta)), headSize: headSize))
        slopes = config.position == .alibi ? Positions.alibiSlopes(heads: heads) : []
        relativeBias = config.position == .t5 ? vector("relative_attention_bias.weight") : nil
        relativeBuckets = config.position == .t5
            ? (0..<window).map { Positions.t5Bucket(distance: $0, buckets: config.relativeAttentionNumBuckets,
                                                      maxDistance: config.relativeAttentionMaxDistance) } : []
        keys = (0..<config.nLayer).map { _ in .allocate(capacity: window * kvDim) }
        values = (0..<config.nLayer).map { _ in .allocate(capacity: window * kvDim) }
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        x = buffer(d); normed = buffer(d); attended = buffer(d); branch = buffer(d)
        q = buffer(d); k = buffer(kvDim); v = buffer(kvDim)
        gateOut = buffer(hidden); upOut = buffer(hidden); logitsBuffer = buffer(vocab)
        alibiBias = buffer(config.position == .alibi || config.position == .t5 ? heads * window : 1); logSumExp = buffer(heads)
        statistics = buffer(2)
        firstValues = buffer(kvDim); valueRow = buffer(kvDim)
        activations = QuantizedActivations(capacity: max(d, hidden))
        // Inputs: post-norm and DeepNorm feed x itself to each branch, pre-norm its normalised copy.
        let branchInput = residualScale == nil ? normed : x
        layerJobs = blocks.map { b in
            ([job(b.q, input: branchInput, output: q), job(b.k, input: branchInput, output: k), job(b.v, input: branchInput, output: v)],
             [job(b.out, input: attended, output: branch)],
             b.gate.map { [job($0, input: branchInput, output: gateOut), job(b.up, input: branchInput, output: upOut)] }
                ?? [job(b.up, input: branchInput, output: gateOut)],
             [job(b.down, input: gateOut, output: branch)])
        }
        headJobs = [job(head, input: finalNorm == nil ? x : normed, output: logitsBuffer)]
    }

    deinit {
        for p in keys + values { p.deallocate() }
        for p in [x, normed, attended, branch, q, k, v, gateOut, upOut, alibiBias, logSumExp, logitsBuffer, statistics, firstValues, valueRow] {
            p.deallocate()
        }
    }

    /// Forgets the cached positions.
    public func reset() { length = 0 }

    /// Keeps the first `positions` cached positions and forgets the rest, so the
    /// next token is fed at `positions` (a conversation whose text changed after them).
    public func rewind(to positions: Int) {
        require(positions >= 0 && positions <= length, "InferenceModel: cannot rewind to \(positions) of \(length) cached positions")
        length = positions
    }

    /// Feeds the next token (at position `length`) and returns the logits for
    /// the one after it. The buffer is overwritten by the next call.
    public func next(_ token: Int32) -> UnsafeBufferPointer<Float> {
        require(length < contextWindow, "InferenceModel: position \(length) is past the context window \(contextWindow)")
        require(token >= 0 && Int(token) < vocabSize, "InferenceModel: token \(token) is not in 0..<\(vocabSize)")
        let pos = length
        embed(Int(token), at: pos)
        for (layer, block) in blocks.enumerated() {
            if let alpha = residualScale {
                // norm(α·x + f(x)), twice
                attention(layer: layer, input: x, at: pos, token: token)
                for i in 0..<d { branch[i] += alpha * x[i] }
                normalize(branch, block.attentionNorm, into: x)
                feedForward(layer: layer, input: x)
                for i in 0..<d { branch[i] += alpha * x[i] }
                normalize(branch, block.feedForwardNorm, into: x)
            } else {
                // x + f(norm(x)), twice
                normalize(x, block.attentionNorm, into: normed)
                attention(layer: layer, input: normed, at: pos, token: token)
                for i in 0..<d { x[i] += branch[i] }
                normalize(x, block.feedForwardNorm, into: normed)
                feedForward(layer: layer, input: normed)
                for i in 0..<d { x[i] += branch[i] }
            }
        }
        var last = UnsafePointer(x)
        if let finalNorm { normalize(x, finalNorm, into: normed); last = UnsafePointer(normed) }
        run(headJobs, input: last, count: d)
        capLogits(logitsBuffer, rows: 1)
        length += 1
        return UnsafeBufferPointer(start: logitsBuffer, count: vocabSize)
    }

    /// Logits after every token of `ids` (fed from position 0): (count, vocab), row-major.
    public func logits(_ ids: [Int32]) -> [Float] {
        reset()
        var out: [Float] = []
        out.reserveCapacity(ids.count * vocabSize)
        for id in ids { out += next(id) }
        return out
    }

    // MARK: the pieces

    /// Token `token` at position `pos` into `out` (d floats; `x` by default).
    func embed(_ token: Int, at pos: Int, into out: UnsafeMutablePointer<Float>? = nil) {
        let out = out ?? x
        switch tokenEmbedding {
        case .float(let table): out.update(from: table + token * d, count: d)
        case .quantized(let m): m.dequantizedRow(token, into: out)
        }
        if embeddingScale != 1 { for i in 0..<d { out[i] *= embeddingScale } }
        if let positionTable { for i in 0..<d { out[i] += positionTable[pos * d + i] } }
    }

    /// Normalises `rows` rows of d (one by default); `statistics` holds two floats per row.
    func normalize(_ input: UnsafeMutablePointer<Float>, _ n: NormWeights, into out: UnsafeMutablePointer<Float>, rows: Int = 1,
                   statistics: UnsafeMutablePointer<Float>? = nil) {
        let eps = Float(config.normEps), statistics = statistics ?? self.statistics
        switch config.norm {
        case .layerNorm:
            layerNormForward(input, gamma: n.gain, beta: n.bias, out, mean: statistics, rstd: statistics + rows, rows: rows, cols: d, eps: eps)
        case .rmsNorm:
            rmsNormForward(input, gamma: n.gain, out, rstd: statistics, rows: rows, cols: d, eps: eps)
        }
    }

    func job(_ l: Linear, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) -> MatVecJob {
        MatVecJob(weights: l.weights, rows: l.rows, cols: l.cols, input: input, activations: activations, bias: l.bias, output: output)
    }

    /// Runs products that share one input, quantizing it first when a weight needs it.
    func run(_ jobs: [MatVecJob], input: UnsafePointer<Float>, count: Int) {
        for j in jobs {
            if case .quantized(let m) = j.weights {
                activations.quantize(input, count: count, groupSize: m.groupSize, for: m.format)
                break
            }
        }
        matVec(jobs)
    }

    /// QK-norm on `tokens` rows of queries (heads each) and keys (kvHeads each), before RoPE.
    func normalizeQueriesAndKeys(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, tokens: Int) {
        guard let eps = queryKeyNormEps else { return }
        rmsNormalizeInPlace(q, rows: tokens * heads, cols: headSize, eps: eps)
        rmsNormalizeInPlace(k, rows: tokens * kvHeads, cols: headSize, eps: eps)
    }

    /// Logit soft-capping of `rows` rows of logits in place, if the model has it.
    func capLogits(_ logits: UnsafeMutablePointer<Float>, rows: Int) {
        guard let logitSoftcap else { return }
        softcapForward(logits, logits, rows * vocabSize, cap: logitSoftcap)
    }

    /// Value embeddings and value residual on `rows` rows of values (kvDim each)
    /// of `tokens`, as `SelfAttention` applies them: v + table[token], then the
    /// first layer keeps them in `first` and a later one mixes λ·v + (1 − λ)·first.
    func mixValues(layer: Int, _ v: UnsafeMutablePointer<Float>, first: UnsafeMutablePointer<Float>, tokens: [Int32]) {
        let kvDim = kvHeads * headSize, n = tokens.count * kvDim
        if let table = valueTableOfLayer[layer] {
            for (r, token) in tokens.enumerated() {
                let row = v + r * kvDim
                switch valueTables[table] {
                case .float(let w): vectorAdd(row, w + Int(token) * kvDim, row, kvDim)
                case .quantized(let m):
                    m.dequantizedRow(Int(token), into: valueRow)
                    vectorAdd(row, valueRow, row, kvDim)
                }
            }
        }
        guard config.valueResidual else { return }
        if let mix = valueMixes[layer] {
            vectorInterpolate(v, first, weight: mix[0], v, n)
        } else {
            first.update(from: v, count: n)
        }
    }

    /// Self-attention of `token` at `pos` over the cache; result in `branch`.
    func attention(layer: Int, input: UnsafeMutablePointer<Float>, at pos: Int, token: Int32) {
        run(layerJobs[layer].attention, input: input, count: d)
        if mixesValues { mixValues(layer: layer, v, first: firstValues, tokens: [token]) }
        normalizeQueriesAndKeys(q, k, tokens: 1)
        if let ropeTable {
            let row = ropeTable.rows(pos + 1) + pos * headSize
            applyRotary(q, q, count: 1, length: 1, stride: 1, heads: heads, headSize: headSize, table: row)
            applyRotary(k, k, count: 1, length: 1, stride: 1, heads: kvHeads, headSize: headSize, table: row)
        }
        for g in 0..<kvHeads {
            (keys[layer] + (g * contextWindow + pos) * headSize).update(from: k + g * headSize, count: headSize)
            (values[layer] + (g * contextWindow + pos) * headSize).update(from: v + g * headSize, count: headSize)
        }
        let keyLength = pos + 1
        if !slopes.isEmpty {
            // ALiBi: −slope·distance, laid out (heads, 1, keys) as the kernel reads it.
            for h in 0..<heads {
                for t in 0..<keyLength { alibiBias[h * keyLength + t] = -slopes[h] * Float(pos - t) }
            }
        } else if let relativeBias {
            // T5: the learned bias of the distance's bucket, in the same layout.
            for h in 0..<heads {
                for t in 0..<keyLength { alibiBias[h * keyLength + t] = relativeBias[relativeBuckets[pos - t] * heads + h] }
            }
        }
        let positionBias = slopes.isEmpty && relativeBias == nil ? nil : alibiBias
        attentionForward(q, keys[layer], values[layer], bias: positionBias, attended, logSumExp: logSumExp,
                         shape: AttentionShape(batch: 1, heads: heads, kvHeads: kvHeads, queryLength: 1, keyLength: keyLength,
                                               headSize: headSize, causal: true, keyCapacity: contextWindow))
        run(layerJobs[layer].out, input: attended, count: d)
    }

    /// The feed-forward of `input`; result in `branch`.
    func feedForward(layer: Int, input: UnsafeMutablePointer<Float>) {
        run(layerJobs[layer].up, input: input, count: d)
        if let beta = swishBetas[layer] {
            // Swish with a learned β per hidden unit: x·σ(β·x).
            for i in 0..<hidden { gateOut[i] *= Activation.sigmoid.value(beta[i] * gateOut[i]) }
        } else {
            activationForward(activation, gateOut, gateOut, hidden)
        }
        if blocks[layer].gate != nil { for i in 0..<hidden { gateOut[i] *= upOut[i] } }
        run(layerJobs[layer].down, input: gateOut, count: hidden)
    }
}

/// Float storage owned by an inference model.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    init(_ values: [Float]) {
        pointer = .allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: values.count) }
    }
    deinit { pointer.deallocate() }
}

extension InferenceModel {
    /// Takes another model's cached positions (same weights and shape): how a
    /// beam continues its parent's past.
    public func copyState(from other: InferenceModel) {
        for layer in 0..<blocks.count {
            for g in 0..<kvHeads {
                let head = g * contextWindow * headSize
                (keys[layer] + head).update(from: other.keys[layer] + head, count: other.length * headSize)
                (values[layer] + head).update(from: other.values[layer] + head, count: other.length * headSize)
            }
        }
        length = other.length
    }
}
