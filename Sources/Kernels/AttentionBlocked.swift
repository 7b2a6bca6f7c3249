import Foundation

/// The attention backward for many queries at once (training on long
/// contexts): per (batch, head) P is recomputed as one matrix product Q·Kᵀ
/// and a row softmax from the saved log-sum-exp, then dP = dO·Vᵀ,
/// dS = P ⊙ (dP − rowsum(dO ⊙ O))·scale, dQ += dS·K, dK += dSᵀ·Q and
/// dV += Pᵀ·dO are matrix products too. Each thread holds two (Tq × Tk)
/// blocks. The products inside a worker run on that worker alone
/// (`Parallel.forEach` does not nest). The forward always takes the row path
/// in Attention.swift, which was faster at every length measured.

/// From this many queries on, the backward takes this blocked path; below, the
/// row path (Attention.swift). Measured per training step on 1 thread, d_model
/// 128, 4 heads of 32 (`tinygpt bench train --profile`): attention backward
/// at context 384, 41.1 ms blocked against 32.6 by rows; at 512, 71.3 against
/// 82.0; at 1024, 149 against 284. Tests lower it to check this path on small shapes.
nonisolated(unsafe) public var blockedAttentionMinimumQueries = 512

/// scores[i, j] ← exp(scores[i, j]·scale + bias[i, j] − logSumExp[i]) for the
/// keys row i may see, 0 beyond: the probabilities of the forward, recomputed.
@inline(__always)
func recomputeProbabilities(_ scores: FloatPointer, rows tq: Int, cols tk: Int, scale: Float, bias: ConstFloatPointer?,
                            shape s: AttentionShape, logSumExp: ConstFloatPointer) {
    for i in 0..<tq {
        let row = scores + i * tk
        let n = s.visibleKeys(i)
        vectorScale(row, scale, row, n)
        if let bias { vectorAdd(row, bias + i * tk, row, n) }
        _ = sumExpShifted(row, n, shift: logSumExp[i], storingTo: row)
        if n < tk { (row + n).update(repeating: 0, count: tk - n) }
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
        let scratch = Scratch(tq * tk, tq * tk)
        defer { scratch.free() }
        let (p, ds) = (scratch[0], scratch[1])
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let qBase = q + bh * tq * d, oBase = out + bh * tq * d, doBase = dout + bh * tq * d
            matmul(qBase, kBase, p, m: tq, n: tk, k: d, transposeB: true)
            recomputeProbabilities(p, rows: tq, cols: tk, scale: scale, bias: bias.map { $0 + h * tq * tk }, shape: s,
                                   logSumExp: logSumExp + bh * tq)
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
