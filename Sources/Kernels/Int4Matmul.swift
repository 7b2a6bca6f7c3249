import Foundation

// The int4 product of a prompt's rows, in integer form:
// out (t, rows) = x (t, cols) · Wᵀ for int4 weights in groups of g.
//
// Each token row is quantized to int8 per group as the per-token path
// quantizes its input (quantizeGroup: levels −127…127, one scale sx per
// group). Byte i of a weight group holds L_i (value i) and H_i (value
// i + g/2), stored +8. Output (c, r) is
//
//     acc_G = Σ_{i < g/2} (L_i − 8)·x_i + (H_i − 8)·x_{i+g/2}       exact Int32
//     out   = fma(Float(acc_G), sw_rG · sx_cG, out),  G = 0, 1, …   from 0
//
// The integer sums are exact, so every shape forms the same acc_G and then
// runs the same float operations in the same order: results depend neither
// on the register file nor on the thread count (threads own panels of rows).
// `int4MatmulReference` spells it out one product at a time.
//
// Vector lanes are weight rows. A row's pair (L_i − 8, H_i − 8) is two Int16
// in an Int32 lane and a token's pair (x_i, x_{i+g/2}) is broadcast, so one
// multiply-add of Int16 pairs (vpmaddwd; vpdpwssd into the sum with VNNI)
// does two products for every row of the vector. A tile is one vector of rows
// (32 with AVX-512, as two zmm; 8 with AVX2; 4 otherwise) by 6 tokens: 6
// integer and 6 float accumulators of a row vector (12 and 12 zmm with AVX-512).

/// Whether `int4Matmul` takes these weights (int4 in groups of an even size).
public func int4MatmulCovers(_ w: QuantizedMatrix) -> Bool { w.format == .int4 && w.groupSize % 2 == 0 }

/// Two Int16 in one Int32 lane: `first` in the low half, as vpmaddwd pairs them.
@inline(__always)
func packPair(_ first: Int16, _ second: Int16) -> Int32 {
    Int32(bitPattern: UInt32(UInt16(bitPattern: first)) | UInt32(UInt16(bitPattern: second)) << 16)
}

/// A prompt's rows quantized to int8 per group and paired for `int4Matmul`:
/// built once per input, read by every int4 matrix that multiplies it.
public final class Int4MatmulInput {
    public let tokens: Int, cols: Int, groupSize: Int
    /// (tokens, cols / 2): token c's pair i of group G is (x_{G·g+i}, x_{G·g+g/2+i}).
    let pairs: UnsafeMutablePointer<Int32>
    /// (tokens, cols / g): the groups' scales.
    let scales: UnsafeMutablePointer<Float>

    public init(_ x: UnsafePointer<Float>, tokens t: Int, cols: Int, groupSize g: Int) {
        require(g % 2 == 0 && cols % g == 0, "Int4MatmulInput: \(cols) columns in groups of \(g); groups of an even size that divides the columns")
        tokens = t; self.cols = cols; groupSize = g
        let groups = cols / g, half = g / 2
        pairs = .allocate(capacity: max(1, t * cols / 2))
        scales = .allocate(capacity: max(1, t * groups))
        let (pairs, scales) = (pairs, scales)
        Parallel.forRanges(t, grain: 16) { range in
            let levels = UnsafeMutablePointer<Int8>.allocate(capacity: g)
            defer { levels.deallocate() }
            for c in range {
                for G in 0..<groups {
                    let group = x + c * cols + G * g, row = pairs + c * cols / 2 + G * half
                    if g % 32 == 0 {
                        scales[c * groups + G] = quantizePairs(group, groupSize: g, into: row)
                        continue
                    }
                    scales[c * groups + G] = quantizeGroup(group, count: g, maxLevel: 127, into: levels)
                    for i in 0..<half { row[i] = packPair(Int16(levels[i]), Int16(levels[half + i])) }
                }
            }
        }
    }

    deinit { pairs.deallocate(); scales.deallocate() }
}

/// quantizeGroup's levels (maxLevel 127) for a group of 32·k values, 16 at a
/// time, stored as the pairs (i, i + g/2); returns the scale. The same scale
/// and levels as quantizeGroup (Int4MatmulTests).
@inline(__always)
func quantizePairs(_ x: UnsafePointer<Float>, groupSize g: Int, into pairs: UnsafeMutablePointer<Int32>) -> Float {
    let scale = largestMagnitude(x, count: g) / 127
    let inverse: Float = scale > 0 ? 1 / scale : 0
    let raw = UnsafeRawPointer(x), half = g / 2
    var i = 0
    while i < half {
        let store = (roundedLevels(raw, i, inverse, maxLevel: 127) & 0xFFFF) | (roundedLevels(raw, half + i, inverse, maxLevel: 127) &<< 16)
        UnsafeMutableRawPointer(pairs + i).storeBytes(of: store, as: SIMD16<Int32>.self)
        i += 16
    }
    return scale
}

/// One register file's vector of rows.
protocol Int4RowLanes {
    associatedtype Ints
    associatedtype Floats
    static var count: Int { get }
    static var zeroInts: Ints { get }
    static var zeroFloats: Floats { get }
    static func loadInts(_ p: UnsafePointer<Int32>) -> Ints
    static func loadFloats(_ p: UnsafePointer<Float>) -> Floats
    /// acc + each lane's Int16 pair multiplied by `x`'s and added.
    static func addPairProducts(_ acc: Ints, _ w: Ints, _ x: Int32) -> Ints
    /// total + Float(acc) · (sw · sx), fused, lane by lane.
    static func addScaled(_ total: Floats, _ acc: Ints, _ sw: Floats, _ sx: Float) -> Floats
    static func store(_ v: Floats, _ p: UnsafeMutablePointer<Float>, count: Int)
}

@inline(__always)
func broadcastPair(_ x: Int32) -> SIMD32<Int16> { unsafeBitCast(SIMD16<Int32>(repeating: x), to: SIMD32<Int16>.self) }

/// Products of sign-extended Int16 pairs, adjacent pairs added (vpmaddwd;
/// vpdpwssd into a sum with VNNI), lane by lane: SIMD32's evenHalf and
/// oddHalf stay out-of-line calls in a kernel this size.
@inline(__always)
func pairSums(_ a: SIMD32<Int16>, _ b: SIMD32<Int16>) -> SIMD16<Int32> {
    let p = SIMD32<Int32>(Int32(a[0]), Int32(a[1]), Int32(a[2]), Int32(a[3]), Int32(a[4]), Int32(a[5]), Int32(a[6]), Int32(a[7]), Int32(a[8]), Int32(a[9]), Int32(a[10]), Int32(a[11]), Int32(a[12]), Int32(a[13]), Int32(a[14]), Int32(a[15]), Int32(a[16]), Int32(a[17]), Int32(a[18]), Int32(a[19]), Int32(a[20]), Int32(a[21]), Int32(a[22]), Int32(a[23]), Int32(a[24]), Int32(a[25]), Int32(a[26]), Int32(a[27]), Int32(a[28]), Int32(a[29]), Int32(a[30]), Int32(a[31]))
        &* SIMD32<Int32>(Int32(b[0]), Int32(b[1]), Int32(b[2]), Int32(b[3]), Int32(b[4]), Int32(b[5]), Int32(b[6]), Int32(b[7]), Int32(b[8]), Int32(b[9]), Int32(b[10]), Int32(b[11]), Int32(b[12]), Int32(b[13]), Int32(b[14]), Int32(b[15]), Int32(b[16]), Int32(b[17]), Int32(b[18]), Int32(b[19]), Int32(b[20]), Int32(b[21]), Int32(b[22]), Int32(b[23]), Int32(b[24]), Int32(b[25]), Int32(b[26]), Int32(b[27]), Int32(b[28]), Int32(b[29]), Int32(b[30]), Int32(b[31]))
    return SIMD16<Int32>(p[0] &+ p[1], p[2] &+ p[3], p[4] &+ p[5], p[6] &+ p[7], p[8] &+ p[9], p[10] &+ p[11], p[12] &+ p[13], p[14] &+ p[15], p[16] &+ p[17], p[18] &+ p[19], p[20] &+ p[21], p[22] &+ p[23], p[24] &+ p[25], p[26] &+ p[27], p[28] &+ p[29], p[30] &+ p[31])
}

/// AVX-512: 32 rows as two zmm.
enum RowLanes32: Int4RowLanes {
    struct Ints { var low, high: SIMD16<Int32> }
    struct Floats { var low, high: SIMD16<Float> }
    static var count: Int { 32 }
    static var zeroInts: Ints { Ints(low: .zero, high: .zero) }
    static var zeroFloats: Floats { Floats(low: .zero, high: .zero) }
    @inline(__always)
    static func loadInts(_ p: UnsafePointer<Int32>) -> Ints {
        let raw = UnsafeRawPointer(p)
        return Ints(low: raw.loadUnaligned(as: SIMD16<Int32>.self), high: raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self))
    }
    @inline(__always)
    static func loadFloats(_ p: UnsafePointer<Float>) -> Floats {
        let raw = UnsafeRawPointer(p)
        return Floats(low: raw.loadUnaligned(as: SIMD16<Float>.self), high: raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
    }
    @inline(__always)
    static func addPairProducts(_ acc: Ints, _ w: Ints, _ x: Int32) -> Ints {
        let xv = broadcastPair(x)
        return Ints(low: acc.low &+ pairSums(unsafeBitCast(w.low, to: SIMD32<Int16>.self), xv),
                    high: acc.high &+ pairSums(unsafeBitCast(w.high, to: SIMD32<Int16>.self), xv))
    }
    @inline(__always)
    static func addScaled(_ total: Floats, _ acc: Ints, _ sw: Floats, _ sx: Float) -> Floats {
        Floats(low: total.low.addingProduct(toFloat(acc.low), sw.low * sx), high: total.high.addingProduct(toFloat(acc.high), sw.high * sx))
    }
    @inline(__always)
    static func store(_ v: Floats, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 32 {
            UnsafeMutableRawPointer(p).storeBytes(of: v.low, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(p).storeBytes(of: v.high, toByteOffset: 64, as: SIMD16<Float>.self)
        } else {
            for i in 0..<count { p[i] = i < 16 ? v.low[i] : v.high[i - 16] }
        }
    }
}

/// AVX2: 8 rows in one ymm.
enum RowLanes8: Int4RowLanes {
    static var count: Int { 8 }
    static var zeroInts: SIMD8<Int32> { .zero }
    static var zeroFloats: SIMD8<Float> { .zero }
    @inline(__always)
    static func loadInts(_ p: UnsafePointer<Int32>) -> SIMD8<Int32> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int32>.self) }
    @inline(__always)
    static func loadFloats(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always)
    static func addPairProducts(_ acc: SIMD8<Int32>, _ w: SIMD8<Int32>, _ x: Int32) -> SIMD8<Int32> {
        acc &+ multiplyAddPairs(unsafeBitCast(w, to: SIMD16<Int16>.self), unsafeBitCast(SIMD8<Int32>(repeating: x), to: SIMD16<Int16>.self))
    }
    @inline(__always)
    static func addScaled(_ total: SIMD8<Float>, _ acc: SIMD8<Int32>, _ sw: SIMD8<Float>, _ sx: Float) -> SIMD8<Float> {
        total.addingProduct(toFloat(acc), sw * sx)
    }
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) } else { for i in 0..<count { p[i] = v[i] } }
    }
}

/// NEON and the portable build: 4 rows.
enum RowLanes4: Int4RowLanes {
    static var count: Int { 4 }
    static var zeroInts: SIMD4<Int32> { .zero }
    static var zeroFloats: SIMD4<Float> { .zero }
    @inline(__always)
    static func loadInts(_ p: UnsafePointer<Int32>) -> SIMD4<Int32> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Int32>.self) }
    @inline(__always)
    static func loadFloats(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
    @inline(__always)
    static func addPairProducts(_ acc: SIMD4<Int32>, _ w: SIMD4<Int32>, _ x: Int32) -> SIMD4<Int32> {
        let a = unsafeBitCast(w, to: SIMD8<Int16>.self), b = unsafeBitCast(SIMD4<Int32>(repeating: x), to: SIMD8<Int16>.self)
        let p = SIMD8<Int32>(Int32(a[0]) * Int32(b[0]), Int32(a[1]) * Int32(b[1]), Int32(a[2]) * Int32(b[2]), Int32(a[3]) * Int32(b[3]),
                             Int32(a[4]) * Int32(b[4]), Int32(a[5]) * Int32(b[5]), Int32(a[6]) * Int32(b[6]), Int32(a[7]) * Int32(b[7]))
        return acc &+ (p.evenHalf &+ p.oddHalf)
    }
    @inline(__always)
    static func addScaled(_ total: SIMD4<Float>, _ acc: SIMD4<Int32>, _ sw: SIMD4<Float>, _ sx: Float) -> SIMD4<Float> {
        total.addingProduct(SIMD4<Float>(Float(acc[0]), Float(acc[1]), Float(acc[2]), Float(acc[3])), sw * sx)
    }
    @inline(__always)
    static func store(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 4 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self) } else { for i in 0..<count { p[i] = v[i] } }
    }
}

/// A panel of weight rows laid out for a lane count: per pair index, each
/// row's (L − 8, H − 8); per group, each row's scale. Rows past the matrix
/// are zeros (their outputs are not stored).
struct Int4RowPanel {
    let pairs: UnsafeMutablePointer<Int32>
    let scales: UnsafeMutablePointer<Float>

    init(_ w: QuantizedMatrix, rows first: Int, lanes: Int) {
        let rowPairs = w.cols / 2, groups = w.groupsPerRow, rows = min(lanes, w.rows - first)
        pairs = .allocate(capacity: rowPairs * lanes)
        scales = .allocate(capacity: groups * lanes)
        // The panel's bytes copied in one sequential read (rows past the
        // matrix and the last row's end padded with 0x88, a zero weight), then
        // four bytes of each row at a time, each widened across the rows:
        // writes are whole vectors.
        let stride = (rowPairs + 3) / 4 * 4
        let data = UnsafeMutablePointer<UInt8>.allocate(capacity: lanes * stride)
        let words = UnsafeMutablePointer<UInt32>.allocate(capacity: lanes)
        defer { data.deallocate(); words.deallocate() }
        data.initialize(repeating: 0x88, count: lanes * stride)
        let source = w.data.baseAddress! + first * rowPairs
        if stride == rowPairs {
            data.update(from: source, count: rows * rowPairs)
        } else {
            for lane in 0..<rows { (data + lane * stride).update(from: source + lane * rowPairs, count: rowPairs) }
        }
        var p = 0
        while p < rowPairs {
            let bytes = min(4, rowPairs - p)
            for lane in 0..<lanes { words[lane] = UnsafeRawPointer(data + lane * stride + p).loadUnaligned(as: UInt32.self) }
            for k in 0..<bytes {
                let out = pairs + (p + k) * lanes
                for lane in 0..<lanes {
                    let byte = (words[lane] >> (8 * k)) & 0xFF
                    out[lane] = Int32(bitPattern: ((byte & 15) &- 8) & 0xFFFF | ((byte >> 4) &- 8) << 16)
                }
            }
            p += 4
        }
        for lane in 0..<lanes {
            for G in 0..<groups { scales[G * lanes + lane] = lane < rows ? w.scales[(first + lane) * groups + G] : 0 }
        }
    }

    func deallocate() { pairs.deallocate(); scales.deallocate() }
}

/// One vector of rows by up to 6 tokens from `first`; tokens past `count`
/// repeat the last and are not stored.
@inline(__always)
func int4Tile<L: Int4RowLanes>(_: L.Type, _ panel: Int4RowPanel, rows: Int, _ x: Int4MatmulInput, first: Int, count: Int,
                               _ out: UnsafeMutablePointer<Float>, stride: Int) {
    let lanes = L.count, rowPairs = x.cols / 2, groups = x.cols / x.groupSize, half = x.groupSize / 2
    let last = count - 1
    let c0 = first, c1 = first + min(1, last), c2 = first + min(2, last), c3 = first + min(3, last), c4 = first + min(4, last), c5 = first + min(5, last)
    let x0 = x.pairs + c0 * rowPairs, x1 = x.pairs + c1 * rowPairs, x2 = x.pairs + c2 * rowPairs
    let x3 = x.pairs + c3 * rowPairs, x4 = x.pairs + c4 * rowPairs, x5 = x.pairs + c5 * rowPairs
    let s0 = x.scales + c0 * groups, s1 = x.scales + c1 * groups, s2 = x.scales + c2 * groups
    let s3 = x.scales + c3 * groups, s4 = x.scales + c4 * groups, s5 = x.scales + c5 * groups
    var t0 = L.zeroFloats, t1 = L.zeroFloats, t2 = L.zeroFloats, t3 = L.zeroFloats, t4 = L.zeroFloats, t5 = L.zeroFloats
    for G in 0..<groups {
        var a0 = L.zeroInts, a1 = L.zeroInts, a2 = L.zeroInts, a3 = L.zeroInts, a4 = L.zeroInts, a5 = L.zeroInts
        for p in (G * half)..<((G + 1) * half) {
            let w = L.loadInts(panel.pairs + p * lanes)
            a0 = L.addPairProducts(a0, w, x0[p]); a1 = L.addPairProducts(a1, w, x1[p]); a2 = L.addPairProducts(a2, w, x2[p])
            a3 = L.addPairProducts(a3, w, x3[p]); a4 = L.addPairProducts(a4, w, x4[p]); a5 = L.addPairProducts(a5, w, x5[p])
        }
        let sw = L.loadFloats(panel.scales + G * lanes)
        t0 = L.addScaled(t0, a0, sw, s0[G]); t1 = L.addScaled(t1, a1, sw, s1[G]); t2 = L.addScaled(t2, a2, sw, s2[G])
        t3 = L.addScaled(t3, a3, sw, s3[G]); t4 = L.addScaled(t4, a4, sw, s4[G]); t5 = L.addScaled(t5, a5, sw, s5[G])
    }
    L.store(t0, out + c0 * stride, count: rows)
    if count > 1 { L.store(t1, out + c1 * stride, count: rows) }
    if count > 2 { L.store(t2, out + c2 * stride, count: rows) }
    if count > 3 { L.store(t3, out + c3 * stride, count: rows) }
    if count > 4 { L.store(t4, out + c4 * stride, count: rows) }
    if count > 5 { L.store(t5, out + c5 * stride, count: rows) }
}

func int4MatmulLanes<L: Int4RowLanes>(_: L.Type, _ x: Int4MatmulInput, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>) {
    let lanes = L.count, panels = (w.rows + lanes - 1) / lanes
    Parallel.forEach(panels) { p in
        let first = p * lanes
        let panel = Int4RowPanel(w, rows: first, lanes: lanes)
        defer { panel.deallocate() }
        var c = 0
        while c < x.tokens {
            int4Tile(L.self, panel, rows: min(lanes, w.rows - first), x, first: c, count: min(6, x.tokens - c), out + first, stride: w.rows)
            c += 6
        }
    }
}

/// out (x.tokens, w.rows) = x · Wᵀ for int4 weights, in integer form (see the
/// top of this file), with the lanes of `kernel`'s register file.
public func int4Matmul(_ x: Int4MatmulInput, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>, kernel: MatmulKernel = .current) {
    require(int4MatmulCovers(w), "int4Matmul: \(w.format.rawValue) weights in groups of \(w.groupSize); int4 in groups of an even size")
    require(x.cols == w.cols && x.groupSize == w.groupSize,
            "int4Matmul: input of \(x.cols) columns in groups of \(x.groupSize) against weights of \(w.cols) in groups of \(w.groupSize)")
    switch kernel {
    case .avx512: int4MatmulLanes(RowLanes32.self, x, w, out)
    case .avx2: int4MatmulLanes(RowLanes8.self, x, w, out)
    case .neon, .generic: int4MatmulLanes(RowLanes4.self, x, w, out)
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
                total.addProduct(Float(acc), w.scales[r * groups + G] * xs[G])
            }
            out[c * w.rows + r] = total
        }
    }
}
