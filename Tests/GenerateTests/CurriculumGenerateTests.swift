import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Tokenizer
import Generate

/// Generation with issue 28's options: without the KV cache, with a minimum
/// number of new tokens, from a prefix LM, and the per-token path on the new
/// positions and activations.
final class CurriculumGenerateTests: XCTestCase {
    func model(_ change: (inout ModelConfig) -> Void = { _ in }) -> GPT {
        var c = ModelConfig()
        c.vocabSize = 13; c.contextLength = 12; c.nLayer = 2; c.dModel = 16; c.nHead = 4; c.dFF = 24
        change(&c)
        return GPT(config: c, seed: 11)
    }
    let tokenizer = try! CharTokenizer(trainingText: "abcdefghijklm")

    /// Without the cache every token recomputes its window: the same tokens, on the per-token
    /// path bit for bit (the same arithmetic, repeated), on the batched path within rounding
    /// (greedy and seeded draws agree), also past the context, where the window slides.
    func testWithoutTheKeyValueCacheTheSameTokensComeOut() {
        var greedy = DecodingSettings(); greedy.greedy = true
        var drawn = DecodingSettings(); drawn.temperature = 0.9; drawn.topP = 0.95
        for position in [PositionEncoding.rope, .t5, .learned] {
            let gpt = model { $0.position = position }
            let generators = [Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tokenizer),
                              Generator(source: BatchedModel(gpt), tokenizer: tokenizer)]
            for generator in generators {
                for (settings, count) in [(greedy, 1), (drawn, 1), (drawn, 3)] where count == 1 || generator.source is BatchedModel {
                    generator.usesKeyValueCache = true
                    let cached = generator.sample(prompt: [1, 2, 3], count: count, maxNewTokens: 30, settings: settings, seed: 9)
                    generator.usesKeyValueCache = false
                    let recomputed = generator.sample(prompt: [1, 2, 3], count: count, maxNewTokens: 30, settings: settings, seed: 9)
                    XCTAssertEqual(cached.map(\.tokens), recomputed.map(\.tokens), "\(position), \(generator.source is BatchedModel ? "batched" : "per-token"), \(count) rows")
                    XCTAssertEqual(cached[0].tokens.count, 30, "past the context of 12")
                }
                generator.usesKeyValueCache = false
                let beams = generator.beamSearch(prompt: [1, 2], width: 3, count: 3, maxNewTokens: 20, lengthPenalty: 1, settings: DecodingSettings())
                generator.usesKeyValueCache = true
                XCTAssertEqual(beams.map(\.tokens), generator.beamSearch(prompt: [1, 2], width: 3, count: 3, maxNewTokens: 20, lengthPenalty: 1,
                                                                         settings: DecodingSettings()).map(\.tokens), "\(position) beams")
            }
        }
    }

    /// min_new_tokens: the end token cannot come before N new tokens, then it can (transformers' rule);
    /// the pure function bans exactly the end ids while fewer than N are generated.
    func testMinNewTokensHoldsBackTheEndToken() {
        var logits: [Float] = [1, 5, 2, 3]
        banEndTokens(&logits, endTokens: [1, 3], generated: 2, minimum: 3)
        XCTAssertEqual(logits, [1, -.infinity, 2, -.infinity])
        var unchanged: [Float] = [1, 5, 2, 3]
        banEndTokens(&unchanged, endTokens: [1, 3], generated: 3, minimum: 3)
        XCTAssertEqual(unchanged, [1, 5, 2, 3])

        let gpt = model()
        var greedy = DecodingSettings(); greedy.greedy = true
        let first = Generator(source: BatchedModel(gpt), tokenizer: tokenizer).sample(prompt: [1, 2], count: 1, maxNewTokens: 1, settings: greedy, seed: 1)[0].tokens[0]
        for generator in [Generator(source: BatchedModel(gpt), tokenizer: tokenizer, endTokenIds: [Int(first)]),
                          Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tokenizer, endTokenIds: [Int(first)])] {
            XCTAssertEqual(generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 10, settings: greedy, seed: 1)[0].tokens, [],
                           "the greedy first token is the end token")
            var atLeast = greedy; atLeast.minNewTokens = 4
            let out = generator.sample(prompt: [1, 2], count: 1, maxNewTokens: 10, settings: atLeast, seed: 1)[0].tokens
            XCTAssertGreaterThanOrEqual(out.count, 4)
            XCTAssertFalse(out.contains(first))
            var beamSettings = DecodingSettings(); beamSettings.minNewTokens = 4
            let beams = generator.beamSearch(prompt: [1, 2], width: 2, count: 2, maxNewTokens: 10, lengthPenalty: 1, settings: beamSettings)
            XCTAssertTrue(beams.allSatisfy { $0.tokens.count >= 4 }, "\(beams.map(\.tokens))")
        }
    }

    /// A prefix LM generates from its prompt read bidirectionally: the generator's tokens equal a
    /// loop of full forward passes with the prompt as prefix, cached or not; the per-token path refuses it.
    func testPrefixLMGeneration() {
        let gpt = model { $0.attention = .prefix_lm; $0.position = .t5 }
        XCTAssertFalse(InferenceModel.supports(gpt.config))
        let prompt: [Int32] = [4, 1, 7, 2]
        var sequence = prompt
        for _ in 0..<6 {
            let logits = Autograd.noGrad { gpt(sequence, batch: 1, length: sequence.count, prefixLengths: [prompt.count]) }.toArray()
            sequence.append(Int32(argmax(Array(logits.suffix(13)))))
        }
        let generator = Generator(source: BatchedModel(gpt), tokenizer: tokenizer)
        var greedy = DecodingSettings(); greedy.greedy = true
        for cache in [true, false] {
            generator.usesKeyValueCache = cache
            XCTAssertEqual(generator.sample(prompt: prompt, count: 1, maxNewTokens: 6, settings: greedy, seed: 1)[0].tokens,
                           Array(sequence.dropFirst(prompt.count)), "cache \(cache)")
        }
        // The prefix matters: read causally, the same weights give other logits after the prompt.
        let causal = Autograd.noGrad { gpt(prompt, batch: 1, length: prompt.count) }.toArray()
        let prefixed = Autograd.noGrad { gpt(prompt, batch: 1, length: prompt.count, prefixLengths: [prompt.count]) }.toArray()
        XCTAssertNotEqual(Array(causal.suffix(13)), Array(prefixed.suffix(13)))
    }

    /// The per-token path covers the new activations and learned β (T5 is among the positions in QuantizationTests).
    func testInferenceModelMatchesGPTForTheNewFeedForwards() {
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11, 4, 6]
        for (name, gpt) in [("glu", model { $0.activation = .glu }), ("sigmoid", model { $0.activation = .sigmoid }),
                            ("tanh", model { $0.activation = .tanh }), ("swiglu β 1.7", model { $0.activation = .swiglu; $0.swishBeta = .fixed(1.7) }),
                            ("swish learned β", model { $0.activation = .swish; $0.swishBeta = .learnable }),
                            ("swiglu learned β, t5", model { $0.activation = .swiglu; $0.swishBeta = .learnable; $0.position = .t5 })] {
            // Learned β away from 1, so that using it (or not) shows.
            for p in gpt.parameters where p.name.hasSuffix("swish_beta") { for i in 0..<p.tensor.count { p.tensor.data[i] = 0.5 + 0.1 * Float(i % 7) } }
            let full = Autograd.noGrad { gpt(tokens, batch: 1, length: tokens.count) }.toArray()
            let fast = InferenceModel(model: gpt).logits(tokens)
            for (i, (a, b)) in zip(fast, full).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(name) at \(i)") }
        }
    }
}
