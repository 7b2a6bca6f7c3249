import XCTest
@testable import Kernels

/// The int4 prompt product in integer form: every register file's shape gives
/// the reference twin's bits on any thread count, and the twin is the float
/// product of the dequantized weights up to the activations' int8 rounding.
final class Int4MatmulTests: XCTestCase {
    func values(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Float(g.uniformDouble() * 2 - 1) * (g.uniformDouble() < 0.05 ? 6 : 1) * scale }
    }

    func product(_ x: [Float], _ m: QuantizedMatrix, tokens: Int, kernel: MatmulKernel, threads: Int) -> [Float] {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = threads
        var out = [Float](repeating: .nan, count: tokens * m.rows)
        x.withUnsafeBufferPointer { xp in
            let input = Int4MatmulInput(xp.baseAddress!, tokens: tokens, cols: m.cols, groupSize: m.groupSize)
            out.withUnsafeMutableBufferPointer { int4Matmul(input, m, $0.baseAddress!, kernel: kernel) }
        }
        return out
    }

    func reference(_ x: [Float], _ m: QuantizedMatrix, tokens: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: tokens * m.rows)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { int4MatmulReference(xp.baseAddress!, m, $0.baseAddress!, tokens: tokens) } }
        return out
    }

    func testEveryShapeGivesTheReferenceBits() {
        // Rows a whole number of vectors and not; token counts around the tile of 6; groups of 32, 64, 12.
        for (cols, groupSize) in [(32, 32), (96, 32), (576, 32), (256, 64), (60, 12)] {
            for (rows, tokens) in [(1, 1), (5, 7), (37, 6), (70, 13), (64, 5)] {
                let m = QuantizedMatrix(quantizing: values(rows * cols, seed: UInt64(cols + rows)), rows: rows, cols: cols,
                                        groupSize: groupSize, format: .int4)
                let x = values(tokens * cols, seed: UInt64(tokens))
                let expected = reference(x, m, tokens: tokens).map(\.bitPattern)
                for kernel in MatmulKernel.allCases {
                    for threads in [1, 2, 3] {
                        XCTAssertEqual(product(x, m, tokens: tokens, kernel: kernel, threads: threads).map(\.bitPattern), expected,
                                       "\(kernel), \(threads) threads, \(rows)×\(cols) in groups of \(groupSize), \(tokens) tokens")
                    }
                }
            }
        }
    }

    /// Against the float product of the dequantized weights: the only
    /// difference is each activation's rounding to its group's int8 level,
    /// at most half a step (sx/2), so |out − exact| ≤ Σ_G sx_G/2 · Σ_i |w_i|,
    /// plus float rounding of the sums (1e-5 of Σ|w·x|).
    func testReferenceIsTheDequantizedProductUpToTheActivationsRounding() {
        let (rows, cols, groupSize, tokens) = (9, 96, 32, 4)
        for scale: Float in [1, 1e4, 1e-4] {
            let m = QuantizedMatrix(quantizing: values(rows * cols, seed: 11), rows: rows, cols: cols, groupSize: groupSize, format: .int4)
            let x = values(tokens * cols, seed: 12, scale: scale)
            let out = reference(x, m, tokens: tokens)
            let w = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, count in
                m.dequantizeRows(0..<rows, into: buffer.baseAddress!); count = rows * cols
            }
            for c in 0..<tokens {
                for r in 0..<rows {
                    var exact = 0.0, bound = 0.0, magnitude = 0.0
                    for G in 0..<(cols / groupSize) {
                        let group = (G * groupSize)..<((G + 1) * groupSize)
                        let sx = Double(group.map { abs(x[c * cols + $0]) }.max()!) / 127
                        for i in group {
                            let product = Double(w[r * cols + i]) * Double(x[c * cols + i])
                            exact += product; magnitude += abs(product)
                            bound += abs(Double(w[r * cols + i])) * sx / 2
                        }
                    }
                    XCTAssertEqual(Double(out[c * rows + r]), exact, accuracy: bound + 1e-5 * magnitude, "scale \(scale), token \(c), row \(r)")
                }
            }
        }
    }

    /// A token row of zeros quantizes to scale 0 and gives zeros on every shape.
    func testZeroRowsGiveZeros() {
        let m = QuantizedMatrix(quantizing: values(3 * 64, seed: 5), rows: 3, cols: 64, groupSize: 32, format: .int4)
        let x = [Float](repeating: 0, count: 2 * 64)
        for kernel in MatmulKernel.allCases { XCTAssertEqual(product(x, m, tokens: 2, kernel: kernel, threads: 1), [Float](repeating: 0, count: 6)) }
    }

    /// The 16-at-a-time quantizers give the value-by-value rule's scale and levels,
    /// ties (x·inverse = k + ½) and the clamp's edge included.
    func testVectorQuantizationEqualsQuantizeGroup() {
        for g in [32, 64, 96] {
            var cases = [values(g, seed: UInt64(g)), values(g, seed: 2, scale: 1e-30), values(g, seed: 3, scale: 3e37), [Float](repeating: 0, count: g)]
            cases.append((0..<g).map { Float($0 % 255 - 127) + ($0 % 3 == 0 ? 0.5 : 0) })   // ties on the way to ±127
            cases.append((0..<g).map { $0 == 5 ? -254 : Float($0) - 0.5 })                    // the largest negative
            cases.append((0..<g).map { $0 == 0 ? 7 : Float($0 % 13 - 6) + 0.5 })             // ties at max level 7
            for x in cases {
                var levels = [Int8](repeating: 0, count: g), paired = [Int32](repeating: 0, count: g / 2)
                let expected = x.withUnsafeBufferPointer { quantizeGroupOneByOne($0.baseAddress!, count: g, maxLevel: 127, into: &levels) }
                let scale = x.withUnsafeBufferPointer { quantizePairs($0.baseAddress!, groupSize: g, into: &paired) }
                XCTAssertEqual(scale.bitPattern, expected.bitPattern, "groups of \(g)")
                XCTAssertEqual(paired, (0..<(g / 2)).map { packPair(Int16(levels[$0]), Int16(levels[g / 2 + $0])) }, "groups of \(g)")
                for maxLevel: Float in [127, 7] {  // activations and int8 weights; int4 weights
                    var one = [Int8](repeating: 0, count: g), sixteen = [Int8](repeating: 0, count: g)
                    let expectedScale = x.withUnsafeBufferPointer { quantizeGroupOneByOne($0.baseAddress!, count: g, maxLevel: maxLevel, into: &one) }
                    let scale16 = x.withUnsafeBufferPointer { quantizeGroup($0.baseAddress!, count: g, maxLevel: maxLevel, into: &sixteen) }
                    XCTAssertEqual(scale16.bitPattern, expectedScale.bitPattern, "groups of \(g), max level \(maxLevel)")
                    XCTAssertEqual(sixteen, one, "groups of \(g), max level \(maxLevel)")
                }
            }
        }
    }
}
