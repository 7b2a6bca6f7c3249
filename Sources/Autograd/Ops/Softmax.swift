import Kernels

// Softmax family over the last dimension, numerically stable (max-subtracted).

public func softmax(_ x: Tensor) -> Tensor {
    require(x.rank >= 1, "softmax: needs at least one dimension")
    let cols = x.shape.last!, rows = cols == 0 ? 0 : x.count / cols
    let out = Tensor(uninitialized: x.shape)
    softmaxForward(x.data, out.data, rows: rows, cols: cols)
    return out.recordOp([x]) { out in
        if let dx = x.gradientTarget { softmaxBackward(out.data, out.grad!.data, dx, rows: rows, cols: cols) }
    }
}

public func logSoftmax(_ x: Tensor) -> Tensor {
    require(x.rank >= 1, "logSoftmax: needs at least one dimension")
    let cols = x.shape.last!, rows = cols == 0 ? 0 : x.count / cols
    let out = Tensor(uninitialized: x.shape)
    logSoftmaxForward(x.data, out.data, rows: rows, cols: cols)
    return out.recordOp([x]) { out in
        if let dx = x.gradientTarget { logSoftmaxBackward(out.data, out.grad!.data, dx, rows: rows, cols: cols) }
    }
}

/// Mean cross-entropy of logits (…, V) against integer targets (one per row),
/// fused with log-softmax. Targets equal to `ignoreIndex` are skipped and not
/// counted in the mean. If every target is ignored the loss is 0 (not NaN).
///
/// With label smoothing ε (in [0, 1)), each target is the mixture
/// (1 − ε)·onehot + ε·uniform, as PyTorch's `CrossEntropyLoss(label_smoothing=ε)`:
/// (1 − ε)·mean(−log p_target) + ε·mean(−(1/V)·Σ_c log p_c), both means over counted rows.
public func crossEntropy(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100, labelSmoothing: Float = 0) -> Tensor {
    require(labelSmoothing >= 0 && labelSmoothing < 1, "crossEntropy: label smoothing \(labelSmoothing) outside [0, 1)")
    let (rows, cols) = classRows(logits, targets: targets, ignoreIndex: ignoreIndex, op: "crossEntropy")
    let maxes = Tensor(uninitialized: [rows]), logSums = Tensor(uninitialized: [rows])
    var (total, counted) = targets.withUnsafeBufferPointer { tp in
        crossEntropyForward(logits.data, targets: tp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                            rowMax: maxes.data, rowLogSum: logSums.data)
    }
    if labelSmoothing > 0 {
        let uniform = targets.withUnsafeBufferPointer { tp in
            uniformCrossEntropySum(logits.data, targets: tp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                                   rowMax: maxes.data, rowLogSum: logSums.data)
        }
        total = (1 - Double(labelSmoothing)) * total + Double(labelSmoothing) * uniform
    }
    let out = Tensor(scalar: counted == 0 ? 0 : Float(total / Double(counted)))
    return out.recordOp([logits]) { out in
        guard counted > 0, let dx = logits.gradientTarget else { return }
        let scale = out.grad!.data[0] / Float(counted)
        targets.withUnsafeBufferPointer { tp in
            crossEntropyBackward(logits.data, targets: tp.baseAddress!, rowMax: maxes.data, rowLogSum: logSums.data, rows: rows, cols: cols,
                                 ignoreIndex: ignoreIndex, scale: scale, labelSmoothing: labelSmoothing, dlogits: dx)
        }
    }
}

/// Rows and classes of `logits` (the last dimension the classes), with one
/// target per row, each a class or `ignoreIndex`: the checks every loss over
/// class targets makes, `op` naming the caller in the message.
func classRows(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32, op: String) -> (rows: Int, cols: Int) {
    require(logits.rank >= 1, "\(op): logits need a class dimension")
    let cols = logits.shape.last!, rows = cols == 0 ? 0 : logits.count / cols
    require(targets.count == rows, "\(op): \(targets.count) targets for \(rows) rows of logits \(describe(logits.shape))")
    for t in targets where t != ignoreIndex {
        require(t >= 0 && Int(t) < cols, "\(op): target \(t) out of range 0..<\(cols)")
    }
    return (rows, cols)
}
