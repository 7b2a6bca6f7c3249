import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// Bottleneck adapters, prefix tuning and prompt tuning on a GPT.
final class PEFTModelTests: XCTestCase {
    func tinyConfig(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 7; c.contextLength = 12; c.nLayer = 2; c.dModel = 12; c.nHead = 3; c.dFF = 10
        change(&c)
        return c
    }

    /// Learned, RoPE (GQA, SwiGLU), ALiBi post-norm and T5 positions.
    var variants: [(String, ModelConfig)] {
        [("gpt2-like", tinyConfig()),
         ("llama-like gqa", tinyConfig { $0.dModel = 16; $0.nHead = 4; $0.nKVHead = 2; $0.position = .rope; $0.norm = .rmsNorm
                                         $0.activation = .swiglu; $0.bias = false; $0.tieEmbeddings = false }),
         ("post-norm alibi", tinyConfig { $0.normPosition = .post; $0.position = .alibi }),
         ("t5", tinyConfig { $0.position = .t5; $0.relativeAttentionNumBuckets = 4; $0.relativeAttentionMaxDistance = 8 })]
    }

    func run(_ model: ModelConfig, _ change: (inout RunConfig) -> Void) -> RunConfig {
        var r = RunConfig()
        r.model = model
        change(&r)
        return r
    }

    func methods(_ m: ModelConfig) -> [(String, RunConfig)] {
        [("adapter", run(m) { var a = AdapterConfig(); a.bottleneck = 3; a.nonlinearity = .gelu; $0.adapter = a }),
         ("prefix mlp", run(m) { var p = PrefixTuningConfig(); p.numVirtualTokens = 3; p.encoderHiddenSize = 5; $0.prefixTuning = p }),
         ("prefix direct", run(m) { var p = PrefixTuningConfig(); p.numVirtualTokens = 2; p.prefixProjection = false; $0.prefixTuning = p }),
         ("prompt", run(m) { var p = PromptTuningConfig(); p.numVirtualTokens = 3; $0.promptTuning = p })]
    }

    let ids: [Int32] = [1, 4, 0, 6, 2, 1, 3, 3, 5, 0]  // (B 2, T 5)
    let targets: [Int32] = [4, 0, 6, 2, 1, 3, 3, 5, 0, 2]

    /// Gives every PEFT parameter random values (a fresh up-projection is zero).
    func randomize(_ model: GPT, seed: UInt64) {
        var g = RandomGenerator(seed: seed)
        for p in model.adapterParameters { for i in 0..<p.tensor.count { p.tensor.data[i] = 0.3 * g.normal() } }
    }

    func testFreshAdaptersAreTheIdentity() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            let base = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            model.attachPEFT(methods(config)[0].1, seed: 4)
            XCTAssertEqual(model.unmergeableMethod, .adapter)
            let adapted = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            for (a, b) in zip(adapted, base) { XCTAssertEqual(a, b, accuracy: 1e-6, name) }
        }
    }

    func testGradientsOfEveryMethodAgainstFiniteDifferences() {
        for (name, config) in variants {
            for (method, peft) in methods(config) {
                let model = GPT(config: config, seed: 3)
                model.attachPEFT(peft, seed: 4)
                model.freezeBase()
                randomize(model, seed: 6)
                let parameters = model.adapterParameters
                let c = compareGradients(of: parameters.map(\.tensor), step: 1e-3) { model.loss(ids, targets: targets, batch: 2, length: 5) }
                let w = c.worst(absolute: 3e-3, relative: 1e-2)
                XCTAssertLessThanOrEqual(w.ratio, 1, "\(name) \(method): \(parameters[max(w.input, 0)].name)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)")
            }
        }
    }

    /// Prefix and prompt tuning through the KV cache (a prefill, then one
    /// token at a time) give the logits of one forward pass over the whole sequence.
    func testCachedDecodingMatchesTheFullForwardPass() {
        for (name, config) in variants {
            for (method, peft) in methods(config) {
                let model = GPT(config: config, seed: 3)
                model.attachPEFT(peft, seed: 4)
                randomize(model, seed: 8)
                let sequence: [Int32] = [2, 5, 1, 1, 6, 0, 3]
                let v = model.vocabSize
                let full = Autograd.noGrad { model(sequence + sequence, batch: 2, length: 7) }.toArray()
                let caches = model.makeCaches()
                var cached = Autograd.noGrad { model(Array(sequence.prefix(3)) + Array(sequence.prefix(3)), batch: 2, length: 3, caches: caches) }.toArray()
                XCTAssertEqual(caches[0].length, model.virtualPositions + 3, "\(name) \(method)")
                for t in 3..<7 {
                    cached += Autograd.noGrad { model([sequence[t], sequence[t]], batch: 2, length: 1, offset: t, caches: caches) }.toArray()
                }
                // cached holds rows (b, t) as [b0 t0..2, b1 t0..2, then (b0 t), (b1 t) per step]
                for t in 0..<7 {
                    let at = t < 3 ? t * v : (3 * 2 + (t - 3) * 2) * v
                    for i in 0..<v { XCTAssertEqual(cached[at + i], full[t * v + i], accuracy: 2e-5, "\(name) \(method) position \(t)") }
                }
            }
        }
    }

    /// Prompt tuning with the embeddings of some tokens is the base model reading those tokens first.
    func testPromptTuningIsTheBaseReadingTheVirtualTokensFirst() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            let text: [Int32] = [3, 6, 2]
            let plain = Autograd.noGrad { model(text + Array(ids.prefix(5)), batch: 1, length: 8) }.toArray()
            var peft = RunConfig()
            var prompt = PromptTuningConfig()
            prompt.numVirtualTokens = 3; prompt.promptTuningInit = .TEXT; prompt.promptTuningInitText = "xyz"
            peft.promptTuning = prompt
            model.attachPEFT(peft, seed: 4, initTokens: text)
            let tuned = Autograd.noGrad { model(Array(ids.prefix(5)), batch: 1, length: 5) }.toArray()
            let v = model.vocabSize
            for (a, b) in zip(tuned, plain[(3 * v)...]) { XCTAssertEqual(a, b, accuracy: 1e-5, name) }
        }
    }

    /// Prefix tuning whose prefixes are the base model's own keys and values of
    /// some tokens (as cached, positions applied) is the base reading those tokens
    /// first: the real tokens continue at positions N onwards, as PEFT places them.
    func testPrefixTuningIsTheBaseReadingTheTokensBehindItsKeys() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            let text: [Int32] = [3, 6, 2]
            let plain = Autograd.noGrad { model(text + Array(ids.prefix(5)), batch: 1, length: 8) }.toArray()
            let caches = model.makeCaches()
            _ = Autograd.noGrad { model(text, batch: 1, length: 3, caches: caches) }
            var peft = RunConfig()
            var prefix = PrefixTuningConfig()
            prefix.numVirtualTokens = 3; prefix.prefixProjection = false
            peft.prefixTuning = prefix
            model.attachPEFT(peft, seed: 4)
            let encoder = model.prefixEncoder!
            let (kv, hkv, d) = (encoder.kvWidth, config.kvHeads, config.headSize)
            let row = 2 * config.nLayer * kv
            for (layer, cache) in caches.enumerated() {
                let capacity = cache.capacity
                for t in 0..<3 { for h in 0..<hkv { for i in 0..<d {
                    let source = (h * capacity + t) * d + i
                    encoder.embedding.data[t * row + 2 * layer * kv + h * d + i] = cache.keys!.data[source]
                    encoder.embedding.data[t * row + (2 * layer + 1) * kv + h * d + i] = cache.values!.data[source]
                } } }
            }
            let tuned = Autograd.noGrad { model(Array(ids.prefix(5)), batch: 1, length: 5) }.toArray()
            let v = model.vocabSize
            for (a, b) in zip(tuned, plain[(3 * v)...]) { XCTAssertEqual(a, b, accuracy: 1e-5, name) }
        }
    }

    func testTrainableCountsAndFreezing() {
        for (name, config) in variants {
            for (method, peft) in methods(config) + [("lora", run(config) { var l = LoRAConfig(); l.rank = 2; $0.lora = l })] {
                let model = GPT(config: config, seed: 3)
                model.attachPEFT(peft, seed: 4)
                model.freezeBase()
                XCTAssertEqual(model.adapterParameters.map(\.tensor.count).reduce(0, +), peft.peftTrainableParameters, "\(name) \(method)")
                model.loss(ids, targets: targets, batch: 2, length: 5).backward()
                XCTAssertTrue(model.parameters.allSatisfy { $0.tensor.grad == nil }, "\(name) \(method)")
                XCTAssertTrue(model.adapterParameters.allSatisfy { $0.tensor.grad != nil }, "\(name) \(method)")
            }
        }
    }

    func testVirtualTokensShortenTheWindow() {
        let config = tinyConfig()
        let model = GPT(config: config, seed: 3)
        model.attachPEFT(methods(config)[3].1, seed: 4)
        XCTAssertEqual(model.virtualPositions, 3)
        XCTAssertEqual(model.tokenWindow, config.contextLength - 3)
    }

    // MARK: checkpoints

    func testCheckpointsRoundTripWithTheBaseUnchanged() throws {
        let directory = try Scratch.directory("peft-checkpoint")
        defer { Scratch.remove(directory) }
        for (method, peft) in methods(variants[1].1) {
            var run = peft
            run.model.vocabSize = 7
            let model = GPT(config: run.model, seed: 3)
            model.attachPEFT(run, seed: 4)
            randomize(model, seed: 9)
            let logits = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            let url = directory.appendingPathComponent(method.replacingOccurrences(of: " ", with: "-"))
            try Checkpoint.save(model: model, config: run, tokenizerJSON: Data("{}".utf8), to: url)
            let base = try SafeTensors.read(from: url.appendingPathComponent(Checkpoint.weightsFile))
            XCTAssertEqual(base.tensors.map(\.name), GPT(config: run.model, seed: 3).parameters.map(\.name), "\(method): the base only")
            let adapters = try SafeTensors.read(from: url.appendingPathComponent(Checkpoint.adapterFile))
            XCTAssertEqual(adapters.tensors.contains { $0.name == PrefixEncoder.prefixesName }, method == "prefix mlp", method)
            let loaded = try Checkpoint.load(from: url)
            XCTAssertEqual(Autograd.noGrad { loaded.model(ids, batch: 2, length: 5) }.toArray(), logits, method)
            XCTAssertEqual(Autograd.noGrad { loaded.model.withPositions(run.model, contextWindow: 20)(ids, batch: 2, length: 5) }.toArray(), logits, method)
        }
    }

    // MARK: config

    func testSectionsRoundTripWithPEFTNames() throws {
        let json = #"{"prefix_tuning": {"num_virtual_tokens": 4, "prefix_projection": false, "encoder_hidden_size": 32}}"#
        let config = try RunConfig.parse(json: Data(json.utf8), source: "test")
        XCTAssertEqual(config.prefixTuning?.numVirtualTokens, 4)
        XCTAssertEqual(config.peftMethod, .prefix_tuning)
        var set = RunConfig()
        try set.apply(overrides: ["prompt_tuning.prompt_tuning_init=TEXT", "prompt_tuning.prompt_tuning_init_text=Hello"])
        XCTAssertEqual(set.promptTuning?.promptTuningInit, .TEXT)
        set.promptTuning = nil
        try set.apply(overrides: ["adapter.bottleneck=4", "adapter.positions=feed_forward"])
        XCTAssertEqual(set.adapter?.positionKinds, [.feed_forward])
        set.model.vocabSize = 5
        let back = try RunConfig.parse(json: try set.jsonData(), source: "round trip")
        XCTAssertEqual(back.adapter, set.adapter)
        XCTAssertNil(back.promptTuning)
    }

    func testBadSectionsAreRefusedWithOneLine() {
        let cases: [(String, String)] = [
            (#"{"lora": {}, "adapter": {}}"#, "sections lora and adapter both choose a parameter-efficient method"),
            (#"{"prefix_tuning": {}, "prompt_tuning": {}}"#, "sections prefix_tuning and prompt_tuning"),
            (#"{"adapter": {"bottleneck": 0}}"#, "adapter.bottleneck must be in [1"),
            (#"{"adapter": {"bottleneck": 65}, "model": {"d_model": 64, "n_head": 4}}"#, "adapter.bottleneck (65) exceeds model.d_model (64)"),
            (#"{"adapter": {"positions": ["mlp"]}}"#, "unknown position 'mlp'"),
            (#"{"adapter": {"positions": []}}"#, "adapter.positions is empty"),
            (#"{"adapter": {"nonlinearity": "softplus"}}"#, "adapter.nonlinearity must be one of"),
            (#"{"prefix_tuning": {"num_virtual_tokens": 0}}"#, "prefix_tuning.num_virtual_tokens must be in [1"),
            (#"{"prompt_tuning": {"num_virtual_tokens": -2}}"#, "prompt_tuning.num_virtual_tokens must be in [1"),
            (#"{"prompt_tuning": {"num_virtual_tokens": 16}, "model": {"context_length": 16}}"#, "prompt_tuning.num_virtual_tokens (16) leaves no room in model.context_length (16)"),
            (#"{"prompt_tuning": {"prompt_tuning_init": "TEXT"}}"#, "prompt_tuning_init_text is empty"),
            (#"{"prefix_tuning": {}, "train": {"objective": "dpo"}}"#, "prefix_tuning trains with train.objective lm or sft"),
            (#"{"prefix_tuning": {}, "train": {"objective": "sft"}, "model": {"attention": "prefix_lm"}}"#, "prefix_tuning needs causal attention"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try RunConfig.parse(json: Data(json.utf8), source: "c.json"), json) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(json): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
    }
}
