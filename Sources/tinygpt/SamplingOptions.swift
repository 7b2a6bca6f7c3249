import Foundation
import Kernels
import Config
import Formats
import Tokenizer
import Generate

/// The decoding flags `sample` and `chat` share: a --config file's sample
/// section, --set sample.* (and model.rope_scaling), one flag per sample
/// field, --stop, --threads and --context.
struct SamplingOptions {
    /// Flag name → sample field, for the flags that take a value.
    static let fieldFlags = ["strategy": "strategy", "max-new-tokens": "max_new_tokens", "temperature": "temperature",
                             "top-k": "top_k", "top-p": "top_p", "min-p": "min_p", "repetition-penalty": "repetition_penalty",
                             "no-repeat-ngram": "no_repeat_ngram", "beam-width": "beam_width", "length-penalty": "length_penalty",
                             "min-new-tokens": "min_new_tokens",
                             "num-samples": "num_samples", "seed": "seed"]

    var configPath: String?
    /// `--set` assignments, then one per field flag.
    var overrides: [String]
    var stops: [String]
    var threads: Int?
    var context: Int?

    init(_ a: inout Arguments, command: String) throws {
        configPath = try a.option("config")
        overrides = try a.options("set")
        for assignment in overrides {
            let key = String(assignment.prefix(while: { $0 != "=" }))
            guard key.hasPrefix("sample.") || key.hasPrefix("model.rope_scaling") else {
                throw CLIError("--set \(assignment): \(command) takes sample.* settings only, plus model.rope_scaling; the checkpoint fixes the rest of the model, tokenizer, data and train sections")
            }
        }
        for (flag, field) in SamplingOptions.fieldFlags.sorted(by: { $0.key < $1.key }) {
            if let value = try a.option(flag) { overrides.append("sample.\(field)=\(value)") }
        }
        stops = try a.options("stop")
        threads = try a.threads()
        context = try a.option("context").map { text -> Int in
            guard let n = Int(text), n >= 1 else { throw CLIError("--context must be an integer ≥ 1, got '\(text)'") }
            return n
        }
    }

    /// The checkpoint's run config with the options applied: the sample section of --config,
    /// then the assignments and flags, then --stop (validated by the caller once it is complete).
    func apply(to checkpoint: RunConfig) throws -> RunConfig {
        var run = checkpoint
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
        return run
    }
}

/// A checkpoint (float or quantized; a run directory gives its best/, else latest/) opened for
/// generation: its run config with the options applied, its tokenizer, and a generator that
/// stops at the model's end tokens. One sequence takes the per-token path when the model allows it.
struct OpenedForGeneration {
    let run: RunConfig
    let tokenizer: any Tokenizer
    let generator: Generator
    let directory: URL

    init(_ checkpointPath: String, options: SamplingOptions, adjust: (inout RunConfig) -> Void = { _ in }) throws {
        if let threads = options.threads { Parallel.threads = threads }
        let quantized = try loadQuantizedCheckpoint(checkpointPath)
        let (loaded, tokenizer): (Checkpoint.Loaded?, any Tokenizer)
        if let quantized { (loaded, tokenizer) = (nil, quantized.tokenizer) } else { (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpointPath) }
        var run = try options.apply(to: quantized?.checkpoint.config ?? loaded!.config)
        adjust(&run)
        try run.validate()
        let s = run.sample
        let ends = run.tokenizer.eosTokenIds, begin = run.tokenizer.bosTokenId
        if let quantized {
            generator = Generator(rows: try quantizedRows(quantized.checkpoint, model: run.model, context: options.context), tokenizer: tokenizer,
                                  endTokenIds: ends, beginTokenId: begin)
        } else {
            let rows = s.strategy == .beam ? s.beamWidth : s.numSamples
            let model = try inferenceModel(loaded!, model: run.model, overrides: options.overrides, context: options.context, batch: rows)
            // One sequence: the per-token path (no autograd, faster at batch 1); several: one batched forward per step.
            generator = rows == 1 && InferenceModel.supports(model.config)
                ? Generator(rows: InferenceRows { InferenceModel(model: model) }, tokenizer: tokenizer, endTokenIds: ends, beginTokenId: begin)
                : Generator(model: model, tokenizer: tokenizer, endTokenIds: ends, beginTokenId: begin)
        }
        self.run = run
        self.tokenizer = tokenizer
        directory = quantized?.checkpoint.directory ?? loaded!.directory
    }
}
