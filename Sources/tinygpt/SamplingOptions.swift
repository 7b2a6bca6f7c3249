import Foundation
import Kernels
import Config
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
                             "early-stopping": "early_stopping", "min-new-tokens": "min_new_tokens",
                             "num-samples": "num_samples", "seed": "seed"]

    /// The flags of the sample section that every decoding command reads.
    static let commonFlags: [Flag] = [
        Flag("config", "FILE", "a config whose sample section applies (its other sections are ignored)"),
        .repeatable("set", "sample.k=v", "a sample.* setting, or model.rope_scaling (the checkpoint fixes the rest)"),
        Flag("max-new-tokens", "N", "tokens to generate"),
        Flag("temperature", "T", "divides the logits before a random draw"),
        Flag("top-k", "K", "draw among the K most likely tokens"),
        Flag("top-p", "P", "draw among the most likely tokens whose probabilities sum to P"),
        Flag("min-p", "P", "drop tokens less likely than P × the most likely one"),
        Flag("repetition-penalty", "R", "divide the logits of tokens already in the text by R"),
        Flag("no-repeat-ngram", "N", "never repeat an n-gram of N tokens"),
        Flag("seed", "S", "the random draw's seed"),
        .repeatable("stop", "TEXT", "end the text where TEXT appears"),
        .threads,
        Flag("context", "N", "let the window grow to N tokens before it slides (positions that extrapolate)"),
    ]
    static let strategyFlag = Flag("strategy", "greedy|sample|beam", "how each token is chosen")
    static let beamFlags: [Flag] = [
        Flag("beam-width", "W", "beams kept (strategy beam)"),
        Flag("length-penalty", "L", "divides a beam's score by its length^L"),
        Flag("early-stopping", "never|true|false", "when beam search stops (as transformers)"),
        Flag("min-new-tokens", "N", "no end token before N new tokens"),
        Flag("num-samples", "N", "samples drawn, or beams returned"),
    ]

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
        for (flag, field) in SamplingOptions.fieldFlags.sorted(by: { $0.key < $1.key }) where a.declares(flag) {
            if let value = try a.option(flag) { overrides.append("sample.\(field)=\(value)") }
        }
        stops = try a.options("stop")
        threads = try a.threads()
        context = try a.positiveInt("context")
    }

    /// The checkpoint's run config with the options applied: the sample section of --config,
    /// then the assignments and flags, then --stop (validated by the caller once it is complete).
    func apply(to checkpoint: RunConfig) throws -> RunConfig {
        var run = checkpoint
        if let configPath { run.sample = try RunConfig.sampleSection(ofConfig: configPath, note: printNote) }
        try run.apply(overrides: overrides)
        if !stops.isEmpty { run.sample.stop = stops }
        return run
    }

    /// The fields the assignments and flags set ("sample.seed").
    var given: Set<String> { Set(overrides.map { String($0.prefix(while: { $0 != "=" })) }) }

    /// A setting asked for here that the strategy never reads would be ignored silently: refuse it.
    func checkEffect(_ s: SampleConfig) throws {
        if let field = SampleConfig.fieldsWithoutEffect(under: s.strategy).first(where: { given.contains("sample.\($0)") }) {
            let flag = SamplingOptions.fieldFlags.first { $0.value == field }.map { "--\($0.key)" } ?? "sample.\(field)"
            let why = s.strategy == .sample ? "it belongs to beam search (--strategy beam)"
                : "\(s.strategy == .beam ? "beam search ranks continuations by log-probability" : "greedy decoding takes the most likely token") and draws nothing (it applies to --strategy sample)"
            throw CLIError("\(flag) has no effect with strategy \(s.strategy.rawValue): \(why); drop it or change the strategy")
        }
    }
}

/// A checkpoint opened for generation with the sampling options applied: the
/// model, its run config (the sample section as asked), and a generator that
/// stops at the model's end tokens. One sequence takes the per-token path
/// where the model allows it (`LanguageModel`).
struct OpenedForGeneration {
    let model: LanguageModel
    let run: RunConfig
    let generator: Generator
    var tokenizer: any Tokenizer { model.tokenizer }

    init(_ checkpointPath: String, options: SamplingOptions, adjust: (inout RunConfig) -> Void = { _ in }) throws {
        if let threads = options.threads { Parallel.threads = threads }
        model = try LanguageModel(checkpointPath, note: printNote)
        var run = try options.apply(to: model.config)
        adjust(&run)
        try run.validate()
        try options.checkEffect(run.sample)
        generator = try model.generator(model: run.model, context: options.context, sequences: run.sample.sequences)
        self.run = run
    }
}
