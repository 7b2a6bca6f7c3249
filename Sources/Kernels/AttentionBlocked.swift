import Foundation

/// Attention for many queries at once (training, prefill): per (batch, head)
/// the scores are one matrix product S = Q·Kᵀ, the softmax runs over its rows
/// in place, and O = P·V is another, so most of the work runs in the matmul
/// kernel. The backward recomputes P from the saved log-sum-exp and forms
/// dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O))·scale, dQ += dS·K, dK += dSᵀ·Q,
/// dV += Pᵀ·dO. Each thread holds one (Tq × Tk) score block. The products
/// inside a worker run on that worker alone (`Parallel.forEach` does not nest).

/// Below this many queries the row-by-row kernel is used: it wins for short
/// contexts (measured: context 64 × head size 32, 60 ms/step against 62.5
/// blocked) and for token-by-token generation; the blocked path wins at
/// context 256 (baby-GPT: 1750 ms/step against 1861). Tests lower it to check
/// the blocked path on small shapes.
nonisolated(unsafe) public var blockedAttentionMinimumQueries = 128

/// scores[i, j] ← exp(scores[i, j]·scale + bias[i, j] − shift_i) for visible j, 0 beyond.
/// With `shift` nil, each row's own maximum is used and the row is normalised;
/// returns nothing, writes log-sum-exp into `logSumExp` when given.
@inline(__always)
func softmaxRows(_ scores: FloatPointer, rows tq: Int, cols tk: Int, scale: Float, bias: ConstFloatPointer?,
                 shape s: AttentionShape, savedLogSumExp: ConstFloatPointer?, logSumExpOut: FloatPointer?) {
    for i in 0..<tq {
        let row = scores + i * tk
        let n = s.visibleKeys(i)
        vectorScale(row, scale, row, n)
        if let bias { vectorAdd(row, bias + i * tk, row, n) }
        if let savedLogSumExp {
            _ = sumExpShifted(row, n, shift: savedLogSumExp[i], storingTo: row)
        } else {
            let m = vectorMax(row, n)
            let sum = sumExpShifted(row, n, shift: m, storingTo: row)
            vectorScale(row, 1 / sum, row, n)
            logSumExpOut?[i] = m + logf(sum)
        }
        if n < tk { (row + n).update(repeating: 0, count: tk - n) }
    }
}

func attentionForwardBlocked(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: FloatPointer, logSumExp: FloatPointer, shape s: AttentionShape
) {
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    Parallel.forEach(s.batch * s.heads) { bh in
        let b = bh / s.heads, h = bh % s.heads
        let kvh = h / s.group
        let kBase = k + (b * s.kvHeads + kvh) * s.keyCapacity * d, vBase = v + (b * s.kvHeads + kvh) * s.keyCapacity * d
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
        defer { scores.deallocate() }
        matmul(q + bh * tq * d, kBase, scores, m: tq, n: tk, k: d, transposeB: true)   // (Tq, Tk)
        softmaxRows(scores, rows: tq, cols: tk, scale: s.scale, bias: bias.map { $0 + h * tq * tk }, shape: s,
                    savedLogSumExp: nil, logSumExpOut: logSumExp + bh * tq)
        matmul(scores, vBase, out + bh * tq * d, m: tq, n: d, k: tk)                     // (Tq, D)
    }
}

func attentionBackwardBlocked(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: ConstFloatPointer, logSumExp: ConstFloatPointer, _ dout: ConstFloatPointer,
    dq: FloatPointer, dk: FloatPointer, dv: FloatPointer, shape s: AttentionShape,
    accumulate: (q: Bool, k: Bool, v: Bool)
) {
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let scale = s.scale
    Parallel.forEach(s.batch * s.kvHeads) { bkv in
        let b = bkv / s.kvHeads, kvh = bkv % s.kvHeads
        let kBase = k + bkv * s.keyCapacity * d, vBase = v + bkv * s.keyCapacity * d
        let dkBase = dk + bkv * s.keyCapacity * d, dvBase = dv + bkv * s.keyCapacity * d
        let p = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
        defer { p.deallocate(); ds.deallocate() }
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let qBase = q + bh * tq * d, oBase = out + bh * tq * d, doBase = dout + bh * tq * d
            matmul(qBase, kBase, p, m: tq, n: tk, k: d, transposeB: true)
            softmaxRows(p, rows: tq, cols: tk, scale: scale, bias: bias.map { $0 + h * tq * tk }, shape: s,
                        savedLogSumExp: logSumExp + bh * tq, logSumExpOut: nil)
            matmul(doBase, vBase, ds, m: tq, n: tk, k: d, transposeB: true)               // dP (Tq, Tk)
            for i in 0..<tq {
                let rowDot = dot(doBase + i * d, oBase + i * d, d)
                let pr = p + i * tk, dr = ds + i * tk
                var j = 0
                let shift = SIMD16<Float>(repeating: rowDot), sc = SIMD16<Float>(repeating: scale)
                while j + 16 <= tk {
                    let pv = UnsafeRawPointer(pr + j).loadUnaligned(as: SIMD16<Float>.self)
                    let dv = UnsafeRawPointer(dr + j).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(dr + j).storeBytes(of: pv * (dv - shift) * sc, as: SIMD16<Float>.self)
                    j += 16
                }
                while j < tk { dr[j] = pr[j] * (dr[j] - rowDot) * scale; j += 1 }
            }
            // The first query head of a group writes dK and dV (unless adding); the others add.
            let later = h > kvh * s.group
            matmul(ds, kBase, dq + bh * tq * d, m: tq, n: d, k: tk, accumulate: accumulate.q)                 // dQ += dS·K
            matmul(ds, qBase, dkBase, m: tk, n: d, k: tq, transposeA: true, accumulate: accumulate.k || later) // dK += dSᵀ·Q
            matmul(p, doBase, dvBase, m: tk, n: d, k: tq, transposeA: true, accumulate: accumulate.v || later) // dV += Pᵀ·dO
        }
    }
}
