import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Tokenizer
import Train

final class LoRATrainTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("lora-train") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = String(repeating: "the quick brown fox jumps over the lazy dog. a small cat sat on a warm mat, and then it slept.\n", count: 40)

    func config(_ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 16; c.model.nLayer = 2; c.model.dModel = 24; c.model.nHead = 3; c.model.nKVHead = 1
        c.model.dFF = 40; c.model.activation = .swiglu; c.model.dropout = 0.1
        c.train.batchSize = 4; c.train.maxSteps = 10; c.train.warmupSteps = 2; c.train.evalInterval = 5
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 1e-2
        var lora = LoRAConfig()
        lora.rank = 3; lora.alpha = 6; lora.dropout = 0.2; lora.targets = ["q", "k", "v", "o", "gate", "up", "down"]
        c.lora = lora
        change(&c)
        return c
    }

    func trainer(_ config: RunConfig, run: String, resume: Bool = false, stopAfter: Int? = nil, initial: GPT? = nil) throws -> Trainer {
        let corpus = try Corpus.build(text: text, config: config)
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.resume = resume
        options.stopAfterStep = stopAfter
        options.log = { _ in }
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial)
    }

    func testOnlyAdaptersTrainAndTheBaseStaysBitForBit() throws {
        let lora = config()
        let full = try trainer(config { $0.lora = nil }, run: "full")
        let base = full.model.parameters.map { $0.tensor.toArray() }
        let adapted = try trainer(lora, run: "lora", initial: {
            let m = GPT(config: full.model.config, seed: 0)
            for (a, b) in zip(m.parameters, full.model.parameters) { a.tensor.copy(from: b.tensor) }
            return m
        }())
        // The optimizer holds the adapters only: AdamW keeps two moments per adapter value.
        let adapterCount = adapted.model.adapterParameters.map(\.tensor.count).reduce(0, +)
        XCTAssertEqual(adapted.optimizer.parameters.map(\.name), adapted.model.adapterParameters.map(\.name))
        XCTAssertEqual(adapted.optimizer.state.map(\.tensor.count).reduce(0, +), 2 * adapterCount)
        let baseCount = base.map(\.count).reduce(0, +)
        XCTAssertEqual(full.optimizer.state.map(\.tensor.count).reduce(0, +), 2 * baseCount)
        XCTAssertLessThan(adapterCount * 2, baseCount)

        try adapted.run()
        XCTAssertEqual(adapted.model.parameters.map { $0.tensor.toArray() }, base, "frozen weights are unchanged")
        XCTAssertTrue(adapted.model.adapterParameters.contains { p in p.name.hasSuffix("lora_B") && p.tensor.toArray().contains { $0 != 0 } })
        XCTAssertLessThan(adapted.stepLosses.last!, adapted.stepLosses.first!)

        // The saved checkpoint: base as it was, adapters beside it; loading gives the trained model's logits.
        let saved = try Checkpoint.load(from: directory.appendingPathComponent("lora/latest"))
        XCTAssertEqual(saved.config.lora, lora.lora)
        XCTAssertEqual(saved.model.parameters.map { $0.tensor.toArray() }, base)
        XCTAssertEqual(saved.model.adapterParameters.map { $0.tensor.toArray() }, adapted.model.adapterParameters.map { $0.tensor.toArray() })
    }

    func testAdapterRunsResumeBitForBit() throws {
        let lora = config()
        let whole = try trainer(lora, run: "whole")
        try whole.run()
        let first = try trainer(lora, run: "split", stopAfter: 4)
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(lora, run: "split", resume: true)
        XCTAssertEqual(second.step, 4)
        try second.run()
        XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses)
        XCTAssertEqual(second.model.adapterParameters.map { $0.tensor.toArray() }, whole.model.adapterParameters.map { $0.tensor.toArray() })
        XCTAssertEqual(second.model.parameters.map { $0.tensor.toArray() }, whole.model.parameters.map { $0.tensor.toArray() })
    }

    func testInitialModelWithAdaptersContinuesAsItsMergedModel() throws {
        let lora = config()
        let source = GPT(config: try Trainer.checked(lora, for: try Corpus.build(text: text, config: lora)).model, seed: 5)
        source.attachAdapters(lora.lora!, seed: 6)
        for p in source.adapterParameters where p.name.hasSuffix("lora_B") { p.tensor.fill(0.01) }
        let ids: [Int32] = [1, 2, 3, 4]
        let before = Autograd.noGrad { source(ids, batch: 1, length: 4) }.toArray()
        let t = try trainer(config { $0.lora = nil }, run: "full", initial: source)
        XCTAssertFalse(t.model.hasAdapters)
        let after = Autograd.noGrad { t.model(ids, batch: 1, length: 4) }.toArray()
        for (a, b) in zip(after, before) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
