import Foundation
import Files
import Kernels
import Model
import Config
import Formats
import Tokenizer

/// `bench sample`: prefill and decode speed of a logits source, timed token by token.
public enum SampleBenchmark {
    /// The random model's config: llama2.c's stories15M shape (vocabulary 512), then `overrides`.
    public static func randomModelConfig(overrides: [String]) throws -> RunConfig {
        var run = RunConfig()
        run.model.vocabSize = 512; run.model.contextLength = 256; run.model.nLayer = 6; run.model.dModel = 288
        run.model.nHead = 6; run.model.nKVHead = 6; run.model.dFF = 768; run.model.norm = .rmsNorm
        run.model.position = .rope; run.model.activation = .swiglu; run.model.bias = false; run.model.tieEmbeddings = false
        try run.apply(overrides: overrides)
        try run.validate()
        return run
    }

    /// A random-weight model of `config`: quantized to `format` in groups of
    /// `groupSize` (default as quantize), else float32 on the per-token path
    /// when `batched` is false and the model supports it, else batched.
    public static func randomSource(config: ModelConfig, format: QuantizedFormat?, groupSize: Int?, batched: Bool) throws -> any LogitsSource {
        let gpt = GPT(config: config, seed: 1)
        if let format {
            let g: Int
            if let groupSize {
                do { try QuantizedCheckpoint.checkGroupSize(groupSize, config, format: format, embeddings: true) } catch let e as FormatError { throw UsageError(e.description) }
                g = groupSize
            } else {
                g = QuantizedCheckpoint.defaultGroupSize(config, format: format, embeddings: true)
            }
            let weights = QuantizedWeights(quantizing: gpt, format: format, groupSize: g, embeddings: true)
            return InferenceRows { InferenceModel(quantized: weights, config: config) }
        } else if !batched && InferenceModel.supports(config) {
            return InferenceRows { InferenceModel(model: gpt) }
        }
        return BatchedModel(gpt)
    }

    /// What `bench sample` times: a checkpoint as `sample` reads it, or the random model.
    public struct Request {
        public var checkpoint: String?
        /// The random model's weights (nil: float32), in groups of `groupSize` (default as quantize).
        public var format: QuantizedFormat?
        public var groupSize: Int?
        /// The random model on the autograd path (float32 only) instead of the per-token one.
        public var batched = false
        /// --set on the random model's config.
        public var overrides: [String] = []
        public var promptTokens = 1, tokens = 256
        public var greedy = true
        public var keyValueCache = true
        public var threads: Int
        public init(threads: Int) { self.threads = threads }
    }

    /// A run's report as `bench sample` prints it.
    public struct Measurement {
        public let request: Request
        public let report: Report
        public let weights: String, path: String

        public var json: String {
            "{\"op\":\"sample\",\"weights\":\"\(weights)\",\"path\":\"\(path)\",\"strategy\":\"\(request.greedy ? "greedy" : "top-p")\",\"kv_cache\":\(request.keyValueCache),\"tokens\":\(request.tokens),"
                + "\"prompt_tokens\":\(request.promptTokens),\"threads\":\(request.threads),\"prefill_tokens_per_s\":\(String(format: "%.1f", report.prefillTokensPerSecond)),"
                + "\"tokens_per_s\":\(String(format: "%.1f", report.tokensPerSecond))}"
        }

        public var lines: [String] {
            let r = request, threads = r.threads
            return [String(format: "sample (%@ %@%@, %@, %d thread%@): prefill %d tokens in %.3f s = %.1f tokens/s; decode %d tokens at %.1f tokens/s",
                           weights, path, r.keyValueCache ? "" : ", no KV cache", r.greedy ? "greedy" : "top-p", threads, threads == 1 ? "" : "s",
                           r.promptTokens, report.prefillSeconds, report.prefillTokensPerSecond, r.tokens, report.tokensPerSecond),
                    "ms per token by position (the first includes the prefill): " + report.buckets.joined(separator: ", ")]
        }
    }

    /// Opens the checkpoint (or builds the random model), checks the prompt
    /// against its context and the run against this machine's memory, then times it.
    public static func run(_ request: Request, note: @escaping (String) -> Void) throws -> Measurement {
        let run: RunConfig, source: any LogitsSource
        var format = request.format
        if let checkpoint = request.checkpoint {
            let model = try LanguageModel(checkpoint, note: note)
            run = model.config
            if case .quantized(let f) = model.storage { format = f }
            source = try model.logitsSource(model: run.model, context: nil, sequences: 1)
        } else {
            run = try randomModelConfig(overrides: request.overrides)
            source = try randomSource(config: run.model, format: format, groupSize: request.groupSize, batched: request.batched)
        }
        guard request.promptTokens <= source.contextWindow else {
            throw UsageError("--prompt-tokens \(request.promptTokens) exceeds the model's context of \(source.contextWindow) tokens")
        }
        let needed = ModelCost(run.model).generationBytes(sequences: 1, promptLength: request.promptTokens, maxNewTokens: request.tokens)
        try ModelCost.requireMemory(needed) {
            String(format: "this model needs about %.1f GB to sample from, more than this machine's %.1f GB; lower the sizes given with --set", $0, $1)
        }
        Parallel.threads = request.threads
        let report = self.run(source: source, promptTokens: request.promptTokens, tokens: request.tokens, greedy: request.greedy,
                              keyValueCache: request.keyValueCache)
        return Measurement(request: request, report: report, weights: format?.rawValue ?? "float32", path: source is BatchedModel ? "batched" : "token")
    }

    /// What one run measured.
    public struct Report {
        public let promptTokens: Int, tokens: Int
        public let prefillSeconds: Double, prefillTokensPerSecond: Double
        /// Decode tokens/s (1 / prefill time when a single token was asked for).
        public let tokensPerSecond: Double
        /// Milliseconds per token in four position buckets, "first-last: ms".
        public let buckets: [String]
    }

    /// Warms the buffer pool, then generates `tokens` tokens after a prompt of
    /// `promptTokens` fixed ids, greedy or top-p 0.9.
    public static func run(source: any LogitsSource, promptTokens: Int, tokens: Int, greedy: Bool, keyValueCache: Bool) -> Report {
        let vocab = source.vocabSize
        let generator = Generator(source: source, tokenizer: OneByteTokenizer(vocabSize: vocab))
        generator.usesKeyValueCache = keyValueCache
        var settings = DecodingSettings()
        if greedy { settings.greedy = true } else { settings.temperature = 1; settings.topP = 0.9 }
        // Fixed ids spread over the vocabulary (the speed does not depend on which).
        let prompt = promptTokens == 1 ? [Int32(1)] : (0..<promptTokens).map { Int32((1 + $0 * 7919) % vocab) }
        _ = generator.sample(prompt: prompt, count: 1, maxNewTokens: 8, settings: settings, seed: 1)  // warm the buffer pool
        var stamps: [UInt64] = []
        let start = DispatchTime.now().uptimeNanoseconds
        _ = generator.sample(prompt: prompt, count: 1, maxNewTokens: tokens, settings: settings, seed: 1) { _ in
            stamps.append(DispatchTime.now().uptimeNanoseconds)
        }
        // The first new token comes after the prompt's forward pass: prefill. The rest is decode.
        let prefillSeconds = Double(stamps[0] - start) / 1e9
        let decodeSeconds = Double(stamps[stamps.count - 1] - stamps[0]) / 1e9
        let rate = tokens > 1 ? Double(tokens - 1) / decodeSeconds : 1 / prefillSeconds
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
        return Report(promptTokens: promptTokens, tokens: tokens, prefillSeconds: prefillSeconds,
                      prefillTokensPerSecond: Double(promptTokens) / prefillSeconds, tokensPerSecond: rate, buckets: buckets)
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
