import Foundation
import Autograd
import Kernels

public enum OptimizerKind: String, CaseIterable, Sendable {
    /// Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.
    case adamw
    /// Adam; weight decay, if any, is an L2 term added to the gradient, as torch.optim.Adam.
    case adam
    /// SGD with (heavy-ball) momentum, as torch.optim.SGD with dampening 0.
    case sgd
    /// Muon (Keller Jordan 2024) on the blocks' 2-D weights: momentum, then
    /// Newton–Schulz orthogonalisation of the update; AdamW for the rest
    /// (embeddings, head, norms, biases), as modded-nanogpt pairs them.
    case muon
}

public struct OptimizerSettings: Equatable, Sendable {
    public var kind: OptimizerKind = .adamw
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0
    public var momentum: Float = 0
    /// Extra penalty λ₁·Σ|w| + λ₂·Σw² on decaying parameters, added to the gradient.
    public var l1: Float = 0
    public var l2: Float = 0
    /// Muon: its learning rate as a multiple of the AdamW one passed to `step`
    /// (muon_lr / lr, so both follow one schedule), momentum, Nesterov or not.
    public var muonLearningRateRatio: Float = 1
    public var muonMomentum: Float = 0.95
    public var muonNesterov = true
    public var newtonSchulzSteps = 5
    public init() {}
}

/// Updates parameters from their gradients. Weight decay and the L1/L2
/// penalties apply only to parameters that decay (matrices, embeddings).
/// The arithmetic follows PyTorch's single-tensor implementations step by
/// step, so that a run can be compared with PyTorch update for update.
public final class Optimizer {
    public let parameters: [Parameter]
    public let settings: OptimizerSettings
    /// Number of updates taken.
    public private(set) var stepCount = 0
    /// Adam's first and second moments, or SGD's or Muon's momentum buffer (first only, second nil).
    var first: [Tensor], second: [Tensor?]
    /// Which parameters Muon updates (the blocks' matrices); empty for the other kinds.
    let orthogonalized: [Bool]

    public init(parameters: [Parameter], settings: OptimizerSettings) {
        self.parameters = parameters
        self.settings = settings
        orthogonalized = parameters.map { settings.kind == .muon && $0.isHiddenMatrix }
        first = parameters.map { Tensor(zeros: $0.tensor.shape) }
        second = zip(parameters, orthogonalized).map { (p: Parameter, muon: Bool) -> Tensor? in
            settings.kind == .sgd || muon ? nil : Tensor(zeros: p.tensor.shape)
        }
    }

    /// Drops the gradients, as PyTorch's `zero_grad()` (set_to_none) does: the
    /// next backward writes them afresh instead of adding to zero-filled
    /// buffers, and a parameter that then receives no gradient is not updated.
    public func zeroGrad() { for p in parameters { p.tensor.grad = nil } }

    /// One update with learning rate `lr`. Each gradient is first multiplied
    /// by `gradientScale` (the factor `clipFactor` gives), exactly as if
    /// clip_grad_norm_ had scaled it in place, without another pass over them.
    public func step(lr: Float, gradientScale: Float = 1) {
        stepCount += 1
        let s = settings
        let bias1 = 1 - pow(Double(s.beta1), Double(stepCount))
        let bias2Root = Float((1 - pow(Double(s.beta2), Double(stepCount))).squareRoot())
        let stepSize = Float(Double(lr) / bias1)
        // One dispatch for all tensors: fixed-size chunks of every tensor with a
        // gradient, each chunk owning its elements (no barrier per tensor).
        var chunks: [(index: Int, lo: Int, hi: Int)] = []
        for (index, p) in parameters.enumerated() where p.tensor.grad != nil && !orthogonalized[index] {
            let n = p.tensor.count
            for lo in stride(from: 0, to: n, by: elementwiseGrain) { chunks.append((index, lo, min(n, lo + elementwiseGrain))) }
        }
        let update = { (chunk: (index: Int, lo: Int, hi: Int)) in
            let (index, lo, hi) = chunk
            let p = self.parameters[index]
            let g = p.tensor.grad!.data + lo, w = p.tensor.data + lo
            let m = self.first[index].data + lo
            let decay = p.decays ? s.weightDecay : 0
            let (l1, l2) = p.decays ? (s.l1, s.l2) : (0, 0)
            switch s.kind {
            case .adamw, .adam, .muon:
                let settings = AdamUpdate(
                    beta1: s.beta1, beta2: s.beta2, eps: s.eps, stepSize: stepSize, bias2Root: bias2Root,
                    decoupled: s.kind == .adam ? 1 : 1 - lr * decay, coupled: s.kind == .adam ? decay : 0, l1: l1, l2: l2,
                    gradientScale: gradientScale)
                adamUpdate(weights: w, gradients: g, first: m, second: self.second[index]!.data + lo, count: hi - lo, settings)
            case .sgd:
                sgdUpdate(weights: w, gradients: g, momentumBuffer: m, count: hi - lo, lr: lr, weightDecay: decay,
                          momentum: s.momentum, firstStep: self.stepCount == 1, l1: l1, l2: l2, gradientScale: gradientScale)
            }
        }
        let total = chunks.reduce(0) { $0 + $1.hi - $1.lo }
        if total > elementwiseGrain { Parallel.forEach(chunks.count) { update(chunks[$0]) } } else { chunks.forEach(update) }
        if s.kind == .muon { muonStep(lr: lr * s.muonLearningRateRatio, gradientScale: gradientScale) }
    }

    /// Muon on each 2-D hidden weight W (rows, cols), one matrix per task, as
    /// modded-nanogpt's Muon.step: buf ← μ·buf + g; u = g + μ·buf (Nesterov)
    /// or buf; W ← W − lr·√max(1, rows/cols)·NewtonSchulz(u). No weight decay.
    private func muonStep(lr: Float, gradientScale: Float) {
        let indices = parameters.indices.filter { orthogonalized[$0] && parameters[$0].tensor.grad != nil }
        let s = settings
        Parallel.forEach(indices.count) { task in
            let index = indices[task]
            let p = parameters[index].tensor
            let (rows, cols, n) = (p.shape[0], p.shape[1], p.count)
            let g = p.grad!.data, w = p.data, buffer = first[index].data
            let update = FloatPointer.allocate(capacity: n), orthogonal = FloatPointer.allocate(capacity: n)
            defer { update.deallocate(); orthogonal.deallocate() }
            for i in 0..<n {
                let gradient = g[i] * gradientScale
                buffer[i] = s.muonMomentum * buffer[i] + gradient
                update[i] = s.muonNesterov ? gradient + s.muonMomentum * buffer[i] : buffer[i]
            }
            NewtonSchulz.orthogonalize(update, orthogonal, rows: rows, cols: cols, steps: s.newtonSchulzSteps)
            let stepSize = lr * max(1, Float(rows) / Float(cols)).squareRoot()
            for i in 0..<n { w[i] -= stepSize * orthogonal[i] }
        }
    }

    /// Moments by parameter name ("m.<name>", "v.<name>") for checkpoints.
    public var state: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, p) in parameters.enumerated() {
            out.append(("m." + p.name, first[i]))
            if let v = second[i] { out.append(("v." + p.name, v)) }
        }
        return out
    }

    /// Restores moments and the step count saved from `state` and `stepCount`.
    public func restore(step: Int, values: [String: [Float]]) throws {
        for (name, tensor) in state {
            guard let saved = values[name] else { throw OptimizerError("optimizer state is missing '\(name)'") }
            guard saved.count == tensor.count else {
                throw OptimizerError("optimizer state '\(name)' has \(saved.count) values, expected \(tensor.count)")
            }
            saved.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: saved.count) }
        }
        stepCount = step
    }
}

public struct OptimizerError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// The global L2 norm of all gradients: each tensor's sum of squares (one
/// tensor per task, so each is summed as it would be alone), then their
/// total in Double, in parameter order.
public func gradientNorm(_ parameters: [Parameter]) -> Float {
    let grads = parameters.compactMap { $0.tensor.grad }
    var squares = [Float](repeating: 0, count: grads.count)
    squares.withUnsafeMutableBufferPointer { out in
        let out = out.baseAddress!
        Parallel.forEach(grads.count) { i in out[i] = dot(grads[i].data, grads[i].data, grads[i].count) }
    }
    return Float(squares.reduce(0.0) { $0 + Double($1) }.squareRoot())
}

/// The factor torch.nn.utils.clip_grad_norm_ multiplies gradients by:
/// maxNorm / (norm + 1e-6) when that is below 1, else 1 (maxNorm ≤ 0: no clipping).
public func clipFactor(norm: Float, maxNorm: Float) -> Float {
    guard maxNorm > 0 else { return 1 }
    return min(1, maxNorm / (norm + 1e-6))
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`
/// (as torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
/// maxNorm ≤ 0 only measures. (Training instead passes `clipFactor` to
/// `Optimizer.step`, which saves a pass over the gradients.)
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    let norm = gradientNorm(parameters)
    let factor = clipFactor(norm: norm, maxNorm: maxNorm)
    if factor < 1 {
        for p in parameters { if let g = p.tensor.grad { vectorScale(g.data, factor, g.data, g.count) } }
    }
    return norm
}
