import Foundation
import Files
import Tokenizer
import Config
import Formats
import Generate

/// `eval`: a checkpoint scored on a file. Plain text: cross-entropy over
/// sliding windows (perplexity, bits per byte, and loss by position bucket);
/// JSON Lines: the completion loss, DPO figures against a reference, or a
/// reward model's accuracy (`evaluateExamples`).
public enum EvaluationRun {
    public struct Request {
        public var checkpoint: String
        public var dataPath: String
        /// --stride as given (checked against the context once it is known).
        public var stride: String?
        /// Windows of this many tokens instead of the trained context.
        public var context: Int?
        public var byPosition = false
        public var buckets = 16
        /// Where the --by-position plot goes.
        public var svg: String?
        /// model.rope_scaling settings for this run.
        public var overrides: [String] = []
        public var referencePath: String?
        public var beta: String?
        public var json = false
        public init(checkpoint: String, dataPath: String) { (self.checkpoint, self.dataPath) = (checkpoint, dataPath) }
    }

    /// What `eval` prints on standard output, and the plot it wrote.
    public struct Outcome {
        public let text: String
        public let plot: String?
    }

    /// Opens the checkpoint, reads the data and scores it. `progress` (windows
    /// done, total) follows plain-text scoring.
    public static func run(_ r: Request, note: @escaping (String) -> Void, progress: ((Int, Int) -> Void)?) throws -> Outcome {
        let model = try LanguageModel(r.checkpoint, note: note)
        let tokenizer = model.tokenizer
        var run = model.config
        let trained = run.model
        try run.apply(overrides: r.overrides)
        try run.validate()
        let (window, logitsOf) = try model.positionLogits(model: run.model, context: r.context, batch: 8)
        let context = r.context ?? window  // the trained context, less any virtual tokens
        var stride = r.byPosition ? context : max(1, context / 2)
        if let text = r.stride {
            guard let s = Int(text), s >= 1, s <= context else {
                throw UsageError("--stride must be an integer in 1...\(context) (the context length), got '\(text)'")
            }
            stride = s
        }
        if let svg = r.svg { try checkPlotPath(svg) }
        guard FileManager.default.fileExists(atPath: r.dataPath) else { throw UsageError("data file '\(r.dataPath)' does not exist") }
        let text = try TextFile.read(r.dataPath, what: "data file")
        var (format, examples) = try ExampleFile.read(path: r.dataPath, text: text)
        if format != .text {
            try ExampleFile.renderConversations(&examples, template: model.chatTemplate, templateOrigin: model.directory.path,
                                                specialTokens: tokenizer.templateSpecialTokens(endTokenIds: run.tokenizer.eosTokenIds,
                                                                                               beginTokenId: run.tokenizer.bosTokenId),
                                                path: r.dataPath)
            if let option = [("stride", r.stride != nil), ("context", r.context != nil), ("by-position", r.byPosition)].first(where: \.1) {
                throw UsageError("--\(option.0) applies to plain text; '\(r.dataPath)' holds \(format.rawValue) examples")
            }
            let floatModel = try model.gpt(model: run.model, context: r.context, purpose: "scoring JSON Lines examples")
            let rewardModel = Checkpoint.isScoreModel(model.directory) ? try Checkpoint.loadScoreModel(from: model.directory, role: "--checkpoint").model : nil
            let report = try evaluateExamples(format: format, examples: examples, dataPath: r.dataPath, model: floatModel, rewardModel: rewardModel,
                                              config: run, tokenizer: tokenizer, checkpointTokenizer: model.tokenizerJSON, referencePath: r.referencePath,
                                              betaText: r.beta, note: note)
            return Outcome(text: r.json ? report.json(format: format) : report.line, plot: nil)
        }
        if r.referencePath != nil || r.beta != nil {
            throw UsageError("--reference and --beta score preference data; '\(r.dataPath)' is plain text")
        }
        let ids = try tokenizer.encode(text).map { Int32($0) }
        guard ids.count >= 2 else { throw UsageError("data file '\(r.dataPath)' has \(ids.count) token(s); need at least 2 to score") }
        let result = evaluate(logits: logitsOf, contextWindow: window, ids: ids, textBytes: text.utf8.count, stride: stride, context: context,
                              byPosition: r.byPosition, progress: progress)
        try requireFinite(result.loss, "the loss on '\(r.dataPath)'", of: "'\(r.checkpoint)'")
        let buckets = result.byPosition?.buckets(width: max(1, (context + r.buckets - 1) / r.buckets)) ?? []
        var plot: String?
        if r.byPosition, let path = r.svg {
            try writePositionPlot(buckets, to: path, trainedContext: trained.contextLength, context: context, run: run)
            plot = path
        }
        if r.json { return Outcome(text: evaluationJSON(result, buckets: r.byPosition ? buckets : nil, context: context, stride: stride), plot: plot) }
        var lines = [String(format: "tokens %d | loss %.4f | perplexity %.3f | bits per byte %.4f", result.tokens, result.loss, result.perplexity, result.bitsPerByte)]
        if r.byPosition { lines.append(positionTable(buckets)) }
        return Outcome(text: lines.joined(separator: "\n"), plot: plot)
    }
}
