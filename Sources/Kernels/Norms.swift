import Foundation

/// LayerNorm and RMSNorm over the last dimension, forward and backward.
/// The forward saves each row's statistics (mean, 1/σ) for the backward.
/// Parameter gradients are summed over rows per column block, in row order,
/// so they are race-free and identical for any thread count.

/// y = (x − μ)/√(σ² + ε) · γ + β
public func layerNormForward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, beta: ConstFloatPointer?, _ y: FloatPointer,
    mean: FloatPointer, rstd: FloatPointer, rows: Int, cols: Int, eps: Float
) {
    forRows(rows, cols: cols) { r in
        let xr = x + r * cols, yr = y + r * cols
        let mu = rowSum(xr, cols) / Float(cols)
        let inv = 1 / (sumOfSquares(xr, cols, center: mu) / Float(cols) + eps).squareRoot()
        mean[r] = mu
        rstd[r] = inv
        normalizeRow(xr, yr, cols: cols, mean: mu, rstd: inv, gamma: gamma, beta: beta)
    }
}

/// dx += 1/σ · (ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)), with ĝ = dy⊙γ; dγ += Σ dy⊙x̂; dβ += Σ dy.
/// dx is overwritten instead when not `accumulateDx`.
public func layerNormBackward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, mean: ConstFloatPointer, rstd: ConstFloatPointer,
    _ dy: ConstFloatPointer, dx: FloatPointer?, accumulateDx: Bool = true, dgamma: FloatPointer?, dbeta: FloatPointer?,
    rows: Int, cols: Int
) {
    if let dx {
        forRows(rows, cols: cols) { r in
            normRowBackward(x + r * cols, dy + r * cols, gamma: gamma, dx + r * cols, cols: cols, mean: mean[r], rstd: rstd[r],
                            centered: true, accumulate: accumulateDx)
        }
    }
    if dgamma != nil || dbeta != nil {
        forColumnStrips16(rows: rows, cols: cols) { j, n in
            var dg = Float16Lanes(), db = Float16Lanes()
            for r in 0..<rows {
                let g = load16Padded(dy + r * cols, j, cols)
                dg += g * ((load16Padded(x + r * cols, j, cols) - mean[r]) * rstd[r])
                db += g
            }
            if let dgamma { store16Padded(load16Padded(dgamma, j, cols) + dg, dgamma, j, n) }
            if let dbeta { store16Padded(load16Padded(dbeta, j, cols) + db, dbeta, j, n) }
        }
    }
}

/// y = x/√(mean(x²) + ε) · γ
public func rmsNormForward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, _ y: FloatPointer,
    rstd: FloatPointer, rows: Int, cols: Int, eps: Float
) {
    forRows(rows, cols: cols) { r in
        let xr = x + r * cols, yr = y + r * cols
        let ms = sumOfSquares(xr, cols) / Float(cols)
        let inv = 1 / (ms + eps).squareRoot()
        rstd[r] = inv
        normalizeRow(xr, yr, cols: cols, mean: 0, rstd: inv, gamma: gamma, beta: nil)
    }
}

/// x ← x/√(mean(x²) + ε) per row of `cols`, in place: RMSNorm with a gain of
/// ones (QK-norm at inference), the same arithmetic as `rmsNormForward`.
public func rmsNormalizeInPlace(_ x: FloatPointer, rows: Int, cols: Int, eps: Float) {
    for r in 0..<rows {
        let xr = x + r * cols
        let inv = 1 / (sumOfSquares(xr, cols) / Float(cols) + eps).squareRoot()
        for j in 0..<cols { xr[j] *= inv }
    }
}

/// dx += 1/rms · (ĝ − x̂·mean(ĝ⊙x̂)), with ĝ = dy⊙γ, x̂ = x/rms; dγ += Σ dy⊙x̂.
/// dx is overwritten instead when not `accumulateDx`.
public func rmsNormBackward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, rstd: ConstFloatPointer,
    _ dy: ConstFloatPointer, dx: FloatPointer?, accumulateDx: Bool = true, dgamma: FloatPointer?, rows: Int, cols: Int
) {
    if let dx {
        forRows(rows, cols: cols) { r in
            normRowBackward(x + r * cols, dy + r * cols, gamma: gamma, dx + r * cols, cols: cols, mean: 0, rstd: rstd[r],
                            centered: false, accumulate: accumulateDx)
        }
    }
    if let dgamma {
        forColumnStrips16(rows: rows, cols: cols) { j, n in
            var dg = Float16Lanes()
            for r in 0..<rows {
                dg += load16Padded(dy + r * cols, j, cols) * (load16Padded(x + r * cols, j, cols) * rstd[r])
            }
            store16Padded(load16Padded(dgamma, j, cols) + dg, dgamma, j, n)
        }
    }
}

/// y = (x − mean)·rstd·γ (+ β) over one row: whole 16-lane chunks, then the rest.
@inlinable @inline(__always)
func normalizeRow(_ x: ConstFloatPointer, _ y: FloatPointer, cols: Int, mean mu: Float, rstd inv: Float,
                  gamma: ConstFloatPointer, beta: ConstFloatPointer?) {
    let full = cols / 16 * 16
    var j = 0
    while j < full {
        let centered: Float16Lanes = load16(x + j) - mu  // typed for Swift 6.0's type checker
        var out: Float16Lanes = centered * inv * load16(gamma + j)
        if let beta { out += load16(beta + j) }
        store16(out, y + j)
        j += 16
    }
    for t in full..<cols { y[t] = (x[t] - mu) * inv * gamma[t] + (beta?[t] ?? 0) }
}

/// One row of a norm's input gradient, x̂ = (x − mean)·rstd and ĝ = dy⊙γ:
/// dx (+)= rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)) for LayerNorm (`centered`), and
/// dx (+)= rstd·(ĝ − x̂·mean(ĝ⊙x̂)) for RMSNorm (mean 0). Whole 16-lane chunks,
/// then the ragged end one by one.
@inlinable @inline(__always)
func normRowBackward(_ x: ConstFloatPointer, _ dy: ConstFloatPointer, gamma: ConstFloatPointer, _ dx: FloatPointer, cols: Int,
                     mean mu: Float, rstd inv: Float, centered: Bool, accumulate: Bool) {
    let full = cols / 16 * 16
    var sumG = Float16Lanes(), sumGX = Float16Lanes()
    var j = 0
    while j < full {
        let g = load16(dy + j) * load16(gamma + j)
        sumG += g
        sumGX += g * ((load16(x + j) - mu) * inv)
        j += 16
    }
    var totalG = horizontalSum(sumG), totalGX = horizontalSum(sumGX)
    for t in full..<cols {
        let g = dy[t] * gamma[t]
        totalG += g
        totalGX += g * ((x[t] - mu) * inv)
    }
    let meanG = centered ? totalG / Float(cols) : 0, meanGX = totalGX / Float(cols)
    j = 0
    while j < full {
        let xhat = (load16(x + j) - mu) * inv
        let g = load16(dy + j) * load16(gamma + j)
        let old = accumulate ? load16(dx + j) : Float16Lanes()
        store16(old + inv * (g - meanG - xhat * meanGX), dx + j)
        j += 16
    }
    for t in full..<cols {
        let value = inv * (dy[t] * gamma[t] - meanG - (x[t] - mu) * inv * meanGX)
        dx[t] = accumulate ? dx[t] + value : value
    }
}

/// Runs body(j, n) for each 16-column strip; each strip is owned by one thread
/// and sums its rows in order, so the result does not depend on threads.
@inlinable
func forColumnStrips16(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
    let strips = (cols + 15) / 16
    if rows * cols > elementwiseGrain {
        Parallel.forEach(strips) { s in body(s * 16, min(16, cols - s * 16)) }
    } else {
        for s in 0..<strips { body(s * 16, min(16, cols - s * 16)) }
    }
}

/// Splits columns into fixed blocks; each block is owned by one thread.
@inlinable
public func forColumnBlocks(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
    let block = 32
    let blocks = (cols + block - 1) / block
    if rows * cols > elementwiseGrain {
        Parallel.forEach(blocks) { b in body(b * block, min(cols, b * block + block)) }
    } else {
        for b in 0..<blocks { body(b * block, min(cols, b * block + block)) }
    }
}
