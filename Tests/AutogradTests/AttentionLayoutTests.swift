import XCTest
import Foundation
import Kernels
import Autograd

/// Attention and rotary embedding in the token-major layout (B, T, H, D), the
/// training path without transposed copies, against the head-major layout
/// (B, H, T, D) reached through explicit transposes.
final class AttentionLayoutTests: XCTestCase {
    // Scratch memory starts as NaN: an entry read before it is written spoils the results.
    override func setUp() { poisonAttentionScratch = true }
    override func tearDown() { poisonAttentionScratch = false }

    enum Rotary: CaseIterable { case none, plain, scaled }

    /// The attention block from token-major leaves q, k, v (B, T, H, D): optional
    /// RoPE on q and k, attention, output token-major. `headMajor` takes the old
    /// route: transposed copies to (B, H, T, D), the head-major ops, and back.
    func block(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, causal: Bool, rotary: Rotary, headMajor: Bool) -> Tensor {
        let d = q.shape[3]
        let layout: HeadLayout = headMajor ? .headMajor : .tokenMajor
        func arrange(_ t: Tensor) -> Tensor { headMajor ? t.transposed(1, 2) : t }
        func rope(_ t: Tensor) -> Tensor {
            switch rotary {
            case .none: return t
            case .plain: return rotaryEmbedding(t, offset: 3, theta: 500, layout: layout)
            case .scaled:
                let f = (0..<(d / 2)).map { 0.5 * pow(500.0, -2.0 * Double($0) / Double(d)) }
                return rotaryEmbedding(t, offset: 2, inverseFrequencies: f, attentionFactor: 1.1, layout: layout)
            }
        }
        let y = attention(rope(arrange(q)), rope(arrange(k)), arrange(v), bias: bias, causal: causal, layout: layout)
        return headMajor ? y.transposed(1, 2) : y
    }

    /// Output, loss and dq, dk, dv of the block under fixed output weights.
    func run(_ shape: (b: Int, h: Int, hkv: Int, t: Int, d: Int), bias withBias: Bool, causal: Bool, rotary: Rotary,
             headMajor: Bool) -> [[Float]] {
        let (b, h, hkv, t, d) = shape
        let q = randomTensor([b, t, h, d], seed: 71), k = randomTensor([b, t, hkv, d], seed: 72), v = randomTensor([b, t, hkv, d], seed: 73)
        for x in [q, k, v] { x.requiresGrad = true }
        let bias = withBias ? randomTensor([h, t, t], seed: 74) : nil
        let y = block(q, k, v, bias: bias, causal: causal, rotary: rotary, headMajor: headMajor)
        sum(mul(y, randomTensor([b, t, h, d], seed: 75))).backward()
        return [y.toArray(), q.grad!.toArray(), k.grad!.toArray(), v.grad!.toArray()]
    }

    static let awkwardShapes: [(b: Int, h: Int, hkv: Int, t: Int, d: Int)] = [
        (2, 6, 2, 7, 5),    // GQA 6/2, odd head size, length not a multiple of the 4-row block
        (3, 4, 1, 9, 6),    // MQA, batch 3
        (2, 3, 3, 1, 10),   // one query (the forward's one-query path)
        (1, 2, 1, 18, 16),  // head size 16: rows read in place through the row stride
        (2, 4, 2, 6, 20),   // head size past 16, not a multiple of it
        (2, 2, 2, 5, 32),
    ]

    /// Token-major gives the same bits as the transposed route: the kernels run
    /// the same arithmetic and only the addresses of rows change.
    func testTokenMajorEqualsHeadMajorThroughTransposes() {
        let saved = blockedAttentionMinimumQueries
        defer { blockedAttentionMinimumQueries = saved }
        for threshold in [saved, 4] {  // the row backward, then the blocked backward (gathered rows)
            blockedAttentionMinimumQueries = threshold
            for shape in Self.awkwardShapes {
                for rotary in Rotary.allCases {
                    if rotary != .none && shape.d % 2 == 1 { continue }
                    for (withBias, causal) in [(false, true), (true, true), (false, false)] {
                        let old = run(shape, bias: withBias, causal: causal, rotary: rotary, headMajor: true)
                        let new = run(shape, bias: withBias, causal: causal, rotary: rotary, headMajor: false)
                        for (name, (a, b)) in zip(["output", "dq", "dk", "dv"], zip(new, old)) {
                            XCTAssertEqual(a, b, "\(name) \(shape) bias \(withBias) causal \(causal) \(rotary) blocked from \(threshold)")
                        }
                    }
                }
            }
        }
    }

    /// Finite differences on the token-major op itself (row and blocked backward).
    func testTokenMajorGradients() {
        let saved = blockedAttentionMinimumQueries
        defer { blockedAttentionMinimumQueries = saved }
        for (b, h, hkv, t, d) in [(2, 6, 2, 7, 5), (1, 4, 1, 6, 3), (2, 2, 2, 1, 4), (1, 2, 1, 18, 16)] {
            let q = randomTensor([b, t, h, d], seed: 81), k = randomTensor([b, t, hkv, d], seed: 82), v = randomTensor([b, t, hkv, d], seed: 83)
            let bias = randomTensor([h, t, t], seed: 84)
            for threshold in [saved, 4] {
                blockedAttentionMinimumQueries = threshold
                for withBias in [false, true] {
                    assertGradients("token-major attention \(h)/\(hkv) heads, \(t) positions, head size \(d), bias \(withBias), blocked from \(threshold)",
                                    [q, k, v]) {
                        attention(q, k, v, bias: withBias ? bias : nil, layout: .tokenMajor)
                    }
                }
                assertGradients("token-major attention, not causal, \(h)/\(hkv) heads", [q, k, v]) {
                    attention(q, k, v, causal: false, layout: .tokenMajor)
                }
            }
            blockedAttentionMinimumQueries = saved
            // q and v also feed the output directly, so their gradients exist before attention's backward adds to them.
            if h == hkv {
                for threshold in [saved, 4] {
                    blockedAttentionMinimumQueries = threshold
                    assertGradients("token-major attention adding to existing gradients, blocked from \(threshold)", [q, k, v]) {
                        add(add(attention(q, k, v, layout: .tokenMajor), q), v)
                    }
                }
                blockedAttentionMinimumQueries = saved
            }
            if d % 2 == 0 {
                assertGradients("token-major rope \(h) heads", [q]) { rotaryEmbedding(q, offset: 5, theta: 300, layout: .tokenMajor) }
                let f = (0..<(d / 2)).map { 0.25 * pow(300.0, -2.0 * Double($0) / Double(d)) }
                assertGradients("token-major scaled rope \(h) heads", [q]) {
                    rotaryEmbedding(q, offset: 5, inverseFrequencies: f, attentionFactor: 1.2, layout: .tokenMajor)
                }
            }
        }
    }

    /// Each (batch, head) runs whole on one worker in either backward, so the
    /// thread count cannot change the numbers.
    func testTokenMajorSameNumbersForAnyThreadCount() {
        let savedMinimum = blockedAttentionMinimumQueries, savedThreads = Parallel.threads
        defer { blockedAttentionMinimumQueries = savedMinimum; Parallel.threads = savedThreads }
        for threshold in [savedMinimum, 16] {
            blockedAttentionMinimumQueries = threshold
            var results: [[Float]] = []
            for threads in [1, 2, 3] {
                Parallel.threads = threads
                results.append(run((2, 6, 2, 37, 12), bias: true, causal: true, rotary: .plain, headMajor: false).flatMap { $0 })
            }
            XCTAssertEqual(results[0], results[1], "blocked from \(threshold)")
            XCTAssertEqual(results[0], results[2], "blocked from \(threshold)")
        }
    }
}
