import Foundation

/// How the rows of a multi-head tensor are ordered.
public enum HeadLayout: Sendable {
    /// (B, H, T, D): each head's positions contiguous (the KV cache's layout).
    case headMajor
    /// (B, T, H, D), i.e. (B, T, H·D): each token's heads side by side, as a linear layer writes them.
    case tokenMajor
}

/// Fused scaled-dot-product attention with grouped K/V heads.
///
///     head-major:  q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   out: (B, H, Tq, D)
///     token-major: q: (B, Tq, H, D)   k, v: (B, Tk, Hkv, D)   out: (B, Tq, H, D)
///
/// Token-major is how the Q/K/V projections write their output (B, T, H·D)
/// and how the output projection reads it: training takes that layout, so no
/// transposed copy is made around attention. A head's rows are then H·D (or
/// Hkv·D) floats apart instead of D; the kernels read and write through that
/// row stride, with the same arithmetic in either layout (equal bits).
///
/// Query head h reads K/V head h / (H/Hkv): MHA when Hkv = H, MQA when Hkv = 1,
/// GQA in between. With `causal`, query row i sits at absolute position
/// i + (Tk − Tq) (so a KV cache of earlier positions just works) and sees keys
/// at positions ≤ its own; with `prefixLengths` (one per batch row, a
/// prefix LM), every query also sees the keys before its row's prefix length
/// (the prompt, attended bidirectionally). `bias` (H, Tq, Tk), if given, is
/// added to the scaled scores (ALiBi, T5). K and V rows may be `keyCapacity` positions apart
/// (a preallocated KV cache) with only the first `keyLength` in use.
/// The row path holds the scores of four query rows per thread at a time:
/// the forward saves each row's logsumexp and the backward recomputes the
/// scores (from 512 queries on, the backward takes AttentionBlocked.swift).
public struct AttentionShape: Sendable {
    public var batch, heads, kvHeads, queryLength, keyLength, headSize: Int
    public var causal: Bool
    /// Positions between one (batch, K/V head)'s keys and the next's (≥ keyLength).
    public var keyCapacity: Int
    public var layout: HeadLayout
    /// Per batch row, the keys every query of that row sees (a prefix LM's
    /// prompt); empty: none (plain causal attention).
    public var prefixLengths: [Int]
    public init(batch: Int, heads: Int, kvHeads: Int, queryLength: Int, keyLength: Int, headSize: Int, causal: Bool,
                keyCapacity: Int? = nil, layout: HeadLayout = .headMajor, prefixLengths: [Int] = []) {
        self.batch = batch; self.heads = heads; self.kvHeads = kvHeads
        self.queryLength = queryLength; self.keyLength = keyLength; self.headSize = headSize; self.causal = causal
        self.keyCapacity = keyCapacity ?? keyLength
        self.layout = layout
        self.prefixLengths = prefixLengths
    }
    /// Floats between consecutive rows of one head in q, out, dq and dout.
    var queryRowStride: Int { layout == .tokenMajor ? heads * headSize : headSize }
    /// Floats between consecutive rows of one K/V head in k, v, dk and dv.
    var keyRowStride: Int { layout == .tokenMajor ? kvHeads * headSize : headSize }
    /// Where (batch b, query head h)'s first row starts in q, out, dq and dout.
    func queryStart(_ b: Int, _ h: Int) -> Int {
        layout == .tokenMajor ? b * queryLength * heads * headSize + h * headSize : (b * heads + h) * queryLength * headSize
    }
    /// Where (batch b, K/V head kvh)'s first row starts in k, v, dk and dv.
    func keyStart(_ b: Int, _ kvh: Int) -> Int {
        layout == .tokenMajor ? b * keyCapacity * kvHeads * headSize + kvh * headSize : (b * kvHeads + kvh) * keyCapacity * headSize
    }
    var group: Int { heads / kvHeads }
    var offset: Int { keyLength - queryLength }
    var scale: Float { 1 / Float(headSize).squareRoot() }
    /// The keys every query of batch row b sees, whatever its position.
    @inlinable func prefix(_ b: Int) -> Int { prefixLengths.isEmpty ? 0 : min(prefixLengths[b], keyLength) }
    /// Number of keys query row i may see (the first ones), given its batch row's prefix;
    /// never decreasing in i.
    @inlinable func visibleKeys(_ i: Int, prefix: Int = 0) -> Int {
        causal ? max(prefix, min(keyLength, i + keyLength - queryLength + 1)) : keyLength
    }
}

public func attentionForward(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: FloatPointer, logSumExp: FloatPointer, shape s: AttentionShape
) {
    if s.queryLength == 1 {
        return attentionForwardOneQuery(q, k, v, bias: bias, out, logSumExp: logSumExp, shape: s)
    }
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let (tkPad, dPad) = (roundUp(tk, 16), roundUp(d, 16))
    let (qs, ks) = (s.queryRowStride, s.keyRowStride)
    let scale = s.scale
    Parallel.forEach(s.batch * s.heads) { bh in
        let b = bh / s.heads, h = bh % s.heads
        let kvh = h / s.group, prefix = s.prefix(b)
        let qBase = q + s.queryStart(b, h), oBase = out + s.queryStart(b, h)
        let kBase = k + s.keyStart(b, kvh), vBase = v + s.keyStart(b, kvh)
        let scratch = Scratch(d * tkPad, rowBlock * tkPad, d == dPad ? 0 : tk * dPad)
        defer { scratch.free() }
        let (kT, scores, vScratch) = (scratch[0], scratch[1], scratch[2])
        transposeRowsPadded(kBase, rows: tk, cols: d, rowStride: ks, stride: tkPad, into: kT)
        let (vRows, vStride) = paddedRows(vBase, rows: tk, cols: d, rowStride: ks, paddedCols: dPad, scratch: vScratch)
        var i0 = 0
        while i0 < tq {
            let rows = min(rowBlock, tq - i0)
            let widest = s.visibleKeys(i0 + rows - 1, prefix: prefix)
            rowsTimesTransposed(qBase + i0 * qs, rowStride: qs, rows: rows, kT, depth: d, stride: tkPad, count: widest,
                                scale: scale, into: scores)
            var inverseSums = SIMD4<Float>()
            for r in 0..<rows {
                let row = scores + r * tkPad, n = s.visibleKeys(i0 + r, prefix: prefix)
                if let bias { vectorAdd(row, bias + (h * tq + i0 + r) * tk, row, n) }
                let m = vectorMax(row, n)
                let sum = sumExpShifted(row, n, shift: m, storingTo: row)
                (row + n).update(repeating: 0, count: widest - n)  // keys this row may not see
                inverseSums[r] = 1 / sum
                logSumExp[bh * tq + i0 + r] = m + logf(sum)
            }
            weightedRowsSum(scores, rowStride: tkPad, rows: rows, vRows, stride: vStride, count: widest, width: d,
                            scales: inverseSums, into: oBase + i0 * qs, outStride: qs, accumulate: false)
            i0 += rows
        }
    }
}

/// One query per (batch, head), as in token-by-token generation with a KV
/// cache: scores are dot products with the K rows read in place (no transposed
/// copy of the cache per token), the output a weighted sum of V rows, and the
/// scores live on the stack. Rounds differently from the row path (the sums
/// run over the head dimension in 16 lanes), within the tolerance the cache tests allow.
func attentionForwardOneQuery(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: FloatPointer, logSumExp: FloatPointer, shape s: AttentionShape
) {
    let (tk, d) = (s.keyLength, s.headSize)
    let ks = s.keyRowStride
    let scale = s.scale
    Parallel.forEach(s.batch * s.heads) { bh in
        let b = bh / s.heads, h = bh % s.heads
        let kvh = h / s.group, n = s.visibleKeys(0, prefix: s.prefix(b))
        let qRow = q + s.queryStart(b, h), oRow = out + s.queryStart(b, h)
        let kBase = k + s.keyStart(b, kvh), vBase = v + s.keyStart(b, kvh)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(n, 1)) { buffer in
            let scores = buffer.baseAddress!
            for j in 0..<n { scores[j] = dot1(qRow, kBase + j * ks, k: d) * scale }
            if let bias { vectorAdd(scores, bias + h * tk, scores, n) }
            let m = vectorMax(scores, n)
            let sum = sumExpShifted(scores, n, shift: m, storingTo: scores)
            logSumExp[bh] = m + logf(sum)
            let inverse = 1 / sum
            // 16 output columns at a time in a register, over all keys.
            var c = 0
            while c + 16 <= d {
                var acc = SIMD16<Float>()
                for j in 0..<n {
                    acc.addProduct(SIMD16(repeating: scores[j]),
                                   UnsafeRawPointer(vBase + j * ks + c).loadUnaligned(as: SIMD16<Float>.self))
                }
                UnsafeMutableRawPointer(oRow + c).storeBytes(of: acc * inverse, as: SIMD16<Float>.self)
                c += 16
            }
            while c < d {
                var acc: Float = 0
                for j in 0..<n { acc = acc.addingProduct(scores[j], vBase[j * ks + c]) }
                oRow[c] = acc * inverse
                c += 1
            }
        }
    }
}

/// Accumulates dq, dk, dv (or overwrites those whose `accumulate` flag is
/// false; dk and dv then only for their first `keyLength` rows). Work is split
/// over (batch, K/V head) so the query heads that share a K/V head never
/// write its gradient concurrently. With `biasGradient` (B, H, Tq, Tk), the
/// gradient of the scores before scaling, P ⊙ (dP − rowsum(dO ⊙ O)), is
/// written there for every (batch, head) (0 where a key is not seen): a
/// learned bias's gradient is its sum over the batch.
public func attentionBackward(
    _ q: ConstFloatPointer, _ k: ConstFloatPointer, _ v: ConstFloatPointer, bias: ConstFloatPointer?,
    _ out: ConstFloatPointer, logSumExp: ConstFloatPointer, _ dout: ConstFloatPointer,
    dq: FloatPointer, dk: FloatPointer, dv: FloatPointer, biasGradient: FloatPointer? = nil, shape s: AttentionShape,
    accumulate: (q: Bool, k: Bool, v: Bool) = (true, true, true)
) {
    if s.queryLength >= blockedAttentionMinimumQueries {
        return attentionBackwardBlocked(q, k, v, bias: bias, out, logSumExp: logSumExp, dout, dq: dq, dk: dk, dv: dv,
                                        biasGradient: biasGradient, shape: s, accumulate: accumulate)
    }
    let (tq, tk, d) = (s.queryLength, s.keyLength, s.headSize)
    let (tkPad, dPad) = (roundUp(tk, 16), roundUp(d, 16))
    let padded = d != dPad
    let (qs, ks) = (s.queryRowStride, s.keyRowStride)
    let scale = s.scale
    Parallel.forEach(s.batch * s.kvHeads) { bkv in
        let b = bkv / s.kvHeads, kvh = bkv % s.kvHeads, prefix = s.prefix(b)
        let kBase = k + s.keyStart(b, kvh), vBase = v + s.keyStart(b, kvh)
        let dkBase = dk + s.keyStart(b, kvh), dvBase = dv + s.keyStart(b, kvh)
        // Kᵀ and Vᵀ give a block of rows' scores (and dO·Vᵀ) 16 keys at a time;
        // Pᵀ and dSᵀ (key-major) let dK and dV rows be summed over queries in registers.
        let scratch = Scratch(d * tkPad, d * tkPad, rowBlock * tkPad, rowBlock * tkPad, tk * tq, tk * tq,
                              padded ? tk * dPad : 0, padded ? tq * dPad : 0, padded ? tq * dPad : 0)
        defer { scratch.free() }
        let (kT, vT, p, ds, pT, dsT) = (scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5])
        transposeRowsPadded(kBase, rows: tk, cols: d, rowStride: ks, stride: tkPad, into: kT)
        transposeRowsPadded(vBase, rows: tk, cols: d, rowStride: ks, stride: tkPad, into: vT)
        let (kRows, kStride) = paddedRows(kBase, rows: tk, cols: d, rowStride: ks, paddedCols: dPad, scratch: scratch[6])
        for h in (kvh * s.group)..<((kvh + 1) * s.group) {
            let bh = b * s.heads + h
            let start = s.queryStart(b, h)
            let qBase = q + start, oBase = out + start, doBase = dout + start
            let dqBase = dq + start
            // The first query head of the group writes dK and dV; the others add.
            let addK = accumulate.k || h > kvh * s.group, addV = accumulate.v || h > kvh * s.group
            var i0 = 0
            while i0 < tq {
                let rows = min(rowBlock, tq - i0)
                let widest = s.visibleKeys(i0 + rows - 1, prefix: prefix)
                rowsTimesTransposed(qBase + i0 * qs, rowStride: qs, rows: rows, kT, depth: d, stride: tkPad, count: widest,
                                    scale: scale, into: p)
                rowsTimesTransposed(doBase + i0 * qs, rowStride: qs, rows: rows, vT, depth: d, stride: tkPad, count: widest,
                                    scale: 1, into: ds)  // dP = dO·Vᵀ
                for r in 0..<rows {
                    let i = i0 + r, n = s.visibleKeys(i, prefix: prefix)
                    let pr = p + r * tkPad, dr = ds + r * tkPad
                    let rowDot = dot(doBase + i * qs, oBase + i * qs, d)
                    if let bias { vectorAdd(pr, bias + (h * tq + i) * tk, pr, n) }
                    _ = sumExpShifted(pr, n, shift: logSumExp[bh * tq + i], storingTo: pr)
                    // dS = P ⊙ (dP − rowDot) · scale, in whole chunks (rows are tkPad long;
                    // lanes past n are cleared just after).
                    var j = 0
                    if let biasGradient {
                        let g = biasGradient + (bh * tq + i) * tk
                        while j < n {
                            let unscaled = load16(pr + j) * (load16(dr + j) - rowDot)
                            store16Padded(unscaled, g, j, min(16, n - j))
                            store16(unscaled * scale, dr + j)
                            j += 16
                        }
                        (g + n).update(repeating: 0, count: tk - n)
                    } else {
                        while j < n {
                            store16(load16(pr + j) * (load16(dr + j) - rowDot) * scale, dr + j)
                            j += 16
                        }
                    }
                    (pr + n).update(repeating: 0, count: widest - n)
                    (dr + n).update(repeating: 0, count: widest - n)
                }
                // Into Pᵀ and dSᵀ: four rows at a time, one 4-float store per key.
                // The key blocks below read, for keys up to 3 past `widest`, the
                // entries of queries here that do not see them: those get zeros
                // (no other entry of Pᵀ or dSᵀ outside what is written is read).
                let zeroUpTo = min(tk, widest + rowBlock - 1)
                if rows == rowBlock {
                    for j in 0..<widest {
                        let pj = SIMD4(p[j], p[tkPad + j], p[2 * tkPad + j], p[3 * tkPad + j])
                        let dsj = SIMD4(ds[j], ds[tkPad + j], ds[2 * tkPad + j], ds[3 * tkPad + j])
                        UnsafeMutableRawPointer(pT + j * tq + i0).storeBytes(of: pj, as: SIMD4<Float>.self)
                        UnsafeMutableRawPointer(dsT + j * tq + i0).storeBytes(of: dsj, as: SIMD4<Float>.self)
                    }
                    for j in widest..<zeroUpTo {
                        UnsafeMutableRawPointer(pT + j * tq + i0).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
                        UnsafeMutableRawPointer(dsT + j * tq + i0).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
                    }
                } else {
                    for r in 0..<rows {
                        for j in 0..<widest {
                            pT[j * tq + i0 + r] = p[r * tkPad + j]
                            dsT[j * tq + i0 + r] = ds[r * tkPad + j]
                        }
                        for j in widest..<zeroUpTo {
                            pT[j * tq + i0 + r] = 0
                            dsT[j * tq + i0 + r] = 0
                        }
                    }
                }
                weightedRowsSum(ds, rowStride: tkPad, rows: rows, kRows, stride: kStride, count: widest, width: d,
                                scales: SIMD4(repeating: 1), into: dqBase + i0 * qs, outStride: qs, accumulate: accumulate.q)
                i0 += rows
            }
            // dK[j] += Σ_i dS[i, j]·Q[i], dV[j] += Σ_i P[i, j]·dO[i], over the
            // queries that see key j (all of them without a causal mask, or for
            // a key in the prefix); the entries of queries that do not see a key are zero.
            let (qRows, qStride) = paddedRows(qBase, rows: tq, cols: d, rowStride: qs, paddedCols: dPad, scratch: scratch[7])
            let (doRows, doStride) = paddedRows(doBase, rows: tq, cols: d, rowStride: qs, paddedCols: dPad, scratch: scratch[8])
            var j0 = 0
            while j0 < tk {
                let keys = min(rowBlock, tk - j0)
                defer { j0 += keys }
                let first = s.causal && j0 >= prefix ? max(0, j0 - s.offset) : 0
                if first >= tq {  // no query sees these keys
                    for j in j0..<(j0 + keys) {
                        if !addK { (dkBase + j * ks).update(repeating: 0, count: d) }
                        if !addV { (dvBase + j * ks).update(repeating: 0, count: d) }
                    }
                    continue
                }
                weightedRowsSum(dsT + j0 * tq + first, rowStride: tq, rows: keys, qRows + first * qStride, stride: qStride,
                                count: tq - first, width: d, scales: SIMD4(repeating: 1), into: dkBase + j0 * ks, outStride: ks, accumulate: addK)
                weightedRowsSum(pT + j0 * tq + first, rowStride: tq, rows: keys, doRows + first * doStride, stride: doStride,
                                count: tq - first, width: d, scales: SIMD4(repeating: 1), into: dvBase + j0 * ks, outStride: ks, accumulate: addV)
            }
        }
    }
}

/// Query rows (or keys) handled together: each value loaded from Kᵀ, V or Q
/// feeds this many multiply-adds from registers.
let rowBlock = 4

/// Tests set this to fill attention's scratch buffers with NaN, so that a
/// read of an entry the kernels never wrote shows up in the results.
nonisolated(unsafe) public var poisonAttentionScratch = false

/// One allocation cut into float buffers of the given sizes (each 64-byte aligned).
struct Scratch {
    let base: UnsafeMutableRawPointer
    let offsets: [Int]

    init(_ counts: Int...) {
        var offsets: [Int] = [], total = 0
        for c in counts { offsets.append(total); total += roundUp(c, 16) }
        self.offsets = offsets
        base = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1) * 4, alignment: 64)
        if poisonAttentionScratch { base.bindMemory(to: Float.self, capacity: max(total, 1)).update(repeating: .nan, count: max(total, 1)) }
    }

    subscript(i: Int) -> FloatPointer { (base + offsets[i] * 4).assumingMemoryBound(to: Float.self) }

    func free() { base.deallocate() }
}

/// mT[c·stride + j] = m[j·rowStride + c] for j < rows, and 0 for rows ≤ j < stride.
@inlinable
func transposeRowsPadded(_ m: ConstFloatPointer, rows: Int, cols: Int, rowStride: Int, stride: Int, into mT: FloatPointer) {
    for c in 0..<cols {
        let dst = mT + c * stride
        for j in 0..<rows { dst[j] = m[j * rowStride + c] }
        (dst + rows).update(repeating: 0, count: stride - rows)
    }
}

/// The rows of an (rows × cols) matrix whose rows are `rowStride` apart, as
/// rows whose 16-lane loads stay within the row: the matrix itself (and its
/// stride) if cols is a multiple of 16 (`paddedCols`), else a zero-padded
/// copy in `scratch` with a stride of `paddedCols`.
@inlinable
func paddedRows(_ m: ConstFloatPointer, rows: Int, cols: Int, rowStride: Int, paddedCols: Int, scratch: FloatPointer)
    -> (rows: ConstFloatPointer, stride: Int) {
    if cols == paddedCols { return (m, rowStride) }
    for r in 0..<rows {
        (scratch + r * paddedCols).update(from: m + r * rowStride, count: cols)
        (scratch + r * paddedCols + cols).update(repeating: 0, count: paddedCols - cols)
    }
    return (ConstFloatPointer(scratch), paddedCols)
}

/// Σ_{i<n} x_r[i] · m[i·stride ..< i·stride + 16] for four rows x_r at once:
/// each 16 values of m loaded feed four FMAs. Rows past `rows` (a short last
/// block) repeat the first row; their sums are dropped by the callers.
@inlinable @inline(__always)
func fourRowSums(_ x: ConstFloatPointer, rowStride: Int, rows: Int, count n: Int, _ m: ConstFloatPointer, stride: Int)
    -> (Float16Lanes, Float16Lanes, Float16Lanes, Float16Lanes) {
    let x0 = x, x1 = x + (rows > 1 ? rowStride : 0), x2 = x + (rows > 2 ? 2 * rowStride : 0), x3 = x + (rows > 3 ? 3 * rowStride : 0)
    var a0 = Float16Lanes(), a1 = Float16Lanes(), a2 = Float16Lanes(), a3 = Float16Lanes()
    var row = m
    for i in 0..<n {
        let v = load16(row)
        a0.addProduct(Float16Lanes(repeating: x0[i]), v)
        a1.addProduct(Float16Lanes(repeating: x1[i]), v)
        a2.addProduct(Float16Lanes(repeating: x2[i]), v)
        a3.addProduct(Float16Lanes(repeating: x3[i]), v)
        row += stride
    }
    return (a0, a1, a2, a3)
}

/// out[r·stride + j] = scale · Σ_c x[r·rowStride + c] · mT[c·stride + j] for
/// r < rows (≤ 4) and j < count rounded up to 16 (mT is zero-padded to `stride`).
@inlinable
func rowsTimesTransposed(_ x: ConstFloatPointer, rowStride: Int, rows: Int, _ mT: ConstFloatPointer, depth: Int, stride: Int,
                         count: Int, scale: Float, into out: FloatPointer) {
    var j = 0
    while j < count {
        let (a0, a1, a2, a3) = fourRowSums(x, rowStride: rowStride, rows: rows, count: depth, mT + j, stride: stride)
        store16(a0 * scale, out + j)
        if rows > 1 { store16(a1 * scale, out + stride + j) }
        if rows > 2 { store16(a2 * scale, out + 2 * stride + j) }
        if rows > 3 { store16(a3 * scale, out + 3 * stride + j) }
        j += 16
    }
}

/// out[r·outStride + c] (+)= scales[r] · Σ_{j<count} w[r·rowStride + j] · m[j·stride + c]
/// for r < rows (≤ 4) and c < width; width is a multiple of 16 or m's rows
/// are zero-padded to one (`paddedRows`).
@inlinable
func weightedRowsSum(_ w: ConstFloatPointer, rowStride: Int, rows: Int, _ m: ConstFloatPointer, stride: Int, count: Int,
                     width: Int, scales: SIMD4<Float>, into out: FloatPointer, outStride: Int, accumulate: Bool) {
    var c = 0
    while c < width {
        let (a0, a1, a2, a3) = fourRowSums(w, rowStride: rowStride, rows: rows, count: count, m + c, stride: stride)
        let lanes = min(16, width - c)
        @inline(__always) func put(_ acc: Float16Lanes, _ r: Int) {
            let o = out + r * outStride
            var value = acc * scales[r]
            if accumulate { value += load16Padded(o, c, width) }
            store16Padded(value, o, c, lanes)
        }
        put(a0, 0)
        if rows > 1 { put(a1, 1) }
        if rows > 2 { put(a2, 2) }
        if rows > 3 { put(a3, 3) }
        c += 16
    }
}
