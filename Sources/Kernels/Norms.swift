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
        let mu = rowSum16(cols) { load16Padded(xr, $0, cols) } / Float(cols)
        let v = rowSum16(cols) { j in let d = load16Padded(xr, j, cols) - mu; return d * d }
        let inv = 1 / (v / Float(cols) + eps).squareRoot()
        mean[r] = mu
        rstd[r] = inv
        forLanes16(cols) { j, n in
            var out = (load16Padded(xr, j, cols) - mu) * inv * load16Padded(gamma, j, cols)
            if let beta { out += load16Padded(beta, j, cols) }
            store16Padded(out, yr, j, n)
        }
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
            let xr = x + r * cols, gr = dy + r * cols, dr = dx + r * cols
            let mu = mean[r], inv = rstd[r]
            var sumG = Float16Lanes(), sumGX = Float16Lanes()
            forLanes16(cols) { j, _ in
                let g = load16Padded(gr, j, cols) * load16Padded(gamma, j, cols)
                sumG += g
                sumGX += g * ((load16Padded(xr, j, cols) - mu) * inv)
            }
            let meanG = sumG.sum() / Float(cols), meanGX = sumGX.sum() / Float(cols)
            forLanes16(cols) { j, n in
                let xhat = (load16Padded(xr, j, cols) - mu) * inv
                let g = load16Padded(gr, j, cols) * load16Padded(gamma, j, cols)
                let old = accumulateDx ? load16Padded(dr, j, cols) : Float16Lanes()
                store16Padded(old + inv * (g - meanG - xhat * meanGX), dr, j, n)
            }
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
        let ms = rowSum16(cols) { j in let v = load16Padded(xr, j, cols); return v * v } / Float(cols)
        let inv = 1 / (ms + eps).squareRoot()
        rstd[r] = inv
        forLanes16(cols) { j, n in
            store16Padded(load16Padded(xr, j, cols) * inv * load16Padded(gamma, j, cols), yr, j, n)
        }
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
            let xr = x + r * cols, gr = dy + r * cols, dr = dx + r * cols
            let inv = rstd[r]
            let meanGX = rowSum16(cols) { j in
                load16Padded(gr, j, cols) * load16Padded(gamma, j, cols) * (load16Padded(xr, j, cols) * inv)
            } / Float(cols)
            forLanes16(cols) { j, n in
                let g = load16Padded(gr, j, cols) * load16Padded(gamma, j, cols)
                let xhat = load16Padded(xr, j, cols) * inv
                let old = accumulateDx ? load16Padded(dr, j, cols) : Float16Lanes()
                store16Padded(old + inv * (g - xhat * meanGX), dr, j, n)
            }
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

/// Σ over a row of the 16-lane values `lanes(j)` (padding lanes must be 0).
@inlinable @inline(__always)
func rowSum16(_ cols: Int, _ lanes: (Int) -> Float16Lanes) -> Float {
    var acc = Float16Lanes()
    var j = 0
    while j < cols {
        var v = lanes(j)
        if j + 16 > cols { for l in (cols - j)..<16 { v[l] = 0 } }
        acc += v
        j += 16
    }
    return acc.sum()
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
