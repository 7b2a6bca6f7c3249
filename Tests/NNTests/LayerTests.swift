import XCTest
import Foundation
import Kernels
import Autograd
import NN

/// Same tolerances as the Autograd target's gradient checks (see Support.swift there).
private func assertGradients(_ name: String, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor) {
    let w = compareGradients(of: inputs, step: 1e-2, f).worst(absolute: 3e-3, relative: 1e-2)
    XCTAssertLessThanOrEqual(w.ratio, 1, "\(name): input \(w.input)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)", file: file, line: line)
}

final class LayerTests: XCTestCase {
    func testAlibiSlopesFollowThePaper() {
        let eight = Positions.alibiSlopes(heads: 8)
        XCTAssertEqual(eight, (1...8).map { Float(pow(2.0, -Double($0))) })  // 1/2, 1/4, …, 1/256
        // 6 heads: the 4-head slopes, then slopes 1 and 3 (0-based 0, 2) of the 8-head sequence.
        let six = Positions.alibiSlopes(heads: 6)
        XCTAssertEqual(six, [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
        let bias = Positions.alibiBias(slopes: [0.5], queryLength: 2, keyLength: 3)
        XCTAssertEqual(bias.toArray(), [-0.5, 0, 0.5, -1, -0.5, 0])  // positions 1 and 2
    }

    func testSinusoidalTable() {
        let pe = Positions.sinusoidal(length: 3, dimension: 4, offset: 5)
        XCTAssertEqual(pe.data[0], Float(sin(5.0)), accuracy: 1e-6)
        XCTAssertEqual(pe.data[1], Float(cos(5.0)), accuracy: 1e-6)
        XCTAssertEqual(pe.data[2 * 4 + 2], Float(sin(7.0 / 100)), accuracy: 1e-6)
        XCTAssertEqual(pe.data[2 * 4 + 3], Float(cos(7.0 / 100)), accuracy: 1e-6)
    }

    func testAttentionLayerGradientsForEveryVariant() {
        for positions in [AttentionPositions.none, .rotary(theta: 100), .alibi] {
            for kvHeads in [4, 2, 1] {
                var g = RandomGenerator(seed: 3)
                let layer = SelfAttention(modelSize: 8, heads: 4, kvHeads: kvHeads, bias: true, positions: positions,
                                          initializer: .normal(std: 0.3), outputInitializer: .normal(std: 0.3), generator: &g)
                let x = Tensor.randomNormal([2, 3, 8], generator: &g)
                let tensors = [x] + layer.parameters.map(\.tensor)
                assertGradients("attention \(positions) kv \(kvHeads)", tensors) { layer(x) }
                XCTAssertEqual(layer.key.weight.shape, [kvHeads * 2, 8], "K/V projections sized by K/V heads")
            }
        }
    }

    func testKeyValueCacheMatchesFullRecompute() {
        for positions in [AttentionPositions.none, .rotary(theta: 10_000), .alibi] {
            var g = RandomGenerator(seed: 4)
            let layer = SelfAttention(modelSize: 12, heads: 6, kvHeads: 2, bias: false, positions: positions,
                                      initializer: .normal(std: 0.2), outputInitializer: .normal(std: 0.2), generator: &g)
            let x = Tensor.randomNormal([2, 5, 12], generator: &g)
            let full = Autograd.noGrad { layer(x) }.toArray()
            let cache = KeyValueCache(capacity: 5)
            var pieces: [[Float]] = []
            Autograd.noGrad {
                pieces.append(layer(x.slice(1, 0..<2), offset: 0, cache: cache).toArray())
                for t in 2..<5 { pieces.append(layer(x.slice(1, t..<(t + 1)), offset: t, cache: cache).toArray()) }
            }
            XCTAssertEqual(cache.length, 5)
            XCTAssertEqual(cache.keys!.shape, [2, 2, 5, 2])
            // Reassemble per batch row: pieces are (2, len, 12).
            for b in 0..<2 {
                var row: [Float] = Array(pieces[0][(b * 24)..<(b * 24 + 24)])
                for p in pieces.dropFirst() { row += p[(b * 12)..<(b * 12 + 12)] }
                let reference = Array(full[(b * 60)..<(b * 60 + 60)])
                for i in 0..<60 { XCTAssertEqual(row[i], reference[i], accuracy: 1e-5 * max(1, abs(reference[i])), "\(positions)") }
            }
        }
    }

    func testFeedForwardVariants() {
        for (activation, gated) in [(Activation.gelu, false), (.relu, false), (.swish(beta: 1), true), (.gelu, true), (.relu, true)] {
            // Finite differences are invalid across ReLU's kink: take the first
            // seed whose activated pre-activations all sit 0.1 away from zero
            // (a step of 0.01 moves them by far less).
            var seed: UInt64 = 5
            var ffn: FeedForward, x: Tensor
            repeat {
                var g = RandomGenerator(seed: seed)
                ffn = FeedForward(modelSize: 5, hiddenSize: 7, activation: activation, gated: gated, bias: true,
                                  initializer: .normal(std: 0.5), outputInitializer: .normal(std: 0.5), generator: &g)
                x = Tensor.randomNormal([3, 5], generator: &g)
                seed += 1
            } while activation == .relu && Autograd.noGrad({ (ffn.gate ?? ffn.up)(x) }).toArray().contains { abs($0) < 0.1 }
            // Gated form: down(act(gate(x)) ⊙ up(x)).
            if gated {
                let expected = linear(mul(activate(linear(x, weight: ffn.gate!.weight, bias: ffn.gate!.bias), activation),
                                          linear(x, weight: ffn.up.weight, bias: ffn.up.bias)), weight: ffn.down.weight, bias: ffn.down.bias)
                XCTAssertEqual(ffn(x).toArray(), expected.toArray())
            }
            XCTAssertEqual(ffn.parameters.count, gated ? 6 : 4)
            assertGradients("ffn \(activation) gated \(gated)", [x] + ffn.parameters.map(\.tensor)) { ffn(x) }
        }
    }

    func testNormLayers() {
        let ln = Norm(.layerNorm, 6, bias: true, eps: 1e-5), rms = Norm(.rmsNorm, 6, bias: true, eps: 1e-5)
        XCTAssertEqual(ln.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(rms.parameters.map(\.name), ["weight"], "RMSNorm has no bias")
        var g = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([2, 6], generator: &g)
        assertGradients("layernorm layer", [x] + ln.parameters.map(\.tensor)) { ln(x) }
        assertGradients("rmsnorm layer", [x] + rms.parameters.map(\.tensor)) { rms(x) }
    }

    func testInitializers() {
        var g = RandomGenerator(seed: 8)
        let xavier = WeightInit.xavier.matrix(100, 300, generator: &g).toArray()
        let bound = Float((6.0 / 400).squareRoot())
        XCTAssertTrue(xavier.allSatisfy { abs($0) <= bound })
        let kaiming = WeightInit.kaiming.matrix(200, 50, generator: &g).toArray()
        let std = (kaiming.map { Double($0 * $0) }.reduce(0, +) / Double(kaiming.count)).squareRoot()
        XCTAssertEqual(std, 0.2, accuracy: 0.01)  // √(2/50)
    }
}
