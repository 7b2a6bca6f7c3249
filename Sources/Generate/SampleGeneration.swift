import Foundation
import Files
import Config
import Tokenizer

extension Generator {
    /// A prompt as `sample` reads it: encoded with what the tokenizer's
    /// post-processor adds (a BOS, as transformers and llama.cpp do), the start
    /// token when empty, and its last `contextWindow` tokens when longer (`note` says so).
    public func prompt(_ text: String, note: (String) -> Void) throws -> [Int32] {
        var prompt = try tokenizer.encode(text, addingSpecialTokens: true).map { Int32($0) }
        if prompt.isEmpty { prompt = [startToken()] }
        if prompt.count > contextWindow {
            note("the prompt has \(prompt.count) tokens; keeping its last \(contextWindow) (the context window)")
            prompt = Array(prompt.suffix(contextWindow))
        }
        return prompt
    }

    /// Refuses, before any cache is allocated, to generate the sequences the
    /// sample section asks for (beams or samples) when they need more than
    /// this machine's memory; the KV caches are sized by the window.
    public func requireMemory(_ run: RunConfig, promptLength: Int) throws {
        let s = run.sample
        let sequences = s.sequences
        let needed = ModelCost(run.model).generationBytes(sequences: sequences, promptLength: promptLength, maxNewTokens: s.maxNewTokens,
                                                          window: contextWindow)
        try ModelCost.requireMemory(needed) {
            String(format: "generating %d sequence%@ of this model needs about %.1f GB (KV caches, logits, weights), more than this machine's %.1f GB; lower --%@",
                   sequences, sequences == 1 ? "" : "s", $0, $1, s.strategy == .beam ? "beam-width" : "num-samples")
        }
    }

    /// Continues `prompt` as the sample section says: beam search (the best
    /// num_samples beams, with scores) or num_samples sampled or greedy
    /// sequences. `onText` streams sample 0's text when given.
    public func generate(prompt: [Int32], _ s: SampleConfig, onText: ((String) -> Void)? = nil) -> [Output] {
        let settings = DecodingSettings(s)
        if s.strategy == .beam {
            return beamSearch(prompt: prompt, width: s.beamWidth, count: min(s.numSamples, s.beamWidth), maxNewTokens: s.maxNewTokens,
                              lengthPenalty: s.lengthPenalty, earlyStopping: s.earlyStopping, settings: settings, stop: s.stop)
        }
        return sample(prompt: prompt, count: s.numSamples, maxNewTokens: s.maxNewTokens, settings: settings,
                      seed: UInt64(bitPattern: Int64(s.seed)), stop: s.stop, onText: onText)
    }
}
