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
