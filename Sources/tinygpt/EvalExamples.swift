import Foundation
import Files
import Model
import Tokenizer
import Train
import Config
import Formats

/// `eval` on JSON Lines: completion-only loss and perplexity of
/// prompt–completion examples, DPO's loss and rewards of preference pairs
/// against a reference checkpoint, or a reward model's accuracy on
/// preference pairs (`rewardModel`).
func evaluateExamples(format: DataFormat, examples: [TextExample], dataPath: String, model: GPT, rewardModel: ScoreModel?, config: RunConfig,
                      tokenizer: any Tokenizer, checkpointTokenizer: Data, referencePath: String?, betaText: String?, json: Bool) throws {
    let batch = 8
    if let rewardModel {
        guard format == .preference else {
            throw CLIError("'\(dataPath)' holds \(format.rawValue) examples; a reward model is evaluated on preference pairs ({\"prompt\", \"chosen\", \"rejected\"})")
        }
        if referencePath != nil || betaText != nil { throw CLIError("--reference and --beta belong to DPO; the checkpoint is a reward model") }
        // A reward model reads whole sequences: each fits the context itself.
        let set = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.tokenContextLength - 1,
                                 valFraction: nil, path: dataPath)
        if let line = set.fittingNote { printError("tinygpt: note: \(line)") }
        let stats = rewardStats(model: rewardModel, examples: set.train, batch: batch)
        try requireFinite(stats.loss, "the reward loss on '\(dataPath)'", of: "the checkpoint")
        if json {
            let members: [(key: String, value: JSONValue)] = [("format", .string(format.rawValue)), ("pairs", .int(stats.pairs))]
                + stats.figures.items.map { (key: $0.name, value: JSONValue.number($0.value)) }
            print(JSONValue.object(members).serialized())
        } else {
            print(String(format: "pairs %d | loss %.4f | %@", stats.pairs, stats.loss, stats.summary))
        }
        return
    }
    let set = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.tokenContextLength,
                             valFraction: nil, path: dataPath)
    func noteFitting() { if let line = set.fittingNote { printError("tinygpt: note: \(line)") } }
    switch format {
    case .promptCompletion:
        if referencePath != nil || betaText != nil {
            throw CLIError("--reference and --beta score preference data; '\(dataPath)' holds prompt-completion examples")
        }
        noteFitting()
        let (loss, tokens) = completionLoss(model: model, examples: set.train, batch: batch)
        try requireFinite(loss, "the completion loss on '\(dataPath)'", of: "the checkpoint")
        if json {
            print(JSONValue.object(["format": .string(format.rawValue), "examples": .int(set.train.count), "tokens": .int(tokens),
                                    "loss": .number(loss), "perplexity": .number(exp(loss))]).serialized())
        } else {
            print(String(format: "examples %d | completion tokens %d | loss %.4f | perplexity %.3f", set.train.count, tokens, loss, exp(loss)))
        }
    case .preference:
        guard let referencePath else {
            throw CLIError("preference data needs --reference CKPT: the model DPO started from, against which rewards are measured")
        }
        var beta = config.train.dpoBeta
        if let betaText {
            guard let b = Double(betaText), b.isFinite, b > 0 else { throw CLIError("--beta must be a number > 0, got '\(betaText)'") }
            beta = b
        }
        let (reference, _) = try Checkpoint.loadWithTokenizer(referencePath)
        guard reference.tokenizerJSON == checkpointTokenizer else {
            throw CLIError("--reference '\(referencePath)' has a different tokenizer from --checkpoint's; DPO compares log-probabilities of the same tokens: give the checkpoint the run started from (--init-from)")
        }
        guard reference.config.model.contextLength >= config.model.contextLength else {
            throw CLIError("--reference '\(referencePath)' has a context of \(reference.config.model.contextLength) tokens, shorter than the checkpoint's \(config.model.contextLength)")
        }
        noteFitting()
        let scores = ReferenceLogProbs(model: reference.model, examples: set.train, batch: batch)
        let stats = preferenceStats(model: model, examples: set.train, reference: scores, beta: Float(beta), batch: batch)
        for (name, value) in [("logps/chosen", stats.logpsChosen), ("logps/rejected", stats.logpsRejected), ("the DPO loss", stats.loss)] {
            try requireFinite(value, "\(name) on '\(dataPath)'", of: "the checkpoint or its reference")
        }
        if json {
            let members: [(key: String, value: JSONValue)] = [("format", .string(format.rawValue)), ("pairs", .int(stats.pairs)), ("beta", .number(beta))]
                + stats.named().map { (key: $0.0, value: JSONValue.number($0.1)) }
            print(JSONValue.object(members).serialized())
        } else {
            print(String(format: "pairs %d | beta %g | loss %.4f | %@ | logps/chosen %.4f | logps/rejected %.4f",
                         stats.pairs, beta, stats.loss, stats.summary, stats.logpsChosen, stats.logpsRejected))
        }
    case .promptOnly:
        throw CLIError("'\(dataPath)' holds prompts alone; eval scores prompt-completion examples, or preference pairs")
    case .text:
        fatalError("evaluateExamples: plain text is scored with sliding windows")
    }
}
