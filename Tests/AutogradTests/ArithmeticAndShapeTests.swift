import XCTest
import Kernels
import Autograd

final class ArithmeticAndShapeTests: XCTestCase {
    func testAddAndMulBroadcastOverLeadingDimensions() {
        let a = randomTensor([2, 3, 5], seed: 1), b = randomTensor([5], seed: 2)
        let s = add(a, b).toArray(), p = mul(a, b).toArray()
        for i in 0..<30 {
            XCTAssertEqual(s[i], a.data[i] + b.data[i % 5])
            XCTAssertEqual(p[i], a.data[i] * b.data[i % 5])
        }
        XCTAssertEqual(add(b, a).shape, [2, 3, 5], "the smaller operand may come first")
        assertGradients("add", [a, b]) { add(a, b) }
        assertGradients("mul", [a, b]) { mul(a, b) }
        let c = randomTensor([3, 5], seed: 3)
        assertGradients("mul 2-d broadcast", [a, c]) { mul(a, c) }
        assertGradients("sub", [a, c]) { a - c }
        assertGradients("scale", [a]) { a * 0.37 }
    }

    /// λ·a + (1 − λ)·b with a learned scalar λ (value residual): values, and gradients for a, b and λ
    /// over an odd size (a SIMD body and a tail), and a, b being one tensor.
    func testInterpolateWithALearnedScalar() {
        let a = randomTensor([2, 3, 7], seed: 6), b = randomTensor([2, 3, 7], seed: 7)
        let lambda = Tensor([0.3], shape: [1])
        let y = interpolate(a, b, weight: lambda).toArray()
        for i in 0..<42 { XCTAssertEqual(y[i], 0.3 * a.data[i] + 0.7 * b.data[i], accuracy: 1e-6) }
        for weight: Float in [0.3, -0.4, 1.2] {
            let w = Tensor([weight], shape: [1])
            assertGradients("interpolate λ \(weight)", [a, b, w]) { interpolate(a, b, weight: w) }
        }
        assertGradients("interpolate a with itself", [a, lambda]) { interpolate(a, a, weight: lambda) }
    }

    func testSumMeanAndMSE() {
        let a = randomTensor([3, 7], seed: 4), b = randomTensor([3, 7], seed: 5)
        let ref = a.toArray().reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(Double(sum(a).item), ref, accuracy: 1e-5)
        XCTAssertEqual(Double(mean(a).item), ref / 21, accuracy: 1e-6)
        let mse = zip(a.toArray(), b.toArray()).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / 21
        XCTAssertEqual(Double(mseLoss(a, b).item), mse, accuracy: 1e-6)
        assertGradients("sum", [a]) { sum(a) }
        assertGradients("mean", [a]) { mean(a) }
        assertGradients("mse", [a, b]) { mseLoss(a, b) }
    }

    func testReshapeAndTranspose() {
        let x = randomTensor([2, 3, 4], seed: 6)
        XCTAssertEqual(x.reshaped([6, -1]).shape, [6, 4])
        let t = x.transposed(0, 2)  // (4, 3, 2)
        XCTAssertEqual(t.shape, [4, 3, 2])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            XCTAssertEqual(t.data[(k * 3 + j) * 2 + i], x.data[(i * 3 + j) * 4 + k])
        } } }
        assertGradients("reshape", [x]) { x.reshaped([4, 6]) }
        assertGradients("transpose 0,2", [x]) { x.transposed(0, 2) }
        assertGradients("transpose 1,2", [x]) { x.transposed(1, 2) }
    }

    func testHeadSplitAndMerge() {
        let x = randomTensor([2, 3, 6], seed: 7)  // B 2, T 3, H 3 × D 2
        let h = x.splitHeads(3)
        XCTAssertEqual(h.shape, [2, 3, 3, 2])
        for b in 0..<2 { for t in 0..<3 { for head in 0..<3 { for d in 0..<2 {
            XCTAssertEqual(h.data[((b * 3 + head) * 3 + t) * 2 + d], x.data[(b * 3 + t) * 6 + head * 2 + d])
        } } } }
        XCTAssertEqual(h.mergeHeads().toArray(), x.toArray())
        assertGradients("splitHeads", [x]) { x.splitHeads(3) }
        assertGradients("mergeHeads", [h]) { h.mergeHeads() }
    }

    func testSliceAndConcat() {
        let x = randomTensor([3, 5, 2], seed: 8), y = randomTensor([3, 1, 2], seed: 9)
        let s = x.slice(1, 1..<4)
        XCTAssertEqual(s.shape, [3, 3, 2])
        for i in 0..<3 { for j in 0..<3 { for k in 0..<2 {
            XCTAssertEqual(s.data[(i * 3 + j) * 2 + k], x.data[(i * 5 + j + 1) * 2 + k])
        } } }
        let c = concat([x, y], dim: 1)
        XCTAssertEqual(c.shape, [3, 6, 2])
        XCTAssertEqual(c.slice(1, 0..<5).toArray(), x.toArray())
        XCTAssertEqual(c.slice(1, 5..<6).toArray(), y.toArray())
        assertGradients("slice", [x]) { x.slice(1, 1..<4) }
        assertGradients("concat", [x, y]) { concat([x, y], dim: 1) }
        assertGradients("concat dim 0", [x]) { concat([x, x], dim: 0) }
    }
}
