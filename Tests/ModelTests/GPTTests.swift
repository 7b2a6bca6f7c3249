import XCTest
import Kernels
import Autograd
import NN
import Model
import Config

final class GPTTests: XCTestCase {
    /// A tiny model whose sizes are deliberately not multiples of the SIMD width.
    func tinyConfig(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 7; c.contextLength = 6; c.nLayer = 2; c.dModel = 12; c.nHead = 3; c.dFF = 10
        c.dropout = 0
        change(&c)
        return c
    }

    let ids: [Int32] = [1, 4, 0, 6, 2, 1, 3, 3, 5, 0]  // (B 2, T 5)
    let targets: [Int32] = [4, 0, 6, 2, 1, 3, 3, 5, 0, 2]

    /// Every option, varied one at a time from the gpt2-like base.
    var variants: [(String, ModelConfig)] {
        var list: [(String, ModelConfig)] = [("base", tinyConfig())]
        for norm in NormKind.allCases { for place in NormPosition.allCases {
            list.append(("\(norm)/\(place)", tinyConfig { $0.norm = norm; $0.normPosition = place }))
        } }
        for position in PositionEncoding.allCases { list.append(("\(position)", tinyConfig { $0.position = position; $0.nHead = 2 })) }
        for kv in [3, 1] { list.append(("kv \(kv)", tinyConfig { $0.nKVHead = kv })) }
        list.append(("gqa", tinyConfig { $0.dModel = 16; $0.nHead = 4; $0.nKVHead = 2; $0.position = .rope }))
        for activation in ActivationKind.allCases { list.append(("\(activation)", tinyConfig { $0.activation = activation })) }
        list.append(("untied, no bias", tinyConfig { $0.tieEmbeddings = false; $0.bias = false }))
        for scheme in InitScheme.allCases { list.append(("init \(scheme)", tinyConfig { $0.initialization = scheme })) }
        list.append(("swish, learned β", tinyConfig { $0.activation = .swish; $0.swishBeta = .learnable }))
        list.append(("swiglu, learned β", tinyConfig { $0.activation = .swiglu; $0.swishBeta = .learnable }))
        list.append(("swiglu, β 2", tinyConfig { $0.activation = .swiglu; $0.swishBeta = .fixed(2) }))
        list.append(("zero-init outputs", tinyConfig { $0.zeroInitOutput = true }))
        list.append(("qk-norm rope", tinyConfig { $0.qkNorm = true; $0.position = .rope; $0.nHead = 2 }))
        list.append(("qk-norm learned gqa", tinyConfig { $0.qkNorm = true; $0.nKVHead = 1 }))
        list.append(("logit softcap", tinyConfig { $0.logitSoftcap = 0.7 }))
        list.append(("zero-init head", tinyConfig { $0.tieEmbeddings = false; $0.zeroInitHead = true }))
        list.append(("speed-run options", tinyConfig {
            $0.qkNorm = true; $0.position = .rope; $0.nHead = 2; $0.activation = .relu2; $0.logitSoftcap = 2; $0.tieEmbeddings = false
        }))
        list.append(("value residual", tinyConfig { $0.valueResidual = true }))
        list.append(("value embeddings, 2 tables on 2 layers", tinyConfig { $0.valueEmbeddings = 2; $0.nKVHead = 1 }))
        list.append(("value residual + 1 table on 3 layers, rope", tinyConfig {
            $0.nLayer = 3; $0.valueResidual = true; $0.valueEmbeddings = 1; $0.position = .rope; $0.nHead = 2; $0.qkNorm = true
        }))
        // 4 buckets up to distance 3: the logarithmic buckets and the last one within 5 positions.
        list.append(("t5, 4 buckets", tinyConfig { $0.position = .t5; $0.relativeAttentionNumBuckets = 4; $0.relativeAttentionMaxDistance = 3 }))
        return list
    }

    func testWholeModelGradientsForEveryOption() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            // One scalar loss: float32 noise in it is ~1e-7, so a step of 1e-3
            // is accurate and makes crossing a ReLU kink unlikely.
            let c = compareGradients(of: model.parameters.map(\.tensor), step: 1e-3) {
                model.loss(ids, targets: targets, batch: 2, length: 5)
            }
            let w = c.worst(absolute: 3e-3, relative: 1e-2)
            XCTAssertLessThanOrEqual(w.ratio, 1, "\(name): \(model.parameters[max(w.input, 0)].name)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)")
        }
    }

    func testCausality() {
        // A zero-initialised head gives all-zero logits until it trains: nothing to see change.
        for (name, config) in variants where !config.zeroInitHead {
            let model = GPT(config: config, seed: 4)
            let before = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            var changed = ids
            changed[3] = (changed[3] + 1) % 7  // batch 0, position 3
            let after = Autograd.noGrad { model(changed, batch: 2, length: 5) }.toArray()
            let v = 7
            XCTAssertEqual(Array(before[0..<(3 * v)]), Array(after[0..<(3 * v)]), "\(name): positions before 3 must not change")
            XCTAssertNotEqual(Array(before[(3 * v)..<(4 * v)]), Array(after[(3 * v)..<(4 * v)]), "\(name): position 3 must change")
            XCTAssertEqual(Array(before[(5 * v)...]), Array(after[(5 * v)...]), "\(name): the other batch row must not change")
        }
    }

    func testParameterCountsMatchTheFormulas() {
        var gpt2 = ModelConfig()  // gpt2-style: layernorm, learned positions, gelu, MHA, bias, tied
        gpt2.vocabSize = 65; gpt2.contextLength = 64; gpt2.nLayer = 3; gpt2.dModel = 48; gpt2.nHead = 4; gpt2.dFF = 100
        let (v, t, l, c, f) = (65, 64, 3, 48, 100)
        let perBlockGPT2 = 2 * (2 * c) + 4 * (c * c + c) + (c * f + f) + (f * c + c)
        XCTAssertEqual(GPT(config: gpt2, seed: 1).parameters.map(\.tensor.count).reduce(0, +), v * c + t * c + l * perBlockGPT2 + 2 * c)

        var llama = ModelConfig()  // llama-style: rmsnorm, rope, swiglu, GQA, no bias
        llama.vocabSize = 65; llama.contextLength = 64; llama.nLayer = 3; llama.dModel = 48; llama.nHead = 4; llama.nKVHead = 2
        llama.dFF = 100; llama.norm = .rmsNorm; llama.position = .rope; llama.activation = .swiglu; llama.bias = false
        llama.tieEmbeddings = false
        let kv = 2 * (48 / 4)
        let perBlockLlama = 2 * c + (c * c) + 2 * (c * kv) + (c * c) + 3 * (c * f)
        XCTAssertEqual(GPT(config: llama, seed: 1).parameters.map(\.tensor.count).reduce(0, +), v * c + l * perBlockLlama + c + v * c)
    }

    func testParameterNamesAreUniqueAndStable() {
        let names = GPT(config: tinyConfig { $0.activation = .swiglu; $0.tieEmbeddings = false }, seed: 1).parameters.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(names.first, "token_embedding.weight")
        XCTAssertTrue(names.contains("blocks.1.attn.q.weight"))
        XCTAssertTrue(names.contains("blocks.0.ffn.gate.weight"))
        XCTAssertTrue(names.contains("final_norm.weight"))
        XCTAssertEqual(names.last, "lm_head.weight")
    }

    func testSameSeedSameModel() {
        let a = GPT(config: tinyConfig(), seed: 9).parameters.flatMap { $0.tensor.toArray() }
        let b = GPT(config: tinyConfig(), seed: 9).parameters.flatMap { $0.tensor.toArray() }
        XCTAssertEqual(a, b)
    }

    func testTinyModelOverfitsOneSentence() {
        let text = Array("the cat sat on the mat.".utf8).map { Int32($0 % 32) }
        var config = tinyConfig { $0.vocabSize = 32; $0.contextLength = 22; $0.dModel = 32; $0.nHead = 4; $0.dFF = 64 }
        config.position = .learned
        let model = GPT(config: config, seed: 5)
        var settings = OptimizerSettings()
        settings.beta2 = 0.99
        let optimizer = Optimizer(parameters: model.parameters, settings: settings)
        let inputs = Array(text.dropLast()), next = Array(text.dropFirst())
        var loss: Float = 0
        for _ in 0..<150 {
            optimizer.zeroGrad()
            let l = model.loss(inputs, targets: next, batch: 1, length: inputs.count)
            l.backward()
            optimizer.step(lr: 1e-2)
            loss = l.item
        }
        XCTAssertLessThan(loss, 0.05, "a 20k-parameter model must memorise one sentence")
    }
}
