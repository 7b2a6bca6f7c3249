import Foundation
import Files
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Tokenizer
import Generate

/// A reward model as a run receives it: its network and what its checkpoint
/// holds besides (so a PPO or GRPO checkpoint can keep a copy).
public struct RewardCheckpoint {
    public let model: ScoreModel
    public let config: RunConfig
    public let tokenizerJSON: Data

    public init(model: ScoreModel, config: RunConfig, tokenizerJSON: Data) {
        self.model = model; self.config = config; self.tokenizerJSON = tokenizerJSON
    }

    /// Opens a reward checkpoint for a policy with `tokenizerJSON` and
    /// sequences of up to `length` tokens, refusing one that is no reward
    /// model, has another tokenizer or a shorter context.
    public static func open(_ path: String, policyTokenizer tokenizerJSON: Data, length: Int) throws -> RewardCheckpoint {
        let directory = try Checkpoint.resolve(path)
        let (model, loaded) = try Checkpoint.loadScoreModel(from: directory, role: "--reward")
        guard loaded.tokenizerJSON == tokenizerJSON else {
            throw TrainingError("--reward '\(path)' has a different tokenizer from the policy's (--init-from); a reward model scores the policy's tokens: train it from the same base (--init-from) as the policy")
        }
        guard loaded.config.model.contextLength >= length else {
            throw TrainingError("--reward '\(path)' has a context of \(loaded.config.model.contextLength) tokens, shorter than the policy's \(length) (prompt and completion)")
        }
        return RewardCheckpoint(model: model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON)
    }
}

/// What a PPO or GRPO run keeps beside the policy: the prompts, the frozen
/// reference (the starting model), the reward, and PPO's value model. Each
/// checkpoint holds the reference, the reward model and the value model as
/// checkpoints of their own (reference/, reward_model/, value_model/), so a
/// resume needs nothing else.
final class PolicyOptimization {
    let prompts: PromptSet
    let reference: GPT
    let reward: RewardFunction
    let rewardCheckpoint: RewardCheckpoint?
    /// PPO's value model: from the reward model when there is one (as InstructGPT and TRL's examples), else
    /// from the starting model with a zero head; nil for GRPO.
    let value: ScoreModel?
    let valueConfig: RunConfig?
    let rollouts: RolloutSampler
    let log: RolloutLog?

    static let referenceName = "reference", rewardName = "reward_model", valueName = "value_model"

    /// Fresh: the reference and value model are copies of `policy` (before any
    /// adapters) and of the reward model. Resumed: all come from `checkpoint`.
    init(config: RunConfig, corpus: Corpus, policy: GPT, reward: RewardCheckpoint?, resumeFrom checkpoint: URL?, log: RolloutLog?) throws {
        guard let prompts = corpus.prompts else { throw TrainingError("train.objective \(config.train.objective.rawValue) needs prompts (JSON Lines with a \"prompt\" field)") }
        self.prompts = prompts
        let rewardCheckpoint: RewardCheckpoint?
        if let checkpoint {
            reference = try Checkpoint.load(from: checkpoint.appendingPathComponent(Self.referenceName)).model
            let rewardDirectory = checkpoint.appendingPathComponent(Self.rewardName)
            if FileManager.default.fileExists(atPath: rewardDirectory.path) {
                let (model, loaded) = try Checkpoint.loadScoreModel(from: rewardDirectory, role: "the run's reward model")
                rewardCheckpoint = RewardCheckpoint(model: model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON)
            } else {
                rewardCheckpoint = nil
            }
            if config.train.objective == .ppo {
                let (model, loaded) = try Checkpoint.loadScoreModel(from: checkpoint.appendingPathComponent(Self.valueName), role: "the run's value model")
                value = model
                valueConfig = loaded.config
            } else {
                value = nil; valueConfig = nil
            }
        } else {
            reference = copied(policy)
            rewardCheckpoint = reward
            if config.train.objective == .ppo {
                if let reward {
                    value = ScoreModel(base: copied(reward.model.base), head: Tensor(reward.model.head.toArray(), shape: reward.model.head.shape))
                    valueConfig = reward.config
                } else {
                    value = ScoreModel(base: copied(policy), seed: 0, zero: true)
                    valueConfig = config
                }
            } else {
                value = nil; valueConfig = nil
            }
        }
        for p in reference.parameters { p.tensor.requiresGrad = false }
        if let rewardCheckpoint { for p in rewardCheckpoint.model.parameters { p.tensor.requiresGrad = false } }
        self.rewardCheckpoint = rewardCheckpoint
        self.reward = RewardFunction(model: rewardCheckpoint?.model, rules: try RewardRules(config.reward ?? RewardConfig()))
        rollouts = RolloutSampler(policy: policy, tokenizer: corpus.tokenizer, config: config)
        self.log = log
    }

    /// The value model's parameters under the names the optimizer state keeps ("value.…").
    var trainableParameters: [Parameter] { value.map { $0.parameters.map { Parameter(name: "value." + $0.name, tensor: $0.tensor) } } ?? [] }

    /// The checkpoints a run's checkpoint holds beside the policy.
    func innerCheckpoints(config: RunConfig, tokenizerJSON: Data) -> [String: Checkpoint.InnerCheckpoint] {
        var plain = config
        plain.lora = nil  // the reference and a value model copied from the policy have no adapters
        var out = [Self.referenceName: Checkpoint.InnerCheckpoint(model: reference, config: plain, tokenizerJSON: tokenizerJSON)]
        if let r = rewardCheckpoint {
            out[Self.rewardName] = Checkpoint.InnerCheckpoint(model: r.model.base, config: r.config, tokenizerJSON: r.tokenizerJSON,
                                                              extraTensors: Checkpoint.scoreTensors(r.model))
        }
        if let value, var valueConfig {
            if !value.base.hasAdapters { valueConfig.lora = nil }
            out[Self.valueName] = Checkpoint.InnerCheckpoint(model: value.base, config: valueConfig, tokenizerJSON: tokenizerJSON,
                                                             extraTensors: Checkpoint.scoreTensors(value))
        }
        return out
    }
}

/// A new GPT with the same config and weights (adapters merged in).
func copied(_ model: GPT) -> GPT {
    let out = GPT(config: model.config, seed: 0, contextWindow: model.contextWindow)
    let merged = model.hasAdapters ? { () -> GPT in
        let m = model.withPositions(model.config, contextWindow: model.contextWindow)
        m.mergeAdapters()
        return m
    }() : model
    for (target, source) in zip(out.parameters, merged.parameters) { target.tensor.copy(from: source.tensor) }
    return out
}

/// rollouts.jsonl: one line per step of a PPO or GRPO run with its sampled
/// completions (prompt and response token ids, text, score) and the
/// per-token numbers the update used, so a run can be read (what did the
/// policy write, what did it get for it) and checked (bench/parity/rlhf_check.py).
final class RolloutLog {
    let url: URL
    var handle: FileHandle?

    /// Opens the log; resuming at `resumeStep` drops lines of later steps.
    init(url: URL, resumeStep: Int?) throws {
        self.url = url
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var body = ""
        if let resumeStep, let data = FileManager.default.contents(atPath: url.path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let step = (try? JSONParser.parse(Array(line.utf8)))?["step"]?.int, step <= resumeStep else { continue }
                body += line + "\n"
            }
        }
        try AtomicFile.write(Data(body.utf8), to: url)
        handle = try FileHandle(forWritingTo: url)
        try handle?.seekToEnd()
    }

    deinit { try? handle?.close() }

    func append(_ record: JSONValue) throws {
        do { try handle?.write(contentsOf: Data((record.serialized() + "\n").utf8)) } catch {
            throw TrainingError("cannot write '\(url.path)': \(plainReason(error))")
        }
    }
}

// MARK: the arithmetic shared by PPO and GRPO

/// Mean and (unbiased, n − 1) variance of values, in Double.
func meanAndVariance(_ values: [Double]) -> (mean: Double, variance: Double) {
    guard !values.isEmpty else { return (0, 0) }
    let mean = values.reduce(0, +) / Double(values.count)
    var squares = 0.0
    for v in values { squares += (v - mean) * (v - mean) }
    return (mean, values.count > 1 ? squares / Double(values.count - 1) : 0)
}

/// Whitening as TRL's masked_whiten: (x − mean)·(var + 1e-8)^(−½), the
/// variance unbiased, over every value of every sequence; `shiftMean` false
/// adds the mean back.
func whitened(_ sequences: [[Double]], shiftMean: Bool = true) -> [[Double]] {
    let (mean, variance) = meanAndVariance(sequences.flatMap { $0 })
    let scale = 1 / (variance + 1e-8).squareRoot()
    return sequences.map { $0.map { ($0 - mean) * scale + (shiftMean ? 0 : mean) } }
}

/// Generalized advantage estimation (Schulman et al. 2016) over one
/// completion's tokens: δ_t = r_t + γ·V_{t+1} − V_t (V past the last token is
/// 0), A_t = δ_t + γλ·A_{t+1}; returns A and the returns A + V.
public func generalizedAdvantages(rewards: [Double], values: [Double], gamma: Double, lambda: Double) -> (advantages: [Double], returns: [Double]) {
    require(rewards.count == values.count, "generalizedAdvantages: \(rewards.count) rewards, \(values.count) values")
    var advantages = [Double](repeating: 0, count: rewards.count)
    var last = 0.0
    for t in stride(from: rewards.count - 1, through: 0, by: -1) {
        let next = t + 1 < values.count ? values[t + 1] : 0
        let delta = rewards[t] + gamma * next - values[t]
        last = delta + gamma * lambda * last
        advantages[t] = last
    }
    return (advantages, zip(advantages, values).map { $0 + $1 })
}

/// Means of named figures over several steps (a log line's interval).
struct FigureMeans {
    var names: [String] = []
    var sums: [Double] = []
    var count = 0

    mutating func add(_ figures: Figures) {
        for item in figures.items {
            if let i = names.firstIndex(of: item.name) { sums[i] += item.value } else { names.append(item.name); sums.append(item.value) }
        }
        count += 1
    }

    var means: Figures { Figures(zip(names, sums).map { ($0, $1 / Double(max(count, 1))) }) }
}

/// A JSON number for a log: NaN and infinities as null.
func jsonNumber(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
func jsonNumbers(_ xs: [Float]) -> JSONValue { .array(xs.map { jsonNumber(Double($0)) }) }

extension Trainer {
    /// The sampling settings of a PPO or GRPO run's rollouts (greedy for evaluations).
    func decodingSettings(greedy: Bool) -> DecodingSettings {
        let r = config.rolloutSettings
        var s = DecodingSettings()
        s.temperature = r.temperature; s.topK = r.topK; s.topP = r.topP
        s.greedy = greedy
        return s
    }

    /// Each rollout's response log-probabilities under `model` at the run's
    /// temperature, computed (without gradients) in the given batches of
    /// rollout indices, which should be the batches the update runs, so the
    /// first pass sees exactly these numbers.
    func responseLogProbs(_ model: GPT, _ rollouts: [Rollout], batches: [[Int]]) -> [[Float]] {
        var out = [[Float]](repeating: [], count: rollouts.count)
        let temperature = Float(config.rolloutSettings.temperature)
        Autograd.noGrad {
            for indices in batches {
                let batch = RolloutBatch(indices.map { rollouts[$0] })
                let perRow = batch.responses(batch.scored(by: model, temperature: temperature).logProbs.toArray())
                for (k, i) in indices.enumerated() { out[i] = perRow[k] }
            }
        }
        return out
    }

    /// A random order of 0..<count from the data generator (a checkpoint saves its state).
    func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, sampler.generator.int(below: i + 1)) }
        return order
    }

    /// Greedy completions of the first eval_steps × batch_size prompts of a
    /// split: their mean score (its negative is the split's evaluation
    /// "loss", so best/ keeps the highest), the KL to the reference as the
    /// objective's training figure measures it, each reward part's mean and
    /// the mean length.
    func policyEvaluation(_ split: [[Int32]]) throws -> (score: Double, figures: Figures) {
        guard let po = policyOptimization else { throw TrainingError("no policy to evaluate") }
        let prompts = Array(split.prefix(config.train.evalSteps * config.train.batchSize))
        let r = config.rolloutSettings
        let rollouts = po.rollouts.sample(prompts: prompts, perPrompt: 1, maxTokens: r.maxTokens, settings: decodingSettings(greedy: true),
                                          stop: r.stop, seeds: [UInt64](repeating: 0, count: prompts.count))
        let (scores, parts) = po.reward.score(rollouts, batch: config.train.batchSize)
        let batches = stride(from: 0, to: rollouts.count, by: config.train.batchSize).map { Array($0..<min($0 + config.train.batchSize, rollouts.count)) }
        let policy = responseLogProbs(model, rollouts, batches: batches), reference = responseLogProbs(po.reference, rollouts, batches: batches)
        let grpo = config.train.objective == .grpo
        var kl = 0.0, tokens = 0
        for (p, q) in zip(policy, reference) {
            for (a, b) in zip(p, q) {
                kl += grpo || config.ppo?.klEstimator == .k3 ? klK3(logProb: Double(a), reference: Double(b)) : Double(a - b)
            }
            tokens += p.count
        }
        let meanScore = scores.reduce(0, +) / Double(max(scores.count, 1))
        let klFigure = grpo ? kl / Double(max(tokens, 1)) : kl / Double(max(rollouts.count, 1))
        var items: [(String, Double)] = [(grpo ? "reward" : "objective/scores", meanScore), (grpo ? "kl" : "objective/kl", klFigure)]
        for (name, values) in zip(po.reward.names, parts) { items.append(("rewards/\(name)/mean", values.reduce(0, +) / Double(max(values.count, 1)))) }
        items.append(("completions/mean_length", Double(tokens) / Double(max(rollouts.count, 1))))
        return (meanScore, Figures(items))
    }
}
