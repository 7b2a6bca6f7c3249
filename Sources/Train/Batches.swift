import Kernels

/// Random windows of length + 1 tokens: inputs are the first `length`,
/// targets the same shifted by one. The generator's state is part of a
/// checkpoint, so a resumed run draws the same windows.
public struct BatchSampler {
    public var generator: RandomGenerator
    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }
    public init(generator: RandomGenerator) { self.generator = generator }

    /// `batch` windows from `tokens`, laid out (batch, length).
    public mutating func next(from tokens: [Int32], batch: Int, length: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs: [Int32] = [], targets: [Int32] = []
        inputs.reserveCapacity(batch * length)
        targets.reserveCapacity(batch * length)
        for _ in 0..<batch {
            let start = generator.int(below: tokens.count - length)
            inputs += tokens[start..<(start + length)]
            targets += tokens[(start + 1)...(start + length)]
        }
        return (inputs, targets)
    }
}
