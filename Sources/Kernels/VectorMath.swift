/// Vectorised transcendental functions over SIMD16<Float>, and helpers that
/// map them over buffers. Every kernel that needs exp, erf, tanh or sigmoid
/// on many elements uses these, so they are written (and tested) once.
/// Lanes are independent: a value's result never depends on its neighbours,
/// so chunking and tails cannot change any number.

public typealias Float16Lanes = SIMD16<Float>

@inlinable @inline(__always)
public func load16(_ p: ConstFloatPointer) -> Float16Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Float16Lanes.self)
}

@inlinable @inline(__always)
public func store16(_ v: Float16Lanes, _ p: FloatPointer) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float16Lanes.self)
}

/// Loads n < 16 values, zero-filling the other lanes.
@inlinable @inline(__always)
public func loadPartial16(_ p: ConstFloatPointer, _ n: Int) -> Float16Lanes {
    var v = Float16Lanes()
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inlinable @inline(__always)
public func storePartial16(_ v: Float16Lanes, _ p: FloatPointer, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// Calls body(j, n) for j = 0, 16, 32, … < cols, with n = min(16, cols − j).
@inlinable @inline(__always)
public func forLanes16(_ cols: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j < cols { body(j, min(16, cols - j)); j += 16 }
}

/// body(i, n) for i = lo, lo + 16, … below hi, with n = min(16, hi − i) lanes.
@inlinable @inline(__always)
public func forLanes16(range: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i < range.upperBound { body(i, min(16, range.upperBound - i)); i += 16 }
}

/// Σ of the 16 lanes, as a tree of halves (vextract + vaddps; the standard
/// library's `sum()` is an out-of-line call adding lane by lane).
@inlinable @inline(__always)
public func horizontalSum(_ v: Float16Lanes) -> Float {
    horizontalSum(v.lowHalf + v.highHalf)
}

@inlinable @inline(__always)
public func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let h4 = v.lowHalf + v.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2[0] + h2[1]
}

/// Σ x[i] over a row.
@inlinable
public func rowSum(_ x: ConstFloatPointer, _ n: Int) -> Float {
    var acc = Float16Lanes()
    var i = 0
    while i + 16 <= n { acc += load16(x + i); i += 16 }
    var s = horizontalSum(acc)
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Σ (x[i] − center)² over a row (Σ x² for center 0).
@inlinable
public func sumOfSquares(_ x: ConstFloatPointer, _ n: Int, center: Float = 0) -> Float {
    var acc = Float16Lanes()
    var i = 0
    while i + 16 <= n { let d = load16(x + i) - center; acc.addProduct(d, d); i += 16 }
    var s = horizontalSum(acc)
    while i < n { let d = x[i] - center; s += d * d; i += 1 }
    return s
}

/// Lanes j..<j+16 of a row of length `cols`, zero past its end.
@inlinable @inline(__always)
public func load16Padded(_ p: ConstFloatPointer, _ j: Int, _ cols: Int) -> Float16Lanes {
    j + 16 <= cols ? load16(p + j) : loadPartial16(p + j, cols - j)
}

@inlinable @inline(__always)
public func load16Padded(_ p: FloatPointer, _ j: Int, _ cols: Int) -> Float16Lanes {
    load16Padded(ConstFloatPointer(p), j, cols)
}

@inlinable @inline(__always)
public func store16Padded(_ v: Float16Lanes, _ p: FloatPointer, _ j: Int, _ n: Int) {
    if n == 16 { store16(v, p + j) } else { storePartial16(v, p + j, n) }
}

/// |x|, by clearing the sign bit.
@inlinable @inline(__always)
public func vabs(_ x: Float16Lanes) -> Float16Lanes {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7fff_ffff), to: Float16Lanes.self)
}

/// e^x, relative error ≤ 2 ulp (measured max 7.7e-8 relative against Double
/// over [−87, 88]; see VectorMathTests). Cody–Waite reduction x = n·ln2 + r,
/// |r| ≤ ln2/2, then the degree-7 Taylor polynomial of e^r (truncation
/// error r⁸/8! ≤ 5.3e-9). Inputs below −87.33 give exactly 0 (no
/// denormals); inputs above 88.37 saturate at about 2.4e38.
@inlinable @inline(__always)
public func vexp(_ x: Float16Lanes) -> Float16Lanes {
    let lower: Float = -87.33654, upper: Float = 88.37626
    // (pointwiseMin/Max, not .clamped: that one is not specialised and costs a call.)
    let xc = pointwiseMin(pointwiseMax(x, Float16Lanes(repeating: lower)), Float16Lanes(repeating: upper))
    // Adding 1.5·2²³ rounds x/ln2 to an integer held in the low mantissa bits.
    let shifter = Float16Lanes(repeating: 12_582_912)
    let kf = shifter.addingProduct(xc, Float16Lanes(repeating: 1.442695040888963))
    let n = kf - shifter
    // r = x − n·ln2, with ln2 split so that n·ln2hi is exact.
    var r = xc.addingProduct(n, Float16Lanes(repeating: -0.693359375))
    r = r.addingProduct(n, Float16Lanes(repeating: 2.12194440e-4))
    var p = Float16Lanes(repeating: 1.0 / 720).addingProduct(Float16Lanes(repeating: 1.0 / 5040), r)
    p = Float16Lanes(repeating: 1.0 / 120).addingProduct(p, r)
    p = Float16Lanes(repeating: 1.0 / 24).addingProduct(p, r)
    p = Float16Lanes(repeating: 1.0 / 6).addingProduct(p, r)
    p = Float16Lanes(repeating: 0.5).addingProduct(p, r)
    p = Float16Lanes(repeating: 1).addingProduct(p, r)
    p = Float16Lanes(repeating: 1).addingProduct(p, r)
    // 2ⁿ from n's bits: the shifter's own bits vanish when shifted by 23.
    let bits = (unsafeBitCast(kf, to: SIMD16<UInt32>.self) &<< 23) &+ SIMD16<UInt32>(repeating: 127 << 23)
    let result = p * unsafeBitCast(bits, to: Float16Lanes.self)
    return result.replacing(with: 0, where: x .< lower)
}

/// erfc(z) for z ≥ 0, given g = e^(−z²): erfc(z) = t·Q(t)·g with
/// t = 1/(1 + z/2) and Q a degree-8 polynomial fitted for relative error
/// (bench/parity/erfc_fit.py: 4.3e-8 in double, 3.3e-7 evaluated in float32) on
/// z in [0, 10]; beyond, erfc underflows float32. Relative accuracy holds in
/// the tail, which GELU's left side needs; measured here against Double with
/// our vexp: max relative error 4.1e-6 for z in [0, 9], growing with z as the
/// rounding of z² enters the exponent. One exponential, shared with the
/// GELU backward's Gaussian density (the form t·exp(P(t)) needs a second).
@inlinable @inline(__always)
public func verfc(nonNegative z: Float16Lanes, gaussian g: Float16Lanes) -> Float16Lanes {
    let t = pointwiseMax(1 / Float16Lanes(repeating: 1).addingProduct(z, Float16Lanes(repeating: 0.5)),
                         Float16Lanes(repeating: 1.0 / 6))
    var q = Float16Lanes(repeating: 0.28457584977149963).addingProduct(Float16Lanes(repeating: -0.05906913802027702), t)
    q = Float16Lanes(repeating: -0.4872017204761505).addingProduct(q, t)
    q = Float16Lanes(repeating: 0.27806925773620605).addingProduct(q, t)
    q = Float16Lanes(repeating: -0.026627089828252792).addingProduct(q, t)
    q = Float16Lanes(repeating: 0.20268745720386505).addingProduct(q, t)
    q = Float16Lanes(repeating: 0.24310362339019775).addingProduct(q, t)
    q = Float16Lanes(repeating: 0.2823753356933594).addingProduct(q, t)
    q = Float16Lanes(repeating: 0.28208640217781067).addingProduct(q, t)
    return t * q * g
}

/// erf(x): for |x| < 0.5 its Maclaurin series to x¹³ (truncation < 5e-10;
/// 1 − erfc would cancel there), else ±(1 − erfc(|x|)). Measured max
/// absolute error 1.36e-7 over [−10, 10] (VectorMathTests).
@inlinable @inline(__always)
public func verf(_ x: Float16Lanes) -> Float16Lanes {
    let z = vabs(x)
    let fromTail = 1 - verfc(nonNegative: z, gaussian: vexp(-(z * z)))
    let x2 = x * x
    // 2/√π · Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)), n = 0…6
    var p = Float16Lanes(repeating: -1.0 / 1320).addingProduct(Float16Lanes(repeating: 1.0 / 9360), x2)
    p = Float16Lanes(repeating: 1.0 / 216).addingProduct(p, x2)
    p = Float16Lanes(repeating: -1.0 / 42).addingProduct(p, x2)
    p = Float16Lanes(repeating: 1.0 / 10).addingProduct(p, x2)
    p = Float16Lanes(repeating: -1.0 / 3).addingProduct(p, x2)
    p = Float16Lanes(repeating: 1).addingProduct(p, x2)
    let series = (1.1283791670955126 * x) * p
    let signed = fromTail.replacing(with: -fromTail, where: x .< 0)
    return signed.replacing(with: series, where: z .< 0.5)
}

/// Φ(x) = ½(1 + erf(x/√2)), computed as ½·erfc(|x|/√2) for x < 0 so that
/// the far left tail keeps its relative accuracy. `gaussian` is e^(−x²/2).
@inlinable @inline(__always)
public func vnormalCDF(_ x: Float16Lanes, gaussian: Float16Lanes) -> Float16Lanes {
    let half = 0.5 * verfc(nonNegative: vabs(x) * 0.70710678118654752, gaussian: gaussian)
    return half.replacing(with: 1 - half, where: x .>= 0)
}

/// tanh(x) = sign(x)·(1 − 2/(e^{2|x|} + 1)); measured max absolute error
/// 1.1e-7 over [−20, 20] (VectorMathTests). Saturates to ±1 without overflow.
@inlinable @inline(__always)
public func vtanh(_ x: Float16Lanes) -> Float16Lanes {
    let t = 1 - 2 / (vexp(2 * vabs(x)) + 1)
    return t.replacing(with: -t, where: x .< 0)
}

/// σ(x) = 1/(1 + e^−x), exponentiating only −|x| so nothing overflows;
/// measured max absolute error 8.9e-8 over [−30, 30].
@inlinable @inline(__always)
public func vsigmoid(_ x: Float16Lanes) -> Float16Lanes {
    let e = vexp(-vabs(x))
    let s = 1 / (1 + e)
    return s.replacing(with: e * s, where: x .< 0)
}

/// out[i] = f(x[i]) for i in lo..<hi, 16 lanes at a time.
@inlinable @inline(__always)
public func map16(_ x: ConstFloatPointer, _ out: FloatPointer, _ lo: Int, _ hi: Int,
                  _ f: (Float16Lanes) -> Float16Lanes) {
    var i = lo
    while i + 16 <= hi { store16(f(load16(x + i)), out + i); i += 16 }
    if i < hi { storePartial16(f(loadPartial16(x + i, hi - i)), out + i, hi - i) }
}

/// dx[i] += g(x[i], dy[i]) for i in lo..<hi, 16 lanes at a time
/// (dx[i] = g(…) when not `accumulate`).
@inlinable @inline(__always)
public func accumulate16(_ x: ConstFloatPointer, _ dy: ConstFloatPointer, _ dx: FloatPointer, _ lo: Int, _ hi: Int,
                         accumulate: Bool = true, _ g: (Float16Lanes, Float16Lanes) -> Float16Lanes) {
    var i = lo
    if accumulate {
        while i + 16 <= hi { store16(load16(dx + i) + g(load16(x + i), load16(dy + i)), dx + i); i += 16 }
    } else {
        while i + 16 <= hi { store16(g(load16(x + i), load16(dy + i)), dx + i); i += 16 }
    }
    if i < hi {
        let n = hi - i
        let old = accumulate ? loadPartial16(dx + i, n) : Float16Lanes()
        storePartial16(old + g(loadPartial16(x + i, n), loadPartial16(dy + i, n)), dx + i, n)
    }
}

/// Σ e^(x[i] − shift) over x[0..<n], also writing each term to out if
/// given (out may be x). Lanes are summed in a fixed order, so the result
/// does not depend on threads.
@inlinable
public func sumExpShifted(_ x: ConstFloatPointer, _ n: Int, shift: Float, storingTo out: FloatPointer? = nil) -> Float {
    var acc = Float16Lanes()
    var i = 0
    while i + 16 <= n {
        let e = vexp(load16(x + i) - shift)
        if let out { store16(e, out + i) }
        acc += e
        i += 16
    }
    if i < n {
        let m = n - i
        // Zero-filled lanes must not add e^(0 − shift): mask them off.
        var e = vexp(loadPartial16(x + i, m) - shift)
        for l in m..<16 { e[l] = 0 }
        if let out { storePartial16(e, out + i, m) }
        acc += e
    }
    return horizontalSum(acc)
}

/// max over x[0..<n] (−∞ for n = 0).
@inlinable
public func vectorMax(_ x: ConstFloatPointer, _ n: Int) -> Float {
    // Compare-and-select, not pointwiseMax: the latter's NaN rules keep it
    // from vectorising here.
    var acc = Float16Lanes(repeating: -.infinity)
    var i = 0
    while i + 16 <= n {
        let v = load16(x + i)
        acc = acc.replacing(with: v, where: v .> acc)
        i += 16
    }
    let h8 = acc.lowHalf.replacing(with: acc.highHalf, where: acc.highHalf .> acc.lowHalf)
    let h4 = h8.lowHalf.replacing(with: h8.highHalf, where: h8.highHalf .> h8.lowHalf)
    let h2 = h4.lowHalf.replacing(with: h4.highHalf, where: h4.highHalf .> h4.lowHalf)
    var m = Swift.max(h2[0], h2[1])
    while i < n { if x[i] > m { m = x[i] }; i += 1 }
    return m
}
