import Foundation
import Kernels
import Model
import Config
import Tokenizer
import Generate

/// `tinygpt bench sample [--tokens N] [--threads T] [--strategy greedy|top-p] [--json] [--set model.k=v ...]`:
/// tokens per second generating N tokens from a one-token prompt with a
/// random-weight llama-style model (the shape of llama2.c's stories15M:
/// 6 layers, d_model 288, 6 heads, SwiGLU d_ff 768, RMSNorm, RoPE, no bias,
/// context 256, vocab 512), and milliseconds per token by position.
func runSampleBench(_ args: [String]) throws {
    var a = Arguments(args)
    let tokens = try a.int("tokens", default: 256, in: 1...100_000)
    let threads = try a.threads() ?? Parallel.threads
    let strategy = try a.option("strategy") ?? "greedy"
    guard ["greedy", "top-p"].contains(strategy) else { throw CLIError("--strategy must be greedy or top-p, got '\(strategy)'") }
    let json = a.flag("json")
    var run = RunConfig()
    run.model.vocabSize = 512; run.model.contextLength = 256; run.model.nLayer = 6; run.model.dModel = 288
    run.model.nHead = 6; run.model.nKVHead = 6; run.model.dFF = 768; run.model.norm = .rmsNorm
    run.model.position = .rope; run.model.activation = .swiglu; run.model.bias = false; run.model.tieEmbeddings = false
    try run.apply(overrides: try a.options("set"))
    try a.finish()
    try run.validate()
    let needed = Generator.estimatedBytes(config: run.model, sequences: 1, promptLength: 1, maxNewTokens: tokens)
    guard needed <= Double(ProcessInfo.processInfo.physicalMemory) else {
        throw CLIError(String(format: "this model needs about %.1f GB to sample from, more than this machine's %.1f GB; lower the sizes given with --set",
                              needed / 1e9, Double(ProcessInfo.processInfo.physicalMemory) / 1e9))
    }
    Parallel.threads = threads

    let model = GPT(config: run.model, seed: 1)
    let generator = Generator(model: model, tokenizer: OneByteTokenizer(vocabSize: run.model.vocabSize!))
    var settings = DecodingSettings()
    if strategy == "greedy" { settings.greedy = true } else { settings.temperature = 1; settings.topP = 0.9 }
    _ = generator.sample(prompt: [1], count: 1, maxNewTokens: 8, settings: settings, seed: 1)  // warm the buffer pool
    var stamps: [UInt64] = []
    let start = DispatchTime.now().uptimeNanoseconds
    _ = generator.sample(prompt: [1], count: 1, maxNewTokens: tokens, settings: settings, seed: 1) { _ in
        stamps.append(DispatchTime.now().uptimeNanoseconds)
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let rate = Double(tokens) / seconds
    // Milliseconds per token in position buckets (flat with a KV cache).
    let bucket = max(1, tokens / 4)
    var buckets: [String] = []
    var previous = start
    var sum = 0.0, n = 0, first = 0
    for (i, s) in stamps.enumerated() {
        sum += Double(s - previous) / 1e6; n += 1; previous = s
        if (i + 1) % bucket == 0 || i == stamps.count - 1 {
            buckets.append(String(format: "%d-%d: %.2f", first + 1, i + 1, sum / Double(n)))
            sum = 0; n = 0; first = i + 1
        }
    }
    if json {
        print("{\"op\":\"sample\",\"strategy\":\"\(strategy)\",\"tokens\":\(tokens),\"threads\":\(threads),\"tokens_per_s\":\(String(format: "%.1f", rate))}")
    } else {
        print(String(format: "sample (%@, %d thread%@): %d tokens in %.2f s = %.1f tokens/s", strategy, threads, threads == 1 ? "" : "s", tokens, seconds, rate))
        print("ms per token by position: " + buckets.joined(separator: ", "))
    }
}

/// A stand-in tokenizer for benchmarks: every id decodes to one byte.
struct OneByteTokenizer: Tokenizer {
    let vocabSize: Int
    var specialTokens: [String: Int] { [:] }
    func encode(_ text: String) throws -> [Int] { text.utf8.map { Int($0) % vocabSize } }
    func decodeBytes(_ ids: [Int]) -> [UInt8] { ids.map { UInt8(32 + $0 % 90) } }
    func jsonString() -> String { "{}" }
}
