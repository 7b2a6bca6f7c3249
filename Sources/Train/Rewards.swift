import Foundation
import Autograd
import Model
import Config

/// The rules of a `reward` section, compiled once: checks of a completion's
/// text that give 1 when they hold and 0 when not (the length rule grades
/// in between). These are the "verifiable rewards" of reasoning-model
/// training: a program checks the answer, nothing is learned.
public struct RewardRules {
    let pattern: String
    let regex: Regex<AnyRegexOutput>?
    let targetLength: Int?
    /// Each avoided word or phrase as lower-case words.
    let avoid: [[String]]

    public init(_ config: RewardConfig) throws {
        pattern = config.regex
        do { regex = config.regex.isEmpty ? nil : try Regex(config.regex) } catch {
            throw TrainingError("reward.regex '\(config.regex)' is not a valid regular expression: \(error)")
        }
        targetLength = config.targetLength
        avoid = config.avoid.map { RewardRules.words($0) }.filter { !$0.isEmpty }
    }

    /// The names of the rules in use, in the order `scores` gives them.
    public var names: [String] {
        (regex == nil ? [] : ["regex"]) + (targetLength == nil ? [] : ["target_length"]) + (avoid.isEmpty ? [] : ["avoid"])
    }

    /// Each rule's score of a completion's text, in the order of `names`.
    public func scores(_ text: String) -> [Double] {
        var out: [Double] = []
        if let regex { out.append(text.firstMatch(of: regex) != nil ? 1 : 0) }
        if let targetLength {
            let length = Double(text.count), target = Double(targetLength)
            out.append(max(0, 1 - abs(length - target) / target))
        }
        if !avoid.isEmpty {
            let words = RewardRules.words(text)
            let found = avoid.contains { phrase in
                words.count >= phrase.count && (0...(words.count - phrase.count)).contains { Array(words[$0..<($0 + phrase.count)]) == phrase }
            }
            out.append(found ? 0 : 1)
        }
        return out
    }

    /// Lower-case words: runs of letters, digits and apostrophes.
    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "'") }.map(String.init)
    }
}

/// What scores a completion: a reward model (its score at the last token of
/// prompt + completion), the rules, or both (the sum).
public final class RewardFunction {
    public let model: ScoreModel?
    public let rules: RewardRules

    public init(model: ScoreModel?, rules: RewardRules) { self.model = model; self.rules = rules }

    /// The parts' names as TRL names reward functions' figures (rewards/<name>/mean).
    public var names: [String] { (model == nil ? [] : ["reward_model"]) + rules.names }

    /// Every completion's total score and each part's score (in the order of `names`).
    public func score(_ rollouts: [Rollout], batch: Int) -> (total: [Double], parts: [[Double]]) {
        var parts: [[Double]] = []
        if let model {
            var scores: [Double] = []
            Autograd.noGrad {
                for start in stride(from: 0, to: rollouts.count, by: max(batch, 1)) {
                    let rows = rollouts[start..<min(start + batch, rollouts.count)].map { TokenizedSequence(tokens: $0.prompt + $0.response, promptLength: $0.prompt.count) }
                    scores += sequenceScores(model, rows).toArray().map(Double.init)
                }
            }
            parts.append(scores)
        }
        let ruleScores = rollouts.map { rules.scores($0.text) }
        for i in 0..<rules.names.count { parts.append(ruleScores.map { $0[i] }) }
        let total = (0..<rollouts.count).map { r in parts.reduce(0) { $0 + $1[r] } }
        return (total, parts)
    }
}
