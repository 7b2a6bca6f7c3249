import XCTest
import Foundation
import Kernels
import Autograd

/// The ops behind issue 28's options: prefix-LM attention (a per-row prefix
/// every query sees), a learned attention bias (T5), and label-smoothed
/// cross-entropy. Each against the readable reference and finite differences
/// (tolerances in Support.swift: |analytic − numeric| ≤ 3e-3 + 1e-2·|numeric|).
final class CurriculumOpTests: XCTestCase {
    override func setUp() { poisonAttentionScratch = true }
    override func tearDown() { poisonAttentionScratch = false }

    /// Odd shapes, GQA/MQA, prefixes of 0, inside and past the row, on the row path and (threshold lowered) the blocked one.
    func testPrefixAttentionMatchesTheReferenceAndFiniteDifferences() {
        let saved = blockedAttentionMinimumQueries
        defer { blockedAttentionMinimumQueries = saved }
        for threshold in [saved, 8] {
            blockedAttentionMinimumQueries = threshold
            for (b, h, hkv, t, d, prefixes) in [(2, 3, 3, 7, 5, [3, 0]), (3, 4, 2, 9, 3, [9, 1, 5]), (1, 2, 1, 13, 16, [6]),
                                                (2, 2, 2, 10, 4, [12, 7])] {
                let weights = randomTensor([b, h, t, d], seed: 81)
                var results: [[Float]] = []
                for fused in [true, false] {
                    let q = randomTensor([b, h, t, d], seed: 82), k = randomTensor([b, hkv, t, d], seed: 83), v = randomTensor([b, hkv, t, d], seed: 84)
                    for x in [q, k, v] { x.requiresGrad = true }
                    let y = fused ? attention(q, k, v, prefixLengths: prefixes) : referenceAttention(q, k, v, prefixLengths: prefixes)
                    sum(mul(y, weights)).backward()
                    results.append(y.toArray() + q.grad!.toArray() + k.grad!.toArray() + v.grad!.toArray())
                }
                let name = "prefix \(prefixes), \(b)×\(h)/\(hkv) heads, \(t) positions, threshold \(threshold)"
                assertClose(results[0], results[1], tolerance: 1e-5, name)
                let q = randomTensor([b, h, t, d], seed: 85), k = randomTensor([b, hkv, t, d], seed: 86), v = randomTensor([b, hkv, t, d], seed: 87)
                assertGradients(name, [q, k, v]) { attention(q, k, v, prefixLengths: prefixes) }
            }
        }
    }

    /// Prefix 0 is causal attention, bit for bit; a prefix covering the row is full attention.
    func testPrefixOfZeroIsCausalAndAWholePrefixIsFull() {
        let q = randomTensor([2, 2, 6, 4], seed: 88), k = randomTensor([2, 2, 6, 4], seed: 89), v = randomTensor([2, 2, 6, 4], seed: 90)
        XCTAssertEqual(attention(q, k, v, prefixLengths: [0, 0]).toArray(), attention(q, k, v).toArray())
        assertClose(attention(q, k, v, prefixLengths: [6, 6]).toArray(), attention(q, k, v, causal: false).toArray(), tolerance: 1e-6, "whole prefix")
    }

    /// Token-major (training's layout) equals head-major with prefixes.
    func testPrefixAttentionTokenMajor() {
        let (b, h, t, d) = (2, 4, 9, 8)
        let q = randomTensor([b, h, t, d], seed: 91), k = randomTensor([b, 2, t, d], seed: 92), v = randomTensor([b, 2, t, d], seed: 93)
        let headMajor = attention(q, k, v, prefixLengths: [4, 2]).toArray()
        let tokenMajor = attention(q.transposed(1, 2), k.transposed(1, 2), v.transposed(1, 2), prefixLengths: [4, 2], layout: .tokenMajor)
        XCTAssertEqual(tokenMajor.transposed(1, 2).toArray(), headMajor)
        let qt = q.transposed(1, 2), kt = k.transposed(1, 2), vt = v.transposed(1, 2)
        assertGradients("token-major prefix", [qt, kt, vt]) { attention(qt, kt, vt, prefixLengths: [4, 2], layout: .tokenMajor) }
    }

    /// A bias that requires a gradient receives the batch's summed score gradient: against
    /// the reference's and finite differences, causal or not, with prefixes, after a cache offset, on both backward paths.
    func testLearnedBiasGradient() {
        let saved = blockedAttentionMinimumQueries
        defer { blockedAttentionMinimumQueries = saved }
        for threshold in [saved, 4] {
            blockedAttentionMinimumQueries = threshold
            for (b, h, hkv, tq, tk, d, causal, prefixes) in [(2, 3, 3, 5, 5, 4, true, nil), (1, 4, 2, 7, 7, 3, false, nil),
                                                             (3, 2, 1, 6, 9, 5, true, nil), (2, 2, 2, 6, 6, 17, true, [4, 1] as [Int]?)] {
                let name = "learned bias \(b)×\(h)/\(hkv), \(tq)/\(tk), causal \(causal), prefixes \(prefixes ?? []), threshold \(threshold)"
                let weights = randomTensor([b, h, tq, d], seed: 94)
                var results: [[Float]] = []
                for fused in [true, false] {
                    let q = randomTensor([b, h, tq, d], seed: 95), k = randomTensor([b, hkv, tk, d], seed: 96), v = randomTensor([b, hkv, tk, d], seed: 97)
                    let bias = randomTensor([h, tq, tk], seed: 98)
                    for x in [q, k, v, bias] { x.requiresGrad = true }
                    let y = fused ? attention(q, k, v, bias: bias, causal: causal, prefixLengths: prefixes)
                                  : referenceAttention(q, k, v, bias: bias, causal: causal, prefixLengths: prefixes)
                    sum(mul(y, weights)).backward()
                    results.append(y.toArray() + q.grad!.toArray() + k.grad!.toArray() + v.grad!.toArray() + bias.grad!.toArray())
                }
                assertClose(results[0], results[1], tolerance: 1e-5, name)
                let q = randomTensor([b, h, tq, d], seed: 99), k = randomTensor([b, hkv, tk, d], seed: 100), v = randomTensor([b, hkv, tk, d], seed: 101)
                let bias = randomTensor([h, tq, tk], seed: 102)
                assertGradients(name, [q, k, v, bias]) { attention(q, k, v, bias: bias, causal: causal, prefixLengths: prefixes) }
            }
        }
    }

    /// A constant bias (ALiBi's) still gets no gradient and changes nothing in the others.
    func testConstantBiasStaysConstant() {
        let q = randomTensor([1, 2, 5, 4], seed: 103), k = randomTensor([1, 2, 5, 4], seed: 104), v = randomTensor([1, 2, 5, 4], seed: 105)
        let bias = randomTensor([2, 5, 5], seed: 106)
        q.requiresGrad = true
        sum(attention(q, k, v, bias: bias)).backward()
        XCTAssertNil(bias.grad)
        XCTAssertNotNil(q.grad)
    }

    /// Label smoothing's gradient by finite differences on awkward shapes (class counts
    /// not multiples of 16, ignored rows, large logits); ε = 0 is the plain loss bit for bit.
    /// Parity with PyTorch: Tests/ModelTests/CurriculumReferenceTests.swift.
    func testLabelSmoothingGradient() {
        for (rows, cols, epsilon, scale) in [(5, 7, Float(0.1), Float(1)), (3, 37, 0.25, 3), (4, 17, 0.9, 1), (2, 33, 0.5, 20)] {
            let logits = randomTensor([rows, cols], seed: 107, scale: scale)
            let targets = (0..<rows).map { $0 == 1 ? Int32(-100) : Int32(($0 * 7 + 3) % cols) }
            assertGradients("label smoothing \(epsilon), \(rows)×\(cols)", [logits]) {
                crossEntropy(logits, targets: targets, labelSmoothing: epsilon)
            }
        }
        let logits = randomTensor([3, 11], seed: 108)
        XCTAssertEqual(crossEntropy(logits, targets: [1, 2, 3], labelSmoothing: 0).item, crossEntropy(logits, targets: [1, 2, 3]).item)
        // The smoothed loss of a row is (1 − ε)·(−log p_t) + ε·mean_c(−log p_c), by hand.
        let row = logits.toArray().prefix(11).map(Double.init)
        let lse = log(row.map { exp($0) }.reduce(0, +))
        let expected = 0.8 * (lse - row[4]) + 0.2 * row.map { lse - $0 }.reduce(0, +) / 11
        XCTAssertEqual(Double(crossEntropy(logits.slice(0, 0..<1), targets: [4], labelSmoothing: 0.2).item), expected, accuracy: 1e-5)
    }
}
