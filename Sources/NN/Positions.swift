import Foundation
import Autograd

/// Fixed position tables and biases (the learned table is an `Embedding`,
/// RoPE is an op applied to queries and keys inside attention), and T5's
/// bucketed relative positions.
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

    /// T5's relative position bucket (Raffel et al. 2020, §2.1; transformers'
    /// `T5Attention._relative_position_bucket` with bidirectional=False, a
    /// decoder's): a key `distance` = query − key positions back (keys ahead, in
    /// a prefix LM's prompt, count as 0). Half the buckets hold one distance each
    /// (0 ..< B/2); the other half cover B/2 ..< maxDistance logarithmically,
    /// and every farther distance shares the last bucket. Float32 arithmetic,
    /// truncated, as transformers computes it.
    public static func t5Bucket(distance: Int, buckets: Int, maxDistance: Int) -> Int {
        let n = max(distance, 0), exact = buckets / 2
        if n < exact { return n }
        let logRatio = logf(Float(n) / Float(exact)) / Float(log(Double(maxDistance) / Double(exact)))
        return min(exact + Int(logRatio * Float(buckets - exact)), buckets - 1)
    }

    /// The bucket of every (query, key) pair, (Tq·Tk) row-major, for queries
    /// at absolute positions tk − tq ..< tk (after a cache of earlier keys) and keys 0 ..< tk.
    public static func t5Buckets(queryLength tq: Int, keyLength tk: Int, buckets: Int, maxDistance: Int) -> [Int32] {
        var ids = [Int32](repeating: 0, count: tq * tk)
        for i in 0..<tq {
            let position = i + tk - tq
            for j in 0..<tk { ids[i * tk + j] = Int32(t5Bucket(distance: position - j, buckets: buckets, maxDistance: maxDistance)) }
        }
        return ids
    }

    /// T5's bias (H, Tq, Tk): row bucket(i − j) of the learned `table`
    /// (buckets, H), one column per head; on the graph, so the table learns.
    public static func t5Bias(table: Tensor, queryLength tq: Int, keyLength tk: Int, maxDistance: Int) -> Tensor {
        let (buckets, heads) = (table.shape[0], table.shape[1])
        let ids = t5Buckets(queryLength: tq, keyLength: tk, buckets: buckets, maxDistance: maxDistance)
        return embedding(table, ids: ids, shape: [tq * tk])   // (Tq·Tk, H)
            .transposed(0, 1).reshaped([heads, tq, tk])          // (H, Tq, Tk)
    }
}
