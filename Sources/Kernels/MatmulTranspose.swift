/// Transposes a 16×16 block: `rows[r][c]` becomes `result[c][r]`.
///
/// Four rounds of the same perfect unshuffle (row i ← even halves of rows
/// 2i, 2i+1; row 8+i ← their odd halves). Each round rotates the 8-bit
/// (row, column) index right by one bit, so four rounds swap row and column.
@inline(__always)
func transpose16x16(_ rows: inout (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                                   SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                                   SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                                   SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)) {
    @inline(__always)
    func round(_ r: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                     SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                     SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                     SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>))
        -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
            SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
            SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
            SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        @inline(__always) func even(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
            SIMD16(lowHalf: x.evenHalf, highHalf: y.evenHalf)
        }
        @inline(__always) func odd(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
            SIMD16(lowHalf: x.oddHalf, highHalf: y.oddHalf)
        }
        return (even(r.0, r.1), even(r.2, r.3), even(r.4, r.5), even(r.6, r.7),
                even(r.8, r.9), even(r.10, r.11), even(r.12, r.13), even(r.14, r.15),
                odd(r.0, r.1), odd(r.2, r.3), odd(r.4, r.5), odd(r.6, r.7),
                odd(r.8, r.9), odd(r.10, r.11), odd(r.12, r.13), odd(r.14, r.15))
    }
    rows = round(round(round(round(rows))))
}

/// Copies a 16×16 block: source row r (16 floats at `src + r*srcStride`) becomes
/// destination column r (float r of the 16 at `dst + c*dstStride`, c = 0..<16).
@inline(__always)
func transposeBlock16(from src: UnsafePointer<Float>, srcStride: Int, to dst: UnsafeMutablePointer<Float>, dstStride: Int) {
    @inline(__always) func load(_ r: Int) -> SIMD16<Float> {
        UnsafeRawPointer(src + r * srcStride).loadUnaligned(as: SIMD16<Float>.self)
    }
    var t = (load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7),
             load(8), load(9), load(10), load(11), load(12), load(13), load(14), load(15))
    transpose16x16(&t)
    withUnsafeBytes(of: &t) { block in
        let rows = block.baseAddress!.assumingMemoryBound(to: SIMD16<Float>.self)
        for c in 0..<16 {
            UnsafeMutableRawPointer(dst + c * dstStride).storeBytes(of: rows[c], as: SIMD16<Float>.self)
        }
    }
}

/// Transposes `mr` rows × 16 columns (row r: 16 floats at `src + r*srcStride`;
/// mr is 12, 8, 6 or 4, a register block's height) into 16 rows of mr floats
/// at `dst`, `dst[c*mr + r]`: a packed A panel.
@inline(__always)
func transposeRows(_ mr: Int, from src: UnsafePointer<Float>, srcStride: Int, to dst: UnsafeMutablePointer<Float>) {
    @inline(__always) func load(_ r: Int) -> SIMD16<Float> {
        r < mr ? UnsafeRawPointer(src + r * srcStride).loadUnaligned(as: SIMD16<Float>.self) : SIMD16<Float>()
    }
    var t = (load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7),
             load(8), load(9), load(10), load(11), load(12), load(13), load(14), load(15))
    transpose16x16(&t)
    withUnsafeBytes(of: &t) { block in
        let rows = block.baseAddress!.assumingMemoryBound(to: SIMD16<Float>.self)
        for c in 0..<16 {
            let v = rows[c], row = UnsafeMutableRawPointer(dst + c * mr)
            // Only lanes 0..<mr are real; stored as 8/4/2-float pieces so nothing past the row is written.
            switch mr {
            case 12:
                row.storeBytes(of: v.lowHalf, as: SIMD8<Float>.self)
                row.storeBytes(of: SIMD4(v[8], v[9], v[10], v[11]), toByteOffset: 32, as: SIMD4<Float>.self)
            case 8:
                row.storeBytes(of: v.lowHalf, as: SIMD8<Float>.self)
            case 6:
                row.storeBytes(of: v.lowHalf.lowHalf, as: SIMD4<Float>.self)
                row.storeBytes(of: SIMD2(v[4], v[5]), toByteOffset: 16, as: SIMD2<Float>.self)
            default:
                for r in 0..<mr { (dst + c * mr)[r] = v[r] }
            }
        }
    }
}
