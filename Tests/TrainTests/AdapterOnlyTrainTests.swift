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

/// Adapter runs on a base checkpoint save adapters only (base.json names the
/// base) and resume from them bit for bit, for every PEFT method.
final class AdapterOnlyTrainTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("adapters-only-train") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = PEFTTraining.text

    func config(_ change: (inout RunConfig) -> Void) -> RunConfig {
        PEFTTraining.config(maxSteps: 8, evalInterval: 4, change)
    }

    var methods: [(String, RunConfig)] {
        [("lora", config { var l = LoRAConfig(); l.rank = 2; l.alpha = 4; l.dropout = 0.2; l.targets = ["q", "v", "down"]; $0.lora = l }),
         ("adapter", config { var a = AdapterConfig(); a.bottleneck = 4; $0.adapter = a }),
         ("prefix", config { var p = PrefixTuningConfig(); p.numVirtualTokens = 3; p.encoderHiddenSize = 6; $0.prefixTuning = p }),
         ("prompt", config { var p = PromptTuningConfig(); p.numVirtualTokens = 3; $0.promptTuning = p })]
    }

    func trainer(_ config: RunConfig, run: String, base: URL?, resume: Bool = false, stopAfter: Int? = nil) throws -> Trainer {
        let corpus = try Corpus.build(text: text, config: config)
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.resume = resume
        options.stopAfterStep = stopAfter
        options.log = { _ in }
        let initial = resume ? nil : try base.map { try Checkpoint.load(from: $0).model }
        if let base { options.base = resume ? try CheckpointBase.read(from: directory.appendingPathComponent("\(run)/latest"))
                                            : try CheckpointBase(given: base.path, directory: base) }
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial)
    }

    func testAdaptersOnlyCheckpointsResumeBitForBit() throws {
        let plain = try trainer(config { $0.train.maxSteps = 2 }, run: "base", base: nil)
        try plain.run()
        let base = directory.appendingPathComponent("base/latest")
        for (name, peft) in methods {
            let whole = try trainer(peft, run: "\(name)-whole", base: base)
            try whole.run()
            let latest = directory.appendingPathComponent("\(name)-whole/latest")
            XCTAssertFalse(FileManager.default.fileExists(atPath: latest.appendingPathComponent(Checkpoint.weightsFile).path), name)
            XCTAssertEqual(try CheckpointBase.read(from: latest)?.absolute, base.path, name)

            let first = try trainer(peft, run: "\(name)-split", base: base, stopAfter: 3)
            XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
            if name == "lora" {  // a resume needs the base: refused while it is away
                let away = directory.appendingPathComponent("away")
                try FileManager.default.moveItem(at: base, to: away)
                XCTAssertThrowsError(try trainer(peft, run: "\(name)-split", base: base, resume: true)) {
                    XCTAssertTrue("\($0)".contains("which does not exist"), "\($0)")
                }
                try FileManager.default.moveItem(at: away, to: base)
            }
            let second = try trainer(peft, run: "\(name)-split", base: base, resume: true)
            try second.run()
            XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses, name)
            XCTAssertEqual(second.model.adapterParameters.map { $0.tensor.toArray() }, whole.model.adapterParameters.map { $0.tensor.toArray() }, name)
            XCTAssertEqual(second.model.parameters.map { $0.tensor.toArray() }, plain.model.parameters.map { $0.tensor.toArray() }, "\(name): the base, from base.json")
            let resumedLatest = directory.appendingPathComponent("\(name)-split/latest")
            XCTAssertEqual(try CheckpointBase.read(from: resumedLatest), try CheckpointBase.read(from: latest), "\(name): the record carries on")

            let saved = try Checkpoint.load(from: latest)
            XCTAssertEqual(saved.model.adapterParameters.map { $0.tensor.toArray() }, whole.model.adapterParameters.map { $0.tensor.toArray() }, name)
            XCTAssertEqual(saved.model.parameters.map { $0.tensor.toArray() }, plain.model.parameters.map { $0.tensor.toArray() }, name)
        }
    }
}
