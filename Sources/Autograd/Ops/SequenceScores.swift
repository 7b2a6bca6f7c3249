import Foundation
import Kernels

// Scoring whole sequences, for preference losses (DPO): the summed
// log-probability of each sequence's scored tokens, and log σ.

/// Σ over each sequence's scored positions of log softmax(logits)[target]:
/// logits (S, T, V), targets S·T (`ignoreIndex` where a position is not
/// scored: prompt, padding) → (S). Fused with the log-softmax, like `crossEntropy`.
public func sequenceLogProbs(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
    let (sequences, length, cols, maxes, logSums, perRow) = scoredRows(logits, targets: targets, ignoreIndex: ignoreIndex, op: "sequenceLogProbs")
    let rows = sequences * length
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

/// The forward both ops share: shapes and targets checked, then each row's
/// log softmax at its target (0 where ignored), in Double, with the row maxima
/// and log-sums the backward pass reads.
private func scoredRows(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32, op: String)
    -> (sequences: Int, length: Int, cols: Int, maxes: Tensor, logSums: Tensor, perRow: [Double]) {
    require(logits.rank == 3, "\(op): logits must be (sequences, length, vocabulary), got \(describe(logits.shape))")
    let (sequences, length, cols) = (logits.shape[0], logits.shape[1], logits.shape[2])
    let rows = classRows(logits, targets: targets, ignoreIndex: ignoreIndex, op: op).rows
    let maxes = Tensor(uninitialized: [rows]), logSums = Tensor(uninitialized: [rows])
    var perRow = [Double](repeating: 0, count: max(rows, 1))  // never empty: its base address is passed
    targets.withUnsafeBufferPointer { tp in
        perRow.withUnsafeMutableBufferPointer { out in
            tokenLogProbsForward(logits.data, targets: tp.baseAddress!, rows: rows, cols: cols, ignoreIndex: ignoreIndex,
                                 rowMax: maxes.data, rowLogSum: logSums.data, out: out.baseAddress!)
        }
    }
    return (sequences, length, cols, maxes, logSums, perRow)
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

/// log softmax(logits)[target] at every position: logits (S, T, V), targets
/// S·T (`ignoreIndex` where a position is not scored) → (S, T), 0 where
/// ignored. What PPO and GRPO read per token; fused like `sequenceLogProbs`.
public func tokenLogProbs(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
    let (sequences, length, cols, maxes, logSums, perRow) = scoredRows(logits, targets: targets, ignoreIndex: ignoreIndex, op: "tokenLogProbs")
    let rows = sequences * length
    let out = Tensor(uninitialized: [sequences, length])
    for r in 0..<rows { out.data[r] = Float(perRow[r]) }
    return out.recordOp([logits]) { out in
        guard let dx = logits.gradientTarget else { return }
        targets.withUnsafeBufferPointer { tp in
            tokenLogProbsBackward(logits.data, targets: tp.baseAddress!, rowMax: maxes.data, rowLogSum: logSums.data,
                                  rowGradient: out.grad!.data, rows: rows, cols: cols, ignoreIndex: ignoreIndex, dlogits: dx)
        }
    }
}

/// The entropy −Σ p log p of softmax(logits) at every position: logits
/// (S, T, V) → (S, T). ∂H/∂x_j = −p_j·(log p_j + H).
public func tokenEntropies(_ logits: Tensor) -> Tensor {
    require(logits.rank == 3, "tokenEntropies: logits must be (sequences, length, vocabulary), got \(describe(logits.shape))")
    let (sequences, length, cols) = (logits.shape[0], logits.shape[1], logits.shape[2])
    let rows = sequences * length
    let out = Tensor(uninitialized: [sequences, length])
    let logSums = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))  // freed with the graph node
    forRows(rows, cols: cols) { r in
        let x = logits.data + r * cols
        let m = rowMax(x, cols)
        var sum = 0.0
        for j in 0..<cols { sum += exp(Double(x[j] - m)) }
        let logSum = Double(m) + log(sum)
        var h = 0.0
        for j in 0..<cols {
            let logP = Double(x[j]) - logSum
            h -= exp(logP) * logP
        }
        logSums[r] = logSum
        out.data[r] = Float(h)
    }
    let saved = LogSums(logSums)
    return out.recordOp([logits]) { out in
        guard let dx = logits.gradientTarget else { return }
        let logSums = saved.pointer
        forRows(rows, cols: cols) { r in
            let g = Double(out.grad!.data[r])
            if g == 0 { return }
            let x = logits.data + r * cols, d = dx + r * cols
            let logSum = logSums[r], h = Double(out.data[r])
            for j in 0..<cols {
                let logP = Double(x[j]) - logSum
                d[j] += Float(-g * exp(logP) * (logP + h))
            }
        }
    }
}

/// Each row's log Σ exp, kept for a backward pass and freed with it.
final class LogSums: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ pointer: UnsafeMutablePointer<Double>) { self.pointer = pointer }
    deinit { pointer.deallocate() }
}
