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

/// `rotaryTable` from position 0 for `capacity` positions, filled as far as
/// it is read: a model with a long window (8,192 positions) does not pay at
/// start-up for rows a short generation never reaches. Rows are the bits the
/// whole table would hold, and the storage never moves.
public final class GrowingRotaryTable: @unchecked Sendable {
    private let frequencies: [Double]
    private let table: UnsafeMutablePointer<Float>
    private let rowLength: Int
    public let capacity: Int
    private var filled = 0
    private let lock = NSLock()

    public init(capacity: Int, inverseFrequencies: [Double]) {
        frequencies = inverseFrequencies
        self.capacity = capacity
        rowLength = 2 * inverseFrequencies.count
        table = .allocate(capacity: max(capacity * rowLength, 1))
    }

    deinit { table.deallocate() }

    /// The table's first row, with rows 0..<count (at most `capacity`) filled.
    public func rows(_ count: Int) -> UnsafePointer<Float> {
        lock.lock()
        defer { lock.unlock() }
        if count > filled {
            // At least doubling, so a long generation fills it in a few steps.
            let end = min(capacity, max(count, 2 * filled, 64))
            let rows = rotaryTable(length: end - filled, offset: filled, inverseFrequencies: frequencies, scale: 1)
            rows.withUnsafeBufferPointer { (table + filled * rowLength).update(from: $0.baseAddress!, count: $0.count) }
            filled = end
        }
        return UnsafePointer(table)
    }
}
