import XCTest
import Model
import Config
import Generate

/// Several sequences stepped together give, bit for bit, the logits each gives alone.
final class InferenceBatchTests: XCTestCase {
    func check(_ configure: (inout ModelConfig) -> Void, file: StaticString = #filePath, line: UInt = #line) {
        var c = ModelConfig()
        c.vocabSize = 40; c.contextLength = 32; c.nLayer = 2; c.dModel = 32; c.nHead = 4; c.dFF = 48
        configure(&c)
        let gpt = GPT(config: c, seed: 9)
        let prompts: [[Int32]] = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11], [12, 13, 14, 15, 16]]
        let alone = prompts.map { _ in InferenceModel(model: gpt) }
        let together = prompts.map { _ in InferenceModel(model: gpt) }
        XCTAssertTrue(InferenceBatch.supports(together[0]), file: file, line: line)
        for (p, models) in [(prompts, alone), (prompts, together)] {
            for (prompt, model) in zip(p, models) { _ = model.prefill(prompt) }
        }
        let batch = InferenceBatch(capacity: 4, like: together[0])
        var tokens: [Int32] = [20, 21, 22, 23]
        for step in 0..<5 {
            let expected = zip(alone, tokens).map { Array($0.next($1)) }
            let got = batch.next(together, tokens)
            XCTAssertEqual(got, expected, "step \(step)", file: file, line: line)
            tokens = tokens.map { ($0 + 3) % 40 }
        }
        XCTAssertEqual(together.map(\.length), alone.map(\.length), file: file, line: line)
        // Fewer sequences than the capacity.
        XCTAssertEqual(batch.next(Array(together.prefix(2)), [1, 2]), zip(alone.prefix(2), [Int32(1), 2]).map { Array($0.next($1)) },
                       file: file, line: line)
    }

    func testRopeRMSNormSwiGLU() {
        check { $0.position = .rope; $0.norm = .rmsNorm; $0.activation = .swiglu; $0.nKVHead = 2 }
    }

    func testSpeedRunOptions() {
        check { $0.position = .rope; $0.qkNorm = true; $0.activation = .relu2; $0.logitSoftcap = 0.8; $0.tieEmbeddings = false }
    }

    func testValueResidualAndValueEmbeddings() {
        check { $0.position = .rope; $0.nLayer = 3; $0.valueResidual = true; $0.valueEmbeddings = 1; $0.nKVHead = 2 }
    }

    func testLearnedPositionsLayerNormGELU() {
        check { $0.position = .learned; $0.norm = .layerNorm; $0.activation = .gelu }
    }

    func testQuantizedAndPostNormAreNotBatched() {
        var c = ModelConfig()
        c.vocabSize = 40; c.contextLength = 16; c.nLayer = 1; c.dModel = 16; c.nHead = 2; c.dFF = 32; c.normPosition = .post
        XCTAssertFalse(InferenceBatch.supports(InferenceModel(model: GPT(config: c, seed: 1))))
    }
}
