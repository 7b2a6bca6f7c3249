import Foundation

/// Rotary position embedding (RoFormer, Su et al. 2021), interleaved pairs:
/// features (2i, 2i+1) of a token at position p rotate by the angle
/// p · θ^(−2i/D). Applied to x: (N, T, heads, D) with positions offset + 0..<T:
/// head-major (B, H, T, D) is N = B·H with one head, token-major (B, T, H, D)
/// is N = B with H heads per position. `inverse` rotates by −angle: the backward pass.
public func applyRotary(
    _ x: ConstFloatPointer, _ out: FloatPointer, count n: Int, length t: Int, heads: Int = 1, headSize d: Int,
    offset: Int, theta: Float, inverse: Bool = false
) {
    require(d % 2 == 0, "rotary embedding needs an even head size, got \(d)")
    let table = rotaryTable(length: t, offset: offset, inverseFrequencies: rotaryInverseFrequencies(theta: Double(theta), headSize: d),
                            scale: 1, inverse: inverse)
    table.withUnsafeBufferPointer {
        applyRotary(x, out, count: n, length: t, stride: t, heads: heads, headSize: d, table: $0.baseAddress!)
    }
}

/// Plain RoPE's inverse frequencies θ^(−2i/D), i < D/2, in Double for
/// accuracy at long positions.
public func rotaryInverseFrequencies(theta: Double, headSize d: Int) -> [Double] {
    (0..<(d / 2)).map { pow(theta, -2.0 * Double($0) / Double(d)) }
}
