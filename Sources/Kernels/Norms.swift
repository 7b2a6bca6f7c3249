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
        var s: Float = 0
        for j in 0..<cols { s += xr[j] }
        let mu = s / Float(cols)
        var v: Float = 0
        for j in 0..<cols { let d = xr[j] - mu; v += d * d }
        let inv = 1 / (v / Float(cols) + eps).squareRoot()
        mean[r] = mu
        rstd[r] = inv
        for j in 0..<cols {
            yr[j] = (xr[j] - mu) * inv * gamma[j] + (beta?[j] ?? 0)
        }
    }
}

/// dx += 1/σ · (ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)), with ĝ = dy⊙γ; dγ += Σ dy⊙x̂; dβ += Σ dy.
public func layerNormBackward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, mean: ConstFloatPointer, rstd: ConstFloatPointer,
    _ dy: ConstFloatPointer, dx: FloatPointer?, dgamma: FloatPointer?, dbeta: FloatPointer?,
    rows: Int, cols: Int
) {
    if let dx {
        forRows(rows, cols: cols) { r in
            let xr = x + r * cols, gr = dy + r * cols, dr = dx + r * cols
            let mu = mean[r], inv = rstd[r]
            var sumG: Float = 0, sumGX: Float = 0
            for j in 0..<cols {
                let g = gr[j] * gamma[j]
                sumG += g
                sumGX += g * (xr[j] - mu) * inv
            }
            let meanG = sumG / Float(cols), meanGX = sumGX / Float(cols)
            for j in 0..<cols {
                let xhat = (xr[j] - mu) * inv
                dr[j] += inv * (gr[j] * gamma[j] - meanG - xhat * meanGX)
            }
        }
    }
    if dgamma != nil || dbeta != nil {
        forColumnBlocks(rows: rows, cols: cols) { lo, hi in
            for r in 0..<rows {
                let xr = x + r * cols, gr = dy + r * cols
                let mu = mean[r], inv = rstd[r]
                for j in lo..<hi {
                    dgamma?[j] += gr[j] * (xr[j] - mu) * inv
                    dbeta?[j] += gr[j]
                }
            }
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
        let ms = dot(xr, xr, cols) / Float(cols)
        let inv = 1 / (ms + eps).squareRoot()
        rstd[r] = inv
        for j in 0..<cols { yr[j] = xr[j] * inv * gamma[j] }
    }
}

/// dx += 1/rms · (ĝ − x̂·mean(ĝ⊙x̂)), with ĝ = dy⊙γ, x̂ = x/rms; dγ += Σ dy⊙x̂.
public func rmsNormBackward(
    _ x: ConstFloatPointer, gamma: ConstFloatPointer, rstd: ConstFloatPointer,
    _ dy: ConstFloatPointer, dx: FloatPointer?, dgamma: FloatPointer?, rows: Int, cols: Int
) {
    if let dx {
        forRows(rows, cols: cols) { r in
            let xr = x + r * cols, gr = dy + r * cols, dr = dx + r * cols
            let inv = rstd[r]
            var sumGX: Float = 0
            for j in 0..<cols { sumGX += gr[j] * gamma[j] * xr[j] * inv }
            let meanGX = sumGX / Float(cols)
            for j in 0..<cols { dr[j] += inv * (gr[j] * gamma[j] - xr[j] * inv * meanGX) }
        }
    }
    if let dgamma {
        forColumnBlocks(rows: rows, cols: cols) { lo, hi in
            for r in 0..<rows {
                let xr = x + r * cols, gr = dy + r * cols, inv = rstd[r]
                for j in lo..<hi { dgamma[j] += gr[j] * xr[j] * inv }
            }
        }
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
