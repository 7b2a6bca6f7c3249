import Foundation
import Kernels
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
/// token by position, of the random model or a checkpoint (`SampleBenchmark`).
func runSampleBench(_ a: inout Arguments) throws {
    var request = SampleBenchmark.Request(threads: 0)
    request.checkpoint = try a.option("checkpoint")
    request.tokens = try a.int("tokens", in: 1...100_000)
    request.promptTokens = try a.int("prompt-tokens", in: 1...100_000)
    request.threads = try a.threads() ?? Parallel.threads
    let strategy = try a.value("strategy")
    guard ["greedy", "top-p"].contains(strategy) else { throw CLIError("--strategy must be greedy or top-p, got '\(strategy)'") }
    request.greedy = strategy == "greedy"
    let json = a.flag("json")
    let weightsOption = try a.option("weights")
    let weightsName = weightsOption ?? "float32"
    request.format = QuantizedFormat(rawValue: weightsName)
    guard request.format != nil || weightsName == "float32" else { throw CLIError("--weights must be float32, int8 or int4, got '\(weightsName)'") }
    let path = try a.value("path")
    guard ["token", "batched"].contains(path) else { throw CLIError("--path must be token or batched, got '\(path)'") }
    request.batched = path == "batched"
    if request.batched && request.format != nil { throw CLIError("--path batched runs float32 weights only") }
    let groupText = try a.option("group-size")
    request.overrides = try a.options("set")
    request.keyValueCache = !a.flag("no-kv-cache")
    try a.finish()
    if request.checkpoint != nil {
        if weightsOption != nil || groupText != nil || !request.overrides.isEmpty {
            throw CLIError("--checkpoint runs the checkpoint as it is stored; --weights, --group-size and --set apply to the random model only")
        }
        if request.batched { throw CLIError("--checkpoint runs the per-token path; --path batched is for the random model") }
    }
    request.groupSize = try groupSize(groupText)
    let measured = try SampleBenchmark.run(request, note: printNote)
    for line in json ? [measured.json] : measured.lines { print(line) }
}
