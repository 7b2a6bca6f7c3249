import Foundation
import Files
import Config
import Generate

extension RequestDefaults {
    /// What a request gets when it does not say, from the server's sample
    /// settings: `given` names the sample fields set explicitly (sample.seed,
    /// sample.max_new_tokens). max_tokens defaults to 256 unless given; without
    /// a seed given, a request that sends none gets a random one.
    public init(_ s: SampleConfig, given: Set<String>) throws {
        if s.strategy == .beam { throw UsageError("serve answers token by token: --strategy greedy or sample (beam search is tinygpt sample's)") }
        if s.numSamples != 1 { throw UsageError("sample.num_samples: a request asks for its choices with 'n'; drop the setting") }
        self.init()
        settings = DecodingSettings(s)
        stop = s.stop
        maxTokens = given.contains("sample.max_new_tokens") ? s.maxNewTokens : 256
        if given.contains("sample.seed") { seed = UInt64(bitPattern: Int64(s.seed)) }
    }
}

extension ServeSettings {
    /// Refuses, before the server starts, `parallel` slots that need more than
    /// this machine's memory: every slot holds a KV cache for the whole window.
    public func requireMemory(_ model: ModelConfig, context: Int?) throws {
        let window = max(context ?? 0, model.contextLength)
        let needed = ModelCost(model).generationBytes(sequences: parallel, promptLength: 1, maxNewTokens: window, window: window)
        try ModelCost.requireMemory(needed) {
            String(format: "--parallel %d: %d slots of this model with a %d-token window need about %.1f GB (KV caches, logits, weights), more than this machine's %.1f GB; lower --parallel",
                   parallel, parallel, window, $0, $1)
        }
    }
}
