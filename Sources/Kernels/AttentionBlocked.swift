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
/// row path (Attention.swift) is faster (docs/benchmarks.md, "Kernel constants
/// and their measurements"). Tests lower it to check this path on small shapes.
nonisolated(unsafe) public var blockedAttentionMinimumQueries = 512

/// scores[i, j] ← exp(scores[i, j]·scale + bias[i, j] − logSumExp[i]) for the
/// keys row i may see, 0 beyond: the probabilities of the forward, recomputed.
@inline(__always)
func recomputeProbabilities(_ scores: FloatPointer, rows tq: Int, cols tk: Int, scale: Float, bias: ConstFloatPointer?,
                            shape s: AttentionShape, prefix: Int, logSumExp: ConstFloatPointer) {
    for i in 0..<tq {
        let row = scores + i * tk
        let n = s.visibleKeys(i, prefix: prefix)
        vectorScale(row, scale, row, n)
        if let bias { vectorAdd(row, bias + i * tk, row, n) }
        _ = sumExpShifted(row, n, shift: logSumExp[i], storingTo: row)
        if n < tk { (row + n).update(repeating: 0, count: tk - n) }
    }
}

func attentionBackwardBlocked(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: ConstFloatPointer, logSumExp: ConstFloatPointer, _ dout: ConstFloatPointer,
    dq: FloatPointer, dk: FloatPointer, dv: FloatPointer, biasGradient: FloatPointer?, shape s: AttentionShape,
    accumulate: (q: Bool, k: Bool, v: Bool)
) {
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let (qs, ks) = (s.queryRowStride, s.keyRowStride)
    let scale = s.scale
    // The matrix products read and write contiguous rows: in the token-major
    // layout each head's rows are gathered first and its gradients scattered
    // after (O(T·D) copies against O(T²·D) products).
    let gathered = s.layout == .tokenMajor
    Parallel.forEach(s.batch * s.kvHeads) { bkv in
        let b = bkv / s.kvHeads, kvh = bkv % s.kvHeads
        let scratch = Scratch(tq * tk, tq * tk, gathered ? tk * d : 0, gathered ? tk * d : 0, gathered ? tk * d : 0,
                              gathered ? tk * d : 0, gathered ? tq * d : 0, gathered ? tq * d : 0, gathered ? tq * d : 0,
                              gathered ? tq * d : 0)
        defer { scratch.free() }
        let (p, ds) = (scratch[0], scratch[1])
        let kBase = contiguousRows(k + s.keyStart(b, kvh), rows: tk, cols: d, rowStride: ks, scratch: scratch[2])
        let vBase = contiguousRows(v + s.keyStart(b, kvh), rows: tk, cols: d, rowStride: ks, scratch: scratch[3])
        let dkBase = gathered ? scratch[4] : dk + s.keyStart(b, kvh), dvBase = gathered ? scratch[5] : dv + s.keyStart(b, kvh)
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let start = s.queryStart(b, h)
            let qBase = contiguousRows(q + start, rows: tq, cols: d, rowStride: qs, scratch: scratch[6])
            let oBase = contiguousRows(out + start, rows: tq, cols: d, rowStride: qs, scratch: scratch[7])
            let doBase = contiguousRows(dout + start, rows: tq, cols: d, rowStride: qs, scratch: scratch[8])
            matmul(qBase, kBase, p, m: tq, n: tk, k: d, transposeB: true)
            recomputeProbabilities(p, rows: tq, cols: tk, scale: scale, bias: bias.map { $0 + h * tq * tk }, shape: s,
                                   prefix: s.prefix(b), logSumExp: logSumExp + bh * tq)
            matmul(doBase, vBase, ds, m: tq, n: tk, k: d, transposeB: true)               // dP (Tq, Tk)
            for i in 0..<tq {
                let rowDot = dot(doBase + i * d, oBase + i * d, d)
                let pr = p + i * tk, dr = ds + i * tk
                // The unscaled dS (P is 0 where a key is not seen, so is this), for a learned bias.
                let g = biasGradient.map { $0 + (bh * tq + i) * tk }
                var j = 0
                let shift = SIMD16<Float>(repeating: rowDot), sc = SIMD16<Float>(repeating: scale)
                while j + 16 <= tk {
                    let pv = UnsafeRawPointer(pr + j).loadUnaligned(as: SIMD16<Float>.self)
                    let dv = UnsafeRawPointer(dr + j).loadUnaligned(as: SIMD16<Float>.self)
                    let unscaled = pv * (dv - shift)
                    if let g { UnsafeMutableRawPointer(g + j).storeBytes(of: unscaled, as: SIMD16<Float>.self) }
                    UnsafeMutableRawPointer(dr + j).storeBytes(of: unscaled * sc, as: SIMD16<Float>.self)
                    j += 16
                }
                while j < tk {
                    let unscaled = pr[j] * (dr[j] - rowDot)
                    g?[j] = unscaled
                    dr[j] = unscaled * scale
                    j += 1
                }
            }
            // The first query head of a group writes dK and dV (unless adding); the others add.
            let later = h > kvh * s.group
            if gathered {
                matmul(ds, kBase, scratch[9], m: tq, n: d, k: tk)                                               // dS·K
                scatterRows(scratch[9], rows: tq, cols: d, into: dq + start, rowStride: qs, accumulate: accumulate.q)
            } else {
                matmul(ds, kBase, dq + start, m: tq, n: d, k: tk, accumulate: accumulate.q)                        // dQ += dS·K
            }
            matmul(ds, qBase, dkBase, m: tk, n: d, k: tq, transposeA: true, accumulate: later || (accumulate.k && !gathered)) // dK += dSᵀ·Q
            matmul(p, doBase, dvBase, m: tk, n: d, k: tq, transposeA: true, accumulate: later || (accumulate.v && !gathered)) // dV += Pᵀ·dO
        }
        if gathered {
            scatterRows(dkBase, rows: tk, cols: d, into: dk + s.keyStart(b, kvh), rowStride: ks, accumulate: accumulate.k)
            scatterRows(dvBase, rows: tk, cols: d, into: dv + s.keyStart(b, kvh), rowStride: ks, accumulate: accumulate.v)
        }
    }
}

/// The (rows × cols) matrix whose rows are `rowStride` apart, with rows
/// `cols` apart: itself if they already are, else a copy in `scratch`.
@inline(__always)
func contiguousRows(_ m: ConstFloatPointer, rows: Int, cols: Int, rowStride: Int, scratch: FloatPointer) -> ConstFloatPointer {
    if rowStride == cols { return m }
    for r in 0..<rows { (scratch + r * cols).update(from: m + r * rowStride, count: cols) }
    return ConstFloatPointer(scratch)
}

/// Rows of m (rows × cols, contiguous) written, or added, to rows `rowStride` apart.
@inline(__always)
func scatterRows(_ m: ConstFloatPointer, rows: Int, cols: Int, into target: FloatPointer, rowStride: Int, accumulate: Bool) {
    for r in 0..<rows {
        let row = target + r * rowStride, source = m + r * cols
        if accumulate { for c in 0..<cols { row[c] += source[c] } } else { row.update(from: source, count: cols) }
    }
}
