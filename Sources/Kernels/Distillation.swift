import Foundation

/// Knowledge distillation's soft term (Hinton et al. 2015): per row,
/// KL(p ‖ q) = Σ_j p_j·(log p_j − log q_j) with p = softmax(teacher / T) and
/// q = softmax(student / T). Both sides are log-softmaxed with their row
/// maximum subtracted first, so logits of ±1e4 stay finite; no probability
/// row is stored. The readable twin is `referenceDistillationLoss` (Autograd).

/// Each counted row's KL(p ‖ q) at temperature T into `rowKL` (0 for rows
/// whose target is `ignoreIndex`). Saves both sides' scaled row max and
/// log Σ exp(x/T − max) for the backward. Returns (Σ KL, counted rows),
/// summed in row order.
public func softenedKLForward(
    student: ConstFloatPointer, teacher: ConstFloatPointer, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
    ignoreIndex: Int32, temperature: Float,
    studentMax: FloatPointer, studentLogSum: FloatPointer, teacherMax: FloatPointer, teacherLogSum: FloatPointer
) -> (sum: Double, count: Int) {
    let inverse = 1 / temperature
    let rowKL = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))
    defer { rowKL.deallocate() }
    forRows(rows, cols: cols) { r in
        rowKL[r] = 0
        if targets[r] == ignoreIndex { return }
        let sr = student + r * cols, tr = teacher + r * cols
        // max(x/T) = max(x)/T for T > 0.
        let ms = vectorMax(sr, cols) * inverse, mt = vectorMax(tr, cols) * inverse
        let ls = logf(scaledSumExp(sr, cols, scale: inverse, shift: ms))
        let lt = logf(scaledSumExp(tr, cols, scale: inverse, shift: mt))
        studentMax[r] = ms; studentLogSum[r] = ls; teacherMax[r] = mt; teacherLogSum[r] = lt
        // log p and log q each computed from their own shifted logits, then
        // differenced: at large logits their sum would round away the difference.
        var acc = Float16Lanes()
        forLanes16(cols) { j, n in
            let logP = (load16Padded(tr, j, cols) * inverse - mt) - lt
            let logQ = (load16Padded(sr, j, cols) * inverse - ms) - ls
            var term = vexp(logP) * (logP - logQ)
            if n < 16 { for l in n..<16 { term[l] = 0 } }
            acc += term
        }
        rowKL[r] = Double(horizontalSum(acc))
    }
    var sum = 0.0, count = 0
    for r in 0..<rows where targets[r] != ignoreIndex {  // in order: deterministic
        sum += rowKL[r]
        count += 1
    }
    return (sum, count)
}

/// dstudent += scale · T · (q − p) for counted rows: the gradient of
/// scale · T²·KL(p ‖ q) with respect to the student's logits, from the
/// row statistics `softenedKLForward` saved.
public func softenedKLBackward(
    student: ConstFloatPointer, teacher: ConstFloatPointer, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
    ignoreIndex: Int32, temperature: Float,
    studentMax: ConstFloatPointer, studentLogSum: ConstFloatPointer, teacherMax: ConstFloatPointer, teacherLogSum: ConstFloatPointer,
    scale: Float, dstudent: FloatPointer
) {
    let inverse = 1 / temperature, factor = scale * temperature
    forRows(rows, cols: cols) { r in
        if targets[r] == ignoreIndex { return }
        let sr = student + r * cols, tr = teacher + r * cols, dr = dstudent + r * cols
        let ms = studentMax[r], ls = studentLogSum[r], mt = teacherMax[r], lt = teacherLogSum[r]
        forLanes16(cols) { j, n in
            let q = vexp((load16Padded(sr, j, cols) * inverse - ms) - ls)
            let p = vexp((load16Padded(tr, j, cols) * inverse - mt) - lt)
            store16Padded(load16Padded(dr, j, cols) + factor * (q - p), dr, j, n)
        }
    }
}

/// Σ_j exp(x_j·scale − shift), over n values.
@inlinable
func scaledSumExp(_ x: ConstFloatPointer, _ n: Int, scale: Float, shift: Float) -> Float {
    var acc = Float16Lanes()
    forLanes16(n) { j, m in
        var e = vexp(load16Padded(x, j, n) * scale - shift)
        if m < 16 { for l in m..<16 { e[l] = 0 } }
        acc += e
    }
    return horizontalSum(acc)
}
