import Foundation
import Kernels

/// Knowledge distillation's loss (Hinton et al. 2015), fused:
///
///     loss = α·T²·KL(p_T ‖ q_T) + (1 − α)·CE(student, targets)
///
/// p_T = softmax(teacher / T), q_T = softmax(student / T), both over the last
/// dimension (…, V); KL(p ‖ q) = Σ p·(log p − log q). Both terms are means over
/// the rows whose target is not `ignoreIndex` (the tokens the cross-entropy
/// counts); with none counted the loss is 0. T² keeps the soft term's gradient,
/// T·(q_T − p_T), on the scale of the hard one as T grows (the paper's
/// remark). The teacher's logits are constants: no gradient flows to them.
/// Returns the loss and its two parts, each a mean over counted rows: the
/// cross-entropy and KL(p_T ‖ q_T) (without T²).
public func distillationLoss(_ logits: Tensor, teacher: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                             temperature: Float, alpha: Float) -> (loss: Tensor, crossEntropy: Double, kl: Double) {
    require(temperature > 0 && temperature.isFinite, "distillationLoss: temperature \(temperature) must be a finite number > 0")
    require(alpha >= 0 && alpha <= 1, "distillationLoss: alpha \(alpha) outside [0, 1]")
    require(teacher.shape == logits.shape, "distillationLoss: teacher logits \(describe(teacher.shape)) for student logits \(describe(logits.shape))")
    let (rows, cols) = classRows(logits, targets: targets, ignoreIndex: ignoreIndex, op: "distillationLoss")
    let maxes = Tensor(uninitialized: [rows]), logSums = Tensor(uninitialized: [rows])
    let (ceSum, counted) = targets.withUnsafeBufferPointer { tp in
        crossEntropyForward(logits.data, targets: tp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                            rowMax: maxes.data, rowLogSum: logSums.data)
    }
    let soft = Tensor(zeros: [4, rows])  // student max, student log-sum, teacher max, teacher log-sum (at T)
    let (klSum, _) = targets.withUnsafeBufferPointer { tp in
        softenedKLForward(student: logits.data, teacher: teacher.data, targets: tp.baseAddress!, rows: rows, cols: cols,
                          ignoreIndex: ignoreIndex, temperature: temperature,
                          studentMax: soft.data, studentLogSum: soft.data + rows, teacherMax: soft.data + 2 * rows, teacherLogSum: soft.data + 3 * rows)
    }
    let n = Double(max(counted, 1))
    let (ce, kl) = (ceSum / n, klSum / n)
    let a = Double(alpha), t2 = Double(temperature) * Double(temperature)
    let out = Tensor(scalar: counted == 0 ? 0 : Float(a * t2 * kl + (1 - a) * ce))
    let result = out.recordOp([logits]) { out in
        guard counted > 0, let dx = logits.gradientTarget else { return }
        let g = out.grad!.data[0] / Float(counted)
        targets.withUnsafeBufferPointer { tp in
            if alpha < 1 {
                crossEntropyBackward(logits.data, targets: tp.baseAddress!, rowMax: maxes.data, rowLogSum: logSums.data, rows: rows, cols: cols,
                                     ignoreIndex: ignoreIndex, scale: g * (1 - alpha), dlogits: dx)
            }
            if alpha > 0 {
                softenedKLBackward(student: logits.data, teacher: teacher.data, targets: tp.baseAddress!, rows: rows, cols: cols,
                                   ignoreIndex: ignoreIndex, temperature: temperature,
                                   studentMax: soft.data, studentLogSum: soft.data + rows, teacherMax: soft.data + 2 * rows,
                                   teacherLogSum: soft.data + 3 * rows, scale: g * alpha, dstudent: dx)
            }
        }
    }
    return (result, counted == 0 ? 0 : ce, counted == 0 ? 0 : kl)
}

/// The distillation loss as the formula reads, composed of ops with their
/// own backward (log-softmax, products, sums): the readable twin of the fused
/// `distillationLoss`, which the tests hold it against.
public func referenceDistillationLoss(_ logits: Tensor, teacher: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                                      temperature: Float, alpha: Float) -> Tensor {
    let cols = logits.shape.last!, rows = logits.count / cols
    let counted = targets.filter { $0 != ignoreIndex }.count
    guard counted > 0 else { return scale(sum(logits), 0) }
    let flat = logits.reshaped([rows, cols])
    let logP = Autograd.noGrad { logSoftmax(scale(teacher.reshaped([rows, cols]), 1 / temperature)) }   // (N, V), constant
    let p = Tensor(logP.toArray().map { expf($0) }, shape: [rows, cols])
    let logQ = logSoftmax(scale(flat, 1 / temperature))                                              // (N, V)
    // 1/N on counted rows, 0 on ignored ones: the mean over the tokens the cross-entropy counts.
    var weights = [Float](repeating: 0, count: rows * cols)
    for r in 0..<rows where targets[r] != ignoreIndex { for j in 0..<cols { weights[r * cols + j] = 1 / Float(counted) } }
    let kl = sum(mul(mul(p, logP - logQ), Tensor(weights, shape: [rows, cols])))
    let ce = crossEntropy(flat, targets: targets, ignoreIndex: ignoreIndex)
    return scale(kl, alpha * temperature * temperature) + scale(ce, 1 - alpha)
}
