import Foundation

/// Row-wise softmax, log-softmax and the fused cross-entropy over logits.
/// Every row subtracts its maximum before exponentiating, so logits of ±1e4
/// give finite, exact results.

/// Rows are independent: split them across threads in fixed blocks.
@inlinable
public func forRows(_ rows: Int, cols: Int, _ body: (Int) -> Void) {
    let grain = max(1, elementwiseGrain / max(cols, 1))
    if rows <= grain {
        for r in 0..<rows { body(r) }
    } else {
        Parallel.forRanges(rows, grain: grain) { range in for r in range { body(r) } }
    }
}

@inlinable
public func rowMax(_ x: ConstFloatPointer, _ n: Int) -> Float {
    vectorMax(x, n)
}

/// out = softmax(x) over the last dimension.
public func softmaxForward(_ x: ConstFloatPointer, _ out: FloatPointer, rows: Int, cols: Int) {
    forRows(rows, cols: cols) { r in
        let xr = x + r * cols, yr = out + r * cols
        let m = rowMax(xr, cols)
        let inv = 1 / sumExpShifted(xr, cols, shift: m, storingTo: yr)
        forLanes16(cols) { j, n in store16Padded(load16Padded(yr, j, cols) * inv, yr, j, n) }
    }
}

/// dx += y ⊙ (dy − Σ dy⊙y), from the softmax output y.
public func softmaxBackward(_ y: ConstFloatPointer, _ dy: ConstFloatPointer, _ dx: FloatPointer, rows: Int, cols: Int) {
    forRows(rows, cols: cols) { r in
        let yr = y + r * cols, gr = dy + r * cols, dr = dx + r * cols
        let s = dot(gr, yr, cols)
        for j in 0..<cols { dr[j] += yr[j] * (gr[j] - s) }
    }
}

/// out = x − logsumexp(x) over the last dimension.
public func logSoftmaxForward(_ x: ConstFloatPointer, _ out: FloatPointer, rows: Int, cols: Int) {
    forRows(rows, cols: cols) { r in
        let xr = x + r * cols, yr = out + r * cols
        let lse = logSumExp(xr, cols)
        for j in 0..<cols { yr[j] = xr[j] - lse }
    }
}

/// dx += dy − softmax(x)·Σdy, from the log-softmax output y (softmax = e^y).
public func logSoftmaxBackward(_ y: ConstFloatPointer, _ dy: ConstFloatPointer, _ dx: FloatPointer, rows: Int, cols: Int) {
    forRows(rows, cols: cols) { r in
        let yr = y + r * cols, gr = dy + r * cols, dr = dx + r * cols
        var s: Float = 0
        for j in 0..<cols { s += gr[j] }
        accumulate16(yr, gr, dr, 0, cols) { y, g in g - vexp(y) * s }
    }
}

/// log Σ exp(x[j]), stable.
@inlinable
public func logSumExp(_ x: ConstFloatPointer, _ n: Int) -> Float {
    let m = rowMax(x, n)
    if m == -Float.infinity { return m }
    return m + logf(sumExpShifted(x, n, shift: m))
}

/// Cross-entropy of each row of logits against its target class. Rows whose
/// target equals `ignoreIndex` score 0 and are not counted. Saves each row's
/// max and log Σ exp(x − max) separately for the backward: at logits near
/// 1e4, their float32 sum would lose three decimal places. Returns
/// (Σ loss, counted rows).
public func crossEntropyForward(
    _ logits: ConstFloatPointer, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
    ignoreIndex: Int32, rowMax: FloatPointer, rowLogSum: FloatPointer
) -> (sum: Double, count: Int) {
    // −log p(target) per row; the row scores are tokenLogProbsForward's, negated (bit for bit the same sums).
    let rowLogProb = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))
    defer { rowLogProb.deallocate() }
    tokenLogProbsForward(logits, targets: targets, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                         rowMax: rowMax, rowLogSum: rowLogSum, out: rowLogProb)
    var sum = 0.0, count = 0
    for r in 0..<rows where targets[r] != ignoreIndex {  // in order: deterministic
        sum -= rowLogProb[r]
        count += 1
    }
    return (sum, count)
}

/// Σ over counted rows of −(1/C)·Σ_c log p_c: the cross-entropy against the
/// uniform distribution over the C classes, label smoothing's term. Reads the
/// row max and log-sum saved by `crossEntropyForward`:
/// −Σ_c log p_c = C·logSum + Σ_c (max − x_c), a sum of non-negative terms
/// (no cancellation at large logits).
public func uniformCrossEntropySum(
    _ logits: ConstFloatPointer, targets: UnsafePointer<Int32>, rows: Int, cols: Int, ignoreIndex: Int32,
    rowMax: ConstFloatPointer, rowLogSum: ConstFloatPointer
) -> Double {
    var sum = 0.0
    for r in 0..<rows where targets[r] != ignoreIndex {  // in order: deterministic
        let xr = logits + r * cols, m = rowMax[r]
        var below = Float16Lanes()
        var j = 0
        while j + 16 <= cols { below += Float16Lanes(repeating: m) - load16(xr + j); j += 16 }
        var gap = Double(horizontalSum(below))
        while j < cols { gap += Double(m - xr[j]); j += 1 }
        sum += Double(rowLogSum[r]) + gap / Double(cols)
    }
    return sum
}

/// dlogits += scale · (softmax(logits) − (1 − ε)·onehot(target) − ε/C) for
/// counted rows; ε = `labelSmoothing` (0: plain cross-entropy).
public func crossEntropyBackward(
    _ logits: ConstFloatPointer, targets: UnsafePointer<Int32>, rowMax: ConstFloatPointer, rowLogSum: ConstFloatPointer,
    rows: Int, cols: Int, ignoreIndex: Int32, scale: Float, labelSmoothing: Float = 0, dlogits: FloatPointer
) {
    let uniform = scale * labelSmoothing / Float(cols)
    forRows(rows, cols: cols) { r in
        let t = targets[r]
        if t == ignoreIndex { return }
        let xr = logits + r * cols, dr = dlogits + r * cols
        let m = rowMax[r], logSum = rowLogSum[r]
        if labelSmoothing == 0 {
            accumulate16(xr, xr, dr, 0, cols) { x, _ in scale * vexp((x - m) - logSum) }
        } else {
            accumulate16(xr, xr, dr, 0, cols) { x, _ in scale * vexp((x - m) - logSum) - uniform }
        }
        dr[Int(t)] -= scale * (1 - labelSmoothing)
    }
}
