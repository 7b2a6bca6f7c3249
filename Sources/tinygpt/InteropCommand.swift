import Foundation
import Autograd
import Model
import Tokenizer

let exportUsage = """
    usage: tinygpt export --checkpoint DIR --format hf --out OUT [--force]

    OUT must be new or empty; --force replaces a non-empty OUT, except the working directory,
    a directory holding the checkpoint, or a tinygpt run or checkpoint (docs/reliability.md).
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
    try a.finish()
    guard format == "hf" else { throw CLIError("--format must be hf (Hugging Face transformers), got '\(format)'") }
    let (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpoint)
    try OutputDirectory.check(out, force: force, sources: [checkpoint, loaded.directory.path])
    let family = try HuggingFace.family(for: loaded.config.model)
    try HuggingFace.export(model: loaded.model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON,
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
    try a.finish()
    let (loaded, _) = try loadCheckpointWithTokenizer(checkpoint)
    let ids = try parseIds(idsText, vocabSize: loaded.model.vocabSize).map { id -> Int32 in
        guard id < loaded.model.vocabSize else { throw CLIError("--ids: \(id) is not a token id in 0..<\(loaded.model.vocabSize)") }
        return Int32(id)
    }
    guard !ids.isEmpty, ids.count <= loaded.config.model.contextLength else {
        throw CLIError("--ids: need 1...\(loaded.config.model.contextLength) ids, got \(ids.count)")
    }
    let logits = Autograd.noGrad { loaded.model(ids, batch: 1, length: ids.count) }.toArray()
    let v = loaded.model.vocabSize
    let rows = (0..<ids.count).map { t in "[" + logits[(t * v)..<((t + 1) * v)].map { String($0) }.joined(separator: ",") + "]" }
    print("[" + rows.joined(separator: ",\n") + "]")
}
