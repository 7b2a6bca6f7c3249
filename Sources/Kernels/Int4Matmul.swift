import Foundation

// Prompt-sized int4 products in integer form: out (t, rows) = x (t, cols) · Wᵀ.
//
// Each token row of x is quantized to int8 per group, as the per-token path
// quantizes its one row (`quantizeGroup`, scale sx). In a group of g values,
// pair i is (value i, value i + g/2): the low and high nibble of the group's
// byte i. For weight row r and token c, group G adds
//
//     acc = Σ_i (L_i − 8)·x[c, i] + (H_i − 8)·x[c, i + g/2]     (exact, Int32)
//     T   = fma(Float(acc), sw[r, G] · sx[c, G], T)             (G = 0, 1, … in order)
//
// and out[c, r] = T. The integer sum is exact however it is formed, and every
// shape runs these float operations in this order, so every shape gives the
// same bits, for any thread count (threads own panels of rows).
//
// The shapes put V tokens in the lanes of one vector (V = 16 zmm, 8 ymm, 4
// elsewhere) and a weight pair, broadcast, in every lane: one multiply-add of
// Int16 pairs (vpmaddwd; vpdpwssd with VNNI) adds a pair's two products for V
// tokens, six weight rows at a time. `int4MatmulReference` is the readable
// twin the tests hold every shape to.

/// Whether `int4Matmul` multiplies a matrix (int4, groups of an even size).
public func int4MatmulCovers(_ w: QuantizedMatrix) -> Bool { w.format == .int4 && w.groupSize % 2 == 0 }

/// A weight pair or an activation pair as one Int32: the first value in the low 16 bits.
@inline(__always)
func packPair(_ first: Int16, _ second: Int16) -> Int32 {
    Int32(bitPattern: UInt32(UInt16(bitPattern: first)) | UInt32(UInt16(bitPattern: second)) << 16)
}

/// The chunk's activations, quantized and laid out for a lane count: per block
/// of V tokens, pairs[p][V] and scales[G][V] (tokens past t are zeros).
struct Int4PairActivations {
    let lanes: Int, blocks: Int, pairsPerRow: Int, groups: Int
    let pairs: UnsafeMutablePointer<Int32>
    let scales: UnsafeMutablePointer<Float>

    init(_ x: UnsafePointer<Float>, tokens t: Int, cols: Int, groupSize: Int, lanes: Int) {
        self.lanes = lanes
        blocks = (t + lanes - 1) / lanes
        pairsPerRow = cols / 2
        groups = cols / groupSize
        pairs = .allocate(capacity: blocks * pairsPerRow * lanes)
        pairs.initialize(repeating: 0, count: blocks * pairsPerRow * lanes)
        scales = .allocate(capacity: blocks * groups * lanes)
        scales.initialize(repeating: 0, count: blocks * groups * lanes)
        let half = groupSize / 2
        let levels = UnsafeMutablePointer<Int8>.allocate(capacity: cols)
        defer { levels.deallocate() }
        for c in 0..<t {
            let (block, lane) = (c / lanes, c % lanes)
            for g in 0..<groups {
                scales[(block * groups + g) * lanes + lane] = quantizeGroup(x + c * cols + g * groupSize, count: groupSize, maxLevel: 127,
                                                                            into: levels + g * groupSize)
            }
            for p in 0..<pairsPerRow {
                let first = (p / half) * groupSize + p % half
                pairs[(block * pairsPerRow + p) * lanes + lane] = packPair(Int16(levels[first]), Int16(levels[first + half]))
            }
        }
    }

    func deallocate() { pairs.deallocate(); scales.deallocate() }
}

/// Rows first..<first+count of an int4 matrix as weight pairs (L − 8, H − 8), one Int32 per byte.
func unpackPairs(_ w: QuantizedMatrix, rows range: Range<Int>, into out: UnsafeMutablePointer<Int32>) {
    let bytes = w.cols / 2
    let data = w.data.baseAddress! + range.lowerBound * bytes
    for i in 0..<(range.count * bytes) {
        let b = data[i]
        out[i] = packPair(Int16(b & 15) - 8, Int16(b >> 4) - 8)
    }
}

/// How a shape multiplies a broadcast weight pair with V tokens' pairs, and turns lanes to floats.
protocol Int4TokenLanes {
    associatedtype Ints: SIMD where Ints.Scalar == Int32
    associatedtype Floats: SIMD where Floats.Scalar == Float
    static var count: Int { get }
    /// Per lane: low(w)·low(x) + high(w)·high(x), as Int16 products.
    static func pairProducts(_ w: Int32, _ x: Ints) -> Ints
    static func floats(_ v: Ints) -> Floats
}

// The lanes are spelled out element by element: LLVM folds the widened
// products and the sums of adjacent pairs into one vpmaddwd (vpdpwssd when
// added to a sum with VNNI), and the conversions into one vcvtdq2ps.
enum Lanes16: Int4TokenLanes {
    static var count: Int { 16 }
    @inline(__always)
    static func pairProducts(_ w: Int32, _ x: SIMD16<Int32>) -> SIMD16<Int32> {
        let a = unsafeBitCast(SIMD16<Int32>(repeating: w), to: SIMD32<Int16>.self), b = unsafeBitCast(x, to: SIMD32<Int16>.self)
        let p = SIMD32<Int32>(Int32(a[0]), Int32(a[1]), Int32(a[2]), Int32(a[3]), Int32(a[4]), Int32(a[5]), Int32(a[6]), Int32(a[7]), Int32(a[8]), Int32(a[9]), Int32(a[10]), Int32(a[11]), Int32(a[12]), Int32(a[13]), Int32(a[14]), Int32(a[15]), Int32(a[16]), Int32(a[17]), Int32(a[18]), Int32(a[19]), Int32(a[20]), Int32(a[21]), Int32(a[22]), Int32(a[23]), Int32(a[24]), Int32(a[25]), Int32(a[26]), Int32(a[27]), Int32(a[28]), Int32(a[29]), Int32(a[30]), Int32(a[31]))
            &* SIMD32<Int32>(Int32(b[0]), Int32(b[1]), Int32(b[2]), Int32(b[3]), Int32(b[4]), Int32(b[5]), Int32(b[6]), Int32(b[7]), Int32(b[8]), Int32(b[9]), Int32(b[10]), Int32(b[11]), Int32(b[12]), Int32(b[13]), Int32(b[14]), Int32(b[15]), Int32(b[16]), Int32(b[17]), Int32(b[18]), Int32(b[19]), Int32(b[20]), Int32(b[21]), Int32(b[22]), Int32(b[23]), Int32(b[24]), Int32(b[25]), Int32(b[26]), Int32(b[27]), Int32(b[28]), Int32(b[29]), Int32(b[30]), Int32(b[31]))
        return SIMD16<Int32>(p[0] &+ p[1], p[2] &+ p[3], p[4] &+ p[5], p[6] &+ p[7], p[8] &+ p[9], p[10] &+ p[11], p[12] &+ p[13], p[14] &+ p[15], p[16] &+ p[17], p[18] &+ p[19], p[20] &+ p[21], p[22] &+ p[23], p[24] &+ p[25], p[26] &+ p[27], p[28] &+ p[29], p[30] &+ p[31])
    }
    @inline(__always)
    static func floats(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        SIMD16<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]), Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
    }
}

enum Lanes8: Int4TokenLanes {
    static var count: Int { 8 }
    @inline(__always)
    static func pairProducts(_ w: Int32, _ x: SIMD8<Int32>) -> SIMD8<Int32> {
        let a = unsafeBitCast(SIMD8<Int32>(repeating: w), to: SIMD16<Int16>.self), b = unsafeBitCast(x, to: SIMD16<Int16>.self)
        let p = SIMD16<Int32>(Int32(a[0]), Int32(a[1]), Int32(a[2]), Int32(a[3]), Int32(a[4]), Int32(a[5]), Int32(a[6]), Int32(a[7]), Int32(a[8]), Int32(a[9]), Int32(a[10]), Int32(a[11]), Int32(a[12]), Int32(a[13]), Int32(a[14]), Int32(a[15])) &* SIMD16<Int32>(Int32(b[0]), Int32(b[1]), Int32(b[2]), Int32(b[3]), Int32(b[4]), Int32(b[5]), Int32(b[6]), Int32(b[7]), Int32(b[8]), Int32(b[9]), Int32(b[10]), Int32(b[11]), Int32(b[12]), Int32(b[13]), Int32(b[14]), Int32(b[15]))
        return SIMD8<Int32>(p[0] &+ p[1], p[2] &+ p[3], p[4] &+ p[5], p[6] &+ p[7], p[8] &+ p[9], p[10] &+ p[11], p[12] &+ p[13], p[14] &+ p[15])
    }
    @inline(__always)
    static func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> { SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7])) }
}

enum Lanes4: Int4TokenLanes {
    static var count: Int { 4 }
    @inline(__always)
    static func pairProducts(_ w: Int32, _ x: SIMD4<Int32>) -> SIMD4<Int32> {
        let a = unsafeBitCast(SIMD4<Int32>(repeating: w), to: SIMD8<Int16>.self), b = unsafeBitCast(x, to: SIMD8<Int16>.self)
        let p = SIMD8<Int32>(Int32(a[0]), Int32(a[1]), Int32(a[2]), Int32(a[3]), Int32(a[4]), Int32(a[5]), Int32(a[6]), Int32(a[7])) &* SIMD8<Int32>(Int32(b[0]), Int32(b[1]), Int32(b[2]), Int32(b[3]), Int32(b[4]), Int32(b[5]), Int32(b[6]), Int32(b[7]))
        return SIMD4<Int32>(p[0] &+ p[1], p[2] &+ p[3], p[4] &+ p[5], p[6] &+ p[7])
    }
    @inline(__always)
    static func floats(_ v: SIMD4<Int32>) -> SIMD4<Float> { SIMD4<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3])) }
}

/// Six weight rows (pairs `w`, a row every `rowPairs`; scales `ws`) against one block
/// of V tokens; rows past `rowCount` repeat the last and are not stored.
@inline(__always)
func int4SixRows<L: Int4TokenLanes>(_: L.Type, _ w: UnsafePointer<Int32>, _ ws: UnsafePointer<Float>, rowPairs: Int, groups: Int,
                                    rowCount: Int, _ x: Int4PairActivations, block: Int, store: (Int, L.Floats) -> Void) {
    let v = L.count, half = rowPairs / groups
    let last = rowCount - 1
    let r1 = min(1, last), r2 = min(2, last), r3 = min(3, last), r4 = min(4, last), r5 = min(5, last)
    let w0 = w, w1 = w + r1 * rowPairs, w2 = w + r2 * rowPairs
    let w3 = w + r3 * rowPairs, w4 = w + r4 * rowPairs, w5 = w + r5 * rowPairs
    let s0 = ws, s1 = ws + r1 * groups, s2 = ws + r2 * groups
    let s3 = ws + r3 * groups, s4 = ws + r4 * groups, s5 = ws + r5 * groups
    let xp = UnsafeRawPointer(x.pairs + block * x.pairsPerRow * v), xs = UnsafeRawPointer(x.scales + block * groups * v)
    var t0 = L.Floats(), t1 = L.Floats(), t2 = L.Floats(), t3 = L.Floats(), t4 = L.Floats(), t5 = L.Floats()
    for g in 0..<groups {
        var a0 = L.Ints(), a1 = L.Ints(), a2 = L.Ints(), a3 = L.Ints(), a4 = L.Ints(), a5 = L.Ints()
        for p in (g * half)..<((g + 1) * half) {
            let xv = xp.loadUnaligned(fromByteOffset: p * v * 4, as: L.Ints.self)
            a0 &+= L.pairProducts(w0[p], xv); a1 &+= L.pairProducts(w1[p], xv); a2 &+= L.pairProducts(w2[p], xv)
            a3 &+= L.pairProducts(w3[p], xv); a4 &+= L.pairProducts(w4[p], xv); a5 &+= L.pairProducts(w5[p], xv)
        }
        let sx = xs.loadUnaligned(fromByteOffset: g * v * 4, as: L.Floats.self)
        t0.addProduct(L.floats(a0), L.Floats(repeating: s0[g]) * sx); t1.addProduct(L.floats(a1), L.Floats(repeating: s1[g]) * sx)
        t2.addProduct(L.floats(a2), L.Floats(repeating: s2[g]) * sx); t3.addProduct(L.floats(a3), L.Floats(repeating: s3[g]) * sx)
        t4.addProduct(L.floats(a4), L.Floats(repeating: s4[g]) * sx); t5.addProduct(L.floats(a5), L.Floats(repeating: s5[g]) * sx)
    }
    store(0, t0)
    if rowCount > 1 { store(1, t1) }
    if rowCount > 2 { store(2, t2) }
    if rowCount > 3 { store(3, t3) }
    if rowCount > 4 { store(4, t4) }
    if rowCount > 5 { store(5, t5) }
}

@inline(__always)
func int4MatmulLanes<L: Int4TokenLanes>(_ lanes: L.Type, _ x: UnsafePointer<Float>, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>, tokens t: Int) {
    let v = L.count, rowPairs = w.cols / 2, groups = w.groupsPerRow
    let activations = Int4PairActivations(x, tokens: t, cols: w.cols, groupSize: w.groupSize, lanes: v)
    defer { activations.deallocate() }
    let panel = 48, panels = (w.rows + panel - 1) / panel
    Parallel.forEach(panels) { p in
        let first = p * panel, rows = min(panel, w.rows - first)
        let pairs = UnsafeMutablePointer<Int32>.allocate(capacity: rows * rowPairs)
        defer { pairs.deallocate() }
        unpackPairs(w, rows: first..<(first + rows), into: pairs)
        let ws = w.scales.baseAddress! + first * groups
        for block in 0..<activations.blocks {
            let tokens = min(v, t - block * v)
            var r = 0
            while r < rows {
                let base = r
                int4SixRows(L.self, pairs + r * rowPairs, ws + r * groups, rowPairs: rowPairs, groups: groups, rowCount: min(6, rows - r),
                            activations, block: block) { k, values in
                    for lane in 0..<tokens { out[(block * v + lane) * w.rows + first + base + k] = values[lane] }
                }
                r += 6
            }
        }
    }
}

/// out (t, w.rows) = x (t, w.cols) · Wᵀ for int4 weights, in integer form (see
/// the top of this file), with the lanes of `kernel`'s register file.
public func int4Matmul(_ x: UnsafePointer<Float>, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>, tokens t: Int,
                       kernel: MatmulKernel = .current) {
    require(int4MatmulCovers(w), "int4Matmul: \(w.format.rawValue) weights in groups of \(w.groupSize); int4 in groups of an even size")
    switch kernel {
    case .avx512: int4MatmulLanes(Lanes16.self, x, w, out, tokens: t)
    case .avx2: int4MatmulLanes(Lanes8.self, x, w, out, tokens: t)
    case .neon, .generic: int4MatmulLanes(Lanes4.self, x, w, out, tokens: t)
    }
}

/// The readable twin: each output from the plain levels, one product at a time.
public func int4MatmulReference(_ x: UnsafePointer<Float>, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>, tokens t: Int) {
    let g = w.groupSize, half = g / 2, groups = w.groupsPerRow
    let levels = UnsafeMutablePointer<Int8>.allocate(capacity: w.cols), xs = UnsafeMutablePointer<Float>.allocate(capacity: groups)
    defer { levels.deallocate(); xs.deallocate() }
    for c in 0..<t {
        for G in 0..<groups { xs[G] = quantizeGroup(x + c * w.cols + G * g, count: g, maxLevel: 127, into: levels + G * g) }
        for r in 0..<w.rows {
            var total: Float = 0
            for G in 0..<groups {
                var acc: Int32 = 0
                for i in 0..<half {
                    let byte = w.data[r * w.cols / 2 + G * half + i]
                    acc += (Int32(byte & 15) - 8) * Int32(levels[G * g + i]) + (Int32(byte >> 4) - 8) * Int32(levels[G * g + half + i])
                }
                total = total.addingProduct(Float(acc), w.scales[r * groups + G] * xs[G])
            }
            out[c * w.rows + r] = total
        }
    }
}
