import XCTest
import Foundation
import Kernels
import Autograd
import NN

final class OptimizerTests: XCTestCase {
    /// One matrix (decays) and one bias (does not), with fixed gradients.
    func makeParameters() -> [Parameter] {
        let w = Tensor([0.5, -1.0, 2.0, 0.0], shape: [2, 2], requiresGrad: true)
        let b = Tensor([0.3, -0.2], shape: [2], requiresGrad: true)
        return [Parameter(name: "w", tensor: w), Parameter(name: "b", tensor: b)]
    }

    func setGradients(_ ps: [Parameter], step: Int) {
        let gw: [Float] = [0.1, -0.2, 0.3, 0.4].map { $0 * Float(step) }
        let gb: [Float] = [-0.5, 0.25]
        for (p, g) in zip(ps, [gw, gb]) {
            p.tensor.grad = Tensor(g, shape: p.tensor.shape)
        }
    }

    func testAdamWMatchesHandComputedUpdates() {
        var settings = OptimizerSettings()
        settings.kind = .adamw; settings.beta1 = 0.9; settings.beta2 = 0.99; settings.eps = 1e-8; settings.weightDecay = 0.1
        let ps = makeParameters()
        let optimizer = Optimizer(parameters: ps, settings: settings)
        // The same three steps in Double, straight from the AdamW paper (Algorithm 2)
        // with PyTorch's choices: decay multiplies w by (1 − lr·λ) before the Adam step.
        var w: [Double] = [0.5, -1.0, 2.0, 0.0, 0.3, -0.2], m = [Double](repeating: 0, count: 6), v = m
        let lr = 0.01
        for t in 1...3 {
            setGradients(ps, step: t)
            optimizer.step(lr: Float(lr))
            let g = [0.1, -0.2, 0.3, 0.4].map { $0 * Double(t) } + [-0.5, 0.25]
            for i in 0..<6 {
                if i < 4 { w[i] *= 1 - lr * 0.1 }
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
                let mHat = m[i] / (1 - pow(0.9, Double(t))), vHat = v[i] / (1 - pow(0.99, Double(t)))
                w[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
            }
            let got = ps[0].tensor.toArray() + ps[1].tensor.toArray()
            for i in 0..<6 { XCTAssertEqual(Double(got[i]), w[i], accuracy: 1e-6, "step \(t) element \(i)") }
        }
        XCTAssertEqual(optimizer.stepCount, 3)
        // First AdamW step moves every parameter by ≈ lr (the update is m̂/√v̂ = ±1).
    }

    /// The update loops run 16 lanes at a time, then a partial tail: a 37-element
    /// matrix (two full blocks and 5 tail lanes) must get exactly the updates
    /// the same elements get as 37 one-element matrices (tail lanes only).
    func testFullLanesAndTailUpdateAlike() {
        var rng = RandomGenerator(seed: 5)
        let start = (0..<37).map { _ in rng.uniform() * 2 - 1 }
        let grads = (0..<2).map { _ in (0..<37).map { _ in rng.uniform() - 0.5 } }
        for kind in OptimizerKind.allCases {
            var settings = OptimizerSettings()
            settings.kind = kind; settings.weightDecay = 0.1; settings.momentum = 0.9; settings.l1 = 0.01; settings.l2 = 0.02
            let whole = Parameter(name: "w", tensor: Tensor(start, shape: [1, 37], requiresGrad: true))
            let singles = start.enumerated().map { Parameter(name: "w\($0.offset)", tensor: Tensor([$0.element], shape: [1, 1], requiresGrad: true)) }
            let optimizers = [Optimizer(parameters: [whole], settings: settings), Optimizer(parameters: singles, settings: settings)]
            for g in grads {
                whole.tensor.grad = Tensor(g, shape: [1, 37])
                for (i, p) in singles.enumerated() { p.tensor.grad = Tensor([g[i]], shape: [1, 1]) }
                for o in optimizers { o.step(lr: 0.05) }
            }
            XCTAssertEqual(whole.tensor.toArray(), singles.map { $0.tensor.data[0] }, "\(kind)")
            XCTAssertNotEqual(whole.tensor.toArray(), start, "\(kind) moved the weights")
        }
    }

    /// zeroGrad drops gradients (PyTorch's set_to_none): a parameter that gets
    /// none in a step keeps its value, even with weight decay.
    func testZeroGradDropsGradientsAndSkipsParametersWithout() {
        var settings = OptimizerSettings()
        settings.weightDecay = 0.1
        let ps = makeParameters()
        let optimizer = Optimizer(parameters: ps, settings: settings)
        setGradients(ps, step: 1)
        optimizer.zeroGrad()
        XCTAssertNil(ps[0].tensor.grad)
        XCTAssertNil(ps[1].tensor.grad)
        ps[1].tensor.grad = Tensor([-0.5, 0.25], shape: [2])  // only the bias gets a gradient
        let before = ps[0].tensor.toArray()
        optimizer.step(lr: 0.01)
        XCTAssertEqual(ps[0].tensor.toArray(), before)
        XCTAssertNotEqual(ps[1].tensor.toArray(), [0.3, -0.2])
    }

    func testAdamCouplesWeightDecayIntoGradient() {
        var settings = OptimizerSettings()
        settings.kind = .adam; settings.beta1 = 0.9; settings.beta2 = 0.999; settings.weightDecay = 0.5
        let ps = makeParameters()
        setGradients(ps, step: 1)
        Optimizer(parameters: ps, settings: settings).step(lr: 0.1)
        // Step 1: m̂ = g', v̂ = g'² → update = lr·sign(g'), with g' = g + λw for matrices.
        let gPrime: [Float] = [0.1 + 0.25, -0.2 - 0.5, 0.3 + 1.0, 0.4 + 0]
        let start: [Float] = [0.5, -1.0, 2.0, 0.0]
        var expected = [Float]()
        for i in 0..<4 { expected.append(start[i] - (gPrime[i] > 0 ? 0.1 : -0.1)) }
        for i in 0..<4 { XCTAssertEqual(ps[0].tensor.data[i], expected[i], accuracy: 1e-6) }
        XCTAssertEqual(ps[1].tensor.toArray()[0], 0.3 + 0.1, accuracy: 1e-6, "bias: no decay")
    }

    func testSGDWithMomentum() {
        var settings = OptimizerSettings()
        settings.kind = .sgd; settings.momentum = 0.9
        let ps = makeParameters()
        let optimizer = Optimizer(parameters: ps, settings: settings)
        setGradients(ps, step: 1); optimizer.step(lr: 0.1)
        setGradients(ps, step: 2); optimizer.step(lr: 0.1)
        // buf₁ = g₁, buf₂ = 0.9·g₁ + g₂; w = w₀ − 0.1·(buf₁ + buf₂)
        XCTAssertEqual(ps[0].tensor.data[0], 0.5 - 0.1 * (0.1 + (0.09 + 0.2)), accuracy: 1e-6)
        XCTAssertEqual(ps[1].tensor.data[1], -0.2 - 0.1 * (0.25 + (0.225 + 0.25)), accuracy: 1e-6)
    }

    func testL1AndL2PenaltiesOnlyOnDecayingParameters() {
        var settings = OptimizerSettings()
        settings.kind = .sgd; settings.l1 = 0.1; settings.l2 = 0.5
        let ps = makeParameters()
        for p in ps { p.tensor.grad = Tensor(zeros: p.tensor.shape) }
        Optimizer(parameters: ps, settings: settings).step(lr: 1)
        // grad = λ₁·sign(w) + 2λ₂·w
        let expected: [Float] = [0.5 - 0.6, -1 + 1.1, 2 - 2.1, 0]
        let got = ps[0].tensor.toArray()
        for i in 0..<4 { XCTAssertEqual(got[i], expected[i], accuracy: 1e-6, "matrix") }
        XCTAssertEqual(ps[1].tensor.toArray(), [0.3, -0.2], "bias untouched")
    }

    func testGradientClipping() {
        let ps = makeParameters()
        ps[0].tensor.grad = Tensor([3, 0, 0, 0], shape: [2, 2])
        ps[1].tensor.grad = Tensor([0, 4], shape: [2])
        XCTAssertEqual(clipGradientNorm(ps, maxNorm: 0), 5, "0 only measures")
        XCTAssertEqual(ps[0].tensor.grad!.data[0], 3)
        XCTAssertEqual(clipGradientNorm(ps, maxNorm: 1), 5)
        XCTAssertEqual(ps[0].tensor.grad!.data[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(ps[1].tensor.grad!.data[1], 0.8, accuracy: 1e-5)
        XCTAssertEqual(clipGradientNorm(ps, maxNorm: 10), 1, accuracy: 1e-5, "below the limit: unchanged")
    }

    /// Training folds clipping into the update (`gradientScale`): the same
    /// weights, bit for bit, as scaling the gradients first (clip_grad_norm_).
    func testClipFactorInTheUpdateEqualsScaledGradients() {
        var rng = RandomGenerator(seed: 9)
        let start = (0..<37).map { _ in rng.uniform() - 0.5 }, grad = (0..<37).map { _ in rng.uniform() * 4 - 2 }
        for kind in OptimizerKind.allCases {
            var settings = OptimizerSettings()
            settings.kind = kind; settings.weightDecay = 0.1; settings.momentum = 0.9
            let folded = Parameter(name: "w", tensor: Tensor(start, shape: [1, 37], requiresGrad: true))
            let scaled = Parameter(name: "w", tensor: Tensor(start, shape: [1, 37], requiresGrad: true))
            folded.tensor.grad = Tensor(grad, shape: [1, 37])
            scaled.tensor.grad = Tensor(grad, shape: [1, 37])
            let norm = gradientNorm([folded])
            XCTAssertEqual(clipGradientNorm([scaled], maxNorm: 1), norm)
            let factor = clipFactor(norm: norm, maxNorm: 1)
            XCTAssertLessThan(factor, 1, "the test gradient must be clipped")
            Optimizer(parameters: [folded], settings: settings).step(lr: 0.01, gradientScale: factor)
            Optimizer(parameters: [scaled], settings: settings).step(lr: 0.01)
            XCTAssertEqual(folded.tensor.toArray(), scaled.tensor.toArray(), "\(kind)")
        }
        XCTAssertEqual(clipFactor(norm: 0.5, maxNorm: 1), 1, "below the limit: unchanged")
        XCTAssertEqual(clipFactor(norm: 5, maxNorm: 0), 1, "maxNorm 0: no clipping")
    }

    func testScheduleValues() {
        let cosine = LearningRateSchedule(kind: .cosine, peak: 1e-3, minimum: 1e-4, warmupSteps: 100, totalSteps: 2000)
        XCTAssertEqual(cosine.rate(at: 0), 1e-3 / 101, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 99), 1e-3 * 100 / 101, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 100), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 1050), 5.5e-4, accuracy: 1e-9, "halfway: midpoint of peak and minimum")
        XCTAssertEqual(cosine.rate(at: 2000), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 5000), 1e-4, accuracy: 1e-9)
        let linear = LearningRateSchedule(kind: .linear, peak: 1, minimum: 0, warmupSteps: 0, totalSteps: 10)
        XCTAssertEqual(linear.rate(at: 0), 1)
        XCTAssertEqual(linear.rate(at: 5), 0.5, accuracy: 1e-7)
        XCTAssertEqual(linear.rate(at: 8), 0.2, accuracy: 1e-7)
        let constant = LearningRateSchedule(kind: .constant, peak: 0.3, minimum: 0, warmupSteps: 2, totalSteps: 10)
        XCTAssertEqual(constant.rate(at: 1), 0.2, accuracy: 1e-7)
        XCTAssertEqual(constant.rate(at: 9), 0.3)
    }

    /// Sequence-length warm-up: 16 → 64 over 10 steps, in multiples of 8, never below the start.
    func testSequenceLengthScheduleValues() {
        let s = SequenceLengthSchedule(start: 16, full: 64, steps: 10)
        XCTAssertEqual((0...11).map { s.length(at: $0) }, [16, 16, 24, 24, 32, 40, 40, 48, 48, 56, 64, 64])
        let odd = SequenceLengthSchedule(start: 5, full: 19, steps: 4)
        XCTAssertEqual((0...4).map { odd.length(at: $0) }, [5, 8, 8, 8, 19])
        XCTAssertEqual(SequenceLengthSchedule(start: 16, full: 64, steps: 0).length(at: 0), 64, "off")
        XCTAssertEqual(SequenceLengthSchedule(start: 64, full: 64, steps: 10).length(at: 0), 64, "nothing to grow")
    }
}
