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

/// Training bottleneck adapters, prefix tuning and prompt tuning: only their
/// parameters learn, the base stays bit for bit, and runs resume bit for bit.
final class PEFTTrainTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("peft-train") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = PEFTTraining.text

    func config(_ change: (inout RunConfig) -> Void) -> RunConfig {
        PEFTTraining.config(maxSteps: 10, evalInterval: 5, change)
    }

    var methods: [(String, RunConfig)] {
        [("adapter", config { var a = AdapterConfig(); a.bottleneck = 4; $0.adapter = a }),
         ("prefix", config { var p = PrefixTuningConfig(); p.numVirtualTokens = 3; p.encoderHiddenSize = 6; $0.prefixTuning = p }),
         ("prompt", config { var p = PromptTuningConfig(); p.numVirtualTokens = 3; p.promptTuningInit = .TEXT; p.promptTuningInitText = "the"; $0.promptTuning = p })]
    }

    func trainer(_ config: RunConfig, run: String, resume: Bool = false, stopAfter: Int? = nil, initial: GPT? = nil) throws -> Trainer {
        let corpus = try Corpus.build(text: text, config: config)
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.resume = resume
        options.stopAfterStep = stopAfter
        options.log = { _ in }
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial)
    }

    func testOnlyTheNewParametersTrainAndRunsResumeBitForBit() throws {
        for (name, peft) in methods {
            let whole = try trainer(peft, run: "\(name)-whole")
            let base = whole.model.parameters.map { $0.tensor.toArray() }
            XCTAssertEqual(whole.optimizer.parameters.map(\.name), whole.model.adapterParameters.map(\.name), name)
            try whole.run()
            XCTAssertEqual(whole.model.parameters.map { $0.tensor.toArray() }, base, "\(name): frozen weights are unchanged")
            XCTAssertLessThan(whole.stepLosses.last!, whole.stepLosses.first!, name)

            let first = try trainer(peft, run: "\(name)-split", stopAfter: 4)
            XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
            let second = try trainer(peft, run: "\(name)-split", resume: true)
            try second.run()
            XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses, name)
            XCTAssertEqual(second.model.adapterParameters.map { $0.tensor.toArray() }, whole.model.adapterParameters.map { $0.tensor.toArray() }, name)

            let saved = try Checkpoint.load(from: directory.appendingPathComponent("\(name)-whole/latest"))
            XCTAssertEqual(saved.model.adapterParameters.map { $0.tensor.toArray() }, whole.model.adapterParameters.map { $0.tensor.toArray() }, name)
        }
    }

    func testPromptTuningTextInitTakesTheTextsEmbeddings() throws {
        let peft = methods[2].1
        let t = try trainer(peft, run: "text-init", stopAfter: 0)
        let corpus = try Corpus.build(text: text, config: peft)
        let ids = try corpus.tokenizer.encode("the")
        let d = peft.model.dModel
        let table = t.model.parameters.first { $0.name == "token_embedding.weight" }!.tensor.toArray()
        let prompt = t.model.promptEmbeddings!.toArray()
        for (i, id) in ids.enumerated() { XCTAssertEqual(Array(prompt[(i * d)..<((i + 1) * d)]), Array(table[(id * d)..<((id + 1) * d)])) }
    }
}
