import Foundation
import Kernels
import NN

/// The next token of several sequences at once, each an `InferenceModel` with
/// its own KV cache and position, over the same float weights: every matrix
/// of a layer is read once per step for all of them (`matVecBatched`), while
/// RoPE, the cache and attention stay per sequence (their positions differ).
/// What a server decoding several requests together needs: the weights are
/// streamed once per step instead of once per sequence.
///
/// Each sequence's logits are exactly those its own `InferenceModel.next`
/// gives (the same dot products, norms and attention, row by row), so
/// batching never changes a token. Covers pre-norm float models without
/// ALiBi or T5 biases (`supports`); callers step the others one by one.
public final class InferenceBatch {
    public let capacity: Int
    let x, normed, attended, branch, q, k, v, firstValues, gateOut, upOut, logits, statistics, logSumExp: UnsafeMutablePointer<Float>
    let buffers: [UnsafeMutablePointer<Float>]

    /// Whether sequences of this model can be stepped together.
    public static func supports(_ m: InferenceModel) -> Bool {
        m.quantization == nil && m.residualScale == nil && m.slopes.isEmpty && m.relativeBias == nil
    }

    /// Buffers for up to `capacity` sequences of models shaped like `model`.
    public init(capacity: Int, like model: InferenceModel) {
        self.capacity = capacity
        let d = model.d, hidden = model.hidden, kvDim = model.kvHeads * model.headSize
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        x = buffer(capacity * d); normed = buffer(capacity * d); attended = buffer(capacity * d); branch = buffer(capacity * d)
        q = buffer(capacity * d); k = buffer(capacity * kvDim); v = buffer(capacity * kvDim)
        firstValues = buffer(capacity * kvDim)
        gateOut = buffer(capacity * hidden); upOut = buffer(capacity * hidden); logits = buffer(capacity * model.vocabSize)
        statistics = buffer(2 * capacity); logSumExp = buffer(model.heads)
        buffers = [x, normed, attended, branch, q, k, v, firstValues, gateOut, upOut, logits, statistics, logSumExp]
    }

    deinit { for p in buffers { p.deallocate() } }

    /// Feeds `tokens[i]` to `models[i]` (at its own position) and returns each one's logits for the token after.
    /// The models share one set of weights (made by the same factory) and `supports` them.
    public func next(_ models: [InferenceModel], _ tokens: [Int32]) -> [[Float]] {
        let n = models.count, m = models[0]
        require(n >= 1 && n <= capacity && tokens.count == n, "InferenceBatch: \(n) sequences for a batch of \(capacity)")
        let d = m.d, hidden = m.hidden, headSize = m.headSize, heads = m.heads, kvHeads = m.kvHeads, kvDim = kvHeads * headSize
        let vocab = m.vocabSize
        for (b, model) in models.enumerated() {
            require(model.length < model.contextWindow, "InferenceBatch: position \(model.length) is past the context window \(model.contextWindow)")
            require(tokens[b] >= 0 && Int(tokens[b]) < vocab, "InferenceBatch: token \(tokens[b]) is not in 0..<\(vocab)")
            m.embed(Int(tokens[b]), at: model.length, into: x + b * d)
        }
        func product(_ l: InferenceModel.Linear, _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>) -> BatchedMatVecJob {
            guard case .float(let w) = l.weights else { fatalError("InferenceBatch: quantized weights are stepped one by one") }
            return BatchedMatVecJob(weights: w, rows: l.rows, cols: l.cols, input: input, bias: l.bias, output: output)
        }
        for (layer, block) in m.blocks.enumerated() {
            m.normalize(x, block.attentionNorm, into: normed, rows: n, statistics: statistics)
            matVecBatched([product(block.q, normed, q), product(block.k, normed, k), product(block.v, normed, v)], batch: n)
            if m.mixesValues { m.mixValues(layer: layer, v, first: firstValues, tokens: tokens) }
            for (b, model) in models.enumerated() {
                let pos = model.length, window = model.contextWindow
                let qb = q + b * d, kb = k + b * kvDim, vb = v + b * kvDim
                m.normalizeQueriesAndKeys(qb, kb, tokens: 1)
                if let table = m.ropeTable {
                    let row = table.rows(pos + 1) + pos * headSize
                    applyRotary(qb, qb, count: 1, length: 1, stride: 1, heads: heads, headSize: headSize, table: row)
                    applyRotary(kb, kb, count: 1, length: 1, stride: 1, heads: kvHeads, headSize: headSize, table: row)
                }
                for g in 0..<kvHeads {
                    (model.keys[layer] + (g * window + pos) * headSize).update(from: kb + g * headSize, count: headSize)
                    (model.values[layer] + (g * window + pos) * headSize).update(from: vb + g * headSize, count: headSize)
                }
                attentionForward(qb, model.keys[layer], model.values[layer], bias: nil, attended + b * d, logSumExp: logSumExp,
                                 shape: AttentionShape(batch: 1, heads: heads, kvHeads: kvHeads, queryLength: 1, keyLength: pos + 1,
                                                       headSize: headSize, causal: true, keyCapacity: window))
            }
            matVecBatched([product(block.out, attended, branch)], batch: n)
            for i in 0..<(n * d) { x[i] += branch[i] }
            m.normalize(x, block.feedForwardNorm, into: normed, rows: n, statistics: statistics)
            if let gate = block.gate {
                matVecBatched([product(gate, normed, gateOut), product(block.up, normed, upOut)], batch: n)
            } else {
                matVecBatched([product(block.up, normed, gateOut)], batch: n)
            }
            for b in 0..<n {
                let g = gateOut + b * hidden
                if let beta = m.swishBetas[layer] {
                    for i in 0..<hidden { g[i] *= Activation.sigmoid.value(beta[i] * g[i]) }
                } else {
                    activationForward(m.activation, g, g, hidden)
                }
            }
            if block.gate != nil { for i in 0..<(n * hidden) { gateOut[i] *= upOut[i] } }
            matVecBatched([product(block.down, gateOut, branch)], batch: n)
            for i in 0..<(n * d) { x[i] += branch[i] }
        }
        var last = x
        if let finalNorm = m.finalNorm {
            m.normalize(x, finalNorm, into: normed, rows: n, statistics: statistics)
            last = normed
        }
        matVecBatched([product(m.head, last, logits)], batch: n)
        m.capLogits(logits, rows: n)
        for model in models { model.length += 1 }
        return (0..<n).map { Array(UnsafeBufferPointer(start: logits + $0 * vocab, count: vocab)) }
    }
}

/// Advances one-row logits sources (a server's slots) by one token each: in
/// one `InferenceBatch` step where every source is a per-token float model
/// whose cache holds all but its newest token, else each source on its own.
public final class SlotStepper {
    let batch: InferenceBatch?

    /// `sources` are the slots (each from the same factory, one row each).
    public init(sources: [any LogitsSource]) {
        if sources.count > 1, let model = (sources.first as? InferenceRows)?.spareOrRow, InferenceBatch.supports(model) {
            batch = InferenceBatch(capacity: sources.count, like: model)
        } else {
            batch = nil
        }
    }

    /// Whether steps of several slots run as one batch.
    public var batches: Bool { batch != nil }

    /// Each source's logits after its sequence's newest token.
    public func advance(_ sources: [any LogitsSource], _ sequences: [[Int32]]) -> [[Float]] {
        if let batch, sources.count > 1 {
            let models = zip(sources, sequences).compactMap { source, sequence -> InferenceModel? in
                guard let rows = source as? InferenceRows, rows.usesKeyValueCache, rows.rows.count == 1,
                      let model = rows.rows.first, model.length == sequence.count - 1, model.length < model.contextWindow else { return nil }
                return model
            }
            if models.count == sources.count { return batch.next(models, sequences.map { $0.last! }) }
        }
        return zip(sources, sequences).map { $0.advance([$1])[0] }
    }
}

extension InferenceRows {
    /// A model of this source, to size buffers like it.
    var spareOrRow: InferenceModel? { rows.first ?? spare.first }
}
