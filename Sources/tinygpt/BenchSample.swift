import Foundation
import Formats
import Kernels
import Model
import Config
import Tokenizer
import Generate

let sampleBenchFlags = CommandFlags(
    command: "bench sample", forms: ["[--checkpoint DIR] [--tokens N] [--prompt-tokens N] [--threads N] [--strategy greedy|top-p] [--weights float32|int8|int4]",
                                     "[--group-size G] [--path token|batched] [--no-kv-cache] [--json] [--set model.field=value ...]"],
    about: """
        prefill and decode tokens/s: a prompt of N token ids fed at once, then N tokens generated with the KV cache, from
        a random-weight model of llama2.c's stories15M shape (6 layers, d_model 288, 6 heads, SwiGLU 768, vocab 512;
        --set model.vocab_size=32000 for the full vocabulary), or from a checkpoint (float32 or quantized, read as sample reads it)
        """,
    flags: [
        Flag("checkpoint", "DIR", "a checkpoint or run directory instead of the random model (no --weights, --group-size, --set)"),
        Flag("tokens", "N", default: 256, "tokens to generate, 1...100000"),
        Flag("prompt-tokens", "N", default: 1, "prompt length, 1...100000; prefill tokens/s is N over the time to the first new token"),
        .threads, Flag("strategy", "greedy|top-p", default: "greedy", "how each token is chosen"),
        Flag("weights", "float32|int8|int4", default: "float32", "the random model's weights, quantized in groups of G"),
        Flag("group-size", "G", "weights per scale of --weights int8|int4 (default as quantize)"),
        Flag("path", "token|batched", default: "token", "the per-token path, or the autograd model (float32 only)"),
        Flag("no-kv-cache", "recompute the whole window for every token (what the cache saves)"), .json,
        .repeatable("set", "model.k=v", "change the random model's shape"),
    ])

/// `tinygpt bench sample`: prefill and decode tokens/s, and milliseconds per
/// token by position, of the random model or a checkpoint.
func runSampleBench(_ a: inout Arguments) throws {
    let checkpointPath = try a.option("checkpoint")
    let tokens = try a.int("tokens", in: 1...100_000)
    let promptTokens = try a.int("prompt-tokens", in: 1...100_000)
    let threads = try a.threads() ?? Parallel.threads
    let strategy = try a.value("strategy")
    guard ["greedy", "top-p"].contains(strategy) else { throw CLIError("--strategy must be greedy or top-p, got '\(strategy)'") }
    let json = a.flag("json")
    let weightsOption = try a.option("weights")
    let weightsName = weightsOption ?? "float32"
    var format = QuantizedFormat(rawValue: weightsName)
    guard format != nil || weightsName == "float32" else { throw CLIError("--weights must be float32, int8 or int4, got '\(weightsName)'") }
    let path = try a.value("path")
    guard ["token", "batched"].contains(path) else { throw CLIError("--path must be token or batched, got '\(path)'") }
    if path == "batched" && format != nil { throw CLIError("--path batched runs float32 weights only") }
    let groupText = try a.option("group-size")
    let overrides = try a.options("set")
    let noCache = a.flag("no-kv-cache")
    try a.finish()
    if checkpointPath != nil {
        if weightsOption != nil || groupText != nil || !overrides.isEmpty {
            throw CLIError("--checkpoint runs the checkpoint as it is stored; --weights, --group-size and --set apply to the random model only")
        }
        if path == "batched" { throw CLIError("--checkpoint runs the per-token path; --path batched is for the random model") }
    }

    var run = RunConfig()
    let source: any LogitsSource
    if let checkpointPath {
        let model = try LanguageModel(checkpointPath, note: { printError("tinygpt: note: " + $0) })
        run = model.config
        if case .quantized(let f) = model.storage { format = f }
        source = try model.logitsSource(model: run.model, context: nil, sequences: 1)
    } else {
        run = try SampleBenchmark.randomModelConfig(overrides: overrides)
        let groupSize = try groupText.map { text -> Int in
            guard let g = Int(text) else { throw CLIError("--group-size must be an integer ≥ 1, got '\(text)'") }
            return g
        }
        source = try SampleBenchmark.randomSource(config: run.model, format: format, groupSize: groupSize, batched: path == "batched")
    }
    guard promptTokens <= source.contextWindow else {
        throw CLIError("--prompt-tokens \(promptTokens) exceeds the model's context of \(source.contextWindow) tokens")
    }
    let needed = ModelCost(run.model).generationBytes(sequences: 1, promptLength: promptTokens, maxNewTokens: tokens)
    guard needed <= Double(ProcessInfo.processInfo.physicalMemory) else {
        throw CLIError(String(format: "this model needs about %.1f GB to sample from, more than this machine's %.1f GB; lower the sizes given with --set",
                              needed / 1e9, Double(ProcessInfo.processInfo.physicalMemory) / 1e9))
    }
    Parallel.threads = threads

    let r = SampleBenchmark.run(source: source, promptTokens: promptTokens, tokens: tokens, greedy: strategy == "greedy", keyValueCache: !noCache)
    let weightsLabel = format?.rawValue ?? "float32"
    let pathLabel = source is BatchedModel ? "batched" : "token"
    if json {
        print("{\"op\":\"sample\",\"weights\":\"\(weightsLabel)\",\"path\":\"\(pathLabel)\",\"strategy\":\"\(strategy)\",\"kv_cache\":\(!noCache),\"tokens\":\(tokens),"
              + "\"prompt_tokens\":\(promptTokens),\"threads\":\(threads),\"prefill_tokens_per_s\":\(String(format: "%.1f", r.prefillTokensPerSecond)),"
              + "\"tokens_per_s\":\(String(format: "%.1f", r.tokensPerSecond))}")
    } else {
        print(String(format: "sample (%@ %@%@, %@, %d thread%@): prefill %d tokens in %.3f s = %.1f tokens/s; decode %d tokens at %.1f tokens/s",
                     weightsLabel, pathLabel, noCache ? ", no KV cache" : "", strategy, threads, threads == 1 ? "" : "s", promptTokens, r.prefillSeconds, r.prefillTokensPerSecond, tokens, r.tokensPerSecond))
        print("ms per token by position (the first includes the prefill): " + r.buckets.joined(separator: ", "))
    }
}
