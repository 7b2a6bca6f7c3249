import Foundation

/// Fused scaled-dot-product attention with grouped K/V heads.
///
///     q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   out: (B, H, Tq, D)
///
/// Query head h reads K/V head h / (H/Hkv): MHA when Hkv = H, MQA when Hkv = 1,
/// GQA in between. With `causal`, query row i sits at absolute position
/// i + (Tk − Tq) (so a KV cache of earlier positions just works) and sees keys
/// at positions ≤ its own. `bias` (H, Tq, Tk), if given, is added to the
/// scaled scores (ALiBi). K and V rows may be `keyCapacity` positions apart
/// (a preallocated KV cache) with only the first `keyLength` in use.
/// Only one row of scores per thread is ever held: the
/// forward saves each row's logsumexp and the backward recomputes the scores.
public struct AttentionShape: Sendable {
    public var batch, heads, kvHeads, queryLength, keyLength, headSize: Int
    public var causal: Bool
    /// Positions between one (batch, K/V head)'s keys and the next's (≥ keyLength).
    public var keyCapacity: Int
    public init(batch: Int, heads: Int, kvHeads: Int, queryLength: Int, keyLength: Int, headSize: Int, causal: Bool,
                keyCapacity: Int? = nil) {
        self.batch = batch; self.heads = heads; self.kvHeads = kvHeads
        self.queryLength = queryLength; self.keyLength = keyLength; self.headSize = headSize; self.causal = causal
        self.keyCapacity = keyCapacity ?? keyLength
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
    if s.queryLength >= blockedAttentionMinimumQueries {
        return attentionForwardBlocked(q, k, v, bias: bias, out, logSumExp: logSumExp, shape: s)
    }
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let scale = s.scale
    Parallel.forEach(s.batch * s.heads) { bh in
        let b = bh / s.heads, h = bh % s.heads
        let kvh = h / s.group
        let qBase = q + bh * tq * d, oBase = out + bh * tq * d
        let kBase = k + (b * s.kvHeads + kvh) * s.keyCapacity * d, vBase = v + (b * s.kvHeads + kvh) * s.keyCapacity * d
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(tk, 1))
        let kT = UnsafeMutablePointer<Float>.allocate(capacity: max(tk * d, 1))
        defer { scores.deallocate(); kT.deallocate() }
        transposeRows(kBase, rows: tk, cols: d, into: kT)
        for i in 0..<tq {
            let qi = qBase + i * d, oi = oBase + i * d
            let n = s.visibleKeys(i)
            rowTimesTransposed(qi, kT, depth: d, stride: tk, count: n, scale: scale, into: scores)
            if let biasRow = bias.map({ $0 + (h * tq + i) * tk }) { vectorAdd(scores, biasRow, scores, n) }
            let m = vectorMax(scores, n)
            let sum = sumExpShifted(scores, n, shift: m, storingTo: scores)
            weightedRowSum(scores, vBase, count: n, width: d, scale: 1 / sum, into: oi, accumulate: false)
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
    if s.queryLength >= blockedAttentionMinimumQueries {
        return attentionBackwardBlocked(q, k, v, bias: bias, out, logSumExp: logSumExp, dout, dq: dq, dk: dk, dv: dv, shape: s)
    }
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let scale = s.scale
    Parallel.forEach(s.batch * s.kvHeads) { bkv in
        let b = bkv / s.kvHeads, kvh = bkv % s.kvHeads
        let kBase = k + bkv * s.keyCapacity * d, vBase = v + bkv * s.keyCapacity * d
        let dkBase = dk + bkv * s.keyCapacity * d, dvBase = dv + bkv * s.keyCapacity * d
        // Rows of K and V transposed, so that a query row's scores (and dout's
        // products with V) come out 16 keys at a time without horizontal sums.
        let kT = UnsafeMutablePointer<Float>.allocate(capacity: max(tk * d, 1))
        let vT = UnsafeMutablePointer<Float>.allocate(capacity: max(tk * d, 1))
        let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: max(tk, 1))
        let scoreGradients = UnsafeMutablePointer<Float>.allocate(capacity: max(tk, 1))
        // Pᵀ and dSᵀ of one head (key-major), so that dK and dV rows are each
        // summed in registers over queries instead of updated in memory per pair.
        let pT = UnsafeMutablePointer<Float>.allocate(capacity: max(tk * tq, 1))
        let dsT = UnsafeMutablePointer<Float>.allocate(capacity: max(tk * tq, 1))
        defer {
            kT.deallocate(); vT.deallocate(); probabilities.deallocate(); scoreGradients.deallocate()
            pT.deallocate(); dsT.deallocate()
        }
        transposeRows(kBase, rows: tk, cols: d, into: kT)
        transposeRows(vBase, rows: tk, cols: d, into: vT)
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let qBase = q + bh * tq * d, oBase = out + bh * tq * d, doBase = dout + bh * tq * d
            let dqBase = dq + bh * tq * d
            for i in 0..<tq {
                let qi = qBase + i * d, doi = doBase + i * d, dqi = dqBase + i * d
                let n = s.visibleKeys(i)
                let lse = logSumExp[bh * tq + i]
                let rowDot = dot(doi, oBase + i * d, d)
                rowTimesTransposed(qi, kT, depth: d, stride: tk, count: n, scale: scale, into: probabilities)
                if let biasRow = bias.map({ $0 + (h * tq + i) * tk }) { vectorAdd(probabilities, biasRow, probabilities, n) }
                _ = sumExpShifted(probabilities, n, shift: lse, storingTo: probabilities)
                // dS = P ⊙ (dout·Vᵀ − rowDot) · scale
                rowTimesTransposed(doi, vT, depth: d, stride: tk, count: n, scale: 1, into: scoreGradients)
                forLanes16(n) { j, lanes in
                    let p = load16Padded(probabilities, j, n)
                    store16Padded(p * (load16Padded(scoreGradients, j, n) - rowDot) * scale, scoreGradients, j, lanes)
                }
                weightedRowSum(scoreGradients, kBase, count: n, width: d, scale: 1, into: dqi, accumulate: true)
                for j in 0..<n {
                    pT[j * tq + i] = probabilities[j]
                    dsT[j * tq + i] = scoreGradients[j]
                }
            }
            // dK[j] += Σ_i dS[i, j]·Q[i], dV[j] += Σ_i P[i, j]·dO[i], over the
            // queries that see key j (all of them without a causal mask).
            for j in 0..<tk {
                let first = s.causal ? max(0, j - s.offset) : 0
                if first >= tq { continue }
                weightedRowSum(dsT + j * tq + first, qBase + first * d, count: tq - first, width: d, scale: 1,
                               into: dkBase + j * d, accumulate: true)
                weightedRowSum(pT + j * tq + first, doBase + first * d, count: tq - first, width: d, scale: 1,
                               into: dvBase + j * d, accumulate: true)
            }
        }
    }
}

/// dst[c·rows + r] = src[r·cols + c]
@inlinable
func transposeRows(_ src: ConstFloatPointer, rows: Int, cols: Int, into dst: FloatPointer) {
    for r in 0..<rows {
        for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] }
    }
}

/// out[j] = scale · Σ_c x[c] · mT[c·stride + j] for j < count: a row times a
/// transposed block, 16 columns per pass, summing over c in order.
@inlinable
func rowTimesTransposed(_ x: ConstFloatPointer, _ mT: ConstFloatPointer, depth: Int, stride: Int, count: Int,
                        scale: Float, into out: FloatPointer) {
    forLanes16(count) { j, lanes in
        var acc: Float16Lanes
        if j + 16 <= stride {
            acc = fourWaySum(depth, x, mT + j, stride)
        } else {
            acc = Float16Lanes()
            for c in 0..<depth { acc.addProduct(Float16Lanes(repeating: x[c]), loadPartial16(mT + c * stride + j, stride - j)) }
        }
        store16Padded(acc * scale, out, j, lanes)
    }
}

/// Σ_{i<n} w[i] · rows[i·stride ..< i·stride + 16], over four interleaved
/// accumulators (i mod 4) so that consecutive FMAs do not wait on each other,
/// combined in a fixed order.
@inlinable @inline(__always)
func fourWaySum(_ n: Int, _ w: ConstFloatPointer, _ rows: ConstFloatPointer, _ stride: Int) -> Float16Lanes {
    var a0 = Float16Lanes(), a1 = Float16Lanes(), a2 = Float16Lanes(), a3 = Float16Lanes()
    var i = 0
    while i + 4 <= n {
        a0.addProduct(Float16Lanes(repeating: w[i]), load16(rows + i * stride))
        a1.addProduct(Float16Lanes(repeating: w[i + 1]), load16(rows + (i + 1) * stride))
        a2.addProduct(Float16Lanes(repeating: w[i + 2]), load16(rows + (i + 2) * stride))
        a3.addProduct(Float16Lanes(repeating: w[i + 3]), load16(rows + (i + 3) * stride))
        i += 4
    }
    while i < n { a0.addProduct(Float16Lanes(repeating: w[i]), load16(rows + i * stride)); i += 1 }
    return (a0 + a1) + (a2 + a3)
}

/// out[c] (+)= scale · Σ_j w[j] · rows[j·width + c]: the sum is held in
/// registers 16 columns at a time instead of going through memory per row.
@inlinable
func weightedRowSum(_ w: ConstFloatPointer, _ rows: ConstFloatPointer, count: Int, width: Int, scale: Float,
                    into out: FloatPointer, accumulate: Bool) {
    forLanes16(width) { c, lanes in
        var acc: Float16Lanes
        if c + 16 <= width {
            acc = fourWaySum(count, w, rows + c, width)
        } else {
            acc = Float16Lanes()
            for j in 0..<count { acc.addProduct(Float16Lanes(repeating: w[j]), loadPartial16(rows + j * width + c, width - c)) }
        }
        acc *= scale
        if accumulate { acc += load16Padded(out, c, width) }
        store16Padded(acc, out, c, lanes)
    }
}
