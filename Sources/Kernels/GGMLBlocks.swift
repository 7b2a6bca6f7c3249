/// ggml's block formats (the tensor types of GGUF files) decoded to float32,
/// and the two encodings tinygpt writes (F16, Q8_0), with ggml's arithmetic:
/// the same operations in the same order as ggml's reference code and the
/// `gguf` Python package, so every value comes out bit for bit the same.
///
/// A block packs `valuesPerBlock` consecutive values of a row. Half-precision
/// numbers inside blocks (scales, minimums) are IEEE binary16, little-endian.
/// The callers (Formats/GGUF) check every byte count against the file first:
/// these functions trust `blocks`.
///
///     Q8_0   34 bytes / 32 values: d (f16), 32 × int8 q           x = q·d
///     Q4_0   18 bytes / 32 values: d, 16 bytes of nibbles          x = (q − 8)·d
///     Q4_1   20 bytes / 32 values: d, m (f16), 16 bytes of nibbles x = q·d + m
///       (byte j holds value j in its low nibble, value j + 16 in its high one)
///     Q4_K  144 bytes / 256 values: d, dmin, 12 bytes of 6-bit scales and mins
///           for 8 sub-blocks of 32, 128 bytes of nibbles          x = (d·sc)·q − dmin·m
///     Q5_K  176 bytes / 256 values: as Q4_K, plus 32 bytes holding each value's fifth bit
///     Q6_K  210 bytes / 256 values: 128 bytes of low nibbles, 64 bytes of high
///           2-bit pairs, 16 int8 scales (one per 16 values), d    x = (d·sc)·(q − 32)
public enum GGMLBlocks {
    public static let q8_0Bytes = 34, q4_0Bytes = 18, q4_1Bytes = 20, q4_KBytes = 144, q5_KBytes = 176, q6_KBytes = 210
    /// Values per block: 32 for the legacy types, 256 (QK_K) for the K-quants.
    public static let legacyBlockValues = 32, kBlockValues = 256

    // MARK: scalars (the conversions themselves: HalfFloat)

    @inlinable
    static func halfAt(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfFloat.float(half: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    // MARK: plain floats

    public static func decodeF32(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    }

    public static func decodeF16(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        HalfFloat.f16.decode(source, count: count, into: out)
    }

    public static func decodeBF16(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        HalfFloat.bf16.decode(source, count: count, into: out)
    }

    // MARK: legacy blocks of 32

    public static func dequantizeQ8_0(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q8_0Bytes, y = out + b * 32
            let d = halfAt(block, 0)
            let q = (block + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { y[j] = Float(q[j]) * d }
        }
    }

    public static func dequantizeQ4_0(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q4_0Bytes, y = out + b * 32
            let d = halfAt(block, 0)
            let q = (block + 2).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                y[j] = d * Float(Int(q[j] & 0x0F) - 8)
                y[j + 16] = d * Float(Int(q[j] >> 4) - 8)
            }
        }
    }

    public static func dequantizeQ4_1(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q4_1Bytes, y = out + b * 32
            let d = halfAt(block, 0), m = halfAt(block, 2)
            let q = (block + 4).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                // Two roundings (product, then sum), as the reference: no fused multiply-add.
                let low = d * Float(q[j] & 0x0F), high = d * Float(q[j] >> 4)
                y[j] = low + m
                y[j + 16] = high + m
            }
        }
    }

    // MARK: K-quants, blocks of 256

    /// The 6-bit scale and minimum of sub-block j (0..<8) of a Q4_K/Q5_K block's 12 scale bytes.
    @inlinable
    static func scaleAndMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (scale: Float, min: Float) {
        if j < 4 { return (Float(s[j] & 63), Float(s[j + 4] & 63)) }
        return (Float((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4)), Float((s[j + 4] >> 4) | ((s[j] >> 6) << 4)))
    }

    public static func dequantizeQ4_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q4_KBytes, y = out + b * 256
            let d = halfAt(block, 0), dmin = halfAt(block, 2)
            let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
            let q = (block + 16).assumingMemoryBound(to: UInt8.self)
            for sub in 0..<8 {
                let (sc, m) = scaleAndMin(scales, sub)
                let scale = d * sc, offset = dmin * m
                let bytes = q + 32 * (sub / 2), shift = UInt8(4 * (sub % 2))
                for l in 0..<32 {
                    let product = scale * Float((bytes[l] >> shift) & 0x0F)
                    y[32 * sub + l] = product - offset
                }
            }
        }
    }

    public static func dequantizeQ5_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q5_KBytes, y = out + b * 256
            let d = halfAt(block, 0), dmin = halfAt(block, 2)
            let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
            let high = (block + 16).assumingMemoryBound(to: UInt8.self)
            let q = (block + 48).assumingMemoryBound(to: UInt8.self)
            for sub in 0..<8 {
                let (sc, m) = scaleAndMin(scales, sub)
                let scale = d * sc, offset = dmin * m
                let bytes = q + 32 * (sub / 2), shift = UInt8(4 * (sub % 2))
                for l in 0..<32 {
                    let level = (bytes[l] >> shift) & 0x0F | ((high[l] >> UInt8(sub)) & 1) << 4
                    let product = scale * Float(level)
                    y[32 * sub + l] = product - offset
                }
            }
        }
    }

    public static func dequantizeQ6_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = source + b * q6_KBytes, y = out + b * 256
            let low = block.assumingMemoryBound(to: UInt8.self)
            let high = (block + 128).assumingMemoryBound(to: UInt8.self)
            let scales = (block + 192).assumingMemoryBound(to: Int8.self)
            let d = halfAt(block, 208)
            // Two halves of 128 values; in each, four runs of 32 (r) take their low nibble from
            // byte 64h + 32(r % 2) + l (shifted by 4 for r ≥ 2) and their top two bits from byte
            // 32h + l (shifted by 2r).
            for h in 0..<2 {
                for r in 0..<4 {
                    for l in 0..<32 {
                        let i = 128 * h + 32 * r + l
                        let nibble = (low[64 * h + 32 * (r % 2) + l] >> UInt8(4 * (r / 2))) & 0x0F
                        let top = (high[32 * h + l] >> UInt8(2 * r)) & 3
                        let level = Int(nibble | top << 4) - 32
                        let scale = d * Float(scales[i / 16])
                        y[i] = scale * Float(level)
                    }
                }
            }
        }
    }

    // MARK: encoding

    /// float32 → F16 values, rounded to nearest even.
    public static func encodeF16(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        HalfFloat.f16.encode(x, count: count, into: out)
    }

    /// float32 → Q8_0 blocks (`count` a multiple of 32), as ggml's reference
    /// `quantize_row_q8_0`: d = max|x| / 127, q = round(x · (1/d)) half away
    /// from zero, d stored as f16 (the levels are computed with the float32 d).
    public static func quantizeQ8_0(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        require(count % 32 == 0, "quantizeQ8_0: \(count) values do not fill blocks of 32")
        for b in 0..<(count / 32) {
            let v = x + 32 * b, block = out + b * q8_0Bytes
            var largest: Float = 0
            for j in 0..<32 { largest = max(largest, abs(v[j])) }
            let d = largest / 127
            let inverse: Float = d != 0 ? 1 / d : 0
            block.storeBytes(of: HalfFloat.half(d).littleEndian, as: UInt16.self)
            for j in 0..<32 {
                block.storeBytes(of: Int8((v[j] * inverse).rounded()), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }
}
