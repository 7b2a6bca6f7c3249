import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

final class LoRAModelTests: XCTestCase {
    func tinyConfig(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 7; c.contextLength = 6; c.nLayer = 2; c.dModel = 12; c.nHead = 3; c.dFF = 10
        change(&c)
        return c
    }

    /// MHA, GQA, MQA; plain and gated feed-forwards; with and without biases; post-norm.
    var variants: [(String, ModelConfig)] {
        [("gpt2-like", tinyConfig()),
         ("llama-like gqa", tinyConfig { $0.dModel = 16; $0.nHead = 4; $0.nKVHead = 2; $0.position = .rope; $0.norm = .rmsNorm
                                         $0.activation = .swiglu; $0.bias = false; $0.tieEmbeddings = false }),
         ("mqa geglu", tinyConfig { $0.nKVHead = 1; $0.activation = .geglu }),
         ("post-norm alibi", tinyConfig { $0.normPosition = .post; $0.position = .alibi })]
    }

    func lora(_ model: ModelConfig, rank: Int = 2) -> LoRAConfig {
        var l = LoRAConfig()
        l.rank = rank; l.alpha = 3
        l.targets = ["q", "k", "v", "o", "up", "down"] + (model.activation.rawValue.hasSuffix("glu") ? ["gate"] : [])
        return l
    }

    let ids: [Int32] = [1, 4, 0, 6, 2, 1, 3, 3, 5, 0]  // (B 2, T 5)
    let targets: [Int32] = [4, 0, 6, 2, 1, 3, 3, 5, 0, 2]

    func randomizeB(_ model: GPT, seed: UInt64) {
        var g = RandomGenerator(seed: seed)
        for p in model.adapterParameters where p.name.hasSuffix("lora_B") {
            for i in 0..<p.tensor.count { p.tensor.data[i] = 0.3 * g.normal() }
        }
    }

    func testFreshAdaptersLeaveLogitsBitForBit() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            let base = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            model.attachAdapters(lora(config), seed: 4)
            XCTAssertTrue(model.hasAdapters)
            XCTAssertEqual(Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray(), base, name)
        }
    }

    func testMergedAndUnmergedLogitsAgree() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            model.attachAdapters(lora(config), seed: 4)
            randomizeB(model, seed: 5)
            let base = GPT(config: config, seed: 3)
            let adapted = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            XCTAssertNotEqual(adapted, Autograd.noGrad { base(ids, batch: 2, length: 5) }.toArray(), "\(name): B ≠ 0 changes logits")
            model.mergeAdapters()
            XCTAssertFalse(model.hasAdapters)
            let merged = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
            for (m, a) in zip(merged, adapted) { XCTAssertEqual(m, a, accuracy: 1e-5, name) }
        }
    }

    func testWholeModelGradientsThroughAdapters() {
        for (name, config) in variants {
            let model = GPT(config: config, seed: 3)
            model.attachAdapters(lora(config), seed: 4)
            randomizeB(model, seed: 6)
            let tensors = model.adapterParameters.map(\.tensor)
            let c = compareGradients(of: tensors, step: 1e-3) { model.loss(ids, targets: targets, batch: 2, length: 5) }
            let w = c.worst(absolute: 3e-3, relative: 1e-2)
            XCTAssertLessThanOrEqual(w.ratio, 1, "\(name): \(model.adapterParameters[max(w.input, 0)].name)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)")
        }
    }

    func testAdapterNamesAndShapesFollowTheProjections() {
        let config = variants[1].1  // d 16, 4 heads, 2 K/V heads (kv width 8), d_ff 10
        let model = GPT(config: config, seed: 1)
        model.attachAdapters(lora(config, rank: 3), seed: 2)
        let shapes = Dictionary(uniqueKeysWithValues: model.adapterParameters.map { ($0.name, $0.tensor.shape) })
        XCTAssertEqual(shapes["blocks.0.attn.q.lora_A"], [3, 16])
        XCTAssertEqual(shapes["blocks.0.attn.q.lora_B"], [16, 3])
        XCTAssertEqual(shapes["blocks.1.attn.k.lora_B"], [8, 3])
        XCTAssertEqual(shapes["blocks.1.attn.out.lora_A"], [3, 16])
        XCTAssertEqual(shapes["blocks.0.ffn.gate.lora_B"], [10, 3])
        XCTAssertEqual(shapes["blocks.0.ffn.down.lora_A"], [3, 10])
        XCTAssertEqual(model.adapterParameters.count, 2 * 7 * 2)
        let weights = Set(model.parameters.map(\.name))
        for (weight, _) in model.adapters { XCTAssertTrue(weights.contains(weight), weight) }
    }

    func testFreezingStopsBaseGradients() {
        let config = tinyConfig()
        let model = GPT(config: config, seed: 3)
        model.attachAdapters(lora(config), seed: 4)
        model.freezeBase()
        model.loss(ids, targets: targets, batch: 2, length: 5).backward()
        XCTAssertTrue(model.parameters.allSatisfy { $0.tensor.grad == nil })
        XCTAssertTrue(model.adapterParameters.allSatisfy { $0.tensor.grad != nil })
    }

    // MARK: config

    func testAbsentSectionIsNoLoRAAndIsNotWritten() throws {
        let config = try RunConfig.parse(json: Data("{}".utf8), source: "test")
        XCTAssertNil(config.lora)
        var resolved = config
        resolved.model.vocabSize = 5
        XCTAssertFalse(String(decoding: try resolved.jsonData(), as: UTF8.self).contains("lora"))
    }

    func testSectionDefaultsRoundTripAndOverrides() throws {
        let config = try RunConfig.parse(json: Data(#"{"lora": {}}"#.utf8), source: "test")
        XCTAssertEqual(config.lora, LoRAConfig())
        XCTAssertEqual(config.lora?.rank, 8); XCTAssertEqual(config.lora?.alpha, 8); XCTAssertEqual(config.lora?.dropout, 0)
        XCTAssertEqual(config.lora?.targetKinds, [.q, .v])
        var set = RunConfig()
        try set.apply(overrides: ["lora.rank=4", "lora.targets=o_proj,q"])
        XCTAssertEqual(set.lora?.rank, 4)
        XCTAssertEqual(set.lora?.targetKinds, [.q, .o], "LLaMA names are synonyms; order is fixed")
        set.model.vocabSize = 5
        let back = try RunConfig.parse(json: try set.jsonData(), source: "round trip")
        XCTAssertEqual(back.lora, set.lora)
        let removed = try RunConfig.parse(json: Data(#"{"lora": null}"#.utf8), source: "test")
        XCTAssertNil(removed.lora)
    }

    func testBadSectionsAreRefusedWithOneLine() {
        let cases: [(String, String)] = [
            (#"{"lora": {"rank": 0}}"#, "lora.rank must be in [1"),
            (#"{"lora": {"targets": ["q", "qkv"]}}"#, "unknown target 'qkv'"),
            (#"{"lora": {"targets": []}}"#, "lora.targets is empty"),
            (#"{"lora": {"targets": ["v", "v_proj"]}}"#, "names 'v' twice"),
            (#"{"lora": {"alpha": 0}}"#, "lora.alpha must be > 0"),
            (#"{"lora": {"dropout": 1}}"#, "lora.dropout must be in [0, 1)"),
            (#"{"lora": {"ranks": 4}}"#, "unknown key 'lora.ranks'"),
            (#"{"lora": 3}"#, "'lora' must be an object"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try RunConfig.parse(json: Data(json.utf8), source: "c.json"), json) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(json): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
    }

    /// The rules that need the model: part of every validation of a config (info runs them as train does).
    func testRulesAgainstTheModel() throws {
        let modelCases: [(String, String)] = [
            (#"{"lora": {"targets": ["gate"]}}"#, "'gate' needs a gated feed-forward"),
            (#"{"lora": {"rank": 97}, "model": {"d_model": 96, "n_head": 4}}"#, "lora.rank (97) exceeds the q projection's smaller side (96 × 96)"),
            (#"{"lora": {"rank": 9, "targets": ["k"]}, "model": {"d_model": 32, "n_head": 4, "n_kv_head": 1}}"#, "exceeds the k projection's smaller side (8 × 32)"),
        ]
        for (json, expected) in modelCases {
            XCTAssertThrowsError(try RunConfig.parse(json: Data(json.utf8), source: "c.json"), json) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(json): \(error)")
            }
        }
        var swiglu = ModelConfig()
        swiglu.activation = .swiglu
        var all = LoRAConfig()
        all.targets = LoRATarget.allCases.map(\.rawValue)
        XCTAssertNoThrow(try all.check(model: swiglu))
    }

    // MARK: checkpoints

    func testAdapterCheckpointRoundTrip() throws {
        let directory = try Scratch.directory("lora-checkpoint")
        defer { Scratch.remove(directory) }
        var run = RunConfig()
        run.model = variants[1].1
        run.lora = lora(run.model)
        let model = GPT(config: run.model, seed: 3)
        model.attachAdapters(run.lora!, seed: 4)
        randomizeB(model, seed: 7)
        let logits = Autograd.noGrad { model(ids, batch: 2, length: 5) }.toArray()
        let url = directory.appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, config: run, tokenizerJSON: Data("{}".utf8), to: url)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.appendingPathComponent(Checkpoint.adapterFile).path))
        let base = try SafeTensors.read(from: url.appendingPathComponent(Checkpoint.weightsFile))
        XCTAssertFalse(base.tensors.contains { $0.name.contains("lora") }, "model.safetensors holds the base only")
        let loaded = try Checkpoint.load(from: url)
        XCTAssertEqual(Autograd.noGrad { loaded.model(ids, batch: 2, length: 5) }.toArray(), logits)
        // Position settings that change no parameter keep the adapters.
        XCTAssertEqual(Autograd.noGrad { loaded.model.withPositions(run.model, contextWindow: 12)(ids, batch: 2, length: 5) }.toArray(), logits)

        // A plain checkpoint writes no adapter file; a lora config without one is refused.
        let plain = directory.appendingPathComponent("plain")
        var noLoRA = run
        noLoRA.lora = nil
        try Checkpoint.save(model: GPT(config: run.model, seed: 3), config: noLoRA, tokenizerJSON: Data("{}".utf8), to: plain)
        XCTAssertFalse(FileManager.default.fileExists(atPath: plain.appendingPathComponent(Checkpoint.adapterFile).path))
        // An edited config whose lora section does not fit the model is an error, not a trap.
        let edited = directory.appendingPathComponent("edited")
        try FileManager.default.copyItem(at: url, to: edited)
        // (Written as text: jsonData() validates, and this config is invalid on purpose.)
        let tooLarge = String(decoding: try run.jsonData(), as: UTF8.self)
            .replacingOccurrences(of: "\"rank\": \(run.lora!.rank)", with: "\"rank\": 99")
        try Data(tooLarge.utf8).write(to: edited.appendingPathComponent(Checkpoint.configFile))
        XCTAssertThrowsError(try Checkpoint.load(from: edited)) { XCTAssertTrue("\($0)".contains("lora.rank (99) exceeds"), "\($0)") }
        try FileManager.default.removeItem(at: url.appendingPathComponent(Checkpoint.adapterFile))
        XCTAssertThrowsError(try Checkpoint.load(from: url)) { XCTAssertTrue("\($0)".contains("no adapter.safetensors"), "\($0)") }
    }
}

final class LoRAPresetTests: XCTestCase {
    func testLoRAPresetLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try RunConfig.load(from: root.appendingPathComponent("configs/lora.json"))
        XCTAssertEqual(config.lora?.targetKinds, [.q, .k, .v, .o])
        XCTAssertEqual(config.lora?.scale, 2)
        XCTAssertEqual(config.train.weightDecay, 0)
        XCTAssertEqual(config.model, ModelConfig(), "the preset leaves the model to --init-from")
    }
}
