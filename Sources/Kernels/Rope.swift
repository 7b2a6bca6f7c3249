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
    let half = d / 2
    // cos/sin table (T, D/2), computed in Double for accuracy at long positions.
    var table = [Float](repeating: 0, count: t * d)
    for p in 0..<t {
        for i in 0..<half {
            let angle = Double(offset + p) * pow(Double(theta), -2.0 * Double(i) / Double(d))
            table[p * d + 2 * i] = Float(cos(angle))
            table[p * d + 2 * i + 1] = Float(inverse ? -sin(angle) : sin(angle))
        }
    }
    table.withUnsafeBufferPointer { tab in
        let tab = tab.baseAddress!
        Parallel.forRanges(n, grain: max(1, elementwiseGrain / max(t * heads * d, 1))) { range in
            for row in range {
                for p in 0..<t {
                    for head in 0..<heads {
                        let xi = x + ((row * t + p) * heads + head) * d, oi = out + ((row * t + p) * heads + head) * d
                        let cs = tab + p * d
                        for i in 0..<half {
                            let c = cs[2 * i], sn = cs[2 * i + 1]
                            let x0 = xi[2 * i], x1 = xi[2 * i + 1]
                            oi[2 * i] = x0 * c - x1 * sn
                            oi[2 * i + 1] = x0 * sn + x1 * c
                        }
                    }
                }
            }
        }
    }
}
