import Foundation
import Autograd
import Model
import Tokenizer

let exportUsage = """
    usage: tinygpt export --checkpoint DIR --format hf --out OUT [--force] [--set model.rope_scaling={...}]

    OUT must be new or empty; --force replaces a non-empty OUT, except the working directory,
    a directory holding the checkpoint, or a tinygpt run or checkpoint (docs/reliability.md).
    --set model.rope_scaling={...} (or one member) exports a RoPE model with that scaling (docs/config.md).
    """
let importUsage = """
    usage: tinygpt import --format hf --from DIR --out CKPT [--force]

    CKPT must be new or empty; --force replaces a non-empty CKPT, except the working directory,
    a directory holding DIR, or a tinygpt run or checkpoint (docs/reliability.md).
    """

/// `tinygpt export`: a checkpoint as a Hugging Face transformers directory.
func runExportCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(exportUsage); return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt export --help shows every option)") }
    guard let out = try a.option("out") else { throw CLIError("--out OUT is required (tinygpt export --help shows every option)") }
    let format = try a.option("format") ?? "hf"
    let force = a.flag("force")
    let overrides = try a.options("set")
    try a.finish()
    guard format == "hf" else { throw CLIError("--format must be hf (Hugging Face transformers), got '\(format)'") }
    let (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpoint)
    var run = loaded.config
    try run.apply(overrides: overrides)
    try run.validate()
    let model = try inferenceModel(loaded, model: run.model, overrides: overrides, context: nil)
    try OutputDirectory.check(out, force: force, sources: [checkpoint, loaded.directory.path])
    let family = try HuggingFace.family(for: run.model)
    try HuggingFace.export(model: model, config: run, tokenizerJSON: loaded.tokenizerJSON,
                           specialTokens: tokenizer.specialTokens, to: URL(fileURLWithPath: out))
    printError("wrote \(out) (\(family == .gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM")); load it with AutoModelForCausalLM.from_pretrained(\"\(out)\")")
}

/// `tinygpt import`: a Hugging Face transformers directory as a tinygpt checkpoint.
func runImportCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(importUsage); return }
    guard let from = try a.option("from") else { throw CLIError("--from DIR is required (tinygpt import --help shows every option)") }
    guard let out = try a.option("out") else { throw CLIError("--out CKPT is required (tinygpt import --help shows every option)") }
    let format = try a.option("format") ?? "hf"
    let force = a.flag("force")
    try a.finish()
    guard format == "hf" else { throw CLIError("--format must be hf (Hugging Face transformers), got '\(format)'") }
    try OutputDirectory.check(out, force: force, sources: [from])
    let (model, config, tokenizerJSON) = try HuggingFace.load(from: URL(fileURLWithPath: from))
    let tokenizer = try TokenizerFile.load(data: tokenizerJSON, name: "\(from)/tokenizer.json")
    try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: model.vocabSize, source: from)
    try Checkpoint.save(model: model, config: config, tokenizerJSON: tokenizerJSON, to: URL(fileURLWithPath: out))
    printError("wrote checkpoint \(out): \(grouped(model.parameters.map(\.tensor.count).reduce(0, +))) parameters")
}

/// `tinygpt logits --checkpoint DIR --ids "1 2 3"`: the model's logits at
/// every position, as JSON (a list of rows), for comparisons with other tools.
func runLogitsCommand(_ args: [String]) throws {
    var a = Arguments(args)
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required") }
    guard let idsText = try a.option("ids") else { throw CLIError("--ids \"1 2 3\" is required") }
    let overrides = try a.options("set")
    try a.finish()
    if let quantized = try loadQuantizedCheckpoint(checkpoint) {
        var run = quantized.checkpoint.config
        try run.apply(overrides: overrides)
        try run.validate()
        let v = run.model.vocabSize!
        let ids = try parseIds(idsText, vocabSize: v).map { id -> Int32 in
            guard id < v else { throw CLIError("--ids: \(id) is not a token id in 0..<\(v)") }
            return Int32(id)
        }
        guard !ids.isEmpty else { throw CLIError("--ids: need at least one id") }
        let model = try quantizedRows(quantized.checkpoint, model: run.model, context: ids.count).take()
        let logits = model.logits(ids)
        let rows = (0..<ids.count).map { t in "[" + logits[(t * v)..<((t + 1) * v)].map { String($0) }.joined(separator: ",") + "]" }
        print("[" + rows.joined(separator: ",\n") + "]")
        return
    }
    let (loaded, _) = try loadCheckpointWithTokenizer(checkpoint)
    var run = loaded.config
    try run.apply(overrides: overrides)
    try run.validate()
    let ids = try parseIds(idsText, vocabSize: loaded.model.vocabSize).map { id -> Int32 in
        guard id < loaded.model.vocabSize else { throw CLIError("--ids: \(id) is not a token id in 0..<\(loaded.model.vocabSize)") }
        return Int32(id)
    }
    guard !ids.isEmpty else { throw CLIError("--ids: need at least one id") }
    if ids.count > run.model.contextLength && !run.model.position.extrapolates {
        throw CLIError("--ids: \(ids.count) ids exceed the trained context length \(run.model.contextLength), and learned positions have no embedding past it")
    }
    // Past the trained length only for positions that extrapolate (as eval --context).
    let model = try inferenceModel(loaded, model: run.model, overrides: overrides, context: ids.count, batch: 1)
    let logits = Autograd.noGrad { model(ids, batch: 1, length: ids.count) }.toArray()
    let v = loaded.model.vocabSize
    let rows = (0..<ids.count).map { t in "[" + logits[(t * v)..<((t + 1) * v)].map { String($0) }.joined(separator: ",") + "]" }
    print("[" + rows.joined(separator: ",\n") + "]")
}
