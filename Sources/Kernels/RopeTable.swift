import Foundation

/// Rotary embedding from a precomputed cos/sin table, for RoPE with scaled
/// frequencies (see NN's RopeScaling): features (2i, 2i+1) of position p rotate
/// by c = table[p·D + 2i], s = table[p·D + 2i + 1], which may carry a common
/// scale (YaRN's attention factor). x and out are (N, stride, heads, D) of which
/// the first t positions of each row are rotated; the rest of `out` is untouched.
/// Same arithmetic as `applyRotary(theta:)`, so equal tables give equal bits.
public func applyRotary(
    _ x: ConstFloatPointer, _ out: FloatPointer, count n: Int, length t: Int, stride: Int, heads: Int = 1, headSize d: Int,
    table: ConstFloatPointer
) {
    require(d % 2 == 0, "rotary embedding needs an even head size, got \(d)")
    require(t <= stride, "rotary embedding: \(t) positions exceed the row stride \(stride)")
    let half = d / 2
    Parallel.forRanges(n, grain: max(1, elementwiseGrain / max(t * heads * d, 1))) { range in
        for row in range {
            for p in 0..<t {
                for head in 0..<heads {
                    let xi = x + ((row * stride + p) * heads + head) * d, oi = out + ((row * stride + p) * heads + head) * d
                    let cs = table + p * d
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

/// The (T, D) table for `applyRotary(table:)`: positions offset..<offset+T,
/// angle p·f_i for inverse frequencies f (D/2 of them), cos and sin times
/// `scale`; `inverse` negates the sines (the backward rotation).
public func rotaryTable(length t: Int, offset: Int, inverseFrequencies f: [Double], scale: Double, inverse: Bool = false) -> [Float] {
    let d = 2 * f.count
    var table = [Float](repeating: 0, count: t * d)
    for p in 0..<t {
        for i in 0..<f.count {
            let angle = Double(offset + p) * f[i]
            table[p * d + 2 * i] = Float(cos(angle) * scale)
            let s = sin(angle) * scale
            table[p * d + 2 * i + 1] = Float(inverse ? -s : s)
        }
    }
    return table
}
