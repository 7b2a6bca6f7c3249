import Foundation
import Files

// The sections of reinforcement learning from a reward: `ppo` and `grpo`
// (the algorithms, with TRL's names and defaults where TRL has the field),
// and `reward` (what scores a completion: a reward model, rules, or both).
// Each is optional: absent, its defaults apply; a run of that objective
// writes the section it used into its config.json.

/// How the KL between the policy and the reference is estimated per token,
/// from r = log π_ref(y) − log π(y) of a sampled token y (Schulman's notes):
/// k1 = −r (unbiased, may be negative), k3 = (e^r − 1) − r (unbiased, never negative).
public enum KLEstimator: String, CaseIterable, Sendable { case k1, k3 }

/// How GRPO averages its per-token losses: `grpo` as the DeepSeekMath paper
/// (each completion's mean over its tokens, then the mean over completions);
/// `dapo` over every token of the batch at once (TRL's default since 0.20).
public enum GRPOLossType: String, CaseIterable, Sendable { case grpo, dapo }

/// The `ppo` section: PPO against a reward with a per-token KL penalty to the
/// reference (InstructGPT; TRL's PPOTrainer). Names and defaults are TRL's
/// PPOConfig's, except `top_k`, `top_p`, `stop` and `entropy_coef`, which TRL's
/// PPO lacks.
public struct PPOConfig: Equatable, Sendable, ConfigSection {
    public var klCoef = 0.05
    public var klEstimator = KLEstimator.k1
    public var cliprange = 0.2
    public var cliprangeValue = 0.2
    public var vfCoef = 0.1
    public var gamma = 1.0
    public var lam = 0.95
    public var numPPOEpochs = 4
    public var numMiniBatches = 1
    public var whitenRewards = false
    public var entropyCoef = 0.0
    public var responseLength = 53
    public var temperature = 0.7
    public var topK = 0
    public var topP = 1.0
    public var stop: [String] = []

    public init() {}

    static let name = "ppo"
    static let fields: [ConfigField<PPOConfig>] = [
        .number("kl_coef", \.klCoef, .atLeast(0), "β: each completion token's reward is −β·KL(π‖π_ref) for that token, and the reward's score is added at its last token (TRL's kl_coef)."),
        .choice("kl_estimator", \.klEstimator, "The per-token KL estimate in the reward: k1 = log π − log π_ref, k3 = (π_ref/π − 1) − log(π_ref/π) (TRL's kl_estimator)."),
        .number("cliprange", \.cliprange, .open(0, 1), "ε of the clipped surrogate: the ratio π/π_old is clipped to [1 − ε, 1 + ε]."),
        .number("cliprange_value", \.cliprangeValue, .greaterThan(0), "The value prediction is clipped to within this of the rollout's value."),
        .number("vf_coef", \.vfCoef, .atLeast(0), "Weight of the value loss in the total loss."),
        .number("gamma", \.gamma, .between(0, 1), "GAE's discount γ."),
        .number("lam", \.lam, .between(0, 1), "GAE's λ."),
        .int("num_ppo_epochs", \.numPPOEpochs, .between(1, 1000), "Passes over each batch of rollouts."),
        .int("num_mini_batches", \.numMiniBatches, .between(1, maxWidth), "Minibatches (one optimizer step each) per pass; must divide train.batch_size."),
        .bool("whiten_rewards", \.whitenRewards, "Whiten the per-token rewards of a batch before GAE."),
        .number("entropy_coef", \.entropyCoef, .atLeast(0), "Entropy bonus: the loss subtracts this × the mean entropy of the policy's tokens; 0 = off."),
        .int("response_length", \.responseLength, .between(1, maxWidth), "Most tokens of a sampled completion; every prompt must fit in model.context_length − response_length."),
        .number("temperature", \.temperature, .greaterThan(0), "Sampling temperature of the rollouts; log-probabilities are of logits / temperature, as TRL computes them."),
        .int("top_k", \.topK, .atLeast(0), "Rollouts draw from the k most likely tokens; 0 = off."),
        .number("top_p", \.topP, .leftOpen(0, 1), "Rollouts draw from the nucleus of mass top_p; 1 = off."),
        .strings("stop", \.stop, "A completion ends once it contains one of these strings (kept in the completion), or at an end token."),
    ]

    func checkCombinations() throws {}
}

/// The `grpo` section: Group Relative Policy Optimization (DeepSeekMath):
/// `num_generations` completions per prompt, advantages normalised within the
/// group, no value model, the k3 KL to the reference in the loss. Names are
/// TRL's GRPOConfig's; the defaults are the paper's where TRL's differ (beta,
/// loss_type).
public struct GRPOConfig: Equatable, Sendable, ConfigSection {
    public var numGenerations = 8
    public var beta = 0.04
    public var epsilon = 0.2
    public var numIterations = 1
    public var lossType = GRPOLossType.grpo
    public var scaleRewards = true
    public var maxCompletionLength = 256
    public var temperature = 1.0
    public var topK = 0
    public var topP = 1.0
    public var stop: [String] = []

    public init() {}

    static let name = "grpo"
    static let fields: [ConfigField<GRPOConfig>] = [
        .int("num_generations", \.numGenerations, .between(2, 4096), "G: completions sampled per prompt, whose rewards are compared with each other."),
        .number("beta", \.beta, .atLeast(0), "β of the k3 KL to the reference in the loss (the paper's 0.04; TRL's default is 0)."),
        .number("epsilon", \.epsilon, .open(0, 1), "ε of the clipped ratio."),
        .int("num_iterations", \.numIterations, .between(1, 1000), "μ: optimizer steps on each batch of completions."),
        .choice("loss_type", \.lossType, "grpo: mean over each completion's tokens, then over completions (the paper); dapo: mean over all tokens of the batch (TRL's default)."),
        .bool("scale_rewards", \.scaleRewards, "Divide each group's centred rewards by the group's standard deviation (+ 1e-4)."),
        .int("max_completion_length", \.maxCompletionLength, .between(1, maxWidth), "Most tokens of a completion; every prompt must fit in model.context_length − max_completion_length."),
        .number("temperature", \.temperature, .greaterThan(0), "Sampling temperature; log-probabilities are of logits / temperature, as TRL computes them."),
        .int("top_k", \.topK, .atLeast(0), "Completions draw from the k most likely tokens; 0 = off."),
        .number("top_p", \.topP, .leftOpen(0, 1), "Completions draw from the nucleus of mass top_p; 1 = off."),
        .strings("stop", \.stop, "A completion ends once it contains one of these strings (kept in the completion), or at an end token."),
    ]

    func checkCombinations() throws {}
}

/// The `reward` section: what scores a completion for ppo and grpo. The
/// score is the sum of the reward model's score and each rule's (1 when the
/// rule holds, 0 when not; the length rule in between). Rules are
/// "verifiable rewards": checked, not learned.
public struct RewardConfig: Equatable, Sendable, ConfigSection {
    /// A reward checkpoint (train.objective = reward); `train --reward DIR` sets it.
    public var model = ""
    public var regex = ""
    public var targetLength: Int? = nil
    public var avoid: [String] = []

    public init() {}

    /// Whether any rule or a model gives a score.
    public var isEmpty: Bool { model.isEmpty && regex.isEmpty && targetLength == nil && avoid.isEmpty }

    static let name = "reward"
    static let fields: [ConfigField<RewardConfig>] = [
        .string("model", \.model, "A reward checkpoint (trained with train.objective = reward) scoring prompt + completion; empty = none. train --reward DIR sets it."),
        .string("regex", \.regex, "A regular expression (Swift Regex syntax) that a completion must contain a match of: score 1, else 0. Anchor it with ^ and $ to match the whole completion; empty = no rule."),
        .optionalInt("target_length", \.targetLength, .atLeast(1), "A completion's length in characters should be this: score max(0, 1 − |length − target| / target); null = no rule."),
        .strings("avoid", \.avoid, "Words a completion must not contain (whole words, any case): score 1 when none occurs, else 0; empty = no rule."),
    ]

    func checkCombinations() throws {
        if !regex.isEmpty {
            do { _ = try Regex(regex) } catch {
                throw ConfigError("reward.regex '\(regex)' is not a valid regular expression: \(error)")
            }
        }
        if let word = avoid.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ConfigError("reward.avoid holds an empty word ('\(word)'); list words such as think,maybe")
        }
    }
}
