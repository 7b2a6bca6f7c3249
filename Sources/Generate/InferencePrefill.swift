import Foundation
import Kernels
import NN

/// Prompt processing: every token of a prompt goes through each layer
/// together, so each weight matrix is read once per chunk of tokens and
/// multiplied by the blocked matmul (quantized matrices dequantized a panel
/// of rows at a time, `quantizedMatmul`), and attention is the fused causal
/// kernel over the cache, a block of query rows at a time. The same network
/// as `next`, with the products summed in the matmul's order, so the logits
/// agree with feeding the tokens one by one to rounding.
extension InferenceModel {
    /// Tokens per pass: bounds the activations (a few (chunk, d_ff) buffers).
    static let prefillChunk = 512
    /// Below this many tokens a quantized model feeds them one by one:
    /// dequantizing the panels costs more than it saves.
    static let quantizedPrefillMinimum = 8

    /// Feeds `tokens` from position `length` and returns the logits after the
    /// last one (overwritten by the next call), as calling `next` on each would.
    public func prefill(_ tokens: [Int32]) -> UnsafeBufferPointer<Float> {
        require(!tokens.isEmpty, "InferenceModel.prefill: no tokens")
        require(length + tokens.count <= contextWindow,
                "InferenceModel: positions \(length)..<\(length + tokens.count) run past the context window \(contextWindow)")
        if quantization != nil && tokens.count < Self.quantizedPrefillMinimum {
            var last = UnsafeBufferPointer<Float>(start: nil, count: 0)
            for token in tokens { last = next(token) }
            return last
        }
        var start = 0
        while start < tokens.count {
            let chunk = Array(tokens[start..<min(tokens.count, start + Self.prefillChunk)])
            forward(chunk)
            start += chunk.count
        }
        return UnsafeBufferPointer(start: logitsBuffer, count: vocabSize)
    }

    /// One chunk through every layer; the last token's logits into `logitsBuffer`.
    private func forward(_ tokens: [Int32]) {
        let t = tokens.count, pos = length
        for token in tokens { require(token >= 0 && Int(token) < vocabSize, "InferenceModel: token \(token) is not in 0..<\(vocabSize)") }
        let kvDim = kvHeads * headSize
        let b = PrefillBuffers(tokens: t, d: d, kvDim: kvDim, hidden: hidden, heads: heads, keys: pos + t, alibi: !slopes.isEmpty || relativeBias != nil)
        for (i, token) in tokens.enumerated() { embed(Int(token), at: pos + i, into: b.x + i * d) }
        for (layer, block) in blocks.enumerated() {
            if let alpha = residualScale {
                // norm(α·x + f(x)), twice
                attention(layer: layer, block: block, input: b.x, at: pos, tokens: tokens, b)
                for i in 0..<(t * d) { b.branch[i] += alpha * b.x[i] }
                normalize(b.branch, block.attentionNorm, into: b.x, rows: t, statistics: b.statistics)
                feedForward(layer: layer, block: block, input: b.x, b)
                for i in 0..<(t * d) { b.branch[i] += alpha * b.x[i] }
                normalize(b.branch, block.feedForwardNorm, into: b.x, rows: t, statistics: b.statistics)
            } else {
                // x + f(norm(x)), twice
                normalize(b.x, block.attentionNorm, into: b.normed, rows: t, statistics: b.statistics)
                attention(layer: layer, block: block, input: b.normed, at: pos, tokens: tokens, b)
                for i in 0..<(t * d) { b.x[i] += b.branch[i] }
                normalize(b.x, block.feedForwardNorm, into: b.normed, rows: t, statistics: b.statistics)
                feedForward(layer: layer, block: block, input: b.normed, b)
                for i in 0..<(t * d) { b.x[i] += b.branch[i] }
            }
        }
        // Only the last token's logits are asked for: the head runs on that row, as in `next`.
        x.update(from: b.x + (t - 1) * d, count: d)
        var last = UnsafePointer(x)
        if let finalNorm { normalize(x, finalNorm, into: normed); last = UnsafePointer(normed) }
        run(headJobs, input: last, count: d)
        capLogits(logitsBuffer, rows: 1)
        length += t
    }

    /// out (t, l.rows) = input (t, l.cols) · Wᵀ + bias; `int4Input`, when
    /// given, is `input` already quantized for int4 weights.
    private func linear(_ l: Linear, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, tokens t: Int,
                        int4Input: Int4MatmulInput? = nil) {
        switch l.weights {
        case .float(let w): matmul(input, w, out, m: t, n: l.rows, k: l.cols, transposeB: true)
        case .quantized(let m) where int4MatmulCovers(m):
            let shared = int4Input.flatMap { $0.cols == m.cols && $0.groupSize == m.groupSize ? $0 : nil }
            int4Matmul(shared ?? Int4MatmulInput(input, tokens: t, cols: m.cols, groupSize: m.groupSize), m, out)
        case .quantized(let m): quantizedMatmul(input, m, out, tokens: t)
        }
        if let bias = l.bias {
            for i in 0..<t { vectorAdd(out + i * l.rows, bias, out + i * l.rows, l.rows) }
        }
    }

    /// `input` quantized once for the int4 matrices that read it (q, k, v;
    /// gate, up), when `l` is one.
    private func int4Input(_ input: UnsafePointer<Float>, tokens t: Int, for l: Linear) -> Int4MatmulInput? {
        guard case .quantized(let m) = l.weights, int4MatmulCovers(m) else { return nil }
        return Int4MatmulInput(input, tokens: t, cols: m.cols, groupSize: m.groupSize)
    }

    /// Causal self-attention of the chunk's rows over the cache and themselves; result in `b.branch`.
    private func attention(layer: Int, block: Block, input: UnsafePointer<Float>, at pos: Int, tokens: [Int32], _ b: PrefillBuffers) {
        let t = b.tokens, kvDim = kvHeads * headSize
        let shared = int4Input(input, tokens: t, for: block.q)
        linear(block.q, input, b.q, tokens: t, int4Input: shared)
        linear(block.k, input, b.k, tokens: t, int4Input: shared)
        linear(block.v, input, b.v, tokens: t, int4Input: shared)
        if mixesValues { mixValues(layer: layer, b.v, first: b.firstValues, tokens: tokens) }
        normalizeQueriesAndKeys(b.q, b.k, tokens: t)
        if let ropeTable {
            let rows = ropeTable.rows(pos + t) + pos * headSize
            applyRotary(b.q, b.q, count: 1, length: t, stride: t, heads: heads, headSize: headSize, table: rows)
            applyRotary(b.k, b.k, count: 1, length: t, stride: t, heads: kvHeads, headSize: headSize, table: rows)
        }
        for i in 0..<t {
            for g in 0..<kvHeads {
                (keys[layer] + (g * contextWindow + pos + i) * headSize).update(from: b.k + i * kvDim + g * headSize, count: headSize)
                (values[layer] + (g * contextWindow + pos + i) * headSize).update(from: b.v + i * kvDim + g * headSize, count: headSize)
            }
        }
        // The cache is head-major, so the queries go head-major too: (t, H·D) → (H, t, D), and back after.
        for i in 0..<t {
            for h in 0..<heads { (b.headQueries + (h * t + i) * headSize).update(from: b.q + (i * heads + h) * headSize, count: headSize) }
        }
        let keyLength = pos + t
        if let bias = b.alibiBias, !slopes.isEmpty {
            // ALiBi: −slope·distance, laid out (heads, t, keys) as the kernel reads it.
            for h in 0..<heads {
                for i in 0..<t {
                    for j in 0..<keyLength { bias[(h * t + i) * keyLength + j] = -slopes[h] * Float(pos + i - j) }
                }
            }
        } else if let bias = b.alibiBias, let relativeBias {
            // T5: the learned bias of the distance's bucket, in the same layout (later keys are masked).
            for h in 0..<heads {
                for i in 0..<t {
                    for j in 0..<keyLength {
                        let distance = pos + i - j
                        bias[(h * t + i) * keyLength + j] = distance >= 0 ? relativeBias[relativeBuckets[distance] * heads + h] : 0
                    }
                }
            }
        }
        attentionForward(b.headQueries, keys[layer], values[layer], bias: b.alibiBias, b.headOutput, logSumExp: b.logSumExp,
                         shape: AttentionShape(batch: 1, heads: heads, kvHeads: kvHeads, queryLength: t, keyLength: keyLength,
                                               headSize: headSize, causal: true, keyCapacity: contextWindow))
        for i in 0..<t {
            for h in 0..<heads { (b.attended + (i * heads + h) * headSize).update(from: b.headOutput + (h * t + i) * headSize, count: headSize) }
        }
        linear(block.out, b.attended, b.branch, tokens: t)
    }

    /// The feed-forward of the chunk's rows; result in `b.branch`.
    private func feedForward(layer: Int, block: Block, input: UnsafePointer<Float>, _ b: PrefillBuffers) {
        let t = b.tokens
        if let gate = block.gate {
            let shared = int4Input(input, tokens: t, for: gate)
            linear(gate, input, b.gate, tokens: t, int4Input: shared)
            linear(block.up, input, b.up, tokens: t, int4Input: shared)
        } else {
            linear(block.up, input, b.gate, tokens: t)
        }
        if let beta = swishBetas[layer] {
            // Swish with a learned β per hidden unit: x·σ(β·x).
            for i in 0..<t {
                let row = b.gate + i * hidden
                for u in 0..<hidden { row[u] *= Activation.sigmoid.value(beta[u] * row[u]) }
            }
        } else {
            activationForward(activation, b.gate, b.gate, t * hidden)
        }
        if block.gate != nil { vectorMultiply(b.gate, b.up, b.gate, t * hidden) }
        linear(block.down, b.gate, b.branch, tokens: t)
    }
}

/// The activations of one prefill chunk.
final class PrefillBuffers {
    let tokens: Int
    let x, normed, branch, q, k, v, firstValues, attended, headQueries, headOutput, gate, up, logSumExp, statistics: UnsafeMutablePointer<Float>
    let alibiBias: UnsafeMutablePointer<Float>?
    private var all: [UnsafeMutablePointer<Float>] = []

    init(tokens t: Int, d: Int, kvDim: Int, hidden: Int, heads: Int, keys: Int, alibi: Bool) {
        tokens = t
        var all: [UnsafeMutablePointer<Float>] = []
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            all.append(p)
            return p
        }
        x = buffer(t * d); normed = buffer(t * d); branch = buffer(t * d); q = buffer(t * d)
        k = buffer(t * kvDim); v = buffer(t * kvDim); firstValues = buffer(t * kvDim); attended = buffer(t * d)
        headQueries = buffer(t * d); headOutput = buffer(t * d)
        gate = buffer(t * hidden); up = buffer(t * hidden)
        logSumExp = buffer(heads * t); statistics = buffer(2 * t)
        alibiBias = alibi ? buffer(heads * t * keys) : nil
        self.all = all
    }
    deinit { for p in all { p.deallocate() } }
}
