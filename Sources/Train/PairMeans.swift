/// Figures that are means over preference pairs (DPO's, a reward model's), pooled across
/// batches by pair count.
protocol PairMeans {
    /// Pairs the means are over.
    var pairs: Int { get set }
    /// The figures that are means.
    static var means: [WritableKeyPath<Self, Double>] { get }
}

extension PairMeans {
    /// Pools the means of `other`'s pairs into these, weighted by pair count, and counts its pairs.
    mutating func poolMeans(_ other: Self) {
        let total = Double(pairs + other.pairs)
        guard total > 0 else { return }
        let (a, b) = (Double(pairs) / total, Double(other.pairs) / total)
        for mean in Self.means { self[keyPath: mean] = a * self[keyPath: mean] + b * other[keyPath: mean] }
        pairs += other.pairs
    }
}
