/// The two 16-bit float formats that model files hold, as stored bits:
///
///     f16    IEEE 754 binary16: sign, 5 exponent bits, 10 mantissa bits (±65504, 2^-24 smallest)
///     bf16   bfloat16: the top half of a binary32 (its 8 exponent bits, 7 mantissa bits)
///
/// float32 → half rounds to nearest, ties to even, as numpy's `astype(float16)`
/// and torch's `.to(torch.bfloat16)`; half → float32 is exact. Every
/// finite half converts to float32 and back to the same bits.
public enum HalfFloat: String, CaseIterable, Sendable {
    case f16, bf16

    // MARK: scalars

    /// IEEE binary16 → binary32, exact for every input (subnormals, infinities, NaN payloads).
    @inlinable
    public static func float(half bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal: exact in Float
            return sign != 0 ? -magnitude : magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 127 - 15) << 23 | mantissa << 13)
        }
    }

    /// binary32 → binary16, rounded to nearest, ties to even (as F16C's `vcvtps2ph`
    /// and numpy's `astype(float16)`): overflow gives ±inf, NaN stays NaN.
    @inlinable
    public static func half(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        let mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? UInt16(0x200 | (mantissa >> 13)) : 0) }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            // A subnormal half (or zero): the value in units of 2^-24, rounded.
            if e < -10 { return sign }
            let m = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var h = m >> shift
            let rest = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
            return sign | UInt16(h)
        }
        var h = UInt32(e) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        // A carry out of the mantissa steps the exponent, up to infinity: still the rounded value.
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
        return sign | UInt16(h)
    }

    /// bfloat16 → binary32: the bits are its top half.
    @inlinable
    public static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// binary32 → bfloat16, rounded to nearest, ties to even (torch's
    /// `round_to_nearest_even`): adding 0x7FFF plus the lowest kept bit carries
    /// exactly when the dropped half is above the tie, or at it with an odd
    /// kept half; a carry into the exponent is the rounded value (up to
    /// infinity). NaN becomes torch's quiet NaN 0x7FC0.
    @inlinable
    public static func bfloat16(_ value: Float) -> UInt16 {
        guard !value.isNaN else { return 0x7FC0 }
        let x = value.bitPattern
        return UInt16(truncatingIfNeeded: (x &+ 0x7FFF &+ ((x >> 16) & 1)) >> 16)
    }

    // MARK: one format, as a value

    /// Bytes per value.
    public static let byteCount = 2

    /// float32 → this format's bits.
    @inlinable
    public func bits(_ value: Float) -> UInt16 { self == .f16 ? Self.half(value) : Self.bfloat16(value) }

    /// This format's bits → float32 (exact).
    @inlinable
    public func float(_ bits: UInt16) -> Float { self == .f16 ? Self.float(half: bits) : Self.float(bfloat16: bits) }

    /// Whether stored bits are an infinity or a NaN.
    @inlinable
    public func isNonFinite(_ bits: UInt16) -> Bool {
        self == .f16 ? bits & 0x7C00 == 0x7C00 : bits & 0x7F80 == 0x7F80
    }

    /// The largest finite value: 65504 (f16), about 3.39e38 (bf16).
    public var greatestFiniteMagnitude: Float { float(self == .f16 ? 0x7BFF : 0x7F7F) }

    // MARK: whole buffers

    /// Little-endian stored values → float32.
    public func decode(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        @inline(__always) func stored(_ i: Int) -> UInt16 { UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        switch self {
        case .f16: for i in 0..<count { out[i] = Self.float(half: stored(i)) }
        case .bf16: for i in 0..<count { out[i] = Self.float(bfloat16: stored(i)) }
        }
    }

    /// float32 → little-endian stored values, rounded to nearest even.
    public func encode(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        switch self {
        case .f16: for i in 0..<count { out.storeBytes(of: Self.half(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16: for i in 0..<count { out.storeBytes(of: Self.bfloat16(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        }
    }
}
