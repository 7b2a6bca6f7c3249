import XCTest
import Kernels
import Autograd

/// The ops behind DPO: summed log-probabilities of scored tokens per
/// sequence, and log σ. Awkward shapes: odd vocabularies (not a multiple of
/// the 16 SIMD lanes), one-token sequences, rows with nothing scored.
final class SequenceScoreTests: XCTestCase {
    func softmaxInDouble(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { exp(Double($0) - m) }
        return e.map { $0 / e.reduce(0, +) }
    }

    func testSequenceLogProbsMatchesLogSoftmaxSums() {
        let logits = randomTensor([3, 4, 19], seed: 31, scale: 2)
        let targets: [Int32] = [5, -100, 18, 0,   -100, -100, -100, -100,   7, 7, 7, 1]
        let rows = logits.toArray()
        var expected = [Double](repeating: 0, count: 3)
        for (r, t) in targets.enumerated() where t != -100 {
            expected[r / 4] += log(softmaxInDouble(Array(rows[(r * 19)..<(r * 19 + 19)]))[Int(t)])
        }
        let scores = sequenceLogProbs(logits, targets: targets).toArray()
        for s in 0..<3 { XCTAssertEqual(Double(scores[s]), expected[s], accuracy: 1e-5) }
        XCTAssertEqual(scores[1], 0, "a sequence with nothing scored scores 0")
    }

    func testSequenceLogProbsGradient() {
        let logits = randomTensor([3, 5, 23], seed: 32, scale: 1.5)
        let targets: [Int32] = [1, 2, -100, 22, 0,   -100, 4, -100, -100, 9,   13, -100, -100, -100, -100]
        assertGradients("sequenceLogProbs", [logits]) { sequenceLogProbs(logits, targets: targets) }
        let one = randomTensor([1, 1, 17], seed: 33)  // a one-token completion
        assertGradients("sequenceLogProbs, one token", [one]) { sequenceLogProbs(one, targets: [16]) }
    }

    func testSequenceLogProbsStableAtExtremeLogits() {
        var values = [Float](repeating: -1e4, count: 2 * 1 * 21)
        values[3] = 1e4; values[21 + 20] = 1e4
        let logits = Tensor(values, shape: [2, 1, 21], requiresGrad: true)
        let scores = sequenceLogProbs(logits, targets: [3, 0])
        XCTAssertEqual(scores.toArray()[0], 0, accuracy: 1e-6)     // the 1e4 logit: probability 1
        XCTAssertEqual(scores.toArray()[1], -2e4, accuracy: 2)     // the −1e4 logit: log p = −2e4
        sum(scores).backward()
        XCTAssertTrue(logits.grad!.toArray().allSatisfy(\.isFinite))
        XCTAssertEqual(logits.grad!.toArray()[21 + 0], 1, accuracy: 1e-6)   // onehot − softmax at the target
        XCTAssertEqual(logits.grad!.toArray()[21 + 20], -1, accuracy: 1e-6)
    }

    func testLogSigmoidValuesGradientAndExtremes() {
        let x = Tensor([-3, -0.5, 0, 0.25, 4, 1e-3, -7], shape: [7])
        let y = logSigmoid(x).toArray()
        for (v, out) in zip(x.toArray(), y) { XCTAssertEqual(Double(out), -log(1 + exp(-Double(v))), accuracy: 1e-6) }
        assertGradients("logSigmoid", [x]) { logSigmoid(x) }
        let odd = randomTensor([3, 5], seed: 34, scale: 4)
        assertGradients("logSigmoid (3, 5)", [odd]) { logSigmoid(odd) }
        let extreme = Tensor([1e4, -1e4, 100, -100], shape: [4], requiresGrad: true)
        let e = logSigmoid(extreme).toArray()
        XCTAssertEqual(e[0], 0)
        XCTAssertEqual(e[1], -1e4)
        XCTAssertEqual(e[3], -100, accuracy: 1e-4)
        sum(logSigmoid(extreme)).backward()
        XCTAssertEqual(extreme.grad!.toArray(), [0, 1, Activation.sigmoid.value(-100), 1])
    }
}
