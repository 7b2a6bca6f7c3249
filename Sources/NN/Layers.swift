import Autograd
import Kernels

/// y = x·Wᵀ + b with W (out, in), as PyTorch's nn.Linear.
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    /// A LoRA adapter added to the output; its parameters are not in `parameters`.
    public var adapter: LoRAAdapter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool, initializer: WeightInit, generator: inout RandomGenerator) {
        weight = initializer.matrix(outFeatures, inFeatures, generator: &generator)
        self.bias = bias ? Tensor(zeros: [outFeatures], requiresGrad: true) : nil
    }

    /// x·Wᵀ (+ bias), plus `residual` if given (fused, see Autograd's `linear`).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil) -> Tensor {
        guard let adapter else { return linear(x, weight: weight, bias: bias, adding: residual) }
        let y = adapter.adapting(x, weight: weight, bias: bias)
        return residual.map { add($0, y) } ?? y
    }

    public var parameters: [Parameter] {
        [Parameter(name: "weight", tensor: weight)] + (bias.map { [Parameter(name: "bias", tensor: $0)] } ?? [])
    }
}

/// A lookup table of `count` rows of `dimension` features.
public final class Embedding: Layer {
    public let weight: Tensor

    public init(_ count: Int, _ dimension: Int, std: Float = 0.02, generator: inout RandomGenerator) {
        weight = Tensor.randomNormal([count, dimension], std: std, generator: &generator, requiresGrad: true)
    }

    /// ids laid out as `shape` → shape + (dimension)
    public func callAsFunction(_ ids: [Int32], shape: [Int]) -> Tensor { embedding(weight, ids: ids, shape: shape) }

    public var parameters: [Parameter] { [Parameter(name: "weight", tensor: weight)] }
}

public enum NormKind: String, CaseIterable, Sendable {
    case layerNorm = "layernorm"
    case rmsNorm = "rmsnorm"
}

/// LayerNorm (gain and optional bias) or RMSNorm (gain only) over the last dimension.
public final class Norm: Layer {
    public let kind: NormKind
    public let gain: Tensor
    public let bias: Tensor?
    public let eps: Float

    public init(_ kind: NormKind, _ dimension: Int, bias: Bool, eps: Float) {
        self.kind = kind
        self.eps = eps
        gain = Tensor([Float](repeating: 1, count: dimension), shape: [dimension], requiresGrad: true)
        self.bias = kind == .layerNorm && bias ? Tensor(zeros: [dimension], requiresGrad: true) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch kind {
        case .layerNorm: return layerNorm(x, gain: gain, bias: bias, eps: eps)
        case .rmsNorm: return rmsNorm(x, gain: gain, eps: eps)
        }
    }

    public var parameters: [Parameter] {
        [Parameter(name: "weight", tensor: gain)] + (bias.map { [Parameter(name: "bias", tensor: $0)] } ?? [])
    }
}

/// Inverted dropout with its own seeded generator: active only when a model
/// is given one (training); evaluation passes no dropout at all.
public final class Dropout {
    public let probability: Float
    public var generator: RandomGenerator

    public init(probability: Float, generator: RandomGenerator) {
        self.probability = probability
        self.generator = generator
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        probability == 0 ? x : dropout(x, probability: probability, generator: &generator)
    }
}
