import XCTest
import Foundation
import Kernels
import Autograd

final class ActivationAndSoftmaxTests: XCTestCase {
    /// Plain Double formulas, written independently of the kernels.
    func reference(_ f: Activation, _ x: Double) -> Double {
        switch f {
        case .relu: return max(x, 0)
        case .reluSquared: return max(x, 0) * max(x, 0)
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .swish(let beta): return x / (1 + exp(-Double(beta) * x))
        case .sigmoid: return 1 / (1 + exp(-x))
        case .tanh: return Foundation.tanh(x)
        }
    }

    let all: [Activation] = [.relu, .reluSquared, .gelu, .geluTanh, .swish(beta: 1), .swish(beta: 1.7), .sigmoid, .tanh]

    func testActivationsForwardAndBackward() {
        // Keep inputs 0.05 away from ReLU's kink so finite differences are valid.
        var g = RandomGenerator(seed: 11)
        let values = (0..<37).map { _ -> Float in let u = g.normal() * 2; return u < 0 ? u - 0.05 : u + 0.05 }
        let x = Tensor(values, shape: [37])
        for f in all {
            let y = activate(x, f).toArray()
            assertClose(y, values.map { Float(reference(f, Double($0))) }, tolerance: 2e-6, "\(f) forward")
            assertGradients("\(f)", [x]) { activate(x, f) }
        }
    }

    func testActivationsStayFiniteAtExtremes() {
        let x = Tensor([-1e4, -100, -20, 0, 20, 100, 1e4], shape: [7], requiresGrad: true)
        for f in all {
            x.grad = nil
            let y = activate(x, f)
            sum(y).backward()
            XCTAssertTrue(y.toArray().allSatisfy(\.isFinite), "\(f) forward at extremes: \(y.toArray())")
            XCTAssertTrue(x.grad!.toArray().allSatisfy(\.isFinite), "\(f) backward at extremes: \(x.grad!.toArray())")
        }
        XCTAssertEqual(activate(x, .gelu).data[0], 0)
        XCTAssertEqual(activate(x, .gelu).data[6], 1e4)
    }

    func referenceSoftmax(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testSoftmaxAndLogSoftmax() {
        let x = randomTensor([3, 11], seed: 12, scale: 2)
        let s = softmax(x).toArray(), ls = logSoftmax(x).toArray()
        for r in 0..<3 {
            let ref = referenceSoftmax(Array(x.toArray()[(r * 11)..<(r * 11 + 11)]))
            for j in 0..<11 {
                XCTAssertEqual(Double(s[r * 11 + j]), ref[j], accuracy: 1e-6)
                XCTAssertEqual(Double(ls[r * 11 + j]), log(ref[j]), accuracy: 1e-5)
            }
        }
        assertGradients("softmax", [x]) { softmax(x) }
        assertGradients("logSoftmax", [x]) { logSoftmax(x) }
        let single = randomTensor([4, 1], seed: 13)
        XCTAssertEqual(softmax(single).toArray(), [1, 1, 1, 1])
    }

    func testSoftmaxAndCrossEntropyAtExtremeLogits() {
        let x = Tensor([1e4, -1e4, 0, 1e4 - 1] as [Float], shape: [1, 4])
        let s = softmax(x).toArray()
        XCTAssertTrue(s.allSatisfy(\.isFinite))
        XCTAssertEqual(Double(s[0]), 1 / (1 + exp(-1.0)), accuracy: 1e-6)
        XCTAssertEqual(Double(s[3]), exp(-1.0) / (1 + exp(-1.0)), accuracy: 1e-6)
        XCTAssertEqual(s[1], 0)
        // Target at −1e4 has loss ≈ 2e4; at the top logit, loss = log(1 + e^−1).
        XCTAssertEqual(Double(crossEntropy(x, targets: [1]).item), 2e4 + log(1 + exp(-1.0)), accuracy: 2)
        XCTAssertEqual(Double(crossEntropy(x, targets: [0]).item), log(1 + exp(-1.0)), accuracy: 1e-4)
        x.requiresGrad = true
        crossEntropy(x, targets: [1]).backward()
        XCTAssertTrue(x.grad!.toArray().allSatisfy(\.isFinite))
        XCTAssertTrue(logSoftmax(x).toArray().allSatisfy(\.isFinite))
    }

    func testCrossEntropyWithIgnoreIndex() {
        let logits = randomTensor([2, 3, 7], seed: 14, scale: 3)
        let targets: [Int32] = [3, -100, 0, 6, -100, 2]
        var total = 0.0, counted = 0
        for (r, t) in targets.enumerated() where t != -100 {
            let row = Array(logits.toArray()[(r * 7)..<(r * 7 + 7)])
            total -= log(referenceSoftmax(row)[Int(t)])
            counted += 1
        }
        XCTAssertEqual(Double(crossEntropy(logits, targets: targets).item), total / Double(counted), accuracy: 1e-5)
        assertGradients("crossEntropy", [logits]) { crossEntropy(logits, targets: targets) }
        assertGradients("crossEntropy, custom ignore", [logits]) { crossEntropy(logits, targets: [3, 1, 0, 6, 1, 2], ignoreIndex: 1) }
        // Every target ignored: loss 0 and zero gradient, not NaN.
        logits.grad = nil
        let none = crossEntropy(logits, targets: [Int32](repeating: -100, count: 6))
        XCTAssertEqual(none.item, 0)
        none.backward()
        XCTAssertTrue((logits.grad?.toArray() ?? [0]).allSatisfy { $0 == 0 })
    }
}

final class SpeedRunOpTests: XCTestCase {
    /// ReLU² against finite differences away from the kink, on 37 values (two 16-lane blocks and a tail).
    func testReLUSquaredGradient() {
        var g = RandomGenerator(seed: 21)
        let values = (0..<37).map { _ -> Float in let u = g.normal() * 2; return u < 0 ? u - 0.05 : u + 0.05 }
        let x = Tensor(values, shape: [37])
        assertClose(reluSquared(x).toArray(), values.map { $0 > 0 ? $0 * $0 : 0 }, tolerance: 1e-6, "relu2 forward")
        assertGradients("relu2", [x]) { reluSquared(x) }
    }

    /// c·tanh(x/c) against finite differences at small, medium and saturating caps, on awkward shapes.
    func testSoftcapGradient() {
        for (cap, shape, scale) in [(Float(0.5), [3, 7], Float(1)), (15, [2, 37], 20), (3, [1, 1, 17], 4)] {
            let x = randomTensor(shape, seed: 31, scale: scale)
            let y = softcap(x, cap: cap).toArray()
            // tanh's kernel is within 1.1e-7 of the exact value, and c multiplies that.
            assertClose(y, x.toArray().map { cap * Foundation.tanh($0 / cap) }, tolerance: 2e-7 * max(1, cap), "softcap \(cap) forward")
            XCTAssertTrue(y.allSatisfy { abs($0) <= cap })
            assertGradients("softcap \(cap)", [x]) { softcap(x, cap: cap) }
        }
    }

    /// QK-norm's op: RMSNorm over each head's last dimension of (B, T, H, D), with a fixed gain of ones.
    func testPerHeadRMSNormGradient() {
        let x = randomTensor([2, 3, 3, 5], seed: 41, scale: 2)
        let ones = Tensor([Float](repeating: 1, count: 5), shape: [5])
        assertGradients("per-head rmsnorm", [x]) { rmsNorm(x, gain: ones) }
    }
}
