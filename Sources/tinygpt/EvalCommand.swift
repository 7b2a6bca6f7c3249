import Foundation
import Formats
import Files
import Kernels
import Model
import Tokenizer
import Generate
import Train
import Autograd

let evalFlags = CommandFlags(
    command: "eval", forms: ["--checkpoint DIR --data FILE [--stride S] [--context N] [--by-position [--buckets K] [--svg FILE]] [options]",
                             "--checkpoint DIR --data FILE.jsonl [--reference CKPT [--beta B]] [--json]"],
    about: """
        Scores every token of FILE after the first with sliding windows of the model's context and prints the number
        of scored tokens, mean cross-entropy, perplexity and bits per byte.
        """,
    flags: [
        Flag("checkpoint", "DIR", "the checkpoint to score"), Flag("data", "FILE", "plain text, or JSON Lines examples"),
        Flag("stride", "S", "positions between windows (default half the context; the context with --by-position)"),
        Flag("context", "N", "windows of N tokens, also past the trained context (not for learned positions)"),
        Flag("by-position", "mean loss per position bucket"),
        Flag("buckets", "K", default: 16, "equal buckets of --by-position, 1...1000000"),
        Flag("svg", "FILE", "the --by-position plot (an existing .svg file there is replaced)"),
        .repeatable("set", "model.rope_scaling=…", "model.rope_scaling (or one member, e.g. model.rope_scaling.factor=4) on a RoPE model"),
        Flag("reference", "CKPT", "the DPO reference model; same tokenizer as --checkpoint"),
        Flag("beta", "B", "DPO's β (default: the checkpoint's train.dpo_beta)"),
        .json, .threads,
    ],
    notes: """
        JSON Lines data (docs/fine-tuning.md): prompt-completion examples give the loss and perplexity of the
        completion tokens only; preference examples, with --reference CKPT (the model DPO started from), give the
        DPO loss, reward accuracy and margin with TRL's names. On a reward model (train.objective = reward),
        preference examples give its accuracy, mean scores and margin (docs/rlhf.md).
        """)

func runEvalCommand(_ args: [String]) throws {
    guard var a = evalFlags.parse(args) else { return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required") }
    guard let dataPath = try a.option("data") else { throw CLIError("--data FILE is required") }
    let strideText = try a.option("stride")
    let json = a.flag("json")
    let threads = try a.threads()
    let requestedContext = try a.option("context").map { text -> Int in
        guard let n = Int(text), n >= 1 else { throw CLIError("--context must be an integer ≥ 1, got '\(text)'") }
        return n
    }
    let svgPath = try a.option("svg")
    let byPosition = a.flag("by-position") || svgPath != nil
    let bucketsGiven = a.has("buckets")
    let bucketCount = try a.int("buckets", in: 1...1_000_000)
    if bucketsGiven && !byPosition {
        throw CLIError("--buckets divides the --by-position table; without --by-position (or --svg) it has no effect: add --by-position, or drop --buckets")
    }
    let overrides = try a.options("set")
    let referencePath = try a.option("reference")
    let betaText = try a.option("beta")
    try a.finish()
    if let threads { Parallel.threads = threads }

    let model = try LanguageModel(checkpointPath, note: { printError("tinygpt: note: " + $0) })
    let tokenizer = model.tokenizer
    var run = model.config
    let trained = run.model
    try run.apply(overrides: overrides)
    try run.validate()
    let (window, logitsOf) = try model.positionLogits(model: run.model, context: requestedContext, batch: 8)
    let context = requestedContext ?? window  // the trained context, less any virtual tokens
    var stride = byPosition ? context : max(1, context / 2)
    if let strideText {
        guard let s = Int(strideText), s >= 1, s <= context else {
            throw CLIError("--stride must be an integer in 1...\(context) (the context length), got '\(strideText)'")
        }
        stride = s
    }
    if let svgPath { try checkPlotPath(svgPath) }
    guard FileManager.default.fileExists(atPath: dataPath) else { throw CLIError("data file '\(dataPath)' does not exist") }
    let text = try TextFile.read(dataPath, what: "data file")
    var (format, examples) = try ExampleFile.read(path: dataPath, text: text)
    if format != .text {
        try ExampleFile.renderConversations(&examples, template: model.chatTemplate, templateOrigin: model.directory.path,
                                            specialTokens: tokenizer.templateSpecialTokens(endTokenIds: run.tokenizer.eosTokenIds,
                                                                                           beginTokenId: run.tokenizer.bosTokenId),
                                            path: dataPath)
        if let option = [("stride", strideText != nil), ("context", requestedContext != nil), ("by-position", byPosition)].first(where: \.1) {
            throw CLIError("--\(option.0) applies to plain text; '\(dataPath)' holds \(format.rawValue) examples")
        }
        let floatModel = try model.gpt(model: run.model, context: requestedContext, purpose: "scoring JSON Lines examples")
        let rewardModel = Checkpoint.isScoreModel(model.directory) ? try Checkpoint.loadScoreModel(from: model.directory, role: "--checkpoint").model : nil
        let report = try evaluateExamples(format: format, examples: examples, dataPath: dataPath, model: floatModel, rewardModel: rewardModel,
                                          config: run, tokenizer: tokenizer, checkpointTokenizer: model.tokenizerJSON, referencePath: referencePath,
                                          betaText: betaText, note: { printError("tinygpt: note: \($0)") })
        print(json ? report.json(format: format) : report.line)
        return
    }
    if referencePath != nil || betaText != nil {
        throw CLIError("--reference and --beta score preference data; '\(dataPath)' is plain text")
    }
    let ids = try tokenizer.encode(text).map { Int32($0) }
    guard ids.count >= 2 else { throw CLIError("data file '\(dataPath)' has \(ids.count) token(s); need at least 2 to score") }
    // As train: a progress line on stderr when it is a terminal.
    let started = Date(), showProgress = isatty(2) != 0
    let result = evaluate(logits: logitsOf, contextWindow: window, ids: ids, textBytes: text.utf8.count, stride: stride, context: context,
                          byPosition: byPosition, progress: showProgress ? { done, total in
                              fputs(done == total ? clearedProgressLine : progressLine(done: done, total: total, doneSinceStart: done, started: started,
                                                                                       detail: " windows"), stderr)
                          } : nil)
    try requireFinite(result.loss, "the loss on '\(dataPath)'", of: "'\(checkpointPath)'")
    let buckets = result.byPosition?.buckets(width: max(1, (context + bucketCount - 1) / bucketCount)) ?? []
    if byPosition, let path = svgPath {
        try writePositionPlot(buckets, to: path, trainedContext: trained.contextLength, context: context, run: run)
        if !json { printError("wrote \(path)") }
    }
    if json {
        print(evaluationJSON(result, buckets: byPosition ? buckets : nil, context: context, stride: stride))
    } else {
        print(String(format: "tokens %d | loss %.4f | perplexity %.3f | bits per byte %.4f", result.tokens, result.loss, result.perplexity, result.bitsPerByte))
        if byPosition { print(positionTable(buckets)) }
    }
}
