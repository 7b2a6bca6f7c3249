import Foundation
import Kernels
import Autograd
import NN
import Model
import Config

/// A reward model's figures on preference pairs, with the names TRL's
/// RewardTrainer logs: accuracy is the fraction of pairs whose chosen
/// completion scores above the rejected one; margin the mean of
/// r(chosen) − r(rejected); min/mean/max over every score.
public struct RewardStats: Equatable, Sendable, PairMeans {
    public var loss = 0.0
    public var accuracy = 0.0
    public var margin = 0.0
    public var chosen = 0.0
    public var rejected = 0.0
    public var minReward = Double.infinity
    public var meanReward = 0.0
    public var maxReward = -Double.infinity
    /// Pairs the means are over.
    public var pairs = 0

    public init() {}

    static var means: [WritableKeyPath<RewardStats, Double>] { [\.loss, \.accuracy, \.margin, \.chosen, \.rejected, \.meanReward] }

    /// Pools two sets of pairs (means weighted by pair count; the extremes of both).
    public mutating func add(_ other: RewardStats) {
        guard pairs + other.pairs > 0 else { return }
        minReward = min(minReward, other.minReward)
        maxReward = max(maxReward, other.maxReward)
        poolMeans(other)
    }

    /// TRL's names, "loss" first, then the mean scores of chosen and rejected completions.
    public var figures: Figures {
        Figures([("loss", loss), ("accuracy", accuracy), ("margin", margin), ("min_reward", minReward), ("mean_reward", meanReward),
                 ("max_reward", maxReward), ("rewards/chosen", chosen), ("rewards/rejected", rejected)])
    }

    /// For a console line.
    public var summary: String {
        String(format: "accuracy %.3f | margin %.4f | rewards/chosen %.4f | rewards/rejected %.4f", accuracy, margin, chosen, rejected)
    }
}

/// The Bradley–Terry loss of a reward model, as TRL's RewardTrainer computes
/// it: −log σ(r(chosen) − r(rejected) − margin), mean over pairs; `chosen`
/// and `rejected` are (P) scores on the graph.
public func rewardLoss(chosen: Tensor, rejected: Tensor, margins: [Float]) -> (loss: Tensor, stats: RewardStats) {
    let pairs = chosen.count
    require(rejected.count == pairs && margins.count == pairs, "rewardLoss: \(pairs) chosen, \(rejected.count) rejected scores, \(margins.count) margins")
    let difference = chosen - rejected - Tensor(margins, shape: [pairs])                           // (P)
    let loss = scale(mean(logSigmoid(difference)), -1)
    var stats = RewardStats()
    stats.pairs = pairs
    stats.loss = Double(loss.item)
    for p in 0..<pairs {
        let (c, r) = (Double(chosen.data[p]), Double(rejected.data[p]))
        stats.accuracy += (c > r ? 1 : 0) / Double(pairs)
        stats.margin += (c - r) / Double(pairs)
        stats.chosen += c / Double(pairs)
        stats.rejected += r / Double(pairs)
        stats.meanReward += (c + r) / Double(2 * pairs)
        stats.minReward = min(stats.minReward, c, r)
        stats.maxReward = max(stats.maxReward, c, r)
    }
    return (loss, stats)
}

/// Each sequence's score at its last token (prompt and completion, right-padded).
public func sequenceScores(_ model: ScoreModel, _ sequences: [TokenizedSequence], dropout: Dropout? = nil) -> Tensor {
    let length = max(1, sequences.map(\.tokens.count).max() ?? 1)
    var ids = [Int32](repeating: 0, count: sequences.count * length)
    for (r, s) in sequences.enumerated() { for (i, t) in s.tokens.enumerated() { ids[r * length + i] = t } }
    return model.scores(ids, batch: sequences.count, length: length, last: sequences.map { $0.tokens.count - 1 }, dropout: dropout)
}

/// The chosen and rejected scores of `pairs`: one forward pass over the 2·P sequences (chosen rows first), each (P).
public func pairScores(_ model: ScoreModel, pairs: [TokenizedExample], dropout: Dropout? = nil) -> (chosen: Tensor, rejected: Tensor) {
    let scores = sequenceScores(model, pairs.map(\.chosen) + pairs.map { $0.rejected! }, dropout: dropout)
    return (scores.slice(0, 0..<pairs.count), scores.slice(0, pairs.count..<(2 * pairs.count)))
}

/// A reward model's figures over `examples` (preference pairs), `batch` at a time, in order, without gradients.
public func rewardStats(model: ScoreModel, examples: [TokenizedExample], batch: Int) -> RewardStats {
    var total = RewardStats()
    Autograd.noGrad {
        for start in stride(from: 0, to: examples.count, by: batch) {
            let pairs = Array(examples[start..<min(start + batch, examples.count)])
            let scores = pairScores(model, pairs: pairs)
            total.add(rewardLoss(chosen: scores.chosen, rejected: scores.rejected, margins: pairs.map(\.margin)).stats)
        }
    }
    return total
}

/// A reward model's mean score of prompt–completion examples (and each score), `batch` at a time, without gradients.
public func meanScore(model: ScoreModel, examples: [TokenizedExample], batch: Int) -> (mean: Double, scores: [Float]) {
    var scores: [Float] = []
    Autograd.noGrad {
        for start in stride(from: 0, to: examples.count, by: batch) {
            scores += sequenceScores(model, examples[start..<min(start + batch, examples.count)].map(\.chosen)).toArray()
        }
    }
    return (scores.isEmpty ? .nan : scores.map(Double.init).reduce(0, +) / Double(scores.count), scores)
}

extension Trainer {
    /// One optimizer step's forward and backward passes of a reward model:
    /// `accumulation` micro-batches of `batch` pairs, the loss averaged over them.
    func rewardStep(examples: ExampleSet, batch: Int, accumulation: Int) throws -> (loss: Float, tokens: Int) {
        guard let scoreModel else { throw TrainingError("the reward objective needs a score head") }
        var lossSum: Float = 0, tokens = 0
        for _ in 0..<accumulation {
            let picked = sampler.nextExamples(count: examples.train.count, batch: batch).map { examples.train[$0] }
            let scores = pairScores(scoreModel, pairs: picked, dropout: dropout)
            let (loss, stats) = rewardLoss(chosen: scores.chosen, rejected: scores.rejected, margins: picked.map(\.margin))
            guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
            intervalRewards.add(stats)
            lossSum += loss.item
            scale(loss, 1 / Float(accumulation)).backward()
            tokens += picked.map { $0.chosen.tokens.count + $0.rejected!.tokens.count }.reduce(0, +)
        }
        return (lossSum / Float(accumulation), tokens)
    }
}
