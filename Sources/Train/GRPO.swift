import Foundation
import Files
import Kernels
import Autograd
import NN
import Model
import Config

extension Trainer {
    /// One GRPO iteration (DeepSeekMath, Shao et al. 2024, algorithm 1 with
    /// outcome supervision): batch_size prompts → num_generations completions
    /// each → scores → each completion's advantage is its score minus its
    /// group's mean, over the group's standard deviation (+ 1e-4) → then
    /// num_iterations optimizer steps on the clipped ratio with β × the k3
    /// KL to the reference, no value model.
    func grpoStep() throws -> StepReport {
        guard let po = policyOptimization else { throw TrainingError("GRPO needs its reference and reward") }
        let t = config.train, g = config.grpo ?? GRPOConfig(), r = config.rolloutSettings
        let stepStart = DispatchTime.now().uptimeNanoseconds
        let lr = schedule.rate(at: step)
        let groups = g.numGenerations

        let picked = sampler.nextExamples(count: po.prompts.train.count, batch: t.batchSize)
        var rollouts: [Rollout] = []
        try timed("rollouts") {
            rollouts = po.rollouts.sample(prompts: picked.map { po.prompts.train[$0] }, perPrompt: groups, maxTokens: r.maxTokens,
                                          settings: decodingSettings(greedy: false), stop: r.stop,
                                          seeds: rolloutSeeds(runSeed: t.seed, step: step, count: picked.count, salt: 0x6770))
        }
        var scores: [Double] = [], parts: [[Double]] = []
        try timed("scores") { (scores, parts) = po.reward.score(rollouts, batch: t.batchSize * groups) }

        // Group-relative advantages.
        var advantages = [Double](repeating: 0, count: rollouts.count)
        var zeroSpread = 0
        for start in stride(from: 0, to: rollouts.count, by: groups) {
            let group = Array(scores[start..<(start + groups)])
            let (mean, variance) = meanAndVariance(group)
            let deviation = variance.squareRoot()
            if deviation < 1e-8 { zeroSpread += 1 }
            for i in 0..<groups { advantages[start + i] = g.scaleRewards ? (group[i] - mean) / (deviation + 1e-4) : group[i] - mean }
        }

        let all = [Array(rollouts.indices)]
        var logProbs: [[Float]] = [], reference: [[Float]] = []
        try timed("rollout log-probabilities") {
            logProbs = responseLogProbs(model, rollouts, batches: all)
            reference = responseLogProbs(po.reference, rollouts, batches: all)
        }
        let batch = RolloutBatch(rollouts)
        let old = batch.laidOut(logProbs), ref = batch.laidOut(reference)
        let perToken = batch.laidOut(rollouts.indices.map { [Float](repeating: Float(advantages[$0]), count: rollouts[$0].response.count) })

        var figures = FigureMeans()
        var lossSum = 0.0, normSum = 0.0
        for _ in 0..<g.numIterations {
            try timed("zero gradients") { optimizer.zeroGrad() }
            var stats: [(String, Double)] = []
            var total: Float = 0
            try timed("forward and backward") {
                let (current, entropies) = batch.scored(by: model, temperature: Float(r.temperature), entropies: true)
                let loss = grpoLoss(current, old: old, reference: ref, advantages: perToken, mask: batch.mask,
                                    epsilon: Float(g.epsilon), beta: Float(g.beta), perSequence: g.lossType == .grpo)
                guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
                total = loss.item
                stats = grpoStatistics(logProbs: current.toArray(), old: old, reference: ref, advantages: perToken,
                                       entropies: entropies!.toArray(), mask: batch.mask, epsilon: g.epsilon)
                loss.backward()
            }
            mask?.maskGradients(of: model.parameters)  // a pruned policy keeps its zeros
            var norm: Float = 0
            try timed("gradient norm") { norm = gradientNorm(optimizer.parameters) }
            guard norm.isFinite else { throw nonFinite("gradient norm", norm) }
            try timed("optimizer step") { optimizer.step(lr: lr, gradientScale: clipFactor(norm: norm, maxNorm: Float(t.gradClip))) }
            if figures.count == 0 { firstMinibatch = .object([("loss", jsonNumber(Double(total)))] + stats.map { (key: $0.0, value: jsonNumber($0.1)) }) }
            figures.add(Figures(stats))
            lossSum += Double(total); normSum += Double(norm)
        }

        let n = Double(rollouts.count)
        let (meanScore, variance) = meanAndVariance(scores)
        var items: [(String, Double)] = [("loss", lossSum / Double(g.numIterations))]
        items += [("reward", meanScore), ("reward_std", variance.squareRoot()), ("frac_reward_zero_std", Double(zeroSpread) / Double(picked.count))]
        for (name, values) in zip(po.reward.names, parts) { items.append(("rewards/\(name)/mean", values.reduce(0, +) / n)) }
        items += figures.means.items.map { ($0.name, $0.value) }
        items += [("completions/mean_length", Double(rollouts.map(\.response.count).reduce(0, +)) / n),
                  ("completions/clipped_ratio", Double(rollouts.filter { !$0.ended }.count) / n)]
        intervalPolicy.add(Figures(items))
        let rows: [JSONValue] = rollouts.indices.map { i in
            .object([("prompt", .array(rollouts[i].prompt.map { .int(Int($0)) })), ("response", .array(rollouts[i].response.map { .int(Int($0)) })),
                     ("text", .string(rollouts[i].text)), ("ended", .bool(rollouts[i].ended)), ("score", jsonNumber(scores[i])),
                     ("advantage", jsonNumber(advantages[i])), ("logprobs", jsonNumbers(logProbs[i])), ("ref_logprobs", jsonNumbers(reference[i]))])
        }
        try po.log?.append(.object([("step", .int(step + 1)), ("objective", "grpo"), ("rollouts", .array(rows)),
                                    ("first_minibatch", firstMinibatch ?? .null)]))
        firstMinibatch = nil
        step += 1
        let ms = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e6
        let loss = Float(lossSum / Double(g.numIterations))
        stepLosses.append(loss)
        stepMilliseconds.append(ms)
        return StepReport(loss: loss, learningRate: lr, gradientNorm: Float(normSum / Double(g.numIterations)),
                          tokens: Double(rollouts.map(\.response.count).reduce(0, +)), milliseconds: ms)
    }

    /// TRL's GRPO figures: kl (mean k3 per token), entropy, and the fractions
    /// of tokens whose ratio was clipped below (with A < 0) or above (A > 0).
    func grpoStatistics(logProbs: [Float], old: [Float], reference: [Float], advantages: [Float], entropies: [Float], mask: [Bool],
                        epsilon: Double) -> [(String, Double)] {
        var kl = 0.0, entropy = 0.0, low = 0.0, high = 0.0, count = 0.0
        for i in mask.indices where mask[i] {
            let ratio = exp(Double(logProbs[i]) - Double(old[i])), a = Double(advantages[i])
            kl += klK3(logProb: Double(logProbs[i]), reference: Double(reference[i]))
            entropy += Double(entropies[i])
            if ratio < 1 - epsilon && a < 0 { low += 1 }
            if ratio > 1 + epsilon && a > 0 { high += 1 }
            count += 1
        }
        let n = max(count, 1)
        return [("kl", kl / n), ("entropy", entropy / n), ("clip_ratio/low_mean", low / n), ("clip_ratio/high_mean", high / n),
                ("clip_ratio/region_mean", (low + high) / n)]
    }
}
