import XCTest
import Foundation
import Kernels
import Autograd

final class NormalizationTests: XCTestCase {
    // Rows of 13 and 10 take the kernels' one-by-one path only; 37 = two 16-lane chunks and a ragged end.
    func testLayerNormMatchesFormula() {
        for n in [13, 37] {
            let x = randomTensor([2, 3, n], seed: 21, scale: 3), g = randomTensor([n], seed: 22), b = randomTensor([n], seed: 23)
            let y = layerNorm(x, gain: g, bias: b, eps: 1e-5).toArray()
            for r in 0..<6 {
                let row = (0..<n).map { Double(x.data[r * n + $0]) }
                let mu = row.reduce(0, +) / Double(n)
                let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(n)
                for j in 0..<n {
                    let ref = (row[j] - mu) / (v + 1e-5).squareRoot() * Double(g.data[j]) + Double(b.data[j])
                    XCTAssertEqual(Double(y[r * n + j]), ref, accuracy: 1e-5)
                }
            }
            assertGradients("layerNorm \(n)", [x, g, b]) { layerNorm(x, gain: g, bias: b) }
            assertGradients("layerNorm no bias \(n)", [x, g]) { layerNorm(x, gain: g) }
        }
        let one = randomTensor([1, 1, 9], seed: 24), g9 = randomTensor([9], seed: 25)
        assertGradients("layerNorm one row", [one, g9]) { layerNorm(one, gain: g9) }
    }

    func testRMSNormMatchesFormula() {
        for n in [10, 37] {
            let x = randomTensor([4, n], seed: 26, scale: 2), g = randomTensor([n], seed: 27)
            let y = rmsNorm(x, gain: g, eps: 1e-6).toArray()
            for r in 0..<4 {
                let row = (0..<n).map { Double(x.data[r * n + $0]) }
                let rms = (row.map { $0 * $0 }.reduce(0, +) / Double(n) + 1e-6).squareRoot()
                for j in 0..<n { XCTAssertEqual(Double(y[r * n + j]), row[j] / rms * Double(g.data[j]), accuracy: 1e-5) }
            }
            assertGradients("rmsNorm \(n)", [x, g]) { rmsNorm(x, gain: g) }
        }
        let big = randomTensor([3, 300], seed: 28), g300 = randomTensor([300], seed: 29)
        XCTAssertEqual(rmsNorm(big, gain: g300).shape, [3, 300])
    }

    func testDropoutIsInvertedAndSeeded() {
        let x = Tensor([Float](repeating: 1, count: 20_000), shape: [20_000])
        var g1 = RandomGenerator(seed: 5), g2 = RandomGenerator(seed: 5)
        let a = dropout(x, probability: 0.25, generator: &g1).toArray()
        let b = dropout(x, probability: 0.25, generator: &g2).toArray()
        XCTAssertEqual(a, b, "same seed, same mask")
        let zeros = a.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 20_000, 0.25, accuracy: 0.015)  // ±4.9σ of a binomial
        XCTAssertTrue(a.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 }, "kept values are scaled by 1/(1−p)")
        var g3 = RandomGenerator(seed: 5)
        XCTAssertTrue(dropout(x, probability: 0, generator: &g3) === x, "p = 0 is the identity")
        // Gradient flows only through kept elements, scaled by the same factor.
        let small = randomTensor([3, 7], seed: 30)
        assertGradients("dropout", [small]) { var g = RandomGenerator(seed: 9); return dropout(small, probability: 0.3, generator: &g) }
    }
}
