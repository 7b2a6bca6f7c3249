import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config

/// The speed-run options against PyTorch, on values made by
/// Fixtures/make_speedrun_references.py: ReLU², soft-capping, QK-norm's
/// gain-free RMSNorm, Newton–Schulz and three Muon + AdamW steps; and a
/// tiny GPT's loss and gradients with value residual and value embeddings
/// (Fixtures/make_value_residual_references.py).
final class SpeedRunReferenceTests: XCTestCase {
    func references() throws -> [String: Any] {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("speedrun-references.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    func floats(_ value: Any?) -> [Float] { (value as! [Double]).map(Float.init) }

    /// y = f(x) and the gradient of Σ w·y, within float32 rounding of PyTorch's.
    /// `scale`: the function's output scale (a soft-cap's c multiplies tanh's 1e-7 error).
    func checkPointwise(_ c: [String: Any], _ name: String, scale: Float = 1, _ f: (Tensor) -> Tensor) {
        let shape = c["shape"] as! [Int]
        let x = Tensor(floats(c["x"]), shape: shape, requiresGrad: true)
        let y = f(x)
        sum(mul(y, Tensor(floats(c["w"]), shape: shape))).backward()
        for (i, (a, b)) in zip(y.toArray(), floats(c["y"])).enumerated() { XCTAssertEqual(a, b, accuracy: 2e-6 * max(scale, abs(b)), "\(name) value \(i)") }
        for (i, (a, b)) in zip(x.grad!.toArray(), floats(c["grad"])).enumerated() { XCTAssertEqual(a, b, accuracy: 2e-5 * max(1, abs(b)), "\(name) gradient \(i)") }
    }

    func testReLUSquaredMatchesPyTorch() throws {
        checkPointwise(try references()["relu2"] as! [String: Any], "relu2") { reluSquared($0) }
    }

    func testSoftcapMatchesPyTorch() throws {
        for case let c as [String: Any] in try references()["softcap"] as! [Any] {
            let cap = Float(c["cap"] as! Double)
            checkPointwise(c, "softcap \(cap)", scale: cap) { softcap($0, cap: cap) }
        }
    }

    /// QK-norm is RMSNorm over each head's D values with a gain of ones: F.rms_norm(x, (D,)).
    func testQueryKeyNormMatchesPyTorch() throws {
        let c = try references()["qk_norm"] as! [String: Any]
        let d = (c["shape"] as! [Int]).last!
        let ones = Tensor([Float](repeating: 1, count: d), shape: [d])
        checkPointwise(c, "qk-norm") { rmsNorm($0, gain: ones, eps: Float(c["eps"] as! Double)) }
    }

    func testNewtonSchulzMatchesPyTorch() throws {
        for case let c as [String: Any] in try references()["newton_schulz"] as! [Any] {
            let (rows, cols) = (c["rows"] as! Int, c["cols"] as! Int)
            let g = floats(c["g"])
            var out = [Float](repeating: .nan, count: rows * cols)
            g.withUnsafeBufferPointer { gp in
                out.withUnsafeMutableBufferPointer { NewtonSchulz.orthogonalize(gp.baseAddress!, $0.baseAddress!, rows: rows, cols: cols) }
            }
            for (i, (a, b)) in zip(out, floats(c["out"])).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-4, "\(rows)×\(cols) element \(i)") }
        }
    }

    /// Muon on the blocks' matrices (one transposed: more rows than columns), AdamW
    /// on an embedding (decays) and a norm gain (does not), three steps.
    func testMuonStepsMatchTheReference() throws {
        let c = try references()["muon"] as! [String: Any]
        let shapes = c["shapes"] as! [String: [Int]], start = c["start"] as! [String: Any]
        let names = ["blocks.0.attn.q.weight", "blocks.0.ffn.up.weight", "blocks.0.attn_norm.weight", "token_embedding.weight"]
        let parameters = names.map { Parameter(name: $0, tensor: Tensor(floats(start[$0]), shape: shapes[$0]!, requiresGrad: true)) }
        XCTAssertEqual(parameters.map(\.isHiddenMatrix), [true, true, false, false])
        var settings = OptimizerSettings()
        settings.kind = .muon; settings.beta1 = Float(c["beta1"] as! Double); settings.beta2 = Float(c["beta2"] as! Double)
        settings.weightDecay = Float(c["weight_decay"] as! Double); settings.muonMomentum = Float(c["momentum"] as! Double)
        settings.muonLearningRateRatio = Float(c["muon_lr_ratio"] as! Double)
        let optimizer = Optimizer(parameters: parameters, settings: settings)
        let grads = c["grads"] as! [[String: Any]], lrs = c["lrs"] as! [Double], steps = c["steps"] as! [[String: Any]]
        for (step, (g, lr)) in zip(grads, lrs).enumerated() {
            for p in parameters { p.tensor.grad = Tensor(floats(g[p.name]), shape: p.tensor.shape) }
            optimizer.step(lr: Float(lr))
            for p in parameters {
                for (i, (a, b)) in zip(p.tensor.toArray(), floats(steps[step][p.name])).enumerated() {
                    XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "step \(step + 1) \(p.name)[\(i)]")
                }
            }
        }
        // One momentum buffer for the matrices Muon updates, two moments for the rest.
        XCTAssertEqual(optimizer.state.map(\.name), ["m.blocks.0.attn.q.weight", "m.blocks.0.ffn.up.weight", "m.blocks.0.attn_norm.weight",
                                                      "v.blocks.0.attn_norm.weight", "m.token_embedding.weight", "v.token_embedding.weight"])
    }

    /// Value residual (λ·v + (1 − λ)·v₁ from the second layer on, λ learned) and one value
    /// embedding table on layers 0 and 2, with GQA: the whole model's loss and every gradient.
    func testValueResidualAndValueEmbeddingsMatchPyTorch() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("value-residual-references.json")
        let c = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let m = c["config"] as! [String: Any]
        var config = ModelConfig()
        config.vocabSize = m["vocab_size"] as? Int; config.contextLength = m["context_length"] as! Int; config.nLayer = m["n_layer"] as! Int
        config.dModel = m["d_model"] as! Int; config.nHead = m["n_head"] as! Int; config.nKVHead = m["n_kv_head"] as? Int
        config.dFF = m["d_ff"] as? Int; config.normEps = m["norm_eps"] as! Double
        config.norm = .rmsNorm; config.activation = .relu2; config.bias = false; config.dropout = 0
        config.valueResidual = true; config.valueEmbeddings = m["value_embeddings"] as! Int
        let model = GPT(config: config, seed: 1)
        let parameters = c["parameters"] as! [String: Any], gradients = c["gradients"] as! [String: Any]
        XCTAssertEqual(Set(model.parameters.map(\.name)), Set(parameters.keys))
        for p in model.parameters { p.tensor.copy(from: Tensor(floats(parameters[p.name]), shape: p.tensor.shape)) }
        let ids = (c["ids"] as! [Int]).map(Int32.init), targets = (c["targets"] as! [Int]).map(Int32.init)
        let batch = c["batch"] as! Int
        let loss = model.loss(ids, targets: targets, batch: batch, length: ids.count / batch)
        XCTAssertEqual(loss.item, Float(c["loss"] as! Double), accuracy: 1e-5)
        loss.backward()
        for p in model.parameters {
            let expected = floats(gradients[p.name]), got = p.tensor.grad!.toArray()
            for (i, (a, b)) in zip(got, expected).enumerated() { XCTAssertEqual(a, b, accuracy: 2e-5 * max(1, abs(b)), "\(p.name)[\(i)]") }
        }
    }
}
