import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// DeepNorm and RoPE scaling: gradients, where α and β act, scaled RoPE
/// against plain RoPE, the KV cache against full recomputes, config errors,
/// and transformers-made fixtures with rope_scaling.
final class DepthAndLengthTests: XCTestCase {
    func tiny(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 7; c.contextLength = 6; c.nLayer = 3; c.dModel = 12; c.nHead = 2; c.dFF = 10
        c.dropout = 0; c.initialization = .xavier
        change(&c)
        return c
    }

    let ids: [Int32] = [1, 4, 0, 6, 2, 1, 3, 3, 5, 0]  // (B 2, T 5)
    let targets: [Int32] = [4, 0, 6, 2, 1, 3, 3, 5, 0, 2]

    func assertGradientsMatch(_ model: GPT, _ name: String, length: Int = 5, file: StaticString = #filePath, line: UInt = #line) {
        let n = 2 * length
        let input = (0..<n).map { ids[$0 % ids.count] }, next = (0..<n).map { targets[$0 % targets.count] }
        let c = compareGradients(of: model.parameters.map(\.tensor), step: 1e-3) {
            model.loss(input, targets: next, batch: 2, length: length)
        }
        let w = c.worst(absolute: 3e-3, relative: 1e-2)
        XCTAssertLessThanOrEqual(w.ratio, 1, "\(name): \(model.parameters[max(w.input, 0)].name)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)",
                                 file: file, line: line)
    }

    // MARK: DeepNorm

    func testDeepNormGradients() {
        for norm in NormKind.allCases {
            for activation in [ActivationKind.gelu, .swiglu] {
                let config = tiny { $0.normPosition = .deepnorm; $0.norm = norm; $0.activation = activation; $0.position = .rope }
                assertGradientsMatch(GPT(config: config, seed: 11), "deepnorm \(norm) \(activation)")
            }
        }
    }

    func testDeepNormConstants() {
        XCTAssertEqual(DeepNorm.residualScale(layers: 3), Float(pow(6.0, 0.25)), accuracy: 1e-6)
        XCTAssertEqual(DeepNorm.initGain(layers: 3), Float(pow(24.0, -0.25)), accuracy: 1e-6)
        XCTAssertEqual(DeepNorm.residualScale(layers: 24), Float(pow(48.0, 0.25)), accuracy: 1e-6)
    }

    /// Same seed, same draws: DeepNorm's weights are β × post-norm's for value,
    /// attention output and feed-forward matrices, and equal everywhere else.
    func testDeepNormBetaScalesOnlyValueOutputAndFeedForward() {
        for activation in [ActivationKind.gelu, .swiglu] {
            let post = GPT(config: tiny { $0.normPosition = .post; $0.activation = activation }, seed: 5)
            let deep = GPT(config: tiny { $0.normPosition = .deepnorm; $0.activation = activation }, seed: 5)
            let beta = DeepNorm.initGain(layers: 3)
            let scaled = [".attn.v.weight", ".attn.out.weight", ".ffn.up.weight", ".ffn.down.weight", ".ffn.gate.weight"]
            var seen = 0
            for (a, b) in zip(post.parameters, deep.parameters) {
                XCTAssertEqual(a.name, b.name)
                let x = a.tensor.toArray(), y = b.tensor.toArray()
                if scaled.contains(where: { a.name.hasSuffix($0) }) {
                    seen += 1
                    XCTAssertEqual(y, x.map { $0 * beta }, "\(a.name) must be β × the plain init")
                } else {
                    XCTAssertEqual(y, x, "\(a.name) must keep the plain init")
                }
            }
            XCTAssertEqual(seen, 3 * (activation == .swiglu ? 5 : 4))
        }
    }

    /// α multiplies the kept residual (not the branch) before each norm: a
    /// one-layer DeepNorm model equals LN₂(α·h + ffn(h)), h = LN₁(α·x + attn(x)),
    /// rebuilt here from the public layers with the model's weights.
    func testDeepNormAlphaScalesTheResidual() {
        let config = tiny { $0.normPosition = .deepnorm; $0.nLayer = 1; $0.position = .none }
        let model = GPT(config: config, seed: 2)
        func named(_ n: String) -> Tensor { model.parameters.first { $0.name == n }!.tensor }
        var g = RandomGenerator(seed: 1)
        let attention = SelfAttention(modelSize: 12, heads: 2, kvHeads: 2, bias: true, positions: .none, initializer: .xavier,
                                      outputInitializer: .xavier, generator: &g)
        let feedForward = FeedForward(modelSize: 12, hiddenSize: 10, activation: .gelu, gated: false, bias: true,
                                      initializer: .xavier, outputInitializer: .xavier, generator: &g)
        let norms = [Norm(.layerNorm, 12, bias: true, eps: 1e-5), Norm(.layerNorm, 12, bias: true, eps: 1e-5)]
        let copies: [(Tensor, String)] = [
            (attention.query.weight, "attn.q.weight"), (attention.query.bias!, "attn.q.bias"),
            (attention.key.weight, "attn.k.weight"), (attention.key.bias!, "attn.k.bias"),
            (attention.value.weight, "attn.v.weight"), (attention.value.bias!, "attn.v.bias"),
            (attention.output.weight, "attn.out.weight"), (attention.output.bias!, "attn.out.bias"),
            (feedForward.up.weight, "ffn.up.weight"), (feedForward.up.bias!, "ffn.up.bias"),
            (feedForward.down.weight, "ffn.down.weight"), (feedForward.down.bias!, "ffn.down.bias"),
            (norms[0].gain, "attn_norm.weight"), (norms[0].bias!, "attn_norm.bias"),
            (norms[1].gain, "ffn_norm.weight"), (norms[1].bias!, "ffn_norm.bias"),
        ]
        for (target, name) in copies { target.copy(from: named("blocks.0." + name)) }
        let alpha = DeepNorm.residualScale(layers: 1)
        func manual(_ a: Float) -> [Float] {
            Autograd.noGrad {
                let x = embedding(named("token_embedding.weight"), ids: ids, shape: [2, 5])
                let h = norms[0](x * a + attention(x))
                let y = norms[1](h * a + feedForward(h))
                return linear(y, weight: named("token_embedding.weight")).toArray()
            }
        }
        let ours = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
        for (a, b) in zip(ours, manual(alpha)) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertGreaterThan(zip(ours, manual(1)).map { abs($0 - $1) }.max()!, 1e-3, "α = 1 (post-norm) must differ")
    }

    func testDeepNormIsRefusedWithPreNormOnlyInitAndByExport() throws {
        var config = RunConfig()
        try config.apply(overrides: ["model.norm_position=deepnorm", "model.init=gpt2"])
        XCTAssertThrowsError(try config.validate()) { error in
            XCTAssertTrue("\(error)".contains("model.init = gpt2"), "\(error)")
        }
        try config.apply(overrides: ["model.init=xavier"])
        XCTAssertNoThrow(try config.validate())
        var m = ModelConfig()
        m.normPosition = .deepnorm; m.norm = .rmsNorm; m.position = .rope; m.activation = .swiglu; m.initialization = .xavier
        XCTAssertThrowsError(try HuggingFace.family(for: m)) { error in
            XCTAssertTrue("\(error)".contains("deepnorm") && "\(error)".contains("α"), "\(error)")
        }
    }

    // MARK: RoPE scaling

    func rotary(_ type: RopeType, factor: Double, trained: Int = 8, headSize: Int = 12, change: (inout RopeScaling) -> Void = { _ in }) -> ScaledRotary {
        var s = RopeScaling(type: type, factor: factor)
        change(&s)
        return ScaledRotary(theta: 10_000, headSize: headSize, scaling: s, trainedLength: trained)
    }

    func testFactorOneEqualsPlainRopeBitForBit() {
        var g = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 3, 20, 12], generator: &g)
        for offset in [0, 7] {
            let plain = rotaryEmbedding(x, offset: offset, theta: 10_000).toArray()
            for r in [rotary(.linear, factor: 1), rotary(.yarn, factor: 1), rotary(.dynamic, factor: 1, trained: 64)] {
                let (f, m) = r.frequencies(sequenceLength: offset + 20)
                XCTAssertEqual(m, 1)
                XCTAssertEqual(rotaryEmbedding(x, offset: offset, inverseFrequencies: f, attentionFactor: m).toArray(), plain,
                               "\(r.scaling.type!) factor 1 at offset \(offset)")
            }
        }
        // Whole models too.
        let plainConfig = tiny { $0.position = .rope; $0.normPosition = .pre; $0.initialization = .gpt2 }
        let model = GPT(config: plainConfig, seed: 4)
        let reference = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
        for type in RopeType.allCases {
            var c = plainConfig
            c.ropeScaling = RopeScaling(type: type, factor: 1)
            XCTAssertEqual(Autograd.noGrad { model.withPositions(c)(ids, batch: 2, length: 5) }.toArray(), reference, "\(type)")
        }
    }

    /// Position interpolation: position F·p under factor F is position p unscaled.
    func testLinearScalingAtFTimesPEqualsPlainAtP() {
        var g = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([1, 2, 1, 12], generator: &g)
        for factor in [2, 4, 8] {
            let (f, m) = rotary(.linear, factor: Double(factor)).frequencies(sequenceLength: 1000)
            for p in [0, 1, 5, 31, 100] {
                let scaled = rotaryEmbedding(x, offset: factor * p, inverseFrequencies: f, attentionFactor: m).toArray()
                let plain = rotaryEmbedding(x, offset: p, theta: 10_000).toArray()
                for (a, b) in zip(scaled, plain) { XCTAssertEqual(a, b, accuracy: 1e-5, "factor \(factor) position \(p)") }
            }
        }
    }

    func testScaledRotaryOpGradients() {
        var g = RandomGenerator(seed: 6)
        let x = Tensor.randomNormal([2, 3, 5, 6], generator: &g, requiresGrad: true)
        let w = Tensor.randomNormal([2, 3, 5, 6], generator: &g)
        for r in [rotary(.linear, factor: 3, headSize: 6), rotary(.dynamic, factor: 2, trained: 2, headSize: 6),
                  rotary(.yarn, factor: 4, trained: 4, headSize: 6)] {
            let (f, m) = r.frequencies(sequenceLength: 9)
            let c = compareGradients(of: [x]) { sum(rotaryEmbedding(x, offset: 4, inverseFrequencies: f, attentionFactor: m) * w) }
            XCTAssertLessThanOrEqual(c.worst(absolute: 1e-3, relative: 1e-2).ratio, 1, "\(r.scaling.type!)")
        }
    }

    func scaledConfigs() -> [(String, ModelConfig)] {
        var list: [(String, ModelConfig)] = []
        for type in RopeType.allCases {
            list.append(("\(type)", tiny { $0.position = .rope; $0.ropeScaling = RopeScaling(type: type, factor: 2.5); $0.nKVHead = 1 }))
        }
        list.append(("yarn fields", tiny {
            $0.position = .rope
            var s = RopeScaling(type: .yarn, factor: 3)
            s.betaFast = 8; s.betaSlow = 2; s.attentionFactor = 1.3; s.truncate = false; s.originalMaxPositionEmbeddings = 4
            $0.ropeScaling = s
        }))
        return list
    }

    func testScaledModelsGradients() {
        for (name, config) in scaledConfigs() {
            // Length 5 < context 6 within training; the window of 9 reaches past it (dynamic scales there).
            let model = GPT(config: config, seed: 8, contextWindow: 9)
            assertGradientsMatch(model, name, length: 5)
            assertGradientsMatch(model, name + " past the context", length: 8)
        }
    }

    /// Each generated position's logits from the cache equal the last row of a
    /// full forward over the prefix, for every scaling type, past the trained length.
    func testKVCacheEqualsFullRecomputeForEveryScaling() {
        let sequence: [Int32] = [3, 1, 4, 1, 5, 2, 6, 5, 3, 5, 0, 2]
        var configs = scaledConfigs()
        configs.append(("plain", tiny { $0.position = .rope }))
        for (name, config) in configs {
            let model = GPT(config: config, seed: 9, contextWindow: sequence.count)
            let caches = model.makeCaches()
            let v = 7
            Autograd.noGrad {
                let prompt = 3
                var cachedRows = model(Array(sequence[0..<prompt]), batch: 1, length: prompt, offset: 0, caches: caches).toArray()
                cachedRows = Array(cachedRows[((prompt - 1) * v)...])
                for t in prompt..<sequence.count {
                    let full = model(Array(sequence[0..<t]), batch: 1, length: t).toArray()
                    let lastFull = Array(full[((t - 1) * v)...])
                    for (a, b) in zip(cachedRows, lastFull) { XCTAssertEqual(a, b, accuracy: 2e-5, "\(name): position \(t - 1)") }
                    cachedRows = model([sequence[t]], batch: 1, length: 1, offset: t, caches: caches).toArray()
                }
            }
        }
    }

    /// YaRN's frequencies and attention factor, against values transformers 5.25
    /// computed for head size 16, θ = 10000, factor 4, original length 16
    /// (_compute_yarn_parameters).
    func testYarnMatchesTransformersFormula() {
        let r = rotary(.yarn, factor: 4, trained: 16, headSize: 16)
        let (f, m) = r.frequencies(sequenceLength: 1)
        XCTAssertEqual(m, 0.1 * log(4) + 1, accuracy: 1e-12)
        XCTAssertEqual(f.count, 8)
        // Dimension 0 turns fastest (kept); the last turns slowest (interpolated ÷ 4).
        XCTAssertEqual(f[0], 1, accuracy: 1e-12)
        XCTAssertEqual(f[7], pow(10_000, -14.0 / 16) / 4, accuracy: 1e-12)
    }

    // MARK: config

    func testRopeScalingConfigSetAndRoundTrip() throws {
        var config = RunConfig()
        try config.apply(overrides: ["model.position=rope", "model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":4}",
                                     "model.rope_scaling.beta_fast=16", "model.rope_scaling.truncate=false"])
        try config.validate()
        XCTAssertEqual(config.model.ropeScaling?.type, .yarn)
        XCTAssertEqual(config.model.ropeScaling?.factor, 4)
        XCTAssertEqual(config.model.ropeScaling?.betaFast, 16)
        XCTAssertEqual(config.model.ropeScaling?.truncate, false)
        let back = try RunConfig.parse(json: try config.jsonData(), source: "x")
        XCTAssertEqual(back.model.ropeScaling, config.model.ropeScaling)
        // Member by member from null.
        var fresh = RunConfig()
        try fresh.apply(overrides: ["model.position=rope", "model.rope_scaling.rope_type=linear", "model.rope_scaling.factor=2"])
        XCTAssertEqual(fresh.model.ropeScaling, RopeScaling(type: .linear, factor: 2))
        try fresh.apply(overrides: ["model.rope_scaling=null"])
        XCTAssertNil(fresh.model.ropeScaling)
    }

    func testRopeScalingBadInputNamesFieldAndAllowed() {
        let cases: [([String], String)] = [
            (["model.rope_scaling={\"rope_type\":\"ntk\",\"factor\":2}"], "model.rope_scaling.rope_type must be one of linear, dynamic, yarn; got 'ntk'"),
            (["model.rope_scaling={\"rope_type\":\"linear\",\"factor\":0}"], "model.rope_scaling.factor must be a finite number ≥ 1, got 0.0"),
            (["model.rope_scaling={\"rope_type\":\"linear\",\"factor\":-2}"], "model.rope_scaling.factor must be a finite number ≥ 1"),
            (["model.rope_scaling.rope_type=linear", "model.rope_scaling.factor=nan"], "--set model.rope_scaling.factor=nan: expected a finite number, got 'nan'"),
            (["model.rope_scaling.rope_type=linear", "model.rope_scaling.factor=0x10"], "expected a finite number, got '0x10'"),
            (["model.rope_scaling={\"rope_type\":\"linear\"}"], "model.rope_scaling.factor is required"),
            (["model.rope_scaling={\"factor\":2}"], "model.rope_scaling.rope_type is required"),
            (["model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":2,\"beta_fast\":0}"], "model.rope_scaling.beta_fast must be a finite number > 0"),
            (["model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":2,\"beta_fast\":2,\"beta_slow\":4}"], "model.rope_scaling.beta_slow (4.0) must be ≤ beta_fast (2.0)"),
            (["model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":2,\"original_max_position_embeddings\":0}"], "model.rope_scaling.original_max_position_embeddings must be ≥ 1"),
            (["model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":2,\"attention_factor\":-1}"], "model.rope_scaling.attention_factor must be a finite number > 0"),
            (["model.rope_scaling={\"rope_type\":\"linear\",\"factor\":2,\"beta_fast\":8}"], "model.rope_scaling.beta_fast applies only to rope_type yarn"),
            (["model.rope_scaling={\"rope_type\":\"linear\",\"factor\":2,\"betafast\":8}"], "unknown key 'model.rope_scaling.betafast'; did you mean 'beta_fast'?"),
            (["model.rope_scaling=[1]"], "model.rope_scaling must be an object"),
        ]
        for (overrides, message) in cases {
            var config = RunConfig()
            config.model.position = .rope
            XCTAssertThrowsError(try { try config.apply(overrides: overrides); try config.validate() }(), "\(overrides)") { error in
                XCTAssertTrue("\(error)".contains(message), "\(overrides): \(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        var learned = RunConfig()
        XCTAssertThrowsError(try { try learned.apply(overrides: ["model.rope_scaling={\"rope_type\":\"linear\",\"factor\":2}"]); try learned.validate() }()) { error in
            XCTAssertTrue("\(error)".contains("model.rope_scaling applies only to model.position = rope (got learned)"), "\(error)")
        }
    }

    // MARK: transformers interop

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    /// LLaMAs made by transformers with rope_scaling, scored on 24 ids: past
    /// max_position_embeddings = 16, where each scaling matters.
    func testScaledRopeFixturesReproduceTransformersLogits() throws {
        for (name, type) in [("hf-llama-linear", RopeType.linear), ("hf-llama-dynamic", .dynamic), ("hf-llama-yarn", .yarn)] {
            let (loaded, config, _) = try HuggingFace.load(from: fixture(name))
            XCTAssertEqual(config.model.ropeScaling?.type, type, name)
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture(name).appendingPathComponent("expected_logits.json"))) as! [String: Any]
            let ids = (expected["ids"] as! [Int]).map(Int32.init)
            XCTAssertGreaterThan(ids.count, config.model.contextLength)
            let model = loaded.withPositions(config.model, contextWindow: ids.count)
            let rows = expected["logits"] as! [[Double]]
            let ours = Autograd.noGrad { model(ids, batch: 1, length: ids.count) }.toArray()
            let scale = rows.flatMap { $0 }.map(abs).max()!
            var worst = 0.0
            for (t, row) in rows.enumerated() { for (j, x) in row.enumerated() { worst = max(worst, abs(Double(ours[t * row.count + j]) - x)) } }
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(name): max relative logit error \(worst / scale)")
            // Without the scaling the far positions differ: the fixture does test it.
            var plain = config.model
            plain.ropeScaling = nil
            let unscaled = Autograd.noGrad { loaded.withPositions(plain, contextWindow: ids.count)(ids, batch: 1, length: ids.count) }.toArray()
            let last = (ids.count - 1) * rows[0].count
            XCTAssertGreaterThan(zip(unscaled[last...], rows.last!).map { abs(Double($0) - $1) }.max()! / scale, 1e-3, name)
        }
    }

    func testExportImportCarriesRopeScaling() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinygpt-rope-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var run = RunConfig()
        run.model.vocabSize = 23; run.model.contextLength = 8; run.model.nLayer = 2; run.model.dModel = 16; run.model.nHead = 2
        run.model.norm = .rmsNorm; run.model.position = .rope; run.model.activation = .swiglu; run.model.bias = false
        var yarn = RopeScaling(type: .yarn, factor: 2)
        yarn.betaFast = 16
        for scaling in [RopeScaling(type: .linear, factor: 2), RopeScaling(type: .dynamic, factor: 3), yarn] {
            run.model.ropeScaling = scaling
            let model = GPT(config: run.model, seed: 5, contextWindow: 12)
            let out = directory.appendingPathComponent("\(scaling.type!)")
            try HuggingFace.export(model: model, config: run, tokenizerJSON: Data("{}".utf8), specialTokens: [:], to: out)
            let hf = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
            let written = hf["rope_scaling"] as! [String: Any]
            XCTAssertEqual(written["rope_type"] as? String, scaling.type!.rawValue)
            if scaling.type == .yarn { XCTAssertEqual(written["original_max_position_embeddings"] as? Int, 8) }
            let (back, config, _) = try HuggingFace.load(from: out)
            var expected = scaling
            if scaling.type == .yarn { expected.originalMaxPositionEmbeddings = 8 }
            XCTAssertEqual(config.model.ropeScaling, expected)
            let ids: [Int32] = [3, 1, 22, 7, 0, 9, 4, 4, 2, 19, 5, 1]
            let a = Autograd.noGrad { model(ids, batch: 1, length: 12) }.toArray()
            let b = Autograd.noGrad { back.withPositions(config.model, contextWindow: 12)(ids, batch: 1, length: 12) }.toArray()
            XCTAssertEqual(a, b, "\(scaling.type!)")
        }
    }
}
