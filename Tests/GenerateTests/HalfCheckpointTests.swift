import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Generate

/// Half checkpoints (`quantize --format f16|bf16`) through every read path:
/// the batched GPT (`Checkpoint.load`: eval, logits, several samples, training
/// from it), the per-token model over mapped weights (`Checkpoint.map`: sample
/// and chat), and its prefill. Each gives the logits of the float model whose
/// weights are rounded to the half format, and those are within the half's
/// rounding of the float model's.
final class HalfCheckpointTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("half-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func model(_ change: (inout ModelConfig) -> Void) -> GPT {
        var c = ModelConfig()
        c.vocabSize = 13; c.contextLength = 24; c.nLayer = 2; c.dModel = 32; c.nHead = 4; c.dFF = 64
        change(&c)
        let gpt = GPT(config: c, seed: 21)
        // Weights of several magnitudes, so that rounding differs between the formats.
        var g = RandomGenerator(seed: 4)
        for p in gpt.parameters {
            for i in 0..<p.tensor.count { p.tensor.data[i] = Float(g.uniformDouble() * 2 - 1) * (p.tensor.rank == 2 ? 0.3 : 1) }
        }
        return gpt
    }

    /// The float model with every weight rounded to `half` (computed in float32).
    func rounded(_ gpt: GPT, _ half: HalfFloat) -> GPT {
        let copy = GPT(config: gpt.config, seed: 0)
        for (p, q) in zip(gpt.parameters, copy.parameters) {
            for i in 0..<p.tensor.count { q.tensor.data[i] = half.float(half.bits(p.tensor.data[i])) }
        }
        return copy
    }

    func testEveryReadPathGivesTheRoundedModelsLogits() throws {
        let variants: [(String, GPT)] = [
            ("gpt2-like", model { $0.position = .learned }),
            ("llama-like gqa", model { $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm; $0.nKVHead = 2; $0.bias = false; $0.tieEmbeddings = false }),
        ]
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11, 4, 4, 8, 6, 1, 0, 10, 2]
        for (name, gpt) in variants {
            let reference = gpt(tokens, batch: 1, length: tokens.count).toArray()
            let spread = reference.map(abs).max()!
            for half in HalfFloat.allCases {
                let dtype = SafeTensorsDType(half), label = "\(name) \(half)"
                let dir = directory.appendingPathComponent("\(name)-\(half)")
                var run = RunConfig()
                run.model = gpt.config
                try Checkpoint.save(model: gpt, config: run, tokenizerJSON: Data("{}".utf8), dtype: dtype, to: dir)
                let expected = rounded(gpt, half)(tokens, batch: 1, length: tokens.count).toArray()

                // Loaded: the same GPT over the same (rounded) weights: the same bits.
                let loaded = try Checkpoint.load(from: dir)
                XCTAssertEqual(loaded.storage, dtype, label)
                XCTAssertEqual(loaded.model(tokens, batch: 1, length: tokens.count).toArray(), expected, label)

                // Mapped (converted once on opening): the per-token path, token by token and prefilled.
                let mapped = try Checkpoint.map(from: dir)
                XCTAssertEqual(mapped.storage, dtype, label)
                let perToken = InferenceModel(float: mapped.weights, config: mapped.config.model).logits(tokens)
                let prefiller = InferenceModel(float: mapped.weights, config: mapped.config.model)
                let prefilled = withExtendedLifetime(prefiller) { Array(prefiller.prefill(tokens)) }
                let last = Array(expected.suffix(gpt.vocabSize))
                for (i, (a, b)) in zip(perToken, expected).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, spread), "\(label) per token at \(i)") }
                for (i, (a, b)) in zip(prefilled, last).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, spread), "\(label) prefill at \(i)") }

                // Against the float model: within what rounding every weight to the half's precision moves
                // (2^-11 relative for f16, 2^-8 for bf16, accumulated over two layers).
                let tolerance: Float = half == .f16 ? 2e-3 : 2e-2
                let worst = zip(expected, reference).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, tolerance * spread, "\(label): largest difference \(worst) of logits up to \(spread)")
                XCTAssertGreaterThan(worst, 0, "\(label): rounding changed nothing, so the test would not see a float32 path")
            }
        }
    }
}
