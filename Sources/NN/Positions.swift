import Foundation
import Autograd

/// Fixed position tables and biases (the learned table is an `Embedding`,
/// RoPE is an op applied to queries and keys inside attention).
public enum Positions {
    /// Sinusoidal encoding (Vaswani et al. 2017), positions offset..<offset+length:
    /// PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)).
    public static func sinusoidal(length: Int, dimension d: Int, offset: Int = 0) -> Tensor {
        var values = [Float](repeating: 0, count: length * d)
        for p in 0..<length {
            for i in stride(from: 0, to: d, by: 2) {
                let angle = Double(offset + p) / pow(10_000, Double(i) / Double(d))
                values[p * d + i] = Float(sin(angle))
                if i + 1 < d { values[p * d + i + 1] = Float(cos(angle)) }
            }
        }
        return Tensor(values, shape: [length, d])
    }

    /// ALiBi head slopes (Press et al. 2022): for n a power of two, the
    /// geometric sequence 2^(−8/n), 2^(−16/n), …, 2^(−8). Otherwise the slopes
    /// of the nearest lower power of two m, then every other slope of 2m.
    public static func alibiSlopes(heads n: Int) -> [Float] {
        func powerOfTwoSlopes(_ n: Int) -> [Float] {
            (1...n).map { Float(pow(2.0, -8.0 * Double($0) / Double(n))) }
        }
        var m = 1
        while m * 2 <= n { m *= 2 }
        if m == n { return powerOfTwoSlopes(n) }
        let extra = powerOfTwoSlopes(2 * m).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        return powerOfTwoSlopes(m) + extra.prefix(n - m)
    }

    /// The ALiBi bias (H, Tq, Tk): −slope_h · (i_abs − j) for query i at
    /// absolute position i + Tk − Tq (keys after a query are masked anyway).
    public static func alibiBias(slopes: [Float], queryLength tq: Int, keyLength tk: Int) -> Tensor {
        let h = slopes.count
        var values = [Float](repeating: 0, count: h * tq * tk)
        for head in 0..<h {
            for i in 0..<tq {
                let position = i + tk - tq
                for j in 0..<tk { values[(head * tq + i) * tk + j] = -slopes[head] * Float(position - j) }
            }
        }
        return Tensor(values, shape: [h, tq, tk])
    }
}
