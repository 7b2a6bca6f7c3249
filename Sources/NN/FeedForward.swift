import Autograd
import Kernels

/// The position-wise feed-forward network.
///
///     plain:  down(act(up(x)))
///     gated:  down(act(gate(x)) ⊙ up(x))     (GLU variants, Shazeer 2020:
///             SwiGLU = Swish, GeGLU = GELU, ReGLU = ReLU; GLU = sigmoid, Dauphin et al. 2017)
///
/// With `learnedBeta`, the activation is Swish with one trained β per hidden
/// unit, x ⊙ σ(β ⊙ x) (Ramachandran et al. 2017), β starting at 1.
public final class FeedForward: Layer {
    public let activation: Activation
    public let gated: Bool
    public let gate: Linear?
    public let up: Linear
    public let down: Linear
    /// Swish's β per hidden unit, when it is learned.
    public let swishBeta: Tensor?

    public init(modelSize: Int, hiddenSize: Int, activation: Activation, gated: Bool, learnedBeta: Bool = false, bias: Bool,
                initializer: WeightInit, outputInitializer: WeightInit, generator: inout RandomGenerator) {
        self.activation = activation
        self.gated = gated
        gate = gated ? Linear(modelSize, hiddenSize, bias: bias, initializer: initializer, generator: &generator) : nil
        up = Linear(modelSize, hiddenSize, bias: bias, initializer: initializer, generator: &generator)
        down = Linear(hiddenSize, modelSize, bias: bias, initializer: outputInitializer, generator: &generator)
        swishBeta = learnedBeta ? Tensor([Float](repeating: 1, count: hiddenSize), shape: [hiddenSize], requiresGrad: true) : nil
    }

    /// The feed-forward of x, plus `residual` if given (added by the down projection).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil) -> Tensor {
        if let gate {
            return down(mul(activated(gate(x)), up(x)), adding: residual)
        }
        return down(activated(up(x)), adding: residual)
    }

    /// act(h); a learned Swish is composed of ops: h ⊙ σ(β ⊙ h), β broadcast over rows.
    func activated(_ h: Tensor) -> Tensor {
        guard let swishBeta else { return activate(h, activation) }
        return mul(h, sigmoid(mul(h, swishBeta)))
    }

    public var parameters: [Parameter] {
        (gate?.parameters(prefixed: "gate") ?? []) + up.parameters(prefixed: "up") + down.parameters(prefixed: "down")
            + (swishBeta.map { [Parameter(name: "swish_beta", tensor: $0)] } ?? [])
    }
}
