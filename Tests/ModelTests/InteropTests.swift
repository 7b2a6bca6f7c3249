import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats

/// Import of Hugging Face checkpoints, checked against logits that
/// transformers computed (fixtures made by bench/parity/hf_interop.py --fixtures).
final class InteropTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try Scratch.directory("interop")
    }

    override func tearDownWithError() throws { Scratch.remove(directory) }

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    func testImportedModelsReproduceTransformersLogits() throws {
        for name in ["hf-gpt2", "hf-llama"] {
            let (model, config, _) = try HuggingFace.load(from: fixture(name))
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture(name).appendingPathComponent("expected_logits.json"))) as! [String: Any]
            let ids = (expected["ids"] as! [Int]).map(Int32.init)
            let rows = expected["logits"] as! [[Double]]
            let ours = Autograd.noGrad { model(ids, batch: 1, length: ids.count) }.toArray()
            let scale = rows.flatMap { $0 }.map(abs).max()!
            var worst = 0.0
            for (t, row) in rows.enumerated() { for (j, x) in row.enumerated() { worst = max(worst, abs(Double(ours[t * row.count + j]) - x)) } }
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(name): max relative logit error \(worst / scale)")
            XCTAssertEqual(config.model.norm, name == "hf-gpt2" ? .layerNorm : .rmsNorm)
        }
    }

    func testExportThenImportIsExact() throws {
        for family in [HuggingFace.Family.gpt2, .llama] {
            var run = RunConfig()
            run.model.vocabSize = 23; run.model.contextLength = 10; run.model.nLayer = 2; run.model.dModel = 12; run.model.nHead = 3
            if family == .llama {
                run.model.norm = .rmsNorm; run.model.position = .rope; run.model.activation = .swiglu
                run.model.bias = false; run.model.nKVHead = 1; run.model.tieEmbeddings = false
            } else {
                run.model.bias = false  // exported as zero biases
            }
            let model = GPT(config: run.model, seed: 5)
            XCTAssertEqual(try HuggingFace.family(for: run.model), family)
            let out = directory.appendingPathComponent("\(family)")
            try HuggingFace.export(model: model, config: run, tokenizerJSON: Data("{}".utf8), specialTokens: [:], to: out)
            for file in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), file)
            }
            let (back, _, _) = try HuggingFace.load(from: out)
            let ids: [Int32] = [3, 1, 22, 7, 0, 9]
            let a = Autograd.noGrad { model(ids, batch: 1, length: 6) }.toArray()
            let b = Autograd.noGrad { back(ids, batch: 1, length: 6) }.toArray()
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x)), "\(family)") }
        }
    }

    func testUnsupportedConfigsAndDirectoriesAreRefused() throws {
        var alibi = ModelConfig()
        alibi.position = .alibi
        XCTAssertThrowsError(try HuggingFace.family(for: alibi)) { error in
            XCTAssertTrue("\(error)".contains("position learned (got alibi)") && "\(error)".contains("position rope (got alibi)"), "\(error)")
        }
        var post = ModelConfig()
        post.normPosition = .post
        XCTAssertThrowsError(try HuggingFace.family(for: post))
        var reglu = ModelConfig()
        reglu.norm = .rmsNorm; reglu.position = .rope; reglu.activation = .reglu
        XCTAssertThrowsError(try HuggingFace.family(for: reglu)) { XCTAssertTrue("\($0)".contains("activation swiglu or glu (got reglu)"), "\($0)") }

        let fm = FileManager.default
        func copyFixture(_ name: String) throws -> URL {
            let dest = directory.appendingPathComponent(UUID().uuidString)
            try fm.copyItem(at: fixture(name), to: dest)
            return dest
        }
        let sharded = try copyFixture("hf-gpt2")
        try Data("{}".utf8).write(to: sharded.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try HuggingFace.load(from: sharded)) { XCTAssertTrue("\($0)".contains("sharded"), "\($0)") }

        let pickle = try copyFixture("hf-gpt2")
        try fm.removeItem(at: pickle.appendingPathComponent("model.safetensors"))
        try Data().write(to: pickle.appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try HuggingFace.load(from: pickle)) { XCTAssertTrue("\($0)".contains("pytorch_model.bin"), "\($0)") }

        let other = try copyFixture("hf-gpt2")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: other.appendingPathComponent("config.json"))) as! [String: Any]
        config["model_type"] = "mistral"
        try JSONSerialization.data(withJSONObject: config).write(to: other.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try HuggingFace.load(from: other)) { XCTAssertTrue("\($0)".contains("model_type 'mistral' is not supported"), "\($0)") }

        let wrong = try copyFixture("hf-llama")
        var llama = try JSONSerialization.jsonObject(with: Data(contentsOf: wrong.appendingPathComponent("config.json"))) as! [String: Any]
        llama["intermediate_size"] = 32
        try JSONSerialization.data(withJSONObject: llama).write(to: wrong.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try HuggingFace.load(from: wrong)) { XCTAssertTrue("\($0)".contains("config.json implies"), "\($0)") }

        XCTAssertThrowsError(try HuggingFace.load(from: directory.appendingPathComponent("missing")))
    }
}
