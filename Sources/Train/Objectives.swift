import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// DPO's figures for a set of preference pairs, with TRL's names: rewards are
/// β·(log π − log π_ref) of each completion; accuracy is the fraction of pairs
/// whose chosen reward exceeds the rejected one; every figure is a mean over pairs.
public struct PreferenceStats: Equatable, Sendable, PairMeans {
    public var loss = 0.0
    public var rewardsChosen = 0.0
    public var rewardsRejected = 0.0
    public var accuracy = 0.0
    public var logpsChosen = 0.0
    public var logpsRejected = 0.0
    /// Pairs the means are over.
    public var pairs = 0

    public init() {}

    public var margin: Double { rewardsChosen - rewardsRejected }

    static var means: [WritableKeyPath<PreferenceStats, Double>] {
        [\.loss, \.rewardsChosen, \.rewardsRejected, \.accuracy, \.logpsChosen, \.logpsRejected]
    }

    /// Pools two sets of pairs (means weighted by pair count).
    public mutating func add(_ other: PreferenceStats) { poolMeans(other) }

    /// (TRL's name, value) in TRL's order; `prefix` is "" for training batches, "eval_" for validation.
    public func named(prefix: String = "") -> [(String, Double)] {
        [("\(prefix)loss", loss), ("\(prefix)rewards/chosen", rewardsChosen), ("\(prefix)rewards/rejected", rewardsRejected),
         ("\(prefix)rewards/accuracies", accuracy), ("\(prefix)rewards/margins", margin),
         ("\(prefix)logps/chosen", logpsChosen), ("\(prefix)logps/rejected", logpsRejected)]
    }

    /// For a console line: accuracy, margin and both rewards.
    public var summary: String {
        String(format: "rewards/accuracies %.3f | rewards/margins %.4f | rewards/chosen %.4f | rewards/rejected %.4f",
               accuracy, margin, rewardsChosen, rewardsRejected)
    }
}

/// The reference model's summed log-probabilities of every example's chosen
/// and rejected completions, computed once without gradients (the reference
/// is frozen, so they never change) and saved with each checkpoint.
public struct ReferenceLogProbs: Equatable, Sendable {
    public var chosen: [Float]
    public var rejected: [Float]

    /// Scores `examples` (preference pairs) with `model`, `batch` pairs at a time.
    public init(model: GPT, examples: [TokenizedExample], batch: Int) {
        var chosen: [Float] = [], rejected: [Float] = []
        Autograd.noGrad {
            for start in stride(from: 0, to: examples.count, by: batch) {
                let pairs = Array(examples[start..<min(start + batch, examples.count)])
                let scores = pairLogProbs(model: model, pairs: pairs, dropout: nil)
                chosen += scores.chosen.toArray()
                rejected += scores.rejected.toArray()
            }
        }
        self.chosen = chosen
        self.rejected = rejected
    }

    public init(chosen: [Float], rejected: [Float]) { self.chosen = chosen; self.rejected = rejected }
}

/// Summed log-probabilities of the chosen and rejected completions of
/// `pairs` under `model`: one forward pass over the 2·P sequences (chosen rows
/// first), each (P).
public func pairLogProbs(model: GPT, pairs: [TokenizedExample], dropout: Dropout?) -> (chosen: Tensor, rejected: Tensor) {
    let batch = SequenceBatch(pairs.map(\.chosen) + pairs.map { $0.rejected! })
    let logits = batchLogits(model: model, batch: batch, dropout: dropout)                         // (2P, T, V)
    let scores = sequenceLogProbs(logits, targets: batch.targets)                                  // (2P)
    return (scores.slice(0, 0..<pairs.count), scores.slice(0, pairs.count..<(2 * pairs.count)))
}

/// TRL's `sigmoid` DPO loss over pairs, mean over pairs:
/// −log σ(β·[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]),
/// and its figures. `policyChosen`/`policyRejected` are (P) tensors on the graph;
/// the reference values are constants.
public func dpoLoss(policyChosen: Tensor, policyRejected: Tensor, referenceChosen: [Float], referenceRejected: [Float],
                    beta: Float) -> (loss: Tensor, stats: PreferenceStats) {
    let pairs = policyChosen.count
    require(policyRejected.count == pairs && referenceChosen.count == pairs && referenceRejected.count == pairs,
            "dpoLoss: \(pairs) chosen, \(policyRejected.count) rejected, \(referenceChosen.count) and \(referenceRejected.count) reference scores")
    let referenceMargin = Tensor(zip(referenceChosen, referenceRejected).map { $0 - $1 }, shape: [pairs])
    let logits = scale(policyChosen - policyRejected - referenceMargin, beta)                   // (P)
    let loss = scale(mean(logSigmoid(logits)), -1)
    var stats = PreferenceStats()
    stats.pairs = pairs
    stats.loss = Double(loss.item)
    for p in 0..<pairs {
        let chosen = Double(beta) * Double(policyChosen.data[p] - referenceChosen[p])
        let rejected = Double(beta) * Double(policyRejected.data[p] - referenceRejected[p])
        stats.rewardsChosen += chosen / Double(pairs)
        stats.rewardsRejected += rejected / Double(pairs)
        stats.accuracy += (chosen > rejected ? 1 : 0) / Double(pairs)
        stats.logpsChosen += Double(policyChosen.data[p]) / Double(pairs)
        stats.logpsRejected += Double(policyRejected.data[p]) / Double(pairs)
    }
    return (loss, stats)
}

/// Logits (rows, length, V) of a batch of examples; a prefix LM (model.attention
/// = prefix_lm) sees each row's prompt whole.
public func batchLogits(model: GPT, batch: SequenceBatch, dropout: Dropout?) -> Tensor {
    model(batch.inputs, batch: batch.rows, length: batch.length, dropout: dropout,
          prefixLengths: model.config.attention == .prefix_lm ? batch.promptLengths : nil)
}

/// Mean cross-entropy over the scored (completion) tokens of a batch: SFT's
/// loss, with label smoothing ε when training asks for it.
public func completionLoss(model: GPT, batch: SequenceBatch, dropout: Dropout?, labelSmoothing: Float = 0) -> Tensor {
    crossEntropy(batchLogits(model: model, batch: batch, dropout: dropout), targets: batch.targets,
                 ignoreIndex: SequenceBatch.ignored, labelSmoothing: labelSmoothing)
}

/// Completion-only loss over `examples` (prompt–completion), `batch` at a
/// time, in order, without gradients: (nats per completion token, tokens).
public func completionLoss(model: GPT, examples: [TokenizedExample], batch: Int) -> (loss: Double, tokens: Int) {
    var nats = 0.0, tokens = 0
    Autograd.noGrad {
        for start in stride(from: 0, to: examples.count, by: batch) {
            let b = SequenceBatch(examples[start..<min(start + batch, examples.count)].map(\.chosen))
            nats += Double(completionLoss(model: model, batch: b, dropout: nil).item) * Double(b.scoredCount)
            tokens += b.scoredCount
        }
    }
    return (tokens > 0 ? nats / Double(tokens) : .nan, tokens)
}

/// DPO figures over `examples` (preference pairs), `batch` at a time, in
/// order, without gradients, against `reference` (aligned with `examples`).
public func preferenceStats(model: GPT, examples: [TokenizedExample], reference: ReferenceLogProbs, beta: Float,
                            batch: Int) -> PreferenceStats {
    var total = PreferenceStats()
    Autograd.noGrad {
        for start in stride(from: 0, to: examples.count, by: batch) {
            let range = start..<min(start + batch, examples.count)
            let scores = pairLogProbs(model: model, pairs: Array(examples[range]), dropout: nil)
            total.add(dpoLoss(policyChosen: scores.chosen, policyRejected: scores.rejected,
                              referenceChosen: Array(reference.chosen[range]), referenceRejected: Array(reference.rejected[range]),
                              beta: beta).stats)
        }
    }
    return total
}

extension BatchSampler {
    /// `batch` example indices drawn uniformly (with replacement) from `0..<count`.
    public mutating func nextExamples(count: Int, batch: Int) -> [Int] {
        (0..<batch).map { _ in generator.int(below: count) }
    }
}
