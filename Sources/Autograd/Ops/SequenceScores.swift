import Kernels

// Scoring whole sequences, for preference losses (DPO): the summed
// log-probability of each sequence's scored tokens, and log σ.

/// Σ over each sequence's scored positions of log softmax(logits)[target]:
/// logits (S, T, V), targets S·T (`ignoreIndex` where a position is not
/// scored: prompt, padding) → (S). Fused with the log-softmax, like `crossEntropy`.
public func sequenceLogProbs(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
    require(logits.rank == 3, "sequenceLogProbs: logits must be (sequences, length, vocabulary), got \(describe(logits.shape))")
    let (sequences, length, cols) = (logits.shape[0], logits.shape[1], logits.shape[2])
    let rows = sequences * length
    require(targets.count == rows, "sequenceLogProbs: \(targets.count) targets for \(rows) rows of logits \(describe(logits.shape))")
    for t in targets where t != ignoreIndex {
        require(t >= 0 && Int(t) < cols, "sequenceLogProbs: target \(t) out of range 0..<\(cols)")
    }
    let maxes = Tensor(uninitialized: [rows]), logSums = Tensor(uninitialized: [rows])
    let perRow = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))
    defer { perRow.deallocate() }
    targets.withUnsafeBufferPointer { tp in
        tokenLogProbsForward(logits.data, targets: tp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                             rowMax: maxes.data, rowLogSum: logSums.data, out: perRow)
    }
    let out = Tensor(uninitialized: [sequences])
    for s in 0..<sequences {  // in order, in Double: deterministic
        var total = 0.0
        for t in 0..<length { total += perRow[s * length + t] }
        out.data[s] = Float(total)
    }
    return out.recordOp([logits]) { out in
        guard let dx = logits.gradientTarget else { return }
        let g = out.grad!
        var rowGradient = [Float](repeating: 0, count: rows)
        for r in 0..<rows { rowGradient[r] = g.data[r / max(length, 1)] }
        targets.withUnsafeBufferPointer { tp in
            rowGradient.withUnsafeBufferPointer { gp in
                tokenLogProbsBackward(logits.data, targets: tp.baseAddress!, rowMax: maxes.data, rowLogSum: logSums.data,
                                      rowGradient: gp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex, dlogits: dx)
            }
        }
    }
}

/// log σ(x) elementwise, stable for any finite x (no exp overflow, no log 0).
public func logSigmoid(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { out.data[i] = Kernels.logSigmoid(x.data[i]) }
    return out.recordOp([x]) { out in
        // d/dx log σ(x) = σ(−x)
        if let d = x.gradientTarget { for i in 0..<x.count { d[i] += out.grad!.data[i] * Activation.sigmoid.value(-x.data[i]) } }
    }
}
