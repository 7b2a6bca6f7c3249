import Foundation
import Formats
import Files
import Kernels
import Config
import Tokenizer
import Generate

let sampleUsage = """
    usage: tinygpt sample --checkpoint DIR [--prompt TEXT | --prompt-file FILE] [--config sampling.json] [--set sample.field=value ...]
                          [--strategy greedy|sample|beam] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
                          [--min-p P] [--repetition-penalty R] [--no-repeat-ngram N] [--beam-width W] [--length-penalty L]
                          [--num-samples N] [--seed S] [--stop TEXT ...] [--stream | --no-stream] [--threads N]
                          [--context N]

    The window slides at the trained context length; --context N lets it grow to N tokens first (positions that
    extrapolate only: sinusoidal, rope, alibi, none). --set model.rope_scaling={...} scales RoPE for this run.

    DIR is a checkpoint or a run directory (then best/, else latest/). Flags override --set, which overrides
    the sample section of --config (else the checkpoint's). Semantics: docs/sampling.md.
    example: tinygpt sample --checkpoint runs/default-20261123-120000 --prompt "The " --temperature 0.8 --top-p 0.9
    """

/// Flag name → sample field, for the flags that take a value.
let sampleFlags = ["strategy": "strategy", "max-new-tokens": "max_new_tokens", "temperature": "temperature",
                   "top-k": "top_k", "top-p": "top_p", "min-p": "min_p", "repetition-penalty": "repetition_penalty",
                   "no-repeat-ngram": "no_repeat_ngram", "beam-width": "beam_width", "length-penalty": "length_penalty",
                   "num-samples": "num_samples", "seed": "seed"]

func runSampleCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(sampleUsage); return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt sample --help shows every option)") }
    let promptText = try a.option("prompt"), promptFile = try a.option("prompt-file")
    let configPath = try a.option("config")
    var overrides = try a.options("set")
    for assignment in overrides {
        let key = String(assignment.prefix(while: { $0 != "=" }))
        guard key.hasPrefix("sample.") || key.hasPrefix("model.rope_scaling") else {
            throw CLIError("--set \(assignment): sample takes sample.* settings only, plus model.rope_scaling; the checkpoint fixes the rest of the model, tokenizer, data and train sections")
        }
    }
    for (flag, field) in sampleFlags.sorted(by: { $0.key < $1.key }) {
        if let value = try a.option(flag) { overrides.append("sample.\(field)=\(value)") }
    }
    let stops = try a.options("stop")
    let stream = a.flag("stream"), noStream = a.flag("no-stream")
    if stream && noStream { throw CLIError("--stream and --no-stream contradict each other") }
    let threads = try a.threads()
    let requestedContext = try a.option("context").map { text -> Int in
        guard let n = Int(text), n >= 1 else { throw CLIError("--context must be an integer ≥ 1, got '\(text)'") }
        return n
    }
    try a.finish()
    if let threads { Parallel.threads = threads }
    if promptText != nil && promptFile != nil { throw CLIError("give --prompt or --prompt-file, not both") }

    let quantized = try loadQuantizedCheckpoint(checkpointPath)
    let stored = try quantized?.checkpoint.config ?? Checkpoint.loadConfig(from: try Checkpoint.resolve(checkpointPath))
    var run = stored
    if let configPath {
        guard FileManager.default.fileExists(atPath: configPath) else { throw CLIError("config file '\(configPath)' does not exist") }
        run.sample = try RunConfig.load(from: URL(fileURLWithPath: configPath)).sample
        let sections = FileManager.default.contents(atPath: configPath)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }.map { Array($0.keys).filter { $0 != "sample" }.sorted() } ?? []
        if !sections.isEmpty {
            printError("tinygpt: note: --config \(configPath): only its sample section is used; its \(sections.joined(separator: ", ")) section\(sections.count == 1 ? " is" : "s are") ignored (the checkpoint fixes them)")
        }
    }
    try run.apply(overrides: overrides)
    if !stops.isEmpty { run.sample.stop = stops }
    if stream || noStream { run.sample.stream = stream }
    try run.validate()
    let s = run.sample

    let generator: Generator, tokenizer: any Tokenizer
    let sequences = s.strategy == .beam ? s.beamWidth : s.numSamples
    if let quantized {
        tokenizer = quantized.tokenizer
        generator = Generator(rows: try quantizedRows(quantized.checkpoint, model: run.model, context: requestedContext), tokenizer: tokenizer)
    } else if sequences == 1 && run.model == stored.model && stored.lora == nil && InferenceModel.supports(run.model) {
        // One sequence of the stored model: the per-token path over the mapped weights (no copy, no autograd).
        let mapped: Checkpoint.Mapped
        (mapped, tokenizer) = try mapCheckpointWithTokenizer(checkpointPath)
        let window = try contextWindow(requestedContext, for: run.model, batch: 1) ?? run.model.contextLength
        let model = run.model
        generator = Generator(rows: InferenceRows { InferenceModel(float: mapped.weights, config: model, contextWindow: window) }, tokenizer: tokenizer)
    } else {
        let loaded: Checkpoint.Loaded
        (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpointPath)
        let model = try inferenceModel(loaded, model: run.model, overrides: overrides, context: requestedContext, batch: sequences)
        // One sequence: the per-token path (no autograd, faster at batch 1); several: one batched forward per step.
        generator = sequences == 1 && InferenceModel.supports(model.config)
            ? Generator(rows: InferenceRows { InferenceModel(model: model) }, tokenizer: tokenizer)
            : Generator(model: model, tokenizer: tokenizer)
    }
    let text = try promptFile.map { try TextFile.read($0, what: "prompt file") } ?? promptText ?? s.prompt
    var prompt = try tokenizer.encode(text).map { Int32($0) }
    if prompt.isEmpty { prompt = [generator.startToken()] }
    let context = generator.contextWindow
    if prompt.count > context {
        printError("tinygpt: the prompt has \(prompt.count) tokens; keeping its last \(context) (the context window)")
        prompt = Array(prompt.suffix(context))
    }

    var windowed = run.model
    windowed.contextLength = generator.contextWindow  // the KV caches are sized by the window
    let needed = Generator.estimatedBytes(config: windowed, sequences: sequences, promptLength: prompt.count,
                                          maxNewTokens: s.maxNewTokens)
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard needed <= available else {
        throw CLIError(String(format: "generating %d sequence%@ of this model needs about %.1f GB (KV caches, logits, weights), more than this machine's %.1f GB; lower --%@",
                              sequences, sequences == 1 ? "" : "s", needed / 1e9, available / 1e9, s.strategy == .beam ? "beam-width" : "num-samples"))
    }

    let settings = DecodingSettings(s)
    let started = DispatchTime.now().uptimeNanoseconds
    var produced = 0
    if s.strategy == .beam {
        let outputs = generator.beamSearch(prompt: prompt, width: s.beamWidth, count: min(s.numSamples, s.beamWidth),
                                           maxNewTokens: s.maxNewTokens, lengthPenalty: s.lengthPenalty, settings: settings, stop: s.stop)
        for (i, o) in outputs.enumerated() {
            if outputs.count > 1 { print(String(format: "--- beam %d, score %.4f ---", i + 1, o.score ?? 0)) }
            print(text + o.text)
            produced += o.tokens.count
        }
    } else {
        let streaming = s.stream && s.numSamples == 1
        if streaming { StandardOutput.write(text) }
        let outputs = generator.sample(prompt: prompt, count: s.numSamples, maxNewTokens: s.maxNewTokens, settings: settings,
                                       seed: UInt64(bitPattern: Int64(s.seed)), stop: s.stop,
                                       onText: streaming ? { StandardOutput.write($0) } : nil)
        if streaming { print("") }
        for (i, o) in outputs.enumerated() {
            produced += o.tokens.count
            guard !streaming else { continue }
            if outputs.count > 1 { print("--- sample \(i + 1) ---") }
            print(text + o.text)
        }
    }
    StandardOutput.flush()  // a failed write is the command's outcome, before any summary
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    printError(String(format: "%d tokens in %.2f s (%.1f tokens/s)", produced, seconds, Double(produced) / max(seconds, 1e-9)))
}
