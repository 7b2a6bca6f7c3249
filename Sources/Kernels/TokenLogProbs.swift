import Foundation

/// log p(target) of each row of logits, for scoring sequences (DPO's
/// sequence log-probabilities). Rows whose target is `ignoreIndex` get 0.
/// Keeps each row's max and log Σ exp(x − max) for the backward, as the
/// cross-entropy does, so logits near ±1e4 stay exact.
public func tokenLogProbsForward(
    _ logits: ConstFloatPointer, targets: UnsafePointer<Int32>, rows: Int, cols: Int, ignoreIndex: Int32,
    rowMax: FloatPointer, rowLogSum: FloatPointer, out: UnsafeMutablePointer<Double>
) {
    forRows(rows, cols: cols) { r in
        let xr = logits + r * cols
        let m = Kernels.rowMax(xr, cols)
        let logSum = logf(sumExpShifted(xr, cols, shift: m))
        rowMax[r] = m
        rowLogSum[r] = logSum
        let t = targets[r]
        out[r] = t == ignoreIndex ? 0 : Double(xr[Int(t)] - m) - Double(logSum)
    }
}

/// dlogits[r] += g[r] · (onehot(target) − softmax(logits[r])) for counted rows.
public func tokenLogProbsBackward(
    _ logits: ConstFloatPointer, targets: UnsafePointer<Int32>, rowMax: ConstFloatPointer, rowLogSum: ConstFloatPointer,
    rowGradient: ConstFloatPointer, rows: Int, cols: Int, ignoreIndex: Int32, dlogits: FloatPointer
) {
    forRows(rows, cols: cols) { r in
        let t = targets[r]
        let g = rowGradient[r]
        if t == ignoreIndex || g == 0 { return }
        let xr = logits + r * cols, dr = dlogits + r * cols
        let m = rowMax[r], logSum = rowLogSum[r]
        accumulate16(xr, xr, dr, 0, cols) { x, _ in -g * vexp((x - m) - logSum) }
        dr[Int(t)] += g
    }
}

/// log σ(x) = min(x, 0) − log(1 + e^(−|x|)): finite for any finite x.
@inlinable
public func logSigmoid(_ x: Float) -> Float { Swift.min(x, 0) - log1pf(expf(-abs(x))) }

