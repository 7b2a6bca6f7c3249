import Foundation

// The int4 row dot product of the per-token path, one shape per register file
// (as the matmul's blocks), all giving the same bits.
//
// A row's packed bytes are read in units of 32 bytes (64 values). Within a
// unit, byte i holds a low nibble L[i] and a high nibble H[i] (stored q + 8);
// XL[i] and XH[i] are the int8 activations they multiply. With groups of 32 a
// unit is two groups (bytes 0..<16 the first, 16..<32 the second, each byte
// holding values i and i + 16 of its group); with groups of 64·k a unit is a
// 32-byte run of one group (byte i of the group holds values i and i + 32·k).
//
// Unit u has 16 integer lanes; lane m sums four products exactly:
//
//     acc[m] = Σ_{i = 2m, 2m+1} (L[i] − 8)·XL[i] + (H[i] − 8)·XH[i]
//
// and each lane meets its group's scale in a float multiply-add into one of
// two accumulators, by the unit's parity:
//
//     T[u % 2][m] = fma(Float(acc[m]), sw_g · sx_g, T[u % 2][m])
//
// The row's dot product is horizontalSum(T[0] + T[1]). With groups of 32 and
// an odd number of groups, the last group is half a unit: bytes 0..<16,
// lanes 0..<8. The integer lanes are exact, so any instructions that form
// them give the same lanes, and every shape then runs the same float
// operations: results depend neither on the shape nor on the thread count.
//
// The shapes differ in how they form the lanes:
// - avx512: 32 nibbles widened to Int16 per step, multiply-added in pairs into
//   16 Int32 lanes (vpmaddwd on zmm, vpdpwssd with AVX-512 VNNI), the −8
//   folded into a per-token correction that starts each unit's sum;
// - avx2: the same in two halves of 16 (ymm; vpdpwssd with AVX-VNNI);
// - neon: nibbles as signed bytes, interleaved so that each lane's four
//   products are four consecutive bytes (the shape of `sdot`);
// - generic: one lane at a time, from the plain levels (the readable twin).
// `int4RowDotReference` is the twin the tests hold every shape to.

/// Whether the unit kernels cover a group size (else the any-size `int4RowDot`).
public func int4UnitsCover(groupSize: Int) -> Bool { groupSize == 32 || groupSize % 64 == 0 }

/// Where XL[i] and XH[i] of unit u sit in the activation vector.
@inline(__always)
func unitActivationIndex(unit u: Int, byte i: Int, groupSize: Int) -> (low: Int, high: Int) {
    if groupSize == 32 {
        let group = 2 * u + i / 16, j = i % 16
        return (32 * group + j, 32 * group + 16 + j)
    }
    let runs = groupSize / 64
    let low = (u / runs) * groupSize + 32 * (u % runs) + i
    return (low, low + groupSize / 2)
}

/// The group of unit u's lane m.
@inline(__always)
func unitGroup(unit u: Int, lane m: Int, groupSize: Int) -> Int { groupSize == 32 ? 2 * u + m / 8 : 64 * u / groupSize }

/// Each lane's sw_g · sx_g for unit u.
@inline(__always)
func unitScales(_ ws: UnsafePointer<Float>, _ xs: UnsafePointer<Float>, unit u: Int, groupSize: Int) -> SIMD16<Float> {
    if groupSize == 32 {
        let s = UnsafeRawPointer(ws + 2 * u).loadUnaligned(as: SIMD2<Float>.self) * UnsafeRawPointer(xs + 2 * u).loadUnaligned(as: SIMD2<Float>.self)
        return SIMD16<Float>(lowHalf: SIMD8(repeating: s[0]), highHalf: SIMD8(repeating: s[1]))
    }
    let g = 64 * u / groupSize
    return SIMD16<Float>(repeating: ws[g] * xs[g])
}

/// An activation vector laid out for one int4 shape: built once per input
/// vector, read by every row.
public final class Int4Activations {
    public let capacity: Int
    /// avx512/avx2: per unit [XL[0..<32], XH[0..<32]] as Int16.
    public let wide: UnsafeMutablePointer<Int16>
    /// neon: per unit 64 bytes, lane m's four activations (XL[2m], XL[2m+1], XH[2m], XH[2m+1]).
    public let interleaved: UnsafeMutablePointer<Int8>
    /// avx512/avx2: per unit 16 lanes of −8·Σ of the lane's four activations.
    public let correction: UnsafeMutablePointer<Int32>
    /// The shape the layout was built for.
    public private(set) var kernel: MatmulKernel = .generic

    public init(capacity: Int) {
        let padded = (capacity + 63) / 64 * 64
        self.capacity = capacity
        wide = .allocate(capacity: padded)
        interleaved = .allocate(capacity: padded)
        correction = .allocate(capacity: padded / 4)
    }
    deinit { wide.deallocate(); interleaved.deallocate(); correction.deallocate() }

    /// Lays out `n` int8 levels (groups of `groupSize`) for `kernel`'s shape.
    public func prepare(_ levels: UnsafePointer<Int8>, count n: Int, groupSize: Int, kernel: MatmulKernel) {
        self.kernel = kernel
        guard kernel != .generic else { return }
        require(n <= capacity && int4UnitsCover(groupSize: groupSize) && n % groupSize == 0,
                "Int4Activations: \(n) values in groups of \(groupSize) (capacity \(capacity))")
        let bytes = n / 2
        var u = 0
        if kernel != .neon {
            // Whole units 16 levels at a time: each 16-byte half of a unit reads 16 consecutive levels.
            while 32 * (u + 1) <= bytes {
                let x = wide + 64 * u
                for half in 0..<2 {
                    let (low, high) = unitActivationIndex(unit: u, byte: 16 * half, groupSize: groupSize)
                    UnsafeMutableRawPointer(x + 16 * half).storeBytes(of: widen(load16(levels + low)), as: SIMD16<Int16>.self)
                    UnsafeMutableRawPointer(x + 32 + 16 * half).storeBytes(of: widen(load16(levels + high)), as: SIMD16<Int16>.self)
                }
                let raw = UnsafeRawPointer(x), ones = SIMD32<Int16>(repeating: 1)
                let sums = multiplyAddPairs(raw.loadUnaligned(as: SIMD32<Int16>.self), ones)
                    &+ multiplyAddPairs(raw.loadUnaligned(fromByteOffset: 64, as: SIMD32<Int16>.self), ones)
                UnsafeMutableRawPointer(correction + 16 * u).storeBytes(of: sums &* -8, as: SIMD16<Int32>.self)
                u += 1
            }
        }
        // The neon layout, and a last half unit, value by value.
        while 32 * u < bytes {
            defer { u += 1 }
            let width = min(32, bytes - 32 * u)
            for i in 0..<32 {
                let (low, high) = i < width ? unitActivationIndex(unit: u, byte: i, groupSize: groupSize) : (0, 0)
                let xl = i < width ? levels[low] : 0, xh = i < width ? levels[high] : 0
                wide[64 * u + i] = Int16(xl)
                wide[64 * u + 32 + i] = Int16(xh)
                interleaved[64 * u + 4 * (i / 2) + i % 2] = xl
                interleaved[64 * u + 4 * (i / 2) + 2 + i % 2] = xh
            }
            for m in 0..<16 {
                let x = wide + 64 * u
                correction[16 * u + m] = -8 * (Int32(x[2 * m]) + Int32(x[2 * m + 1]) + Int32(x[32 + 2 * m]) + Int32(x[33 + 2 * m]))
            }
        }
    }
}

/// How a shape forms unit u's 16 exact integer lanes.
public protocol Int4LaneShape {
    func lanes(_ u: Int) -> SIMD16<Int32>
}

/// The row dot product of int4 weights (`bytes` packed bytes, groups of
/// `groupSize`) with activations laid out for `kernel`: the float part every
/// shape shares around the lanes `kernel` forms (see the top of this file).
@inline(__always)
func int4RowDotUnits<Shape: Int4LaneShape>(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>,
                                           _ xs: UnsafePointer<Float>, bytes: Int, groupSize: Int, _ shape: Shape) -> Float {
    var t0 = SIMD16<Float>(), t1 = SIMD16<Float>()
    let units = bytes / 32
    var u = 0
    while u + 2 <= units {
        t0.addProduct(toFloat(shape.lanes(u)), unitScales(ws, xs, unit: u, groupSize: groupSize))
        t1.addProduct(toFloat(shape.lanes(u + 1)), unitScales(ws, xs, unit: u + 1, groupSize: groupSize))
        u += 2
    }
    if u < units {
        t0.addProduct(toFloat(shape.lanes(u)), unitScales(ws, xs, unit: u, groupSize: groupSize))
        u += 1
    }
    if bytes % 32 != 0 {
        if u % 2 == 0 { addHalfUnit(&t0, w, ws, levels, xs, unit: u) } else { addHalfUnit(&t1, w, ws, levels, xs, unit: u) }
    }
    return horizontalSum(t0 + t1)
}

/// The half unit that ends a row of an odd number of 32-groups: lanes 0..<8 only.
func addHalfUnit(_ t: inout SIMD16<Float>, _ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>,
                 _ xs: UnsafePointer<Float>, unit u: Int) {
    var acc = SIMD8<Int32>()
    for m in 0..<8 {
        for i in (2 * m)...(2 * m + 1) {
            let byte = w[32 * u + i], (low, high) = unitActivationIndex(unit: u, byte: i, groupSize: 32)
            acc[m] += (Int32(byte & 15) - 8) * Int32(levels[low]) + (Int32(byte >> 4) - 8) * Int32(levels[high])
        }
    }
    var low = t.lowHalf
    low.addProduct(toFloat(acc), SIMD8<Float>(repeating: ws[2 * u] * xs[2 * u]))
    t.lowHalf = low
}

/// The readable twin: every lane from the plain levels, one product at a time.
public func int4RowDotReference(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                                cols: Int, groupSize: Int) -> Float {
    int4RowDotUnits(w, ws, levels, xs, bytes: cols / 2, groupSize: groupSize, ReferenceLanes(w: w, levels: levels, groupSize: groupSize))
}

struct ReferenceLanes: Int4LaneShape {
    let w: UnsafePointer<UInt8>, levels: UnsafePointer<Int8>, groupSize: Int
    init(w: UnsafePointer<UInt8>, levels: UnsafePointer<Int8>, groupSize: Int) { self.w = w; self.levels = levels; self.groupSize = groupSize }
    @inline(__always)
    func lanes(_ u: Int) -> SIMD16<Int32> {
        var acc = SIMD16<Int32>()
        for m in 0..<16 {
            for i in (2 * m)...(2 * m + 1) {
                let byte = w[32 * u + i], (low, high) = unitActivationIndex(unit: u, byte: i, groupSize: groupSize)
                acc[m] += (Int32(byte & 15) - 8) * Int32(levels[low]) + (Int32(byte >> 4) - 8) * Int32(levels[high])
            }
        }
        return acc
    }
}

/// avx512: 32 nibbles per Int16 vector (zmm), multiply-added in pairs.
public func int4RowDotAVX512(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                             wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>, cols: Int, groupSize: Int) -> Float {
    int4RowDotUnits(w, ws, levels, xs, bytes: cols / 2, groupSize: groupSize, AVX512Lanes(w: w, wide: wide, correction: correction))
}

struct AVX512Lanes: Int4LaneShape {
    let w: UnsafePointer<UInt8>, wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>
    init(w: UnsafePointer<UInt8>, wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>) {
        self.w = w; self.wide = wide; self.correction = correction
    }
    @inline(__always)
    func lanes(_ u: Int) -> SIMD16<Int32> {
        let b0 = loadBytes(w + 32 * u), b1 = loadBytes(w + 32 * u + 16)
        let low = SIMD32<Int16>(lowHalf: zeroExtend(b0 & 15), highHalf: zeroExtend(b1 & 15))
        let high = SIMD32<Int16>(lowHalf: zeroExtend(b0 &>> 4), highHalf: zeroExtend(b1 &>> 4))
        let x = UnsafeRawPointer(wide + 64 * u)
        var acc = UnsafeRawPointer(correction + 16 * u).loadUnaligned(as: SIMD16<Int32>.self)
        acc &+= multiplyAddPairs(low, x.loadUnaligned(as: SIMD32<Int16>.self))
        acc &+= multiplyAddPairs(high, x.loadUnaligned(fromByteOffset: 64, as: SIMD32<Int16>.self))
        return acc
    }
}

/// avx2: the avx512 shape in halves of 16 nibbles (ymm).
public func int4RowDotAVX2(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                           wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>, cols: Int, groupSize: Int) -> Float {
    int4RowDotUnits(w, ws, levels, xs, bytes: cols / 2, groupSize: groupSize, AVX2Lanes(w: w, wide: wide, correction: correction))
}

struct AVX2Lanes: Int4LaneShape {
    let w: UnsafePointer<UInt8>, wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>
    init(w: UnsafePointer<UInt8>, wide: UnsafePointer<Int16>, correction: UnsafePointer<Int32>) {
        self.w = w; self.wide = wide; self.correction = correction
    }
    @inline(__always)
    func lanes(_ u: Int) -> SIMD16<Int32> {
        let b0 = loadBytes(w + 32 * u), b1 = loadBytes(w + 32 * u + 16)
        let x = UnsafeRawPointer(wide + 64 * u), c = UnsafeRawPointer(correction + 16 * u)
        var acc0 = c.loadUnaligned(as: SIMD8<Int32>.self), acc1 = c.loadUnaligned(fromByteOffset: 32, as: SIMD8<Int32>.self)
        acc0 &+= multiplyAddPairs(zeroExtend(b0 & 15), x.loadUnaligned(as: SIMD16<Int16>.self))
        acc0 &+= multiplyAddPairs(zeroExtend(b0 &>> 4), x.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int16>.self))
        acc1 &+= multiplyAddPairs(zeroExtend(b1 & 15), x.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self))
        acc1 &+= multiplyAddPairs(zeroExtend(b1 &>> 4), x.loadUnaligned(fromByteOffset: 96, as: SIMD16<Int16>.self))
        return SIMD16<Int32>(lowHalf: acc0, highHalf: acc1)
    }
}

/// neon: nibbles as signed bytes, each lane's four products in four
/// consecutive bytes, summed four at a time (the shape of `sdot`).
public func int4RowDotNEON(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ levels: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                           interleaved: UnsafePointer<Int8>, cols: Int, groupSize: Int) -> Float {
    int4RowDotUnits(w, ws, levels, xs, bytes: cols / 2, groupSize: groupSize, NEONLanes(w: w, interleaved: interleaved))
}

struct NEONLanes: Int4LaneShape {
    let w: UnsafePointer<UInt8>, interleaved: UnsafePointer<Int8>
    init(w: UnsafePointer<UInt8>, interleaved: UnsafePointer<Int8>) { self.w = w; self.interleaved = interleaved }
    @inline(__always)
    func lanes(_ u: Int) -> SIMD16<Int32> {
        let x = interleaved + 64 * u
        let b0 = loadBytes(w + 32 * u), b1 = loadBytes(w + 32 * u + 16)
        let low0 = asSigned(b0 & 15) &- 8, high0 = asSigned(b0 &>> 4) &- 8
        let low1 = asSigned(b1 & 15) &- 8, high1 = asSigned(b1 &>> 4) &- 8
        let lanes0 = SIMD8<Int32>(lowHalf: dotQuads(pairsInterleaved(low0, high0, from: 0), load16(x)),
                                  highHalf: dotQuads(pairsInterleaved(low0, high0, from: 8), load16(x + 16)))
        let lanes1 = SIMD8<Int32>(lowHalf: dotQuads(pairsInterleaved(low1, high1, from: 0), load16(x + 32)),
                                  highHalf: dotQuads(pairsInterleaved(low1, high1, from: 8), load16(x + 48)))
        return SIMD16<Int32>(lowHalf: lanes0, highHalf: lanes1)
    }
}

@inline(__always)
func loadBytes(_ p: UnsafePointer<UInt8>) -> SIMD16<UInt8> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self) }

// Lane by lane, spelled out: LLVM folds it into one vpmovzxbw.
@inline(__always)
func zeroExtend(_ v: SIMD16<UInt8>) -> SIMD16<Int16> {
    SIMD16<Int16>(Int16(v[0]), Int16(v[1]), Int16(v[2]), Int16(v[3]), Int16(v[4]), Int16(v[5]), Int16(v[6]), Int16(v[7]),
                  Int16(v[8]), Int16(v[9]), Int16(v[10]), Int16(v[11]), Int16(v[12]), Int16(v[13]), Int16(v[14]), Int16(v[15]))
}

/// Products of sign-extended Int16 pairs, adjacent pairs added (vpmaddwd; vpdpwssd when added to a sum with VNNI).
@inline(__always)
func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    let p = widen(a) &* widen(b)
    return p.evenHalf &+ p.oddHalf
}

@inline(__always)
func multiplyAddPairs(_ a: SIMD32<Int16>, _ b: SIMD32<Int16>) -> SIMD16<Int32> {
    let p = SIMD32<Int32>(lowHalf: widen(a.lowHalf), highHalf: widen(a.highHalf)) &* SIMD32<Int32>(lowHalf: widen(b.lowHalf), highHalf: widen(b.highHalf))
    return p.evenHalf &+ p.oddHalf
}

/// Bytes s..<s+8 of `low` and `high` as four lanes of four bytes: lane k
/// holds low[s+2k], low[s+2k+1], high[s+2k], high[s+2k+1].
@inline(__always)
func pairsInterleaved(_ low: SIMD16<Int8>, _ high: SIMD16<Int8>, from s: Int) -> SIMD16<Int8> {
    SIMD16<Int8>(low[s], low[s + 1], high[s], high[s + 1], low[s + 2], low[s + 3], high[s + 2], high[s + 3],
                 low[s + 4], low[s + 5], high[s + 4], high[s + 5], low[s + 6], low[s + 7], high[s + 6], high[s + 7])
}

/// Σ of four consecutive byte products per Int32 lane (sdot's sum).
@inline(__always)
func dotQuads(_ a: SIMD16<Int8>, _ b: SIMD16<Int8>) -> SIMD4<Int32> {
    let p = widen(widen(a)) &* widen(widen(b))
    let pairs = p.evenHalf &+ p.oddHalf
    return pairs.evenHalf &+ pairs.oddHalf
}

/// Int32 lanes → Float lanes.
@inline(__always)
func toFloat(_ v: SIMD16<Int32>) -> SIMD16<Float> { SIMD16<Float>(lowHalf: toFloat(v.lowHalf), highHalf: toFloat(v.highHalf)) }
