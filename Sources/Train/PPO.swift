import Foundation
import Files
import Kernels
import Autograd
import NN
import Model
import Config

/// One PPO iteration's numbers per rollout (response tokens), kept for the
/// update and written to rollouts.jsonl.
struct PPOBatch {
    var logProbs: [[Float]] = []
    var referenceLogProbs: [[Float]] = []
    var values: [[Float]] = []
    var rewards: [[Double]] = []
    var advantages: [[Float]] = []
    var returns: [[Float]] = []
}

extension Trainer {
    /// One PPO iteration (InstructGPT's RL step; Ziegler et al. 2019; TRL's
    /// PPOTrainer): batch_size prompts → one completion each → scores →
    /// per-token rewards −β·KL with the score added at the last token →
    /// values → GAE → whitened advantages → num_ppo_epochs passes of
    /// num_mini_batches optimizer steps on the clipped surrogate plus
    /// vf_coef × the clipped value loss (minus entropy_coef × the entropy).
    func ppoStep() throws -> StepReport {
        guard let po = policyOptimization, let value = po.value else { throw TrainingError("PPO needs its value model") }
        let t = config.train, p = config.ppo ?? PPOConfig(), r = config.rolloutSettings
        let stepStart = DispatchTime.now().uptimeNanoseconds
        let lr = schedule.rate(at: step)

        // Rollouts and their scores.
        let picked = sampler.nextExamples(count: po.prompts.train.count, batch: t.batchSize)
        var rollouts: [Rollout] = []
        try timed("rollouts") {
            rollouts = po.rollouts.sample(prompts: picked.map { po.prompts.train[$0] }, perPrompt: 1, maxTokens: r.maxTokens,
                                          settings: decodingSettings(greedy: false), stop: r.stop,
                                          seeds: rolloutSeeds(runSeed: t.seed, step: step, count: picked.count, salt: 0x5050))
        }
        var scores: [Double] = [], parts: [[Double]] = []
        try timed("scores") { (scores, parts) = po.reward.score(rollouts, batch: t.batchSize) }

        // Every epoch's order now; the first epoch's minibatches are the batches the rollout numbers are computed in.
        let orders = (0..<p.numPPOEpochs).map { _ in permutation(rollouts.count) }
        let size = rollouts.count / p.numMiniBatches
        func minibatches(_ order: [Int]) -> [[Int]] { (0..<p.numMiniBatches).map { Array(order[($0 * size)..<(($0 + 1) * size)]) } }
        var b = PPOBatch()
        try timed("rollout log-probabilities and values") {
            b.logProbs = responseLogProbs(model, rollouts, batches: minibatches(orders[0]))
            b.referenceLogProbs = responseLogProbs(po.reference, rollouts, batches: minibatches(orders[0]))
            b.values = [[Float]](repeating: [], count: rollouts.count)
            Autograd.noGrad {
                for indices in minibatches(orders[0]) {
                    let batch = RolloutBatch(indices.map { rollouts[$0] })
                    let perRow = batch.responses(value.values(batch.inputs, batch: batch.rows, length: batch.length).toArray())
                    for (k, i) in indices.enumerated() { b.values[i] = perRow[k] }
                }
            }
        }

        // Per-token rewards: −β·KL, and the score at the last token; then GAE and whitening.
        let beta = p.klCoef
        var kl: [[Double]] = []
        for i in rollouts.indices {
            let perToken = zip(b.logProbs[i], b.referenceLogProbs[i]).map { a, ref in
                p.klEstimator == .k3 ? klK3(logProb: Double(a), reference: Double(ref)) : Double(a) - Double(ref)
            }
            kl.append(perToken)
            var rewards = perToken.map { -beta * $0 }
            rewards[rewards.count - 1] += scores[i]
            b.rewards.append(rewards)
        }
        let nonScore = kl.map { $0.map { -beta * $0 }.reduce(0, +) }
        let shaped = p.whitenRewards ? whitened(b.rewards, shiftMean: false) : b.rewards
        var advantages: [[Double]] = [], returns: [[Double]] = []
        for i in rollouts.indices {
            let gae = generalizedAdvantages(rewards: shaped[i], values: b.values[i].map(Double.init), gamma: p.gamma, lambda: p.lam)
            advantages.append(gae.advantages)
            returns.append(gae.returns)
        }
        b.advantages = whitened(advantages).map { $0.map(Float.init) }
        b.returns = returns.map { $0.map(Float.init) }

        // The update.
        var figures = FigureMeans()
        var lossSum = 0.0, normSum = 0.0, updates = 0
        for order in orders {
            for indices in minibatches(order) {
                let batch = RolloutBatch(indices.map { rollouts[$0] })
                let old = batch.laidOut(indices.map { b.logProbs[$0] })
                try timed("zero gradients") { optimizer.zeroGrad() }
                var stats: [(String, Double)] = []
                var total: Float = 0
                try timed("forward and backward") {
                    let (logProbs, entropies) = batch.scored(by: model, temperature: Float(r.temperature), entropies: true)
                    let advantages = batch.laidOut(indices.map { b.advantages[$0] })
                    let policyLoss = clippedSurrogateLoss(logProbs, old: old, advantages: advantages, mask: batch.mask, epsilon: Float(p.cliprange))
                    let values = value.values(batch.inputs, batch: batch.rows, length: batch.length)
                    let oldValues = batch.laidOut(indices.map { b.values[$0] }), targets = batch.laidOut(indices.map { b.returns[$0] })
                    let valueLoss = clippedValueLoss(values, old: oldValues, returns: targets, mask: batch.mask, epsilon: Float(p.cliprangeValue))
                    let mask = Tensor(batch.mask.map { $0 ? 1 : 0 }, shape: [batch.rows, batch.length])
                    let count = Float(max(batch.mask.filter { $0 }.count, 1))
                    let entropy = scale(sum(entropies! * mask), 1 / count)
                    var loss = policyLoss + scale(valueLoss, Float(p.vfCoef))
                    if p.entropyCoef > 0 { loss = loss - scale(entropy, Float(p.entropyCoef)) }
                    guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
                    total = loss.item
                    stats = ppoStatistics(logProbs: logProbs.toArray(), old: old, advantages: advantages, values: values.toArray(), oldValues: oldValues,
                                          returns: targets, mask: batch.mask, p: p)
                    stats += [("loss/policy_avg", Double(policyLoss.item)), ("loss/value_avg", Double(valueLoss.item)),
                              ("policy/entropy_avg", Double(entropy.item))]
                    loss.backward()
                }
                mask?.maskGradients(of: model.parameters)  // a pruned policy keeps its zeros
                var norm: Float = 0
                try timed("gradient norm") { norm = gradientNorm(optimizer.parameters) }
                guard norm.isFinite else { throw nonFinite("gradient norm", norm) }
                try timed("optimizer step") { optimizer.step(lr: lr, gradientScale: clipFactor(norm: norm, maxNorm: Float(t.gradClip))) }
                if updates == 0 { try recordFirstMinibatch(rollouts: rollouts, indices: indices, stats: stats, total: total, batch: b, scores: scores) }
                figures.add(Figures(stats))
                lossSum += Double(total); normSum += Double(norm); updates += 1
            }
        }

        // The step's figures, with TRL's names.
        let n = Double(rollouts.count)
        let meanScore = scores.reduce(0, +) / n, meanNonScore = nonScore.reduce(0, +) / n
        var items: [(String, Double)] = [
            ("loss", lossSum / Double(updates)),
            ("objective/kl", kl.map { $0.reduce(0, +) }.reduce(0, +) / n),
            ("objective/entropy", b.logProbs.map { -$0.map(Double.init).reduce(0, +) }.reduce(0, +) / n),
            ("objective/non_score_reward", meanNonScore),
            ("objective/rlhf_reward", meanNonScore + meanScore),
            ("objective/scores", meanScore),
        ]
        for (name, values) in zip(po.reward.names, parts) { items.append(("rewards/\(name)/mean", values.reduce(0, +) / n)) }
        items += figures.means.items.map { ($0.name, $0.value) }
        items += [("val/num_eos_tokens", Double(rollouts.filter(\.ended).count)),
                  ("completions/mean_length", Double(rollouts.map(\.response.count).reduce(0, +)) / n)]
        intervalPolicy.add(Figures(items))
        try po.log?.append(rolloutRecord(rollouts: rollouts, scores: scores, batch: b))
        step += 1
        let ms = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e6
        let loss = Float(lossSum / Double(updates))
        stepLosses.append(loss)
        stepMilliseconds.append(ms)
        return StepReport(loss: loss, learningRate: lr, gradientNorm: Float(normSum / Double(updates)),
                          tokens: Double(rollouts.map(\.response.count).reduce(0, +)), milliseconds: ms)
    }

    /// TRL's per-minibatch PPO figures: approxkl = ½·mean (log ρ)², clip
    /// fractions (where the clipped term was the larger), the ratio's mean and variance.
    func ppoStatistics(logProbs: [Float], old: [Float], advantages: [Float], values: [Float], oldValues: [Float], returns: [Float], mask: [Bool],
                       p: PPOConfig) -> [(String, Double)] {
        var approx = 0.0, clipped = 0.0, valueClipped = 0.0, ratios: [Double] = []
        for i in mask.indices where mask[i] {
            let difference = Double(logProbs[i]) - Double(old[i]), ratio = exp(difference)
            approx += 0.5 * difference * difference
            ratios.append(ratio)
            let a = Double(advantages[i])
            if -a * clippedRatio(ratio, epsilon: p.cliprange) > -a * ratio { clipped += 1 }
            let v = Double(values[i]), o = Double(oldValues[i]), target = Double(returns[i])
            let inside = min(max(v, o - p.cliprangeValue), o + p.cliprangeValue)
            if (inside - target) * (inside - target) > (v - target) * (v - target) { valueClipped += 1 }
        }
        let n = Double(max(ratios.count, 1))
        let (mean, variance) = meanAndVariance(ratios)
        return [("policy/approxkl_avg", approx / n), ("policy/clipfrac_avg", clipped / n), ("val/clipfrac_avg", valueClipped / n),
                ("val/ratio", mean), ("val/ratio_var", variance)]
    }

    /// The first minibatch of a step, as rollouts.jsonl records it for checks:
    /// its rollout indices and losses.
    func recordFirstMinibatch(rollouts: [Rollout], indices: [Int], stats: [(String, Double)], total: Float, batch: PPOBatch, scores: [Double]) throws {
        firstMinibatch = .object([("indices", .array(indices.map { .int($0) })), ("loss", jsonNumber(Double(total)))]
                                 + stats.map { (key: $0.0, value: jsonNumber($0.1)) })
    }

    /// One line of rollouts.jsonl for a PPO step.
    func rolloutRecord(rollouts: [Rollout], scores: [Double], batch b: PPOBatch) -> JSONValue {
        let rows: [JSONValue] = rollouts.indices.map { i in
            .object([("prompt", .array(rollouts[i].prompt.map { .int(Int($0)) })), ("response", .array(rollouts[i].response.map { .int(Int($0)) })),
                     ("text", .string(rollouts[i].text)), ("ended", .bool(rollouts[i].ended)), ("score", jsonNumber(scores[i])),
                     ("logprobs", jsonNumbers(b.logProbs[i])), ("ref_logprobs", jsonNumbers(b.referenceLogProbs[i])),
                     ("values", jsonNumbers(b.values[i])), ("advantages", jsonNumbers(b.advantages[i])), ("returns", jsonNumbers(b.returns[i]))])
        }
        return .object([("step", .int(step + 1)), ("objective", "ppo"), ("rollouts", .array(rows)), ("first_minibatch", firstMinibatch ?? .null)])
    }
}
