import XCTest
import Kernels
import Autograd
import NN

final class LoRATests: XCTestCase {
    /// A layer with awkward sizes (in 7, out 5, rank 3) and a non-zero B, so every path carries gradient.
    func adaptedLayer(bias: Bool = true, seed: UInt64 = 11) -> (Linear, RandomGenerator) {
        var g = RandomGenerator(seed: seed)
        let layer = Linear(7, 5, bias: bias, initializer: .normal(std: 0.3), generator: &g)
        layer.adapter = LoRAAdapter(inFeatures: 7, outFeatures: 5, rank: 3, alpha: 5, generator: &g)
        let b = layer.adapter!.b
        for i in 0..<b.count { b.data[i] = 0.4 * g.normal() }
        return (layer, g)
    }

    func testAdaptedLinearGradients() {
        for bias in [true, false] {
            var (layer, g) = adaptedLayer(bias: bias)
            let x = Tensor.randomNormal([2, 3, 7], generator: &g)
            let inputs = [x, layer.weight, layer.adapter!.a, layer.adapter!.b] + (layer.bias.map { [$0] } ?? [])
            let w = compareGradients(of: inputs, step: 1e-2) { layer(x) }.worst(absolute: 3e-3, relative: 1e-2)
            XCTAssertLessThanOrEqual(w.ratio, 1, "bias \(bias): input \(w.input)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)")
        }
    }

    func testAdaptedLinearGradientsWithDropout() {
        var (layer, g) = adaptedLayer()
        let x = Tensor.randomNormal([5, 7], generator: &g)
        let inputs = [x, layer.weight, layer.adapter!.a, layer.adapter!.b, layer.bias!]
        let w = compareGradients(of: inputs, step: 1e-2) {
            layer.adapter!.dropout = Dropout(probability: 0.3, generator: RandomGenerator(seed: 1))  // the same mask every call
            return layer(x)
        }.worst(absolute: 3e-3, relative: 1e-2)
        XCTAssertLessThanOrEqual(w.ratio, 1, "input \(w.input)[\(w.index)] analytic \(w.analytic) numeric \(w.numeric)")
    }

    func testAdapterIsScaleTimesBAOnTheInput() {
        var (layer, g) = adaptedLayer()
        let x = Tensor.randomNormal([4, 7], generator: &g)
        let adapter = layer.adapter!
        XCTAssertEqual(adapter.scale, 5 / 3)
        let y = layer(x).toArray()
        layer.adapter = nil
        let base = layer(x).toArray()
        let (a, b) = (adapter.a.toArray(), adapter.b.toArray())
        for row in 0..<4 {
            for o in 0..<5 {
                var sum = 0.0
                for r in 0..<3 {
                    var ax = 0.0
                    for i in 0..<7 { ax += Double(a[r * 7 + i]) * Double(x.data[row * 7 + i]) }
                    sum += Double(b[o * 3 + r]) * ax
                }
                XCTAssertEqual(Double(y[row * 5 + o]), Double(base[row * 5 + o]) + Double(adapter.scale) * sum, accuracy: 1e-5)
            }
        }
        // delta() is the same update as a matrix: W + delta gives the same outputs.
        let delta = adapter.delta()
        for i in 0..<layer.weight.count { layer.weight.data[i] += delta[i] }
        let merged = layer(x).toArray()
        for (m, u) in zip(merged, y) { XCTAssertEqual(m, u, accuracy: 1e-5) }
    }

    func testInitialisationFollowsPEFT() {
        var g = RandomGenerator(seed: 2)
        let adapter = LoRAAdapter(inFeatures: 64, outFeatures: 48, rank: 8, alpha: 16, generator: &g)
        XCTAssertEqual(adapter.a.shape, [8, 64])
        XCTAssertEqual(adapter.b.shape, [48, 8])
        XCTAssertTrue(adapter.b.toArray().allSatisfy { $0 == 0 }, "B starts at zero")
        let a = adapter.a.toArray(), bound: Float = 1 / 8  // kaiming_uniform_(a=√5): ±1/√fan_in
        XCTAssertTrue(a.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(a.map(abs).max()!, 0.9 * bound, "spread over the whole interval")
        XCTAssertEqual(adapter.scale, 2)
        XCTAssertEqual(adapter.parameters.map(\.name), ["lora_A", "lora_B"])
    }

    func testZeroBLeavesTheOutputBitForBit() {
        var g = RandomGenerator(seed: 5)
        let layer = Linear(9, 6, bias: true, initializer: .normal(std: 0.2), generator: &g)
        let x = Tensor.randomNormal([3, 9], generator: &g)
        let base = layer(x).toArray()
        layer.adapter = LoRAAdapter(inFeatures: 9, outFeatures: 6, rank: 2, alpha: 7, generator: &g)
        XCTAssertEqual(layer(x).toArray(), base)
    }

    func testDropoutActsOnTheAdapterInputOnly() {
        var (layer, g) = adaptedLayer()
        let x = Tensor.randomNormal([4, 7], generator: &g)
        let plain = Autograd.noGrad { layer(x) }.toArray()
        layer.adapter!.dropout = Dropout(probability: 0.5, generator: RandomGenerator(seed: 1))
        let dropped = Autograd.noGrad { layer(x) }.toArray()
        XCTAssertNotEqual(plain, dropped)
        // With B = 0 the adapter contributes nothing, dropout or not: the base path has none.
        layer.adapter!.b.fill(0)
        layer.adapter!.dropout = nil
        let base = Autograd.noGrad { layer(x) }.toArray()
        layer.adapter!.dropout = Dropout(probability: 0.5, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(Autograd.noGrad { layer(x) }.toArray(), base)
    }
}
