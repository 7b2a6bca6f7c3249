import Foundation
import Files
import Model
import Tokenizer
import Config
import Formats

/// What `eval` measured on JSON Lines examples: completion-only loss of
/// prompt–completion examples, DPO's figures on preference pairs against a
/// reference, or a reward model's figures on preference pairs.
public enum ExampleEvaluationReport {
    case completion(examples: Int, tokens: Int, loss: Double)
    case preference(pairs: Int, beta: Double, stats: PreferenceStats)
    case reward(pairs: Int, stats: RewardStats)

    /// One JSON object (eval --json).
    public func json(format: DataFormat) -> String {
        switch self {
        case let .completion(examples, tokens, loss):
            return JSONValue.object(["format": .string(format.rawValue), "examples": .int(examples), "tokens": .int(tokens),
                                     "loss": .number(loss), "perplexity": .number(exp(loss))]).serialized()
        case let .preference(pairs, beta, stats):
            let members: [(key: String, value: JSONValue)] = [("format", .string(format.rawValue)), ("pairs", .int(pairs)), ("beta", .number(beta))]
                + stats.named().map { (key: $0.0, value: JSONValue.number($0.1)) }
            return JSONValue.object(members).serialized()
        case let .reward(pairs, stats):
            let members: [(key: String, value: JSONValue)] = [("format", .string(format.rawValue)), ("pairs", .int(pairs))]
                + stats.figures.items.map { (key: $0.name, value: JSONValue.number($0.value)) }
            return JSONValue.object(members).serialized()
        }
    }

    /// One text line.
    public var line: String {
        switch self {
        case let .completion(examples, tokens, loss):
            return String(format: "examples %d | completion tokens %d | loss %.4f | perplexity %.3f", examples, tokens, loss, exp(loss))
        case let .preference(pairs, beta, stats):
            return String(format: "pairs %d | beta %g | loss %.4f | %@ | logps/chosen %.4f | logps/rejected %.4f",
                          pairs, beta, stats.loss, stats.summary, stats.logpsChosen, stats.logpsRejected)
        case let .reward(pairs, stats):
            return String(format: "pairs %d | loss %.4f | %@", pairs, stats.loss, stats.summary)
        }
    }
}

/// Scores JSON Lines examples: prompt–completion examples by their
/// completion loss; preference pairs by DPO against `referencePath` (β from
/// `betaText`, else the config's), or, given `rewardModel`, by that reward
/// model. `note` receives what the user should know before the work starts.
public func evaluateExamples(format: DataFormat, examples: [TextExample], dataPath: String, model: GPT, rewardModel: ScoreModel?, config: RunConfig,
                             tokenizer: any Tokenizer, checkpointTokenizer: Data, referencePath: String?, betaText: String?,
                             note: (String) -> Void) throws -> ExampleEvaluationReport {
    let batch = 8
    if let rewardModel {
        guard format == .preference else {
            throw UsageError("'\(dataPath)' holds \(format.rawValue) examples; a reward model is evaluated on preference pairs ({\"prompt\", \"chosen\", \"rejected\"})")
        }
        if referencePath != nil || betaText != nil { throw UsageError("--reference and --beta belong to DPO; the checkpoint is a reward model") }
        // A reward model reads whole sequences: each fits the context itself.
        let set = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.tokenContextLength - 1,
                                 valFraction: nil, path: dataPath)
        if let line = set.fittingNote { note(line) }
        let stats = rewardStats(model: rewardModel, examples: set.train, batch: batch)
        try requireFinite(stats.loss, "the reward loss on '\(dataPath)'", of: "the checkpoint")
        return .reward(pairs: stats.pairs, stats: stats)
    }
    let set = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.tokenContextLength,
                             valFraction: nil, path: dataPath)
    switch format {
    case .promptCompletion:
        if referencePath != nil || betaText != nil {
            throw UsageError("--reference and --beta score preference data; '\(dataPath)' holds prompt-completion examples")
        }
        if let line = set.fittingNote { note(line) }
        let (loss, tokens) = completionLoss(model: model, examples: set.train, batch: batch)
        try requireFinite(loss, "the completion loss on '\(dataPath)'", of: "the checkpoint")
        return .completion(examples: set.train.count, tokens: tokens, loss: loss)
    case .preference:
        guard let referencePath else {
            throw UsageError("preference data needs --reference CKPT: the model DPO started from, against which rewards are measured")
        }
        var beta = config.train.dpoBeta
        if let betaText {
            guard let b = Double(betaText), b.isFinite, b > 0 else { throw UsageError("--beta must be a number > 0, got '\(betaText)'") }
            beta = b
        }
        let (reference, _) = try Checkpoint.loadWithTokenizer(referencePath)
        guard reference.tokenizerJSON == checkpointTokenizer else {
            throw UsageError("--reference '\(referencePath)' has a different tokenizer from --checkpoint's; DPO compares log-probabilities of the same tokens: give the checkpoint the run started from (--init-from)")
        }
        guard reference.config.model.contextLength >= config.model.contextLength else {
            throw UsageError("--reference '\(referencePath)' has a context of \(reference.config.model.contextLength) tokens, shorter than the checkpoint's \(config.model.contextLength)")
        }
        if let line = set.fittingNote { note(line) }
        let scores = ReferenceLogProbs(model: reference.model, examples: set.train, batch: batch)
        let stats = preferenceStats(model: model, examples: set.train, reference: scores, beta: Float(beta), batch: batch)
        for (name, value) in [("logps/chosen", stats.logpsChosen), ("logps/rejected", stats.logpsRejected), ("the DPO loss", stats.loss)] {
            try requireFinite(value, "\(name) on '\(dataPath)'", of: "the checkpoint or its reference")
        }
        return .preference(pairs: stats.pairs, beta: beta, stats: stats)
    case .promptOnly:
        throw UsageError("'\(dataPath)' holds prompts alone; eval scores prompt-completion examples, or preference pairs")
    case .text:
        throw UsageError("'\(dataPath)' is plain text; it is scored with sliding windows, not as examples")
    }
}
