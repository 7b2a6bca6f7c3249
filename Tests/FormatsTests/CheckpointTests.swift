import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

final class CheckpointTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try Scratch.directory("checkpoint")
    }

    override func tearDownWithError() throws { Scratch.remove(directory) }

    func config(_ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.vocabSize = 11; c.model.contextLength = 8; c.model.nLayer = 2; c.model.dModel = 12; c.model.nHead = 3
        c.model.nKVHead = 1; c.model.position = .rope; c.model.activation = .swiglu; c.model.tieEmbeddings = false
        c.model.bias = false
        change(&c)
        return c
    }

    let ids: [Int32] = [1, 5, 9, 2, 0, 10]

    func testSaveThenLoadGivesIdenticalLogits() throws {
        let run = config()
        let model = GPT(config: run.model, seed: 21)
        let target = directory.appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, config: run, tokenizerJSON: Data("{}".utf8), to: target)
        for file in [Checkpoint.weightsFile, Checkpoint.configFile, Checkpoint.tokenizerFile] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: target.appendingPathComponent(file).path), file)
        }
        let loaded = try Checkpoint.load(from: target)
        XCTAssertEqual(loaded.config, run.resolved())
        let before = Autograd.noGrad { model(ids, batch: 2, length: 3) }.toArray()
        let after = Autograd.noGrad { loaded.model(ids, batch: 2, length: 3) }.toArray()
        XCTAssertEqual(before, after)
        // Saving again over the same directory replaces it whole and leaves no temporary files.
        try Checkpoint.save(model: loaded.model, config: run, tokenizerJSON: Data("{}".utf8), to: target)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
    }

    func testLoadReportsTheFirstMismatch() throws {
        let run = config()
        let target = directory.appendingPathComponent("ckpt")
        try Checkpoint.save(model: GPT(config: run.model, seed: 1), config: run, tokenizerJSON: Data("{}".utf8), to: target)
        let file = try SafeTensors.read(from: target.appendingPathComponent(Checkpoint.weightsFile))

        // A config that needs a different shape.
        let wider = GPT(config: config { $0.model.nKVHead = 3 }.model, seed: 1)
        XCTAssertThrowsError(try Checkpoint.assign(file, to: wider, source: "m")) { error in
            XCTAssertEqual("\(error)", "m: tensor 'blocks.0.attn.k.weight' has shape (4, 12) but the config needs (12, 12)")
        }
        // A config that expects a tensor the file lacks.
        let biased = GPT(config: config { $0.model.bias = true }.model, seed: 1)
        XCTAssertThrowsError(try Checkpoint.assign(file, to: biased, source: "m")) { error in
            XCTAssertTrue("\(error)".contains("missing tensor 'blocks.0.attn_norm.bias'"), "\(error)")
        }
        // A file with a tensor the config does not have.
        let tied = GPT(config: config { $0.model.tieEmbeddings = true }.model, seed: 1)
        XCTAssertThrowsError(try Checkpoint.assign(file, to: tied, source: "m")) { error in
            XCTAssertTrue("\(error)".contains("unexpected tensor 'lm_head.weight'"), "\(error)")
        }
    }

    func testMissingOrIncompleteDirectories() throws {
        XCTAssertThrowsError(try Checkpoint.load(from: directory.appendingPathComponent("nope"))) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertThrowsError(try Checkpoint.load(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("has no config.json"), "\(error)")
        }
        XCTAssertThrowsError(try Checkpoint.resolve(directory.path)) { error in
            XCTAssertTrue("\(error)".contains("neither a checkpoint"), "\(error)")
        }
        // A run directory resolves to best/, else latest/.
        let run = config()
        try Checkpoint.save(model: GPT(config: run.model, seed: 1), config: run, tokenizerJSON: Data("{}".utf8),
                            to: directory.appendingPathComponent("latest"))
        XCTAssertEqual(try Checkpoint.resolve(directory.path).lastPathComponent, "latest")
        // Truncated weights: an error naming the file, not a crash.
        let weights = directory.appendingPathComponent("latest").appendingPathComponent(Checkpoint.weightsFile)
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count / 2).write(to: weights)
        XCTAssertThrowsError(try Checkpoint.load(from: directory.appendingPathComponent("latest")))
    }
}
