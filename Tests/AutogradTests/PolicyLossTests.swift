import XCTest
import Foundation
import Kernels
import Autograd

/// The ops behind PPO and GRPO: per-token log-probabilities and entropies,
/// the clipped surrogate and value losses, the k3 KL estimate and GRPO's
/// loss, each against its formula in Double and finite differences. Log-ratios
/// are placed inside the clip range or well outside it, away from its edges,
/// where the losses have kinks.
final class PolicyLossTests: XCTestCase {
    func logSoftmaxInDouble(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let s = row.map { exp(Double($0) - m) }.reduce(0, +)
        return row.map { Double($0) - m - log(s) }
    }

    func testTokenLogProbsAndGradient() {
        let logits = randomTensor([2, 3, 19], seed: 41, scale: 2)
        let targets: [Int32] = [5, -100, 18,   0, 7, -100]
        let out = tokenLogProbs(logits, targets: targets).toArray()
        let rows = logits.toArray()
        for (r, t) in targets.enumerated() {
            let expected = t == -100 ? 0 : logSoftmaxInDouble(Array(rows[(r * 19)..<(r * 19 + 19)]))[Int(t)]
            XCTAssertEqual(Double(out[r]), expected, accuracy: 1e-5)
        }
        assertGradients("tokenLogProbs", [logits]) { tokenLogProbs(logits, targets: targets) }
    }

    func testTokenEntropiesAndGradient() {
        let logits = randomTensor([2, 2, 17], seed: 42, scale: 1.5)
        let rows = logits.toArray()
        let out = tokenEntropies(logits).toArray()
        for r in 0..<4 {
            let logP = logSoftmaxInDouble(Array(rows[(r * 17)..<(r * 17 + 17)]))
            XCTAssertEqual(Double(out[r]), -logP.map { exp($0) * $0 }.reduce(0, +), accuracy: 1e-5)
        }
        assertGradients("tokenEntropies", [logits]) { tokenEntropies(logits) }
        let uniform = tokenEntropies(Tensor(zeros: [1, 1, 8])).toArray()[0]
        XCTAssertEqual(Double(uniform), log(8), accuracy: 1e-6, "a uniform distribution has entropy log V")
    }

    // Log-ratios: inside [log 0.8, log 1.2] = [−0.223, 0.182], or well outside it.
    let old: [Float] = [-1.0, -2.0, -0.5, -3.0, -1.5, -0.7, -2.2, -1.1]
    let shifts: [Float] = [0.05, -0.5, 0.6, -0.1, 0.0, 0.4, -0.45, 0.12]
    let advantages: [Float] = [1.0, 1.5, -0.8, -1.2, 0.3, 2.0, -0.6, -0.2]
    let mask: [Bool] = [true, true, true, true, true, true, false, true]

    func policy() -> Tensor { Tensor(zip(old, shifts).map { $0 + $1 }, shape: [2, 4]) }

    func testClippedSurrogateMatchesTheFormulaAndItsGradient() {
        let logProbs = policy()
        let loss = clippedSurrogateLoss(logProbs, old: old, advantages: advantages, mask: mask, epsilon: 0.2)
        var expected = 0.0, n = 0.0
        for i in 0..<8 where mask[i] {
            let ratio = exp(Double(shifts[i])), a = Double(advantages[i])
            expected += max(-a * ratio, -a * min(max(ratio, 0.8), 1.2)); n += 1
        }
        XCTAssertEqual(Double(loss.item), expected / n, accuracy: 1e-6)
        assertGradients("clippedSurrogateLoss", [logProbs]) {
            clippedSurrogateLoss(logProbs, old: old, advantages: advantages, mask: mask, epsilon: 0.2)
        }
        // At the sampling policy the ratio is 1: the loss is −mean(A), its gradient −A/n.
        let same = Tensor(old, shape: [2, 4], requiresGrad: true)
        let start = clippedSurrogateLoss(same, old: old, advantages: advantages, mask: mask, epsilon: 0.2)
        let counted = advantages.indices.filter { mask[$0] }
        XCTAssertEqual(Double(start.item), -counted.map { Double(advantages[$0]) }.reduce(0, +) / Double(counted.count), accuracy: 1e-6)
        start.backward()
        for i in 0..<8 { XCTAssertEqual(same.grad!.toArray()[i], mask[i] ? -advantages[i] / Float(counted.count) : 0, accuracy: 1e-7) }
    }

    func testClippedValueLossMatchesTheFormulaAndItsGradient() {
        let oldValues: [Float] = [0.5, -0.3, 1.0, 0.0, 0.2, -1.0, 0.4, 0.9]
        let moves: [Float] = [0.05, 0.5, -0.6, 0.1, -0.05, 0.35, 0.0, -0.4]
        let returns: [Float] = [1.0, -1.0, 0.0, 0.5, 0.1, 0.0, 2.0, 2.0]
        let values = Tensor(zip(oldValues, moves).map { $0 + $1 }, shape: [2, 4])
        let loss = clippedValueLoss(values, old: oldValues, returns: returns, mask: mask, epsilon: 0.2)
        var expected = 0.0, n = 0.0
        for i in 0..<8 where mask[i] {
            let v = Double(values.toArray()[i]), o = Double(oldValues[i]), r = Double(returns[i])
            let clipped = min(max(v, o - 0.2), o + 0.2)
            expected += max((v - r) * (v - r), (clipped - r) * (clipped - r)); n += 1
        }
        XCTAssertEqual(Double(loss.item), 0.5 * expected / n, accuracy: 1e-6)
        assertGradients("clippedValueLoss", [values]) {
            clippedValueLoss(values, old: oldValues, returns: returns, mask: mask, epsilon: 0.2)
        }
    }

    func testKLK3IsZeroAtTheReferenceAndMatchesItsGradient() {
        let logProbs = policy()
        let reference = old
        let k3 = klK3(logProbs, reference: reference, mask: mask).toArray()
        for i in 0..<8 {
            let r = Double(reference[i]) - Double(logProbs.toArray()[i])
            XCTAssertEqual(Double(k3[i]), mask[i] ? exp(r) - r - 1 : 0, accuracy: 1e-6)
            XCTAssertGreaterThanOrEqual(k3[i], 0, "k3 is never negative")
        }
        XCTAssertEqual(klK3(Tensor(old, shape: [2, 4]), reference: old, mask: mask).toArray(), [Float](repeating: 0, count: 8))
        assertGradients("klK3", [logProbs]) { klK3(logProbs, reference: reference, mask: mask) }
    }

    func testGRPOLossAveragesAsThePaperOrAsDAPO() {
        let logProbs = policy()
        let reference: [Float] = old.map { $0 - 0.3 }
        for perSequence in [true, false] {
            for beta: Float in [0, 0.04, 0.5] {
                let loss = grpoLoss(logProbs, old: old, reference: reference, advantages: advantages, mask: mask,
                                    epsilon: 0.2, beta: beta, perSequence: perSequence)
                var perRow = [Double](repeating: 0, count: 2), tokens = [Double](repeating: 0, count: 2)
                for i in 0..<8 where mask[i] {
                    let logp = Double(logProbs.toArray()[i]), ratio = exp(logp - Double(old[i])), a = Double(advantages[i])
                    let r = Double(reference[i]) - logp
                    perRow[i / 4] += -min(ratio * a, min(max(ratio, 0.8), 1.2) * a) + Double(beta) * (exp(r) - r - 1)
                    tokens[i / 4] += 1
                }
                let expected = perSequence ? (perRow[0] / tokens[0] + perRow[1] / tokens[1]) / 2 : (perRow[0] + perRow[1]) / (tokens[0] + tokens[1])
                XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-6, "perSequence \(perSequence), β \(beta)")
                assertGradients("grpoLoss perSequence \(perSequence) β \(beta)", [logProbs]) {
                    grpoLoss(logProbs, old: old, reference: reference, advantages: advantages, mask: mask,
                             epsilon: 0.2, beta: beta, perSequence: perSequence)
                }
            }
        }
    }

    func testRowsPicksRowsAndAddsTheirGradients() {
        let x = randomTensor([2, 3, 5], seed: 43)
        let picked = x.rows([4, 0, 4])
        XCTAssertEqual(picked.shape, [3, 5])
        XCTAssertEqual(Array(picked.toArray()[0..<5]), Array(x.toArray()[20..<25]))
        assertGradients("rows", [x]) { x.rows([4, 0, 4]) }
    }
}
