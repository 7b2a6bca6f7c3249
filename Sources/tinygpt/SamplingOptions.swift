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
                             "early-stopping": "early_stopping", "num-samples": "num_samples", "seed": "seed"]

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
        if let configPath { run.sample = try sampleSection(ofConfig: configPath) }
        try run.apply(overrides: overrides)
        if !stops.isEmpty { run.sample.stop = stops }
        return run
    }

    /// A setting asked for here that the strategy never reads would be ignored silently: refuse it.
    func checkEffect(_ s: SampleConfig) throws {
        let given = overrides.map { String($0.prefix(while: { $0 != "=" })) }
        if let field = SampleConfig.fieldsWithoutEffect(under: s.strategy).first(where: { given.contains("sample.\($0)") }) {
            let flag = SamplingOptions.fieldFlags.first { $0.value == field }.map { "--\($0.key)" } ?? "sample.\(field)"
            let why = s.strategy == .sample ? "it belongs to beam search (--strategy beam)"
                : "\(s.strategy == .beam ? "beam search ranks continuations by log-probability" : "greedy decoding takes the most likely token") and draws nothing (it applies to --strategy sample)"
            throw CLIError("\(flag) has no effect with strategy \(s.strategy.rawValue): \(why); drop it or change the strategy")
        }
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
        let stored = try quantized?.checkpoint.config ?? Checkpoint.loadConfig(from: try Checkpoint.resolve(checkpointPath))
        var run = try options.apply(to: stored)
        adjust(&run)
        try run.validate()
        try options.checkEffect(run.sample)
        let s = run.sample
        let ends = run.tokenizer.eosTokenIds, begin = run.tokenizer.bosTokenId
        let sequences = s.strategy == .beam ? s.beamWidth : s.numSamples
        if let quantized {
            tokenizer = quantized.tokenizer
            generator = Generator(rows: try quantizedRows(quantized.checkpoint, model: run.model, context: options.context), tokenizer: tokenizer,
                                  endTokenIds: ends, beginTokenId: begin)
            directory = quantized.checkpoint.directory
        } else if sequences == 1 && run.model == stored.model && stored.lora == nil && InferenceModel.supports(run.model) {
            // One sequence of the stored model: the per-token path over the mapped weights (no copy, no autograd).
            let mapped: Checkpoint.Mapped
            (mapped, tokenizer) = try mapCheckpointWithTokenizer(checkpointPath)
            let window = try contextWindow(options.context, for: run.model, batch: 1) ?? run.model.contextLength
            let model = run.model
            generator = Generator(rows: InferenceRows { InferenceModel(float: mapped.weights, config: model, contextWindow: window) },
                                  tokenizer: tokenizer, endTokenIds: ends, beginTokenId: begin)
            directory = mapped.directory
        } else {
            let loaded: Checkpoint.Loaded
            (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpointPath)
            let model = try inferenceModel(loaded, model: run.model, overrides: options.overrides, context: options.context, batch: sequences)
            // One sequence: the per-token path (no autograd, faster at batch 1); several: one batched forward per step.
            generator = sequences == 1 && InferenceModel.supports(model.config)
                ? Generator(rows: InferenceRows { InferenceModel(model: model) }, tokenizer: tokenizer, endTokenIds: ends, beginTokenId: begin)
                : Generator(model: model, tokenizer: tokenizer, endTokenIds: ends, beginTokenId: begin)
            directory = loaded.directory
        }
        self.run = run
    }
}
