import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Tokenizer
import Generate

/// One sampled completion of a prompt.
public struct Rollout: Equatable, Sendable {
    public var prompt: [Int32]
    /// The sampled tokens, with the end token when one ended the completion.
    public var response: [Int32]
    /// The completion's text (without an end token): what rules score.
    public var text: String
    /// An end token or a stop string ended it (not the length limit).
    public var ended: Bool
}

/// Samples completions with the KV-cache generator: one completion per
/// prompt through the per-token path (one sequence at a time, the fastest at
/// batch 1), several per prompt through the batched model. The policy's
/// weights are read where they are, so each call samples from the policy as
/// it is now.
final class RolloutSampler {
    let policy: GPT
    let tokenizer: any Tokenizer
    let endTokenIds: [Int]
    let beginTokenId: Int?
    /// The per-token path, made on first use (it packs the policy's weights
    /// into one block, in place); nil where it does not apply (adapters, scaled RoPE).
    lazy var rows: InferenceRows? = {
        guard InferenceModel.supports(policy.config), !policy.hasAdapters else { return nil }
        let policy = self.policy
        return InferenceRows { InferenceModel(model: policy) }
    }()

    init(policy: GPT, tokenizer: any Tokenizer, config: RunConfig) {
        self.policy = policy
        self.tokenizer = tokenizer
        endTokenIds = config.tokenizer.eosTokenIds
        beginTokenId = config.tokenizer.bosTokenId
    }

    /// `perPrompt` completions of each prompt, up to `maxTokens` tokens,
    /// ending at an end token or a stop string; prompt i draws from
    /// `seeds[i]`. Greedy when `settings.greedy`.
    func sample(prompts: [[Int32]], perPrompt: Int, maxTokens: Int, settings: DecodingSettings, stop: [String], seeds: [UInt64]) -> [Rollout] {
        let generator: Generator
        if perPrompt == 1, let rows {
            generator = Generator(source: rows, tokenizer: tokenizer, endTokenIds: endTokenIds, beginTokenId: beginTokenId)
        } else {
            generator = Generator(source: BatchedModel(policy), tokenizer: tokenizer, endTokenIds: endTokenIds, beginTokenId: beginTokenId)
        }
        var out: [Rollout] = []
        for (prompt, seed) in zip(prompts, seeds) {
            for output in generator.sample(prompt: prompt, count: perPrompt, maxNewTokens: maxTokens, settings: settings, seed: seed, stop: stop) {
                let response = output.tokens + (output.endToken.map { [$0] } ?? [])
                let text = tokenizer.decode(output.tokens.map(Int.init))
                let stopped = stop.contains { !$0.isEmpty && text.contains($0) }
                out.append(Rollout(prompt: prompt, response: response, text: text, ended: output.endToken != nil || stopped))
            }
        }
        return out
    }
}

/// Rollouts as one right-padded batch: row r is prompt + response minus its
/// last token (inputs); position i predicts token i + 1, and only response
/// tokens are targets. A response's token j sits at position prompt − 1 + j.
struct RolloutBatch {
    let inputs: [Int32]
    let targets: [Int32]
    let rows: Int
    let length: Int
    /// (rows · length): true where a response token is the target.
    let mask: [Bool]
    let responseStart: [Int]
    let responseLength: [Int]

    init(_ rollouts: [Rollout]) {
        let sequences = rollouts.map { $0.prompt + $0.response }
        let length = max(1, sequences.map { $0.count - 1 }.max() ?? 1)
        var inputs = [Int32](repeating: 0, count: rollouts.count * length)
        var targets = [Int32](repeating: SequenceBatch.ignored, count: rollouts.count * length)
        var mask = [Bool](repeating: false, count: rollouts.count * length)
        for (r, s) in sequences.enumerated() {
            let start = rollouts[r].prompt.count - 1
            for i in 0..<(s.count - 1) {
                inputs[r * length + i] = s[i]
                if i >= start {
                    targets[r * length + i] = s[i + 1]
                    mask[r * length + i] = true
                }
            }
        }
        self.inputs = inputs; self.targets = targets; self.mask = mask
        rows = rollouts.count; self.length = length
        responseStart = rollouts.map { $0.prompt.count - 1 }
        responseLength = rollouts.map(\.response.count)
    }

    /// Per-row response values from a (rows · length) layout.
    func responses(_ flat: [Float]) -> [[Float]] {
        (0..<rows).map { (r: Int) -> [Float] in
            let start: Int = r * length + responseStart[r]
            return Array(flat[start..<(start + responseLength[r])])
        }
    }

    /// Per-row response values laid out (rows · length), 0 elsewhere.
    func laidOut(_ perRow: [[Float]]) -> [Float] {
        var flat = [Float](repeating: 0, count: rows * length)
        for r in 0..<rows { for (j, v) in perRow[r].enumerated() { flat[r * length + responseStart[r] + j] = v } }
        return flat
    }

    /// Each response token's log-probability under `model` at `temperature`
    /// (log softmax of logits / temperature, as TRL scores rollouts), 0 off
    /// the mask, and with `entropies` the tempered distribution's entropy at
    /// every position: each (rows, length).
    func scored(by model: GPT, temperature: Float, entropies: Bool = false) -> (logProbs: Tensor, entropies: Tensor?) {
        let logits = model(inputs, batch: rows, length: length)                       // (R, T, V)
        let tempered = temperature == 1 ? logits : scale(logits, 1 / temperature)
        return (tokenLogProbs(tempered, targets: targets), entropies ? tokenEntropies(tempered) : nil)
    }
}

/// A seed for each prompt of a step, from the run's seed, the step and the
/// prompt's place in the batch: rollouts do not depend on what came before,
/// so a resumed run samples what the uninterrupted one did.
func rolloutSeeds(runSeed: Int, step: Int, count: Int, salt: UInt64) -> [UInt64] {
    (0..<count).map { i in
        var z = UInt64(bitPattern: Int64(runSeed)) &+ salt &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
