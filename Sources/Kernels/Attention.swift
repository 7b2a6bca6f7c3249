import Foundation

/// Fused scaled-dot-product attention with grouped K/V heads.
///
///     q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   out: (B, H, Tq, D)
///
/// Query head h reads K/V head h / (H/Hkv): MHA when Hkv = H, MQA when Hkv = 1,
/// GQA in between. With `causal`, query row i sits at absolute position
/// i + (Tk − Tq) (so a KV cache of earlier positions just works) and sees keys
/// at positions ≤ its own. `bias` (H, Tq, Tk), if given, is added to the
/// scaled scores (ALiBi). Only one row of scores per thread is ever held: the
/// forward saves each row's logsumexp and the backward recomputes the scores.
public struct AttentionShape: Sendable {
    public var batch, heads, kvHeads, queryLength, keyLength, headSize: Int
    public var causal: Bool
    public init(batch: Int, heads: Int, kvHeads: Int, queryLength: Int, keyLength: Int, headSize: Int, causal: Bool) {
        self.batch = batch; self.heads = heads; self.kvHeads = kvHeads
        self.queryLength = queryLength; self.keyLength = keyLength; self.headSize = headSize; self.causal = causal
    }
    var group: Int { heads / kvHeads }
    var offset: Int { keyLength - queryLength }
    var scale: Float { 1 / Float(headSize).squareRoot() }
    /// Number of keys query row i may see.
    @inlinable func visibleKeys(_ i: Int) -> Int { causal ? min(keyLength, i + keyLength - queryLength + 1) : keyLength }
}

public func attentionForward(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: FloatPointer, logSumExp: FloatPointer, shape s: AttentionShape
) {
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let scale = s.scale
    Parallel.forEach(s.batch * s.heads) { bh in
        let b = bh / s.heads, h = bh % s.heads
        let kvh = h / s.group
        let qBase = q + bh * tq * d, oBase = out + bh * tq * d
        let kBase = k + (b * s.kvHeads + kvh) * tk * d, vBase = v + (b * s.kvHeads + kvh) * tk * d
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(tk, 1))
        defer { scores.deallocate() }
        for i in 0..<tq {
            let qi = qBase + i * d, oi = oBase + i * d
            let n = s.visibleKeys(i)
            let biasRow = bias.map { $0 + (h * tq + i) * tk }
            var m = -Float.infinity
            for j in 0..<n {
                var sc = dot(qi, kBase + j * d, d) * scale
                if let biasRow { sc += biasRow[j] }
                scores[j] = sc
                if sc > m { m = sc }
            }
            for c in 0..<d { oi[c] = 0 }
            let sum = sumExpShifted(scores, n, shift: m, storingTo: scores)
            for j in 0..<n { axpy(oi, vBase + j * d, scores[j], d) }
            let inv = 1 / sum
            for c in 0..<d { oi[c] *= inv }
            logSumExp[bh * tq + i] = m + logf(sum)
        }
    }
}

/// Accumulates dq, dk, dv. Work is split over (batch, K/V head) so the query
/// heads that share a K/V head never write its gradient concurrently.
public func attentionBackward(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: ConstFloatPointer, logSumExp: ConstFloatPointer, _ dout: ConstFloatPointer,
    dq: FloatPointer, dk: FloatPointer, dv: FloatPointer, shape s: AttentionShape
) {
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let scale = s.scale
    Parallel.forEach(s.batch * s.kvHeads) { bkv in
        let b = bkv / s.kvHeads, kvh = bkv % s.kvHeads
        let kBase = k + bkv * tk * d, vBase = v + bkv * tk * d
        let dkBase = dk + bkv * tk * d, dvBase = dv + bkv * tk * d
        let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: max(tk, 1))
        defer { probabilities.deallocate() }
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let qBase = q + bh * tq * d, oBase = out + bh * tq * d, doBase = dout + bh * tq * d
            let dqBase = dq + bh * tq * d
            for i in 0..<tq {
                let qi = qBase + i * d, doi = doBase + i * d, dqi = dqBase + i * d
                let n = s.visibleKeys(i)
                let lse = logSumExp[bh * tq + i]
                let biasRow = bias.map { $0 + (h * tq + i) * tk }
                let rowDot = dot(doi, oBase + i * d, d)
                for j in 0..<n {
                    var sc = dot(qi, kBase + j * d, d) * scale
                    if let biasRow { sc += biasRow[j] }
                    probabilities[j] = sc
                }
                _ = sumExpShifted(probabilities, n, shift: lse, storingTo: probabilities)
                for j in 0..<n {
                    let p = probabilities[j]
                    let dp = dot(doi, vBase + j * d, d)
                    let ds = p * (dp - rowDot) * scale
                    axpy(dqi, kBase + j * d, ds, d)
                    axpy(dkBase + j * d, qi, ds, d)
                    axpy(dvBase + j * d, doi, p, d)
                }
            }
        }
    }
}
