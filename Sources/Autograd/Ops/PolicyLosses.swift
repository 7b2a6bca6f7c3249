import Foundation
import Kernels

// The losses of learning from sampled completions (PPO, GRPO). Each reads
// the policy's per-token log-probabilities (S, T) from `tokenLogProbs` and
// constants laid out the same way, S·T long: the log-probabilities when the
// completions were sampled (`old`), advantages, and `mask`, true at the
// completion tokens the loss counts. Sums run in Double, in order.

/// The ratio clip of PPO and GRPO: ρ = exp(logp − logp_old) kept within [1 − ε, 1 + ε].
@inlinable
public func clippedRatio(_ ratio: Double, epsilon: Double) -> Double { min(max(ratio, 1 - epsilon), 1 + epsilon) }

/// The k3 estimate of KL(π ‖ π_ref) from one token sampled from π
/// (Schulman, "Approximating KL divergence"): with r = log π_ref − log π,
/// k3 = e^r − r − 1, never negative, 0 when π = π_ref.
@inlinable
public func klK3(logProb: Double, reference: Double) -> Double {
    let r = reference - logProb
    return exp(r) - r - 1
}

/// ∂k3/∂logp = 1 − e^(ref − logp).
@inlinable
func klK3Derivative(logProb: Double, reference: Double) -> Double { 1 - exp(reference - logProb) }

private func checkLayout(_ op: String, _ logProbs: Tensor, _ arrays: [(String, Int)], mask: [Bool]) {
    require(logProbs.rank == 2, "\(op): log-probabilities must be (sequences, length), got \(describe(logProbs.shape))")
    require(mask.count == logProbs.count, "\(op): \(mask.count) mask entries for \(describe(logProbs.shape))")
    for (name, count) in arrays { require(count == logProbs.count, "\(op): \(count) \(name) for \(describe(logProbs.shape))") }
}

/// `scale` · the mean over masked positions of a per-position loss: `perPosition(i)` gives the
/// loss at a masked i and its derivative with respect to `input[i]`. The graph names the op after the caller.
private func maskedMean(_ input: Tensor, mask: [Bool], scale: Double, op: StaticString = #function,
                        _ perPosition: (Int) -> (loss: Double, slope: Double)) -> Tensor {
    let count = mask.filter { $0 }.count
    var total = 0.0
    var slope = [Double](repeating: 0, count: input.count)
    for i in 0..<input.count where mask[i] {
        let (loss, d) = perPosition(i)
        total += loss
        slope[i] = d
    }
    let n = Double(max(count, 1))
    let out = Tensor(scalar: Float(scale * total / n))
    return out.recordOp([input], op: op) { out in
        guard let d = input.gradientTarget else { return }
        let g = scale * Double(out.grad!.data[0]) / n
        for i in 0..<input.count where mask[i] { d[i] += Float(g * slope[i]) }
    }
}

/// PPO's clipped surrogate objective (Schulman et al. 2017, eq. 7) as a loss
/// to minimise: the mean over masked tokens of max(−A·ρ, −A·clip(ρ)),
/// ρ = exp(logp − logp_old). Where the clipped term is the larger the
/// gradient is 0; elsewhere ∂/∂logp = −A·ρ.
public func clippedSurrogateLoss(_ logProbs: Tensor, old: [Float], advantages: [Float], mask: [Bool], epsilon: Float) -> Tensor {
    checkLayout("clippedSurrogateLoss", logProbs, [("old log-probabilities", old.count), ("advantages", advantages.count)], mask: mask)
    let eps = Double(epsilon)
    return maskedMean(logProbs, mask: mask, scale: 1) { i in
        let ratio = exp(Double(logProbs.data[i]) - Double(old[i])), a = Double(advantages[i])
        let unclipped = -a * ratio, clipped = -a * clippedRatio(ratio, epsilon: eps)
        return (max(unclipped, clipped), unclipped >= clipped ? -a * ratio : 0)
    }
}

/// PPO's clipped value loss: ½ · the mean over masked positions of
/// max((v − R)², (clip(v, v_old − ε, v_old + ε) − R)²), R the returns.
public func clippedValueLoss(_ values: Tensor, old: [Float], returns: [Float], mask: [Bool], epsilon: Float) -> Tensor {
    checkLayout("clippedValueLoss", values, [("old values", old.count), ("returns", returns.count)], mask: mask)
    let eps = Double(epsilon)
    return maskedMean(values, mask: mask, scale: 0.5) { i in
        let v = Double(values.data[i]), o = Double(old[i]), r = Double(returns[i])
        let inside = min(max(v, o - eps), o + eps)
        let unclipped = (v - r) * (v - r), clipped = (inside - r) * (inside - r)
        // The clipped term moves with v only inside the clip range, where it equals the unclipped one.
        return (max(unclipped, clipped), unclipped >= clipped || inside == v ? 2 * (v - r) : 0)
    }
}

/// The k3 estimate per token (see `klK3(logProb:reference:)`), 0 where the mask is false: (S, T).
public func klK3(_ logProbs: Tensor, reference: [Float], mask: [Bool]) -> Tensor {
    checkLayout("klK3", logProbs, [("reference log-probabilities", reference.count)], mask: mask)
    let out = Tensor(zeros: logProbs.shape)
    for i in 0..<logProbs.count where mask[i] { out.data[i] = Float(klK3(logProb: Double(logProbs.data[i]), reference: Double(reference[i]))) }
    return out.recordOp([logProbs]) { out in
        guard let d = logProbs.gradientTarget else { return }
        for i in 0..<logProbs.count where mask[i] {
            d[i] += out.grad!.data[i] * Float(klK3Derivative(logProb: Double(logProbs.data[i]), reference: Double(reference[i])))
        }
    }
}

/// GRPO's loss (DeepSeekMath, eq. 3, outcome supervision): per token
///     ℓ = −min(ρ·A, clip(ρ)·A) + β·k3(π ‖ π_ref)
/// with A the completion's advantage on each of its tokens; averaged over each
/// completion's masked tokens and then over completions (`perSequence`, the
/// paper's), or over all masked tokens of the batch at once (TRL's "dapo").
public func grpoLoss(_ logProbs: Tensor, old: [Float], reference: [Float], advantages: [Float], mask: [Bool],
                     epsilon: Float, beta: Float, perSequence: Bool) -> Tensor {
    checkLayout("grpoLoss", logProbs, [("old log-probabilities", old.count), ("reference log-probabilities", reference.count),
                                       ("advantages", advantages.count)], mask: mask)
    let (sequences, length) = (logProbs.shape[0], logProbs.shape[1])
    let eps = Double(epsilon), b = Double(beta)
    // Each token's weight in the mean: 1/(its completion's tokens · completions), or 1/(all tokens).
    var weight = [Double](repeating: 0, count: logProbs.count)
    let allTokens = mask.filter { $0 }.count
    let counted = (0..<sequences).filter { s in (0..<length).contains { mask[s * length + $0] } }.count
    for s in 0..<sequences {
        let tokens = (0..<length).filter { mask[s * length + $0] }.count
        for t in 0..<length where mask[s * length + t] {
            weight[s * length + t] = perSequence ? 1 / (Double(tokens) * Double(max(counted, 1))) : 1 / Double(max(allTokens, 1))
        }
    }
    var total = 0.0
    var slope = [Double](repeating: 0, count: logProbs.count)
    for i in 0..<logProbs.count where mask[i] {
        let logp = Double(logProbs.data[i]), ratio = exp(logp - Double(old[i])), a = Double(advantages[i])
        let unclipped = ratio * a, clipped = clippedRatio(ratio, epsilon: eps) * a
        var loss = -min(unclipped, clipped)
        var d = unclipped <= clipped ? -a * ratio : 0
        if b != 0 {
            loss += b * klK3(logProb: logp, reference: Double(reference[i]))
            d += b * klK3Derivative(logProb: logp, reference: Double(reference[i]))
        }
        total += weight[i] * loss
        slope[i] = weight[i] * d
    }
    let out = Tensor(scalar: Float(total))
    return out.recordOp([logProbs]) { out in
        guard let d = logProbs.gradientTarget else { return }
        let g = Double(out.grad!.data[0])
        for i in 0..<logProbs.count where mask[i] { d[i] += Float(g * slope[i]) }
    }
}
