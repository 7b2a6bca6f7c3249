import Foundation
import Files
import Formats
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

/// `tinygpt export`: a checkpoint as a Hugging Face transformers directory, PEFT adapters, or a GGUF file (`CheckpointExport`).
func runExportCommand(_ args: [String]) throws {
    guard var a = exportFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt export --help shows every option)") }
    guard let out = try a.option("out") else { throw CLIError("--out OUT is required (tinygpt export --help shows every option)") }
    var request = CheckpointExport.Request(checkpoint: checkpoint, out: out)
    request.format = try a.value("format")
    request.force = a.flag("force")
    request.configPath = try a.option("config")
    request.overrides = try a.options("set")
    request.baseName = try a.option("base")
    request.weightType = try a.option("type")
    try a.finish()
    printError(try CheckpointExport.run(request, note: printNote))
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
    try OutputDirectory.check(out, force: force, sources: [from], note: printNote)
    if format == "gguf" {
        for line in try GGUFImport.importFile(from, out: out, dequantize: dequantize) { printError(line) }
        return
    }
    let imported = try HuggingFace.importCheckpoint(from: URL(fileURLWithPath: from), to: URL(fileURLWithPath: out))
    imported.notes.forEach(printNote)
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
/// every position, as JSON (`LanguageModel.logitsJSON`), for comparisons with other tools.
func runLogitsCommand(_ args: [String]) throws {
    guard var a = logitsFlags.parse(args) else { return }
    guard let checkpoint = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt logits --help shows every option)") }
    guard let idsText = try a.option("ids") else { throw CLIError("--ids \"1 2 3\" is required (tinygpt logits --help shows every option)") }
    let overrides = try a.options("set")
    try a.finish()
    print(try LanguageModel(checkpoint, note: printNote).logitsJSON(ids: idsText, overrides: overrides))
}
