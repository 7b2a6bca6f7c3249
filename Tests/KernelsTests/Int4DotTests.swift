import XCTest
import Kernels

/// The int4 row dot product's shapes (avx512, avx2, neon, generic): every one
/// gives the reference twin's bits, for any thread count, and the twin is the
/// exact integer dot product scaled per group.
final class Int4DotTests: XCTestCase {
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Float(g.uniformDouble() * 2 - 1) * (g.uniformDouble() < 0.05 ? 6 : 1) }
    }

    /// out = W·x through matVec with `kernel`'s shape.
    func product(_ m: QuantizedMatrix, _ x: [Float], kernel: MatmulKernel, threads: Int = 1) -> [Float] {
        let saved = (MatmulKernel.current, Parallel.threads)
        defer { (MatmulKernel.current, Parallel.threads) = saved }
        MatmulKernel.current = kernel
        Parallel.threads = threads
        let activations = QuantizedActivations(capacity: m.cols)
        var out = [Float](repeating: .nan, count: m.rows)
        x.withUnsafeBufferPointer { xp in
            activations.quantize(xp.baseAddress!, count: m.cols, groupSize: m.groupSize, for: .int4)
            XCTAssertEqual(activations.int4.kernel, kernel)
            out.withUnsafeMutableBufferPointer { op in
                matVec([MatVecJob(weights: .quantized(m), rows: m.rows, cols: m.cols, input: xp.baseAddress!, activations: activations,
                                  bias: nil, output: op.baseAddress!)])
            }
        }
        return out
    }

    func testEveryShapeGivesTheReferenceBits() {
        // 32-groups even and odd in number (a half unit ends the row), 64- and 128-groups.
        for (cols, groupSize) in [(128, 32), (96, 32), (32, 32), (576, 32), (256, 64), (384, 128)] {
            let rows = 37
            let m = QuantizedMatrix(quantizing: values(rows * cols, seed: UInt64(cols + groupSize)), rows: rows, cols: cols,
                                    groupSize: groupSize, format: .int4)
            let x = values(cols, seed: 7)
            let reference = product(m, x, kernel: .generic)
            for kernel in MatmulKernel.allCases {
                for threads in [1, 2, 3] {
                    XCTAssertEqual(product(m, x, kernel: kernel, threads: threads).map(\.bitPattern), reference.map(\.bitPattern),
                                   "\(kernel), \(threads) threads, cols \(cols), groups of \(groupSize)")
                }
            }
        }
    }

    /// The twin is Σ_g (Σ_i q_w·q_x) · s_w · s_x, up to the order of the float sum.
    func testReferenceIsTheScaledIntegerDotProduct() {
        for (cols, groupSize) in [(96, 32), (256, 64)] {
            let rows = 5
            let m = QuantizedMatrix(quantizing: values(rows * cols, seed: 3), rows: rows, cols: cols, groupSize: groupSize, format: .int4)
            let x = values(cols, seed: 4)
            let activations = QuantizedActivations(capacity: cols)
            x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, count: cols, groupSize: groupSize) }
            let out = product(m, x, kernel: .generic)
            for r in 0..<rows {
                var expected: Double = 0
                for g in 0..<(cols / groupSize) {
                    var sum = 0
                    for c in (g * groupSize)..<((g + 1) * groupSize) { sum += m.level(r, c) * Int(activations.levels[c]) }
                    expected += Double(sum) * Double(m.scales[r * (cols / groupSize) + g] * activations.scales[g])
                }
                XCTAssertEqual(Double(out[r]), expected, accuracy: 1e-5 * max(1, abs(expected)), "row \(r)")
            }
        }
    }
}

/// Prompt processing's products with quantized weights.
final class QuantizedMatmulTests: XCTestCase {
    func testPanelsGiveTheProductWithTheDequantizedMatrix() {
        var g = RandomGenerator(seed: 9)
        for format in QuantizedFormat.allCases {
            for (rows, cols, groupSize) in [(150, 64, 32), (70, 96, 16), (9, 128, 64)] {
                let w = (0..<(rows * cols)).map { _ in Float(g.uniformDouble() * 2 - 1) }
                let m = QuantizedMatrix(quantizing: w, rows: rows, cols: cols, groupSize: groupSize, format: format)
                let dense = m.dequantized()
                var panel = [Float](repeating: 0, count: 5 * cols)
                panel.withUnsafeMutableBufferPointer { m.dequantizeRows(3..<8, into: $0.baseAddress!) }
                XCTAssertEqual(panel.map(\.bitPattern), dense[(3 * cols)..<(8 * cols)].map(\.bitPattern), "\(format) dequantizeRows")
                for t in [1, 3, 20] {
                    let x = (0..<(t * cols)).map { _ in Float(g.uniformDouble() * 2 - 1) }
                    var expected = [Float](repeating: 0, count: t * rows), got = expected
                    matmul(x, dense, &expected, m: t, n: rows, k: cols, transposeB: true)
                    x.withUnsafeBufferPointer { xp in got.withUnsafeMutableBufferPointer { quantizedMatmul(xp.baseAddress!, m, $0.baseAddress!, tokens: t) } }
                    XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(format) (\(rows), \(cols)) g\(groupSize) t \(t)")
                }
            }
        }
    }
}
