import Foundation
import Tokenizer

/// The prompts PPO and GRPO sample completions for, as token ids, split as
/// examples are (the last val_fraction validate). Any JSON Lines file with
/// prompts serves: prompt-only, prompt-completion or preference (the
/// completions are not used).
public struct PromptSet: Sendable {
    public let format: DataFormat
    public let train: [[Int32]]
    public let validation: [[Int32]]

    /// Tokenizes the prompts; each must leave room for a completion of
    /// `completionLength` tokens in the context, or the whole set is refused
    /// with the count (a completion cannot be sampled past the context it is
    /// scored in, and cutting a prompt would change the question).
    public init(format: DataFormat, examples: [TextExample], tokenizer: any Tokenizer, contextLength: Int, completionLength: Int,
                completionField: String, valFraction: Double, path: String) throws {
        self.format = format
        let room = contextLength - completionLength
        guard room >= 1 else {
            throw TrainingError("\(completionField) (\(completionLength)) leaves no room for a prompt in model.context_length \(contextLength); lower \(completionField)")
        }
        var prompts: [[Int32]] = []
        var tooLong: [Int] = []
        for (i, example) in examples.enumerated() {
            let ids: [Int32]
            do { ids = try tokenizer.encode(example.prompt).map { Int32($0) } } catch {
                throw TrainingError("data file '\(path)' example \(i + 1): \(error)")
            }
            guard !ids.isEmpty else {
                throw TrainingError("data file '\(path)' example \(i + 1): the prompt is empty; ppo and grpo sample a completion after a prompt")
            }
            if ids.count > room { tooLong.append(ids.count) }
            prompts.append(ids)
        }
        if !tooLong.isEmpty {
            throw TrainingError("\(tooLong.count) of \(prompts.count) prompts in '\(path)' are longer than model.context_length − \(completionField) = \(contextLength) − \(completionLength) = \(room) tokens (the longest has \(tooLong.max()!)); lower \(completionField), or shorten the prompts")
        }
        guard prompts.count >= 2 else {
            throw TrainingError("data file '\(path)' has \(prompts.count) prompt; need at least 2, one to train and one to validate")
        }
        let validationCount = min(prompts.count - 1, max(1, Int((Double(prompts.count) * valFraction).rounded())))
        train = Array(prompts[..<(prompts.count - validationCount)])
        validation = Array(prompts[(prompts.count - validationCount)...])
    }

    /// Prompts already tokenized (the built-in sets of `bench train`).
    init(format: DataFormat, train: [[Int32]], validation: [[Int32]]) {
        self.format = format; self.train = train; self.validation = validation
    }
}
