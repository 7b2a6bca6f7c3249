import Foundation

/// A seeded random number generator of our own (xoshiro256**, seeded through
/// SplitMix64), so that the same seed gives the same numbers on every machine,
/// every run and any thread count. Its whole state is four words, which a
/// checkpoint can save and restore.
public struct RandomGenerator: RandomNumberGenerator {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(&s), splitMix(&s), splitMix(&s), splitMix(&s))
    }

    /// Restores a generator from the words returned by `stateWords`.
    public init(stateWords w: [UInt64]) {
        require(w.count == 4, "RandomGenerator state needs 4 words, got \(w.count)")
        state = (w[0], w[1], w[2], w[3])
    }

    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inlinable
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1), 24 random bits (every value exactly representable).
    @inlinable
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal by the Box–Muller transform (one value per call; the
    /// second value is discarded so the state stays four words).
    @inlinable
    public mutating func normal() -> Float {
        let u1 = 1.0 - uniformDouble()  // (0, 1]: log is finite
        let u2 = uniformDouble()
        return Float((-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2))
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's method).
    @inlinable
    public mutating func int(below bound: Int) -> Int {
        require(bound > 0, "int(below:) needs a positive bound, got \(bound)")
        return Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
    }
}

