import XCTest
import Foundation
import Kernels
import Autograd

final class AttentionTests: XCTestCase {
    // Scratch memory starts as NaN: an entry read before it is written spoils the results.
    override func setUp() { poisonAttentionScratch = true }
    override func tearDown() { poisonAttentionScratch = false }

    func testMultiHeadGroupedAndMultiQuery() {
        // (batch, query heads, kv heads, length, head size): MHA, GQA, MQA, batch 1, odd sizes;
        // head sizes of 16 and 32 use Q, K and V rows in place (others are padded to 16),
        // lengths not a multiple of the 4-row block.
        for (b, h, hkv, t, d) in [(2, 3, 3, 5, 4), (1, 4, 2, 7, 3), (2, 4, 1, 6, 5), (1, 1, 1, 1, 1),
                                  (1, 2, 1, 18, 16), (2, 2, 2, 9, 32)] {
            let q = randomTensor([b, h, t, d], seed: 31), k = randomTensor([b, hkv, t, d], seed: 32), v = randomTensor([b, hkv, t, d], seed: 33)
            for causal in [true, false] {
                let y = attention(q, k, v, causal: causal).toArray()
                assertClose(y, referenceAttention(q, k, v, bias: nil, causal: causal).toArray(), tolerance: 1e-5, "attention \(b),\(h),\(hkv),\(t),\(d) causal \(causal)")
                assertGradients("attention \(h)/\(hkv) heads causal \(causal)", [q, k, v]) { attention(q, k, v, causal: causal) }
            }
        }
    }

    /// The fused kernel against the readable composition of ops (Sources/Autograd/Ops/AttentionReference.swift):
    /// outputs and all three gradients, MHA/GQA/MQA, causal or not, with a bias, queries after a cache offset.
    func testFusedAttentionMatchesTheReferenceForwardAndBackward() {
        for (b, h, hkv, tq, tk, d, withBias) in [(2, 3, 3, 5, 5, 4, false), (1, 4, 2, 7, 7, 3, true), (2, 4, 1, 6, 9, 5, true),
                                                 (1, 1, 1, 1, 1, 1, false), (1, 6, 2, 33, 33, 16, false)] {
            let weights = randomTensor([b, h, tq, d], seed: 71)
            for causal in [true, false] {
                var results: [[Float]] = []
                for fused in [true, false] {
                    let q = randomTensor([b, h, tq, d], seed: 72), k = randomTensor([b, hkv, tk, d], seed: 73), v = randomTensor([b, hkv, tk, d], seed: 74)
                    for t in [q, k, v] { t.requiresGrad = true }
                    let bias = withBias ? randomTensor([h, tq, tk], seed: 75) : nil
                    let y = fused ? attention(q, k, v, bias: bias, causal: causal) : referenceAttention(q, k, v, bias: bias, causal: causal)
                    sum(mul(y, weights)).backward()
                    results.append(y.toArray() + q.grad!.toArray() + k.grad!.toArray() + v.grad!.toArray())
                }
                assertClose(results[0], results[1], tolerance: 1e-5, "fused vs reference \(b),\(h)/\(hkv),\(tq)/\(tk),\(d) causal \(causal) bias \(withBias)")
            }
        }
        let q = randomTensor([1, 4, 5, 3], seed: 76), k = randomTensor([1, 2, 5, 3], seed: 77), v = randomTensor([1, 2, 5, 3], seed: 78)
        let bias = randomTensor([4, 5, 5], seed: 79)
        assertGradients("reference attention, GQA, bias", [q, k, v]) { referenceAttention(q, k, v, bias: bias) }
    }

    /// With the threshold lowered to 16, the backward of these shapes takes
    /// the blocked (matrix product) path: the same checks.
    func testBlockedBackwardForManyQueries() {
        let saved = blockedAttentionMinimumQueries
        blockedAttentionMinimumQueries = 16
        defer { blockedAttentionMinimumQueries = saved }
        for (b, h, hkv, tq, tk, d) in [(1, 2, 2, 20, 20, 5), (2, 4, 2, 17, 17, 3), (1, 3, 1, 16, 16, 4), (1, 2, 1, 17, 23, 6)] {
            let q = randomTensor([b, h, tq, d], seed: 51), k = randomTensor([b, hkv, tk, d], seed: 52), v = randomTensor([b, hkv, tk, d], seed: 53)
            let bias = randomTensor([h, tq, tk], seed: 54)
            for withBias in [false, true] {
                let y = attention(q, k, v, bias: withBias ? bias : nil).toArray()
                assertClose(y, referenceAttention(q, k, v, bias: withBias ? bias : nil, causal: true).toArray(), tolerance: 1e-5,
                            "attention \(b),\(h),\(hkv),\(tq),\(tk),\(d) bias \(withBias)")
                assertGradients("blocked backward \(h)/\(hkv) heads, \(tq) queries, bias \(withBias)", [q, k, v]) {
                    attention(q, k, v, bias: withBias ? bias : nil)
                }
            }
            // q and v also feed the output directly, so their gradients exist before attention's backward adds to them.
            if tq == tk && h == hkv {
                assertGradients("blocked backward adding to existing gradients, \(tq) queries", [q, k, v]) {
                    add(add(attention(q, k, v), q), v)
                }
            }
        }
        // Both backward paths give the same gradients.
        let q = randomTensor([2, 4, 20, 8], seed: 55), k = randomTensor([2, 2, 20, 8], seed: 56), v = randomTensor([2, 2, 20, 8], seed: 57)
        var gradients: [[Float]] = []
        for threshold in [16, saved] {
            blockedAttentionMinimumQueries = threshold
            for t in [q, k, v] { t.requiresGrad = true; t.grad = nil }
            sum(mul(attention(q, k, v), randomTensor([2, 4, 20, 8], seed: 58))).backward()
            gradients.append(q.grad!.toArray() + k.grad!.toArray() + v.grad!.toArray())
        }
        assertClose(gradients[0], gradients[1], tolerance: 1e-5, "blocked and row backward")
    }

    /// Each (batch, head) runs whole on one worker, so the thread count cannot change the numbers.
    func testBlockedPathSameNumbersForAnyThreadCount() {
        let savedMinimum = blockedAttentionMinimumQueries, savedThreads = Parallel.threads
        blockedAttentionMinimumQueries = 16
        defer { blockedAttentionMinimumQueries = savedMinimum; Parallel.threads = savedThreads }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.threads = threads
            let q = randomTensor([2, 4, 37, 8], seed: 61), k = randomTensor([2, 2, 37, 8], seed: 62), v = randomTensor([2, 2, 37, 8], seed: 63)
            for t in [q, k, v] { t.requiresGrad = true }
            let weights = randomTensor([2, 4, 37, 8], seed: 64)
            let loss = sum(mul(attention(q, k, v), weights))
            loss.backward()
            results.append([loss.item] + q.grad!.toArray() + k.grad!.toArray() + v.grad!.toArray())
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    func testAdditiveBiasAndCacheOffset() {
        // Queries are the last Tq of Tk positions, as with a KV cache; offsets that are not
        // multiples of the 4-row blocks, and several blocks, so key and query blocks straddle.
        for (tq, tk, d) in [(3, 8, 4), (6, 9, 5), (7, 18, 16)] {
            let q = randomTensor([1, 2, tq, d], seed: 34), k = randomTensor([1, 2, tk, d], seed: 35), v = randomTensor([1, 2, tk, d], seed: 36)
            let bias = randomTensor([2, tq, tk], seed: 37)
            assertClose(attention(q, k, v, bias: bias).toArray(), referenceAttention(q, k, v, bias: bias, causal: true).toArray(), tolerance: 1e-5,
                        "bias + offset \(tq)/\(tk)")
            assertGradients("attention with bias and offset \(tq)/\(tk)", [q, k, v]) { attention(q, k, v, bias: bias) }
        }
        let k = randomTensor([1, 2, 8, 4], seed: 35), v = randomTensor([1, 2, 8, 4], seed: 36)
        // The last query row of a full pass equals a one-row pass over the same keys.
        let full = randomTensor([1, 2, 8, 4], seed: 38)
        let all = attention(full, k, v).toArray()
        let last = attention(full.slice(2, 7..<8), k, v).toArray()
        for hi in 0..<2 { for c in 0..<4 { XCTAssertEqual(last[hi * 4 + c], all[(hi * 8 + 7) * 4 + c], accuracy: 1e-6) } }
    }

    func testExtremeScoresStayFinite() {
        let q = Tensor([Float](repeating: 100, count: 12), shape: [1, 1, 3, 4])
        let k = Tensor([100, 100, 100, 100, -100, -100, -100, -100, 100, 100, 100, 99], shape: [1, 1, 3, 4])
        let v = randomTensor([1, 1, 3, 4], seed: 39)  // scores reach ±2e4
        q.requiresGrad = true; k.requiresGrad = true; v.requiresGrad = true
        let y = attention(q, k, v)
        sum(y).backward()
        for t in [y, q.grad!, k.grad!, v.grad!] { XCTAssertTrue(t.toArray().allSatisfy(\.isFinite)) }
        assertClose(y.toArray(), referenceAttention(q, k, v, bias: nil, causal: true).toArray(), tolerance: 1e-5, "extreme")
    }

    func testRotaryEmbedding() {
        let x = randomTensor([2, 3, 5, 6], seed: 40)
        for (offset, theta) in [(0, Float(10_000)), (7, 500)] {
            let y = rotaryEmbedding(x, offset: offset, theta: theta).toArray()
            var ref = [Float]()
            for row in 0..<6 { for p in 0..<5 { for i in 0..<3 {
                let angle = Double(offset + p) * pow(Double(theta), -2.0 * Double(i) / 6)
                let x0 = Double(x.data[(row * 5 + p) * 6 + 2 * i]), x1 = Double(x.data[(row * 5 + p) * 6 + 2 * i + 1])
                ref += [Float(x0 * cos(angle) - x1 * sin(angle)), Float(x0 * sin(angle) + x1 * cos(angle))]
            } } }
            assertClose(y, ref, tolerance: 1e-5, "rope offset \(offset)")
            assertGradients("rope offset \(offset)", [x]) { rotaryEmbedding(x, offset: offset, theta: theta) }
        }
        // Relative property: q·k after RoPE depends only on the distance between positions.
        let q = randomTensor([1, 1, 1, 8], seed: 41), k = randomTensor([1, 1, 1, 8], seed: 42)
        func score(_ pq: Int, _ pk: Int) -> Float {
            let a = rotaryEmbedding(q, offset: pq).toArray(), b = rotaryEmbedding(k, offset: pk).toArray()
            return zip(a, b).map(*).reduce(0, +)
        }
        XCTAssertEqual(score(3, 1), score(12, 10), accuracy: 1e-4)
    }
}
