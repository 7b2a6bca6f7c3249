import XCTest
import Kernels
import Autograd

final class LinearTests: XCTestCase {
    func testMatmulAgainstTripleLoop() {
        for (b, m, k, n) in [(1, 1, 1, 1), (2, 3, 5, 7), (3, 9, 17, 2)] {
            let a = randomTensor([b, m, k], seed: 1), w = randomTensor([k, n], seed: 2), bw = randomTensor([b, k, n], seed: 3)
            let shared = matmul(a, w).toArray(), batched = matmul(a, bw).toArray()
            var ref1 = [Float](), ref2 = [Float]()
            for s in 0..<b { for i in 0..<m { for j in 0..<n {
                var x: Float = 0, y: Float = 0
                for p in 0..<k {
                    x += a.data[(s * m + i) * k + p] * w.data[p * n + j]
                    y += a.data[(s * m + i) * k + p] * bw.data[(s * k + p) * n + j]
                }
                ref1.append(x); ref2.append(y)
            } } }
            assertClose(shared, ref1, tolerance: 1e-5, "matmul shared \(b)x\(m)x\(k)x\(n)")
            assertClose(batched, ref2, tolerance: 1e-5, "matmul batched")
            assertGradients("matmul shared", [a, w]) { matmul(a, w) }
            assertGradients("matmul batched", [a, bw]) { matmul(a, bw) }
        }
    }

    func testLinearWithAndWithoutBias() {
        let x = randomTensor([2, 3, 9], seed: 4), w = randomTensor([5, 9], seed: 5), b = randomTensor([5], seed: 6)
        let y = linear(x, weight: w, bias: b).toArray()
        var ref = [Float]()
        for r in 0..<6 { for j in 0..<5 {
            var s = b.data[j]
            for p in 0..<9 { s += x.data[r * 9 + p] * w.data[j * 9 + p] }
            ref.append(s)
        } }
        assertClose(y, ref, tolerance: 1e-5, "linear")
        assertGradients("linear+bias", [x, w, b]) { linear(x, weight: w, bias: b) }
        assertGradients("linear", [x, w]) { linear(x, weight: w) }
        let one = randomTensor([1, 1], seed: 7), w1 = randomTensor([1, 1], seed: 8)
        assertGradients("linear 1x1", [one, w1]) { linear(one, weight: w1) }
    }

    /// The fused residual gives add(residual, linear(…))'s bits, forward and
    /// backward, and passes finite differences (the residual an input too,
    /// and an intermediate whose gradient starts empty). Sizes not a
    /// multiple of 8, with and without bias; the default tolerances.
    func testLinearAddingAResidual() {
        let x = randomTensor([2, 3, 9], seed: 14), w = randomTensor([13, 9], seed: 15), b = randomTensor([13], seed: 16)
        let r = randomTensor([2, 3, 13], seed: 17)
        for t in [x, w, b, r] { t.requiresGrad = true }
        for bias in [b, nil] {
            let fused = { linear(x, weight: w, bias: bias, adding: r) }
            let separate = { add(r, linear(x, weight: w, bias: bias)) }
            XCTAssertEqual(fused().toArray().map(\.bitPattern), separate().toArray().map(\.bitPattern), "bias \(bias != nil)")
            func gradients(_ f: () -> Tensor) -> [[Float]] {
                for t in [x, w, b, r] { t.grad = nil }
                sum(mul(f(), f())).backward()
                return [x, w, r].map { $0.grad!.toArray() } + (bias == nil ? [] : [b.grad!.toArray()])
            }
            XCTAssertEqual(gradients(fused).map { $0.map(\.bitPattern) }, gradients(separate).map { $0.map(\.bitPattern) }, "bias \(bias != nil)")
            assertGradients("linear adding a residual, bias \(bias != nil)", [x, w, r] + (bias.map { [$0] } ?? [])) { fused() }
            assertGradients("residual from an intermediate", [x, w, r]) {
                let h = scale(r, 1.3)
                return add(linear(x, weight: w, bias: bias, adding: h), h)
            }
        }
    }

    func testEmbeddingGathersAndScatterAdds() {
        let table = randomTensor([5, 3], seed: 9)
        let ids: [Int32] = [4, 0, 4, 2, 4, 1]
        let e = embedding(table, ids: ids, shape: [2, 3])
        XCTAssertEqual(e.shape, [2, 3, 3])
        for (i, id) in ids.enumerated() { for d in 0..<3 { XCTAssertEqual(e.data[i * 3 + d], table.data[Int(id) * 3 + d]) } }
        assertGradients("embedding (repeated ids)", [table]) { embedding(table, ids: ids, shape: [2, 3]) }
        // Row 4 is used three times: its gradient is the sum of three paths.
        table.grad = nil
        sum(embedding(table, ids: ids, shape: [6])).backward()
        XCTAssertEqual(table.grad!.data[4 * 3], 3)
        XCTAssertEqual(table.grad!.data[3 * 3], 0)
    }
}
