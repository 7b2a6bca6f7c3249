import Autograd
import Kernels

/// The position-wise feed-forward network.
///
///     plain:  down(act(up(x)))
///     gated:  down(act(gate(x)) ⊙ up(x))     (GLU variants, Shazeer 2020:
///             SwiGLU = Swish, GeGLU = GELU, ReGLU = ReLU)
public final class FeedForward: Layer {
    public let activation: Activation
    public let gated: Bool
    public let gate: Linear?
    public let up: Linear
    public let down: Linear

    public init(modelSize: Int, hiddenSize: Int, activation: Activation, gated: Bool, bias: Bool,
                initializer: WeightInit, outputInitializer: WeightInit, generator: inout RandomGenerator) {
        self.activation = activation
        self.gated = gated
        gate = gated ? Linear(modelSize, hiddenSize, bias: bias, initializer: initializer, generator: &generator) : nil
        up = Linear(modelSize, hiddenSize, bias: bias, initializer: initializer, generator: &generator)
        down = Linear(hiddenSize, modelSize, bias: bias, initializer: outputInitializer, generator: &generator)
    }

    /// The feed-forward of x, plus `residual` if given (added by the down projection).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil) -> Tensor {
        if let gate {
            return down(mul(activate(gate(x), activation), up(x)), adding: residual)
        }
        return down(activate(up(x), activation), adding: residual)
    }

    public var parameters: [Parameter] {
        (gate?.parameters(prefixed: "gate") ?? []) + up.parameters(prefixed: "up") + down.parameters(prefixed: "down")
    }
}
