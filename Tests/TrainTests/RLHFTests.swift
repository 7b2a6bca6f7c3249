import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Tokenizer
import Train
import Formats
import Config

/// Reward models, GRPO and PPO on toy sets: the losses against their
/// formulas and finite differences, the figures with TRL's names, the
/// starting point (KL 0, ratio 1), determinism and bit-exact resume.
final class RLHFTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("rlhf") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let alphabet = "abcdefghijklmnopqrstuvwxyz .,?:!\n"

    func tokenizer() throws -> any Tokenizer { try CharTokenizer(trainingText: alphabet, specialTokens: ["<|endoftext|>"]) }

    func tinyConfig(_ objective: TrainingObjective, _ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 24; c.model.nLayer = 1; c.model.dModel = 16; c.model.nHead = 2; c.model.dFF = 32
        c.train.batchSize = 4; c.train.maxSteps = 8; c.train.warmupSteps = 0; c.train.evalInterval = 4
        c.train.evalSteps = 1; c.train.logInterval = 1; c.train.lr = 1e-2; c.train.objective = objective
        c.data.path = "toy.jsonl"
        if objective == .grpo { c.grpo = GRPOConfig(); c.grpo!.numGenerations = 4; c.grpo!.maxCompletionLength = 6 }
        if objective == .ppo { c.ppo = PPOConfig(); c.ppo!.responseLength = 6; c.ppo!.numPPOEpochs = 2; c.ppo!.numMiniBatches = 2 }
        if objective.isPolicyOptimization { c.reward = RewardConfig(); c.reward!.regex = "y" }
        change(&c)
        return c
    }

    func preferenceExamples(_ count: Int = 24) -> [TextExample] {
        (0..<count).map { i in
            TextExample(prompt: "q\(String(repeating: "abcde".map(String.init)[i % 5], count: 1 + i % 3))?", chosen: " yes.", rejected: " no.")
        }
    }

    func model(_ config: RunConfig, seed: UInt64 = 5) throws -> GPT {
        var m = config.model
        m.vocabSize = try tokenizer().vocabSize
        return GPT(config: m, seed: seed)
    }

    func exampleCorpus(_ examples: [TextExample], config: RunConfig) throws -> Corpus {
        let t = try tokenizer()
        var corpus = Corpus(tokenizer: t, train: [], validation: [])
        corpus.examples = try ExampleSet(format: .preference, examples: examples, tokenizer: t, contextLength: config.model.contextLength - 1,
                                         valFraction: config.data.valFraction, path: "toy.jsonl")
        return corpus
    }

    func promptCorpus(_ config: RunConfig, count: Int = 16) throws -> Corpus {
        let t = try tokenizer()
        var corpus = Corpus(tokenizer: t, train: [], validation: [])
        let examples = (0..<count).map { TextExample(prompt: "q\("abcde".map(String.init)[$0 % 5])?") }
        corpus.prompts = try PromptSet(format: .promptOnly, examples: examples, tokenizer: t, contextLength: config.model.contextLength,
                                       completionLength: config.rolloutSettings.maxTokens, completionField: "x", valFraction: 0.25, path: "toy.jsonl")
        return corpus
    }

    func trainer(_ config: RunConfig, corpus: Corpus, initial: GPT?, run: String, resume: Bool = false, stopAfter: Int? = nil,
                 reward: RewardCheckpoint? = nil) throws -> Trainer {
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.log = { _ in }
        options.resume = resume
        options.stopAfterStep = stopAfter
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial, reward: reward)
    }

    func metrics(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: directory.appendingPathComponent(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func rolloutLines(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: directory.appendingPathComponent(run).appendingPathComponent("rollouts.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    // MARK: reward models

    func testRewardLossIsBradleyTerryWithMarginAndItsGradient() {
        let chosen = Tensor([1.5, -0.25, 0.8], shape: [3]), rejected = Tensor([0.5, 0.75, -2.0], shape: [3])
        let margins: [Float] = [0, 0.5, 1.0]
        let (loss, stats) = rewardLoss(chosen: chosen, rejected: rejected, margins: margins)
        var expected = 0.0
        for i in 0..<3 {
            let d = Double(chosen.toArray()[i] - rejected.toArray()[i] - margins[i])
            expected += -log(1 / (1 + exp(-d))) / 3
        }
        XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-6)
        XCTAssertEqual(stats.accuracy, 2.0 / 3, accuracy: 1e-12, "accuracy counts r(chosen) > r(rejected), without the margin")
        XCTAssertEqual(stats.margin, (1.0 - 1.0 + 2.8) / 3, accuracy: 1e-6)
        XCTAssertEqual(stats.chosen, (1.5 - 0.25 + 0.8) / 3, accuracy: 1e-6)
        XCTAssertEqual(stats.minReward, -2.0); XCTAssertEqual(stats.maxReward, 1.5)
        let c = compareGradients(of: [chosen, rejected]) { rewardLoss(chosen: chosen, rejected: rejected, margins: margins).loss }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 1e-2).ratio, 1)
        let equal = rewardLoss(chosen: Tensor([0.3, 0.3], shape: [2]), rejected: Tensor([0.3, 0.3], shape: [2]), margins: [0, 0]).loss
        XCTAssertEqual(Double(equal.item), log(2), accuracy: 1e-7, "equal scores: ln 2")
    }

    /// The score at each sequence's last token, through the head and the base, against finite differences.
    func testScoreModelGradientAndLastTokenScores() throws {
        let config = tinyConfig(.reward)
        let scores = ScoreModel(base: try model(config), seed: 3)
        let set = try ExampleSet(format: .preference, examples: Array(preferenceExamples(3)), tokenizer: try tokenizer(),
                                 contextLength: config.model.contextLength - 1, valFraction: nil, path: "d")
        // Padding does not change a sequence's score: alone or beside a longer one.
        let alone = sequenceScores(scores, [set.train[0].rejected!]).toArray()[0]
        let padded = sequenceScores(scores, [set.train[2].chosen, set.train[0].rejected!]).toArray()[1]
        XCTAssertEqual(alone, padded, accuracy: 1e-5)
        let weight = scores.base.parameters[2].tensor
        let c = compareGradients(of: [scores.head, weight], step: 1e-2) {
            let s = pairScores(scores, pairs: set.train)
            return rewardLoss(chosen: s.chosen, rejected: s.rejected, margins: [0, 0.2, 0]).loss
        }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 2e-2).ratio, 1)
    }

    func testRewardModelLearnsAToyPreferenceResumesAndLoads() throws {
        let config = tinyConfig(.reward) { $0.train.maxSteps = 20; $0.train.evalInterval = 10 }
        let data = try exampleCorpus(preferenceExamples(), config: config)
        let whole = try trainer(config, corpus: data, initial: try model(config), run: "rm")
        try whole.run()
        let records = try metrics("rm")
        let evaluations = records.filter { $0["val_loss"] != nil }
        XCTAssertEqual(evaluations.last?["eval_accuracy"] as? Double, 1.0)
        XCTAssertGreaterThan(evaluations.last?["eval_margin"] as? Double ?? 0, 0)
        let logs = records.filter { $0["accuracy"] != nil && $0["val_loss"] == nil }
        XCTAssertEqual(logs.count, 20)
        for key in ["loss", "accuracy", "margin", "rewards/chosen", "rewards/rejected", "mean_reward", "min_reward", "max_reward"] {
            XCTAssertNotNil(logs.last?[key], key)
        }
        XCTAssertNil(logs.last?["perplexity"])
        let svg = try String(contentsOf: directory.appendingPathComponent("rm/loss.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("reward model: accuracy and margin"))
        // The checkpoint is a reward model that scores as the trainer's model does.
        let latest = directory.appendingPathComponent("rm/latest")
        XCTAssertTrue(Checkpoint.isScoreModel(latest))
        let (loaded, _) = try Checkpoint.loadScoreModel(from: latest, role: "test")
        let validation = data.examples!.validation
        XCTAssertEqual(rewardStats(model: loaded, examples: validation, batch: 4), rewardStats(model: whole.scoreModel!, examples: validation, batch: 4))
        // Bit-exact resume.
        let first = try trainer(config, corpus: data, initial: try model(config), run: "split", stopAfter: 7)
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(config, corpus: data, initial: nil, run: "split", resume: true)
        try second.run()
        XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses)
        XCTAssertEqual(second.scoreModel!.head.toArray(), whole.scoreModel!.head.toArray())
        // A checkpoint that is no reward model is refused by name.
        let lm = directory.appendingPathComponent("plain")
        try Checkpoint.save(model: try model(config), config: config, tokenizerJSON: Data(try tokenizer().jsonString().utf8), to: lm)
        XCTAssertThrowsError(try Checkpoint.loadScoreModel(from: lm, role: "--reward")) {
            XCTAssertTrue("\($0)".contains("is not a reward model"), "\($0)")
        }
    }

    // MARK: advantages

    func testGeneralizedAdvantagesMatchTheDiscountedSumOfResiduals() {
        let rewards = [0.1, -0.2, 0.0, 1.5], values = [0.3, 0.1, -0.4, 0.2]
        for (gamma, lambda) in [(1.0, 0.95), (0.9, 0.5), (1.0, 1.0), (0.99, 0.0)] {
            let (advantages, returns) = generalizedAdvantages(rewards: rewards, values: values, gamma: gamma, lambda: lambda)
            for t in 0..<4 {
                var expected = 0.0
                for l in 0..<(4 - t) {
                    let next = t + l + 1 < 4 ? values[t + l + 1] : 0
                    expected += pow(gamma * lambda, Double(l)) * (rewards[t + l] + gamma * next - values[t + l])
                }
                XCTAssertEqual(advantages[t], expected, accuracy: 1e-12)
                XCTAssertEqual(returns[t], expected + values[t], accuracy: 1e-12)
            }
        }
        // λ = 1, γ = 1: the advantage is the sum of rewards to go minus the value.
        let mc = generalizedAdvantages(rewards: rewards, values: values, gamma: 1, lambda: 1).advantages
        XCTAssertEqual(mc[1], (-0.2 + 0.0 + 1.5) - 0.1, accuracy: 1e-12)
    }

    func testRewardRulesScoreRegexLengthAndAvoidedWords() throws {
        var section = RewardConfig()
        section.regex = "^ The [a-z]+ is"; section.targetLength = 10; section.avoid = ["i think", "maybe"]
        let rules = try RewardRules(section)
        XCTAssertEqual(rules.names, ["regex", "target_length", "avoid"])
        XCTAssertEqual(rules.scores(" The cup is red."), [1, 0.4, 1])
        XCTAssertEqual(rules.scores(" Red, I think."), [0, 0.6, 0])
        XCTAssertEqual(rules.scores(" Maybe."), [0, 0.7, 0])
        XCTAssertEqual(rules.scores(" thinking"), [0, 0.9, 1], "whole words only")
        section.regex = "(unclosed"
        XCTAssertThrowsError(try RewardRules(section)) { XCTAssertTrue("\($0)".contains("not a valid regular expression"), "\($0)") }
        var config = tinyConfig(.grpo)
        config.reward!.regex = "[z-a]"
        XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("reward.regex"), "\($0)") }
    }

    // MARK: GRPO

    func testGRPOStartsAtRatioOneAndKLZeroAndIsDeterministic() throws {
        let config = tinyConfig(.grpo) { $0.train.maxSteps = 4; $0.train.evalInterval = 2; $0.grpo!.numIterations = 2 }
        let data = try promptCorpus(config)
        let a = try trainer(config, corpus: data, initial: try model(config), run: "a")
        try a.run()
        let logs = try metrics("a").filter { $0["val_loss"] == nil }
        XCTAssertEqual(logs.count, 4)
        for key in ["loss", "reward", "reward_std", "kl", "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean",
                    "frac_reward_zero_std", "rewards/regex/mean", "completions/mean_length", "completions/clipped_ratio"] {
            XCTAssertNotNil(logs.first?[key], key)
        }
        // The first iteration's policy is the sampling policy and the reference: ratio 1 (no clipping) and KL 0, exactly.
        let first = try rolloutLines("a").first!
        let minibatch = first["first_minibatch"] as! [String: Any]
        XCTAssertEqual(minibatch["kl"] as? Double, 0)
        XCTAssertEqual(minibatch["clip_ratio/region_mean"] as? Double, 0)
        XCTAssertEqual((first["rollouts"] as! [Any]).count, 4 * 4, "batch_size prompts × num_generations")
        // Advantages are normalised within each group of num_generations.
        let rows = first["rollouts"] as! [[String: Any]]
        for g in 0..<4 {
            let group = rows[(g * 4)..<(g * 4 + 4)].map { $0["advantage"] as! Double }
            XCTAssertEqual(group.reduce(0, +), 0, accuracy: 1e-9)
        }
        let b = try trainer(config, corpus: data, initial: try model(config), run: "b")
        try b.run()
        XCTAssertEqual(a.stepLosses, b.stepLosses)
        XCTAssertEqual(try rolloutLines("a").map { ($0["rollouts"] as! [[String: Any]]).map { $0["text"] as! String } },
                       try rolloutLines("b").map { ($0["rollouts"] as! [[String: Any]]).map { $0["text"] as! String } }, "same seed, same rollouts")
        // Resume.
        let first2 = try trainer(config, corpus: data, initial: try model(config), run: "split", stopAfter: 2)
        XCTAssertThrowsError(try first2.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(config, corpus: data, initial: nil, run: "split", resume: true)
        try second.run()
        XCTAssertEqual(first2.stepLosses + second.stepLosses, a.stepLosses, "a GRPO run resumes bit for bit")
        XCTAssertEqual(a.model.parameters.map { $0.tensor.toArray() }, second.model.parameters.map { $0.tensor.toArray() })
        XCTAssertEqual(try rolloutLines("split").count, 4)
    }

    func testGRPOLearnsARuleReward() throws {
        let config = tinyConfig(.grpo) { $0.train.maxSteps = 30; $0.train.evalInterval = 30; $0.train.lr = 3e-2; $0.grpo!.beta = 0 }
        let t = try trainer(config, corpus: try promptCorpus(config), initial: try model(config), run: "learn")
        try t.run()
        let logs = try metrics("learn").filter { $0["val_loss"] == nil }
        let early = logs.prefix(5).map { $0["reward"] as! Double }.reduce(0, +) / 5
        let late = logs.suffix(5).map { $0["reward"] as! Double }.reduce(0, +) / 5
        XCTAssertGreaterThan(late, early + 0.2, "the share of completions holding a 'y' rises (\(early) → \(late))")
    }

    // MARK: PPO

    func testPPOStartsAtRatioOneAndKLZeroAndResumesBitForBit() throws {
        let config = tinyConfig(.ppo) { $0.train.maxSteps = 4; $0.train.evalInterval = 2 }
        let data = try promptCorpus(config)
        let a = try trainer(config, corpus: data, initial: try model(config), run: "a")
        try a.run()
        let logs = try metrics("a").filter { $0["val_loss"] == nil }
        for key in ["objective/kl", "objective/scores", "objective/rlhf_reward", "objective/non_score_reward", "policy/clipfrac_avg",
                    "policy/approxkl_avg", "loss/policy_avg", "loss/value_avg", "val/ratio", "val/clipfrac_avg", "policy/entropy_avg"] {
            XCTAssertNotNil(logs.first?[key], key)
        }
        XCTAssertEqual(logs.first?["objective/kl"] as? Double, 0, "policy = reference at step 0")
        let first = try rolloutLines("a").first!
        let minibatch = first["first_minibatch"] as! [String: Any]
        XCTAssertEqual(minibatch["val/ratio"] as? Double, 1, "the first minibatch's ratio is exactly 1")
        XCTAssertEqual(minibatch["policy/approxkl_avg"] as? Double, 0)
        let b = try trainer(config, corpus: data, initial: try model(config), run: "b")
        try b.run()
        XCTAssertEqual(a.stepLosses, b.stepLosses, "same seed, same numbers")
        let first2 = try trainer(config, corpus: data, initial: try model(config), run: "split", stopAfter: 2)
        XCTAssertThrowsError(try first2.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(config, corpus: data, initial: nil, run: "split", resume: true)
        try second.run()
        XCTAssertEqual(first2.stepLosses + second.stepLosses, a.stepLosses, "a PPO run resumes bit for bit")
        XCTAssertEqual(a.model.parameters.map { $0.tensor.toArray() }, second.model.parameters.map { $0.tensor.toArray() })
    }

    /// LoRA is a model matter: PPO (value model fully trained, policy through adapters) and GRPO resume bit for bit with adapters too.
    func testPolicyOptimizationWithLoRAResumesBitForBit() throws {
        for objective in [TrainingObjective.ppo, .grpo] {
            let config = tinyConfig(objective) { $0.train.maxSteps = 4; $0.train.evalInterval = 2; $0.lora = LoRAConfig(); $0.lora!.rank = 2 }
            let data = try promptCorpus(config)
            let whole = try trainer(config, corpus: data, initial: try model(config), run: "\(objective)-whole")
            try whole.run()
            let first = try trainer(config, corpus: data, initial: try model(config), run: "\(objective)-split", stopAfter: 2)
            XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
            let second = try trainer(config, corpus: data, initial: nil, run: "\(objective)-split", resume: true)
            try second.run()
            XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses, "\(objective)")
            XCTAssertEqual(whole.model.adapterParameters.map { $0.tensor.toArray() }, second.model.adapterParameters.map { $0.tensor.toArray() })
        }
    }

    /// A huge KL coefficient keeps the policy near the reference; none lets it drift.
    func testPPOWithAHugeKLCoefficientStaysAtTheReference() throws {
        func finalKL(_ beta: Double, run: String) throws -> Double {
            let config = tinyConfig(.ppo) { $0.train.maxSteps = 12; $0.train.evalInterval = 100; $0.train.lr = 1e-2; $0.ppo!.klCoef = beta }
            let t = try trainer(config, corpus: try promptCorpus(config), initial: try model(config), run: run)
            try t.run()
            return try metrics(run).filter { $0["val_loss"] == nil }.suffix(4).map { abs($0["objective/kl"] as! Double) }.reduce(0, +)
        }
        let held = try finalKL(100, run: "held"), free = try finalKL(0, run: "free")
        XCTAssertLessThan(held, free, "KL with β = 100: \(held); with β = 0: \(free)")
    }
}
