import XCTest
import Kernels
import Autograd
import NN
import Model
import Config

/// What each of issue 28's model options changes, and that it changes nothing else.
final class CurriculumModelTests: XCTestCase {
    func tinyConfig(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 11; c.contextLength = 9; c.nLayer = 2; c.dModel = 12; c.nHead = 3; c.dFF = 10
        c.dropout = 0
        change(&c)
        return c
    }

    func parameters(_ model: GPT) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor.toArray()) })
    }

    let ids: [Int32] = [1, 4, 0, 6, 2, 10, 3, 3, 5, 0, 7, 8]  // (B 2, T 6)

    /// zero_init_output zeroes attn.out and ffn.down and leaves every other weight as the same seed draws it;
    /// each block starts as the identity, so at step 0 only the output projections (and what follows
    /// the blocks) get a gradient: their inputs are random, so their gradients differ unit by unit.
    func testZeroInitOutputZeroesOnlyTheOutputProjections() {
        for scheme in [InitScheme.gpt2, .xavier] {
            let plain = parameters(GPT(config: tinyConfig { $0.initialization = scheme }, seed: 5))
            let model = GPT(config: tinyConfig { $0.initialization = scheme; $0.zeroInitOutput = true }, seed: 5)
            let zeroed = parameters(model)
            XCTAssertEqual(Set(plain.keys), Set(zeroed.keys))
            for (name, values) in zeroed {
                if name.hasSuffix("attn.out.weight") || name.hasSuffix("ffn.down.weight") {
                    XCTAssertTrue(values.allSatisfy { $0 == 0 && $0.sign == .plus }, name)
                } else {
                    XCTAssertEqual(values, plain[name], "\(scheme) \(name) must be the same seed's draw")
                }
            }
            // The blocks pass the embeddings through: logits = final_norm(embedding) · Eᵀ.
            let logits = Autograd.noGrad { model(ids, batch: 2, length: 6) }.toArray()
            let skipped = GPT(config: tinyConfig { $0.initialization = scheme; $0.zeroInitOutput = true; $0.nLayer = 1 }, seed: 5)
            for p in skipped.parameters { p.tensor.copy(from: model.parameters.first { $0.name == p.name }!.tensor) }
            XCTAssertEqual(Autograd.noGrad { skipped(ids, batch: 2, length: 6) }.toArray(), logits, "\(scheme): depth must not matter at init")
            let loss = model.loss(ids, targets: ids.map { ($0 + 1) % 11 }, batch: 2, length: 6)
            loss.backward()
            for p in model.parameters where p.name.hasPrefix("blocks.") {
                let g = p.tensor.grad?.toArray() ?? []
                let any = g.contains { $0 != 0 }
                if p.name.hasSuffix("attn.out.weight") || p.name.hasSuffix("ffn.down.weight") {
                    XCTAssertTrue(any, "\(p.name) must learn at once")
                    XCTAssertGreaterThan(Set(g).count, g.count / 2, "\(p.name): rows must get different gradients")
                } else if p.name.contains(".attn.") && !p.name.hasSuffix("out.bias") || p.name.contains("ffn.up") {
                    XCTAssertFalse(any, "\(p.name) sits behind a zero projection: no gradient at step 0")
                }
            }
        }
    }

    /// A prefix LM sees its prompt whole: a later prompt token changes earlier prompt positions,
    /// a completion token changes nothing before it, another row nothing at all; prefix 0 is causal.
    func testPrefixLMSeesThePromptWholeAndTheCompletionCausally() {
        let causal = GPT(config: tinyConfig(), seed: 6)
        let prefixLM = causal.withPositions(tinyConfig { $0.attention = .prefix_lm })
        let v = 11
        func run(_ tokens: [Int32], _ prefixes: [Int]?) -> [Float] {
            Autograd.noGrad { prefixLM(tokens, batch: 2, length: 6, prefixLengths: prefixes) }.toArray()
        }
        let base = run(ids, [3, 0])
        var changed = ids
        changed[2] = (changed[2] + 1) % 11  // row 0, the prompt's last token
        let afterPrompt = run(changed, [3, 0])
        XCTAssertNotEqual(Array(base[0..<v]), Array(afterPrompt[0..<v]), "position 0 sees prompt position 2")
        XCTAssertEqual(Array(base[(6 * v)...]), Array(afterPrompt[(6 * v)...]), "the other row")
        changed = ids
        changed[4] = (changed[4] + 1) % 11  // row 0, a completion token
        let afterCompletion = run(changed, [3, 0])
        XCTAssertEqual(Array(base[0..<(4 * v)]), Array(afterCompletion[0..<(4 * v)]), "positions before a completion token")
        // Row 1 has no prefix: the causal model's numbers exactly, as without prefix lengths.
        XCTAssertEqual(Array(base[(6 * v)...]), Array(Autograd.noGrad { causal(ids, batch: 2, length: 6) }.toArray()[(6 * v)...]))
        XCTAssertEqual(run(ids, [0, 0]), Autograd.noGrad { causal(ids, batch: 2, length: 6) }.toArray())
        // The same prompt fed in one pass with a KV cache, then the completion token by token, gives the full pass's logits.
        let caches = prefixLM.makeCaches()
        let row: [Int32] = Array(ids[0..<6])
        Autograd.noGrad {
            _ = prefixLM(Array(row[0..<3]), batch: 1, length: 3, caches: caches, prefixLengths: [3])
            for t in 3..<6 {
                let cached = prefixLM([row[t]], batch: 1, length: 1, offset: t, caches: caches).toArray()
                for (a, b) in zip(cached, base[(t * v)..<((t + 1) * v)]) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "cached at \(t)") }
            }
        }
        // Gradients through the prefix mask, whole model.
        let c = compareGradients(of: prefixLM.parameters.map(\.tensor), step: 1e-3) {
            crossEntropy(prefixLM(ids, batch: 2, length: 6, prefixLengths: [3, 5]), targets: ids.map { ($0 + 3) % 11 })
        }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 1e-2).ratio, 1)
    }

    /// T5's bias: row bucket(i − j) of the table, one column per head, one table for every layer;
    /// its gradient (embedding, transpose) by finite differences.
    func testT5BiasLayoutAndGradient() {
        let table = Tensor((0..<(6 * 2)).map { Float($0) }, shape: [6, 2], requiresGrad: true)
        let bias = Positions.t5Bias(table: table, queryLength: 3, keyLength: 5, maxDistance: 9).toArray()  // queries at 2, 3, 4
        for h in 0..<2 { for i in 0..<3 { for j in 0..<5 {
            let bucket = Positions.t5Bucket(distance: i + 2 - j, buckets: 6, maxDistance: 9)
            XCTAssertEqual(bias[(h * 3 + i) * 5 + j], Float(bucket * 2 + h))
        } } }
        XCTAssertEqual(Positions.t5Bucket(distance: -3, buckets: 6, maxDistance: 9), 0, "keys ahead (a prefix LM's prompt) share bucket 0")
        var generator = RandomGenerator(seed: 77)
        let learned = Tensor.randomNormal([6, 2], std: 1, generator: &generator, requiresGrad: true)
        let c = compareGradients(of: [learned]) { Positions.t5Bias(table: learned, queryLength: 4, keyLength: 7, maxDistance: 9) }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 1e-2).ratio, 1)
        let model = GPT(config: tinyConfig { $0.position = .t5 }, seed: 2)
        XCTAssertEqual(model.parameters.filter { $0.name.contains("relative_attention_bias") }.map(\.name), ["relative_attention_bias.weight"])
        XCTAssertEqual(model.parameters.first { $0.name == "relative_attention_bias.weight" }!.tensor.shape, [32, 3])
    }

    /// Learned Swish β starts at 1: the same logits as fixed β = 1 and the same seed; GLU is down(σ(gate·x) ⊙ up·x).
    func testLearnedSwishStartsAsSiLUAndGLUIsASigmoidGate() {
        for activation in [ActivationKind.swish, .swiglu] {
            let fixed = GPT(config: tinyConfig { $0.activation = activation }, seed: 8)
            let learned = GPT(config: tinyConfig { $0.activation = activation; $0.swishBeta = .learnable }, seed: 8)
            let a = Autograd.noGrad { fixed(ids, batch: 2, length: 6) }.toArray(), b = Autograd.noGrad { learned(ids, batch: 2, length: 6) }.toArray()
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6 * max(1, abs(y)), "\(activation)") }
            XCTAssertEqual(learned.parameters.filter { $0.name.hasSuffix("ffn.swish_beta") }.count, 2)
        }
        var generator = RandomGenerator(seed: 3)
        let glu = FeedForward(modelSize: 5, hiddenSize: 7, activation: .sigmoid, gated: true, bias: true, initializer: .normal(std: 0.5),
                              outputInitializer: .normal(std: 0.5), generator: &generator)
        let x = Tensor.randomNormal([3, 5], std: 1, generator: &generator)
        let byHand = linear(mul(sigmoid(linear(x, weight: glu.gate!.weight, bias: glu.gate!.bias)), linear(x, weight: glu.up.weight, bias: glu.up.bias)),
                            weight: glu.down.weight, bias: glu.down.bias)
        XCTAssertEqual(glu(x).toArray(), byHand.toArray())
        // A learned β: gradients with respect to the input and to β, by finite differences.
        let swish = FeedForward(modelSize: 5, hiddenSize: 7, activation: .swish(beta: 1), gated: false, learnedBeta: true, bias: false,
                                initializer: .normal(std: 0.5), outputInitializer: .normal(std: 0.5), generator: &generator)
        for i in 0..<7 { swish.swishBeta!.data[i] = 0.5 + 0.25 * Float(i) }
        let c = compareGradients(of: [x, swish.swishBeta!]) { swish(x) }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 1e-2).ratio, 1)
    }
}
