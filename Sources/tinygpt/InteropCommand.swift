import Foundation
import Files
import Autograd
import Formats
import Config
import Tokenizer
import Generate

let exportFlags = CommandFlags(
    command: "export", forms: ["--checkpoint DIR --format hf|peft --out OUT [--force] [--config sampling.json] [--set k=v ...] [--base NAME]",
                               "--checkpoint DIR --format gguf --out FILE.gguf [--type f32|f16|q8_0] [--force]"],
    about: """
        --format hf writes a transformers model; from an adapter (LoRA) checkpoint, the merged model W + (alpha/r)·B·A.
        --format peft writes an adapter checkpoint's adapters as adapter_model.safetensors + adapter_config.json for
        peft.PeftModel.from_pretrained on the base exported with --format hf (docs/lora.md).
        --format gguf writes one file that llama.cpp loads (architecture llama or gpt2), with the tokenizer,
        end tokens and chat template (docs/interop.md).
        """,
    flags: [
        Flag("checkpoint", "DIR", "the checkpoint to export"), Flag("format", "hf|peft|gguf", default: "hf", "what to write"),
        Flag("out", "OUT", "the directory (hf, peft) or file (gguf) to write"),
        Flag("force", "replace a non-empty OUT (never the working directory, the checkpoint's, or a tinygpt run or checkpoint)"),
        Flag("config", "FILE", "a config whose sample section becomes generation_config.json"),
        .repeatable("set", "k=v", "sample.* (generation_config.json), or model.rope_scaling={...} to export RoPE scaling"),
        Flag("base", "NAME", "peft: recorded as base_model_name_or_path"),
        Flag("type", "f32|f16|q8_0", default: "f32", "gguf: the matrices' type"),
    ],
    notes: """
        OUT must be new or empty (docs/reliability.md). generation_config.json holds the checkpoint's sample section,
        or that of --config (e.g. configs/sample-beam.json: num_beams, length_penalty, early_stopping), then --set sample.*.
        """)
let importFlags = CommandFlags(
    command: "import", forms: ["--format hf --from DIR --out CKPT [--force]", "--format gguf --from FILE.gguf --out CKPT [--dequantize] [--force]"],
    flags: [
        Flag("format", "hf|gguf", default: "hf", "a Hugging Face transformers directory, or a llama.cpp file"),
        Flag("from", "DIR|FILE", "the model to read"), Flag("out", "CKPT", "the checkpoint to write; new or empty"),
        Flag("force", "replace a non-empty CKPT (never the working directory, one holding DIR, or a tinygpt run or checkpoint)"),
        Flag("dequantize", "gguf: store Q8_0 matrices as float32 too"),
    ],
    notes: """
        --format gguf reads a llama.cpp model (architecture llama or gpt2). Q8_0 matrices stay int8
        (exact) unless --dequantize; every other tensor type is dequantized to float32 (docs/interop.md).
        """)

/// `tinygpt export`: a checkpoint as a Hugging Face transformers directory, PEFT adapters, or a GGUF file.
func runExportCommand(_ args: [String]) throws {
    guard var a = exportFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt export --help shows every option)") }
    guard let out = try a.option("out") else { throw CLIError("--out OUT is required (tinygpt export --help shows every option)") }
    let format = try a.value("format")
    let force = a.flag("force")
    let configPath = try a.option("config")
    let overrides = try a.options("set")
    let baseName = try a.option("base")
    let weightType = try a.option("type")
    try a.finish()
    guard format == "hf" || format == "peft" || format == "gguf" else {
        throw CLIError("--format must be hf (Hugging Face transformers), peft (LoRA adapters) or gguf (llama.cpp), got '\(format)'")
    }
    if weightType != nil && format != "gguf" { throw CLIError("--type sets the weights of a gguf export; --format is \(format)") }
    if baseName != nil && format != "peft" { throw CLIError("--base names the base model of a peft export; --format is \(format)") }
    for assignment in overrides where !assignment.hasPrefix("sample.") && !assignment.hasPrefix("model.rope_scaling") {
        throw CLIError("--set \(assignment): export takes sample.* settings (generation_config.json) and model.rope_scaling; the checkpoint fixes the rest")
    }
    let (loaded, tokenizer) = try Checkpoint.loadWithTokenizer(checkpoint)
    var run = loaded.config
    if let configPath { run.sample = try sampleSection(ofConfig: configPath) }
    try run.apply(overrides: overrides)
    try run.validate()
    let model = try Checkpoint.model(loaded, under: run.model)
    if format != "hf" && Checkpoint.isScoreModel(loaded.directory) {
        throw CLIError("'\(checkpoint)' is a reward model (a score head, no next-token output); export it with --format hf (…ForSequenceClassification)")
    }
    if let method = model.unmergeableMethod, format != "peft" || method == .adapter {
        throw CLIError(HuggingFace.unexportable(method, format: format))
    }
    if format == "gguf" {
        try exportGGUF(loaded, model: model, config: run, type: weightType, out: out, force: force, sources: [checkpoint, loaded.directory.path])
        return
    }
    try OutputDirectory.check(out, force: force, sources: [checkpoint, loaded.directory.path], note: { printError("tinygpt: note: \($0)") })
    let family = try HuggingFace.family(for: run.model)
    if format == "peft" {
        guard model.hasAdapters else {
            throw CLIError("\(loaded.directory.path) has no LoRA adapters (its config has no lora section), so there is nothing to export as peft; use --format hf")
        }
        try HuggingFace.exportPEFT(model: model, config: run, baseName: baseName, to: URL(fileURLWithPath: out))
        let kind = run.prefixTuning != nil ? "prefix tuning" : run.promptTuning != nil ? "prompt tuning" : "LoRA adapter"
        printError("wrote \(out) (PEFT \(kind) for \(family == .gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM")); load it with PeftModel.from_pretrained(base, \"\(out)\") on the base exported with --format hf")
        return
    }
    let merged = model.hasAdapters
    if merged { model.mergeAdapters() }  // W + (alpha/r)·B·A: a plain transformers model
    let scoreHead = try Checkpoint.scoreHead(in: loaded.directory)
    try HuggingFace.export(model: model, config: run, tokenizerJSON: loaded.tokenizerJSON, specialTokens: tokenizer.specialTokens,
                           chatTemplate: try Checkpoint.chatTemplate(in: loaded.directory), scoreHead: scoreHead, dtype: loaded.storage,
                           to: URL(fileURLWithPath: out))
    let half = loaded.storage == .f32 ? "" : ", \(loaded.storage.rawValue.lowercased()) weights"
    if scoreHead != nil {
        let name = HuggingFace.sequenceClassificationName(family)
        printError("wrote \(out) (\(name), one label: a reward model\(merged ? ", LoRA adapters merged" : "")\(half)); load it with AutoModelForSequenceClassification.from_pretrained(\"\(out)\") and score one sequence at a time (no pad_token_id)")
        return
    }
    printError("wrote \(out) (\(family == .gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM")\(merged ? ", LoRA adapters merged" : "")\(half)); load it with AutoModelForCausalLM.from_pretrained(\"\(out)\")")
}

/// `tinygpt import`: a Hugging Face transformers directory or a GGUF file as a tinygpt checkpoint.
func runImportCommand(_ args: [String]) throws {
    guard var a = importFlags.parse(args) else { return }
    guard let from = try a.option("from") else { throw CLIError("--from DIR is required (tinygpt import --help shows every option)") }
    guard let out = try a.option("out") else { throw CLIError("--out CKPT is required (tinygpt import --help shows every option)") }
    let format = try a.value("format")
    let force = a.flag("force")
    let dequantize = a.flag("dequantize")
    try a.finish()
    guard format == "hf" || format == "gguf" else { throw CLIError("--format must be hf (Hugging Face transformers) or gguf (llama.cpp), got '\(format)'") }
    if dequantize && format != "gguf" { throw CLIError("--dequantize applies to --format gguf (a Hugging Face import is always float32)") }
    try OutputDirectory.check(out, force: force, sources: [from], note: { printError("tinygpt: note: \($0)") })
    if format == "gguf" {
        for line in try GGUFImport.importFile(from, out: out, dequantize: dequantize) { printError(line) }
        return
    }
    let imported = try HuggingFace.importCheckpoint(from: URL(fileURLWithPath: from), to: URL(fileURLWithPath: out))
    for note in imported.notes { printError("tinygpt: note: \(note)") }
    printError("wrote checkpoint \(out): \(grouped(imported.parameters)) parameters")
}

let logitsFlags = CommandFlags(
    command: "logits", forms: ["--checkpoint DIR --ids \"1 2 3\" [--set model.rope_scaling={...}]"],
    about: """
        Prints the model's logits at every position of the ids, as JSON: one row of vocab_size numbers per id.
        Past the trained context only for positions that extrapolate (ALiBi, RoPE, sinusoidal).
        """,
    flags: [Flag("checkpoint", "DIR", "the checkpoint"), Flag("ids", "IDS", "token ids separated by spaces or commas (\"1 2 3\", \"[1, 2, 3]\")"),
            .repeatable("set", "model.rope_scaling=…", "RoPE scaling for this run")])

/// `tinygpt logits --checkpoint DIR --ids "1 2 3"`: the model's logits at
/// every position, as JSON (a list of rows), for comparisons with other tools.
func runLogitsCommand(_ args: [String]) throws {
    guard var a = logitsFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt logits --help shows every option)") }
    guard let idsText = try a.option("ids") else { throw CLIError("--ids \"1 2 3\" is required (tinygpt logits --help shows every option)") }
    let overrides = try a.options("set")
    try a.finish()
    let model = try LanguageModel(checkpoint, note: { printError("tinygpt: note: " + $0) })
    var run = model.config
    try run.apply(overrides: overrides)
    try run.validate()
    let v = model.vocabSize
    let ids = try TokenIdText.parse(idsText, vocabSize: v).map { id -> Int32 in
        guard id < v else { throw CLIError("--ids: \(id) is not a token id in 0..<\(v)") }
        return Int32(id)
    }
    guard !ids.isEmpty else { throw CLIError("--ids: need at least one id") }
    if ids.count > run.model.contextLength && !run.model.position.extrapolates {
        throw CLIError("--ids: \(ids.count) ids exceed the trained context length \(run.model.contextLength), and learned positions have no embedding past it")
    }
    // Past the trained length only for positions that extrapolate (as eval --context).
    let logits = try model.positionLogits(model: run.model, context: ids.count, batch: 1).logits(ids, 1, ids.count).toArray()
    let rows = (0..<ids.count).map { t in "[" + logits[(t * v)..<((t + 1) * v)].map { String($0) }.joined(separator: ",") + "]" }
    print("[" + rows.joined(separator: ",\n") + "]")
}
