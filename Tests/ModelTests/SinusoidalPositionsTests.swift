import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// Sinusoidal positions as in Attention Is All You Need (§3.4): the token
/// embeddings are multiplied by √d_model before the sinusoids are added.
final class SinusoidalPositionsTests: XCTestCase {
    func config() -> RunConfig {
        var c = RunConfig()
        c.model.vocabSize = 11; c.model.contextLength = 8; c.model.nLayer = 1; c.model.dModel = 16; c.model.nHead = 2
        c.model.position = .sinusoidal
        return c
    }

    func testTokenEmbeddingsAreScaledBySqrtDModel() {
        let run = config()
        let model = GPT(config: run.model, seed: 3)
        // The embedding layer's output, read through a model with no blocks' effect:
        // compare the first block's input with the formula, via a one-token sequence at position 0.
        let table = Positions.sinusoidal(length: run.model.contextLength, dimension: run.model.dModel).toArray()
        let embedding = model.parameters.first { $0.name == "token_embedding.weight" }!.tensor.toArray()
        let id = 7, d = run.model.dModel
        let expected = (0..<d).map { embedding[id * d + $0] * Float(d).squareRoot() + table[$0] }
        XCTAssertEqual(model.embed([Int32(id)], batch: 1, length: 1, offset: 0).toArray(), expected)
    }

    func testAVersionOneSinusoidalCheckpointIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinygpt-sinusoidal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = config()
        let model = GPT(config: run.model, seed: 3)
        try Checkpoint.save(model: model, config: run, tokenizerJSON: Data("{}".utf8), to: directory)
        XCTAssertNoThrow(try Checkpoint.load(from: directory))
        let weights = model.parameters.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
        try SafeTensors.write(weights, metadata: ["format": "tinygpt", "format_version": "1"], to: directory.appendingPathComponent(Checkpoint.weightsFile))
        XCTAssertThrowsError(try Checkpoint.load(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("trained before sinusoidal positions followed the paper"), "\(error)")
        }
    }
}
