import Foundation
import XCTest
import Kernels

final class MatmulTests: XCTestCase {
    /// The four operand layouts: A·B, A·Bᵀ, Aᵀ·B (what the engine uses) and Aᵀ·Bᵀ.
    static let layouts: [(transposeA: Bool, transposeB: Bool)] = [(false, false), (false, true), (true, false), (true, true)]

    /// Awkward (m, n, k): nothing a multiple of the 12×32 register block or of
    /// the SIMD width, plus shapes on and just past the cache blocks (96 rows,
    /// 128 columns, reductions cut into blocks past 768), skinny GEMV-like ones,
    /// rows of 1024 floats, which are packed instead of read in place, and
    /// ragged last row panels of 9–11 rows over whole 32-column panels.
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 7, 3), (3, 1, 7), (7, 13, 17), (13, 17, 31), (17, 33, 13), (31, 65, 33),
        (33, 31, 100), (65, 100, 7), (100, 3, 65), (1, 257, 33), (2, 100, 257), (5, 65, 300), (8, 129, 64),
        (9, 33, 40), (12, 32, 256), (96, 128, 256), (97, 129, 257), (95, 127, 513), (257, 17, 31), (31, 257, 1),
        (13, 40, 768), (97, 45, 769), (20, 70, 1537), (25, 40, 1024), (13, 1024, 40), (1024, 33, 5),
        (23, 64, 50), (45, 32, 129),
    ]

    func randomMatrix(_ count: Int, _ rng: inout RandomGenerator) -> [Float] {
        (0..<count).map { _ in rng.uniform() * 2 - 1 }  // signed, so sums cancel as in real use
    }

    /// Runs `matmul` and `matmulReference` on the same inputs and compares.
    ///
    /// Tolerance: a float32 sum of k products (with or without FMA, in any
    /// order) is off from the exact sum by at most about k·u·Σ|a||b|, u = 2⁻²⁴
    /// (Higham, recursive summation bound γₖ ≈ k·u). The Double reference is
    /// exact to far below that but is rounded once to Float, and `accumulate`
    /// adds one more rounding of |c₀| + |sum|. So we allow
    /// 2·(k + 2)·u·(Σ|a||b| + |c₀|): the worst-case bound with a factor 2 of slack,
    /// yet still hundreds of times tighter than any indexing bug would produce.
    func check(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let a = randomMatrix(m * k, &rng), b = randomMatrix(k * n, &rng), c0 = randomMatrix(m * n, &rng)
        var fast = c0, reference = c0
        var bound = [Float](repeating: 0, count: m * n)
        let absA = a.map(abs), absB = b.map(abs)
        matmul(a, b, &fast, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
        matmulReference(a, b, &reference, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
        matmulReference(absA, absB, &bound, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        let u: Float = 1.0 / 16_777_216
        for idx in 0..<(m * n) {
            let magnitude = bound[idx] + (accumulate ? abs(c0[idx]) : 0)
            let tolerance = 2 * Float(k + 2) * u * magnitude
            if !(abs(fast[idx] - reference[idx]) <= tolerance) {
                XCTFail("m=\(m) n=\(n) k=\(k) tA=\(transposeA) tB=\(transposeB) acc=\(accumulate): "
                        + "C[\(idx / n), \(idx % n)] = \(fast[idx]), reference \(reference[idx]), tolerance \(tolerance)")
                return
            }
        }
    }

    func testAllLayoutsAgainstReference() {
        var seed: UInt64 = 1
        for shape in Self.shapes {
            for layout in Self.layouts {
                for accumulate in [false, true] {
                    check(m: shape.m, n: shape.n, k: shape.k, transposeA: layout.transposeA,
                          transposeB: layout.transposeB, accumulate: accumulate, seed: seed)
                    seed += 1
                }
            }
        }
    }

    func testTransformerShapes() {
        for layout in Self.layouts.prefix(3) {
            check(m: 96, n: 65, k: 128, transposeA: layout.transposeA, transposeB: layout.transposeB, accumulate: false, seed: 7)
            check(m: 64, n: 128, k: 512, transposeA: layout.transposeA, transposeB: layout.transposeB, accumulate: true, seed: 8)
        }
    }

    /// k = 0: the product is an empty sum, so C = 0, or C unchanged when accumulating.
    func testEmptyReduction() {
        for layout in Self.layouts {
            var c: [Float] = [1, 2, 3, 4, 5, 6]
            matmul([], [], &c, m: 2, n: 3, k: 0, transposeA: layout.transposeA, transposeB: layout.transposeB, accumulate: true)
            XCTAssertEqual(c, [1, 2, 3, 4, 5, 6])
            matmul([], [], &c, m: 2, n: 3, k: 0, transposeA: layout.transposeA, transposeB: layout.transposeB)
            XCTAssertEqual(c, [0, 0, 0, 0, 0, 0])
        }
    }

    /// m = 0 or n = 0: nothing to write; C (here a sentinel) is untouched.
    func testEmptyOutput() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        var sentinel: [Float] = [42]
        matmul(a, a, &sentinel, m: 0, n: 3, k: 2)
        matmul(a, a, &sentinel, m: 3, n: 0, k: 2, transposeA: true, transposeB: true)
        XCTAssertEqual(sentinel, [42])
    }

    /// For A·B, a row of C comes out bit-identical whether computed alone
    /// (m = 1, the skinny GEMV-like path) or inside a larger product (the
    /// blocked path): both sum p = 0, 1, …, k-1 in order with one FMA per step.
    /// (Skinny A·Bᵀ uses dot products instead, which round differently; that
    /// is documented in Matmul.swift and only the tolerance tests apply.)
    func testRowAloneMatchesRowInBatch() {
        var rng = RandomGenerator(seed: 5)
        let (m, n, k) = (20, 300, 70)
        let a = randomMatrix(m * k, &rng), b = randomMatrix(k * n, &rng)
        var full = [Float](repeating: 0, count: m * n)
        matmul(a, b, &full, m: m, n: n, k: k)
        for i in [0, 7, 19] {
            var row = [Float](repeating: 0, count: n)
            matmul(Array(a[(i * k)..<(i * k + k)]), b, &row, m: 1, n: n, k: k)
            XCTAssert(row.map(\.bitPattern) == full[(i * n)..<(i * n + n)].map(\.bitPattern), "row \(i)")
        }
    }

    /// Bit-identical results for any thread count (the reduction is never split).
    func testDeterministicAcrossThreadCounts() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var rng = RandomGenerator(seed: 99)
        for (m, n, k) in [(300, 200, 600), (3, 700, 300), (1, 513, 257), (200, 65, 130)] {
            let a = randomMatrix(m * k, &rng), b = randomMatrix(k * n, &rng), c0 = randomMatrix(m * n, &rng)
            for layout in Self.layouts {
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    Parallel.threads = threads
                    var c = c0
                    matmul(a, b, &c, m: m, n: n, k: k, transposeA: layout.transposeA, transposeB: layout.transposeB, accumulate: true)
                    results.append(c)
                }
                for r in results.dropFirst() {
                    XCTAssert(r.map(\.bitPattern) == results[0].map(\.bitPattern),
                              "m=\(m) n=\(n) k=\(k) \(layout): result depends on the thread count")
                }
            }
        }
    }

    /// C = op(A)·op(B) (+ C) the naive way: each element summed p = 0, 1, …, k-1
    /// with one Float FMA per step, starting from 0 (or C). The rounding every
    /// kernel must reproduce exactly.
    func naiveFMA(_ a: [Float], _ b: [Float], _ c: inout [Float], m: Int, n: Int, k: Int,
                  transposeA: Bool, transposeB: Bool, accumulate: Bool) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = accumulate ? c[i * n + j] : 0
                for p in 0..<k {
                    let x = transposeA ? a[p * m + i] : a[i * k + p]
                    let y = transposeB ? b[j * k + p] : b[p * n + j]
                    s = s.addingProduct(x, y)
                }
                c[i * n + j] = s
            }
        }
    }

    /// Every register block (whichever this CPU would pick) gives the same bits
    /// as the others, on 1 and 2 threads, and as the naive in-order FMA sum
    /// (except skinny A·Bᵀ, m <= 8, whose dot products round differently but
    /// are the same code for every block).
    func testEveryKernelBitIdentical() {
        let savedKernel = MatmulKernel.current, savedThreads = Parallel.threads
        defer { MatmulKernel.current = savedKernel; Parallel.threads = savedThreads }
        var rng = RandomGenerator(seed: 2024)
        let extraShapes: [(m: Int, n: Int, k: Int)] = [(128, 768, 128), (64, 65, 384), (50, 12, 20), (9, 4, 5), (19, 300, 40)]
        for shape in Self.shapes + extraShapes {
            let (m, n, k) = shape
            let a = randomMatrix(m * k, &rng), b = randomMatrix(k * n, &rng), c0 = randomMatrix(m * n, &rng)
            for layout in Self.layouts {
                for accumulate in [false, true] {
                    var naive = c0
                    naiveFMA(a, b, &naive, m: m, n: n, k: k, transposeA: layout.transposeA,
                             transposeB: layout.transposeB, accumulate: accumulate)
                    var first: [Float]?
                    for kernel in MatmulKernel.allCases {
                        for threads in [1, 2] {
                            MatmulKernel.current = kernel
                            Parallel.threads = threads
                            var c = c0
                            matmul(a, b, &c, m: m, n: n, k: k, transposeA: layout.transposeA,
                                   transposeB: layout.transposeB, accumulate: accumulate)
                            let what = "m=\(m) n=\(n) k=\(k) \(layout) acc=\(accumulate) kernel=\(kernel) threads=\(threads)"
                            if let first {
                                XCTAssert(c.map(\.bitPattern) == first.map(\.bitPattern), "\(what): differs from the first kernel")
                            } else {
                                first = c
                            }
                            if !(m <= 8 && layout.transposeB) {
                                XCTAssert(c.map(\.bitPattern) == naive.map(\.bitPattern), "\(what): differs from the naive FMA sum")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The kernel variable is read once; a bad value is reported, never trapped on.
    func testKernelNames() {
        XCTAssertEqual(MatmulKernel.allCases.map(\.rawValue), ["avx512", "avx2", "neon", "generic"])
        #if arch(arm64)
        XCTAssertEqual(MatmulKernel.detected, .neon)
        #endif
        if ProcessInfo.processInfo.environment[MatmulKernel.environmentVariable] == nil {
            XCTAssertNil(MatmulKernel.environmentError)
        }
    }
}
