import Autograd
import Kernels

/// A low-rank adapter on a linear layer (LoRA, Hu et al. 2021, as PEFT does it):
///
///     y = x·Wᵀ + b + scale · dropout(x)·Aᵀ·Bᵀ      A (r, in), B (out, r), scale = alpha / r
///
/// A starts Kaiming-uniform (torch's `kaiming_uniform_(a: √5)`, i.e.
/// uniform(±1/√in)) and B at zero, so a fresh adapter changes nothing.
/// Dropout applies to the adapter's input only, and only while `dropout` is set.
public final class LoRAAdapter: Layer {
    public let rank: Int
    public let alpha: Float
    /// alpha / rank, the factor on B·A.
    public let scale: Float
    public let a: Tensor
    public let b: Tensor
    /// Set by the trainer for training steps; nil (evaluation, inference) means no dropout.
    public var dropout: Dropout?

    public init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, generator: inout RandomGenerator) {
        require(rank >= 1 && rank <= min(inFeatures, outFeatures),
                "LoRAAdapter: rank \(rank) must be in 1...\(min(inFeatures, outFeatures)) for a (\(outFeatures), \(inFeatures)) layer")
        self.rank = rank
        self.alpha = alpha
        scale = alpha / Float(rank)
        let bound = 1 / Float(inFeatures).squareRoot()  // gain √(2/(1+5)) · √(3/in)
        a = Tensor.randomUniform([rank, inFeatures], low: -bound, high: bound, generator: &generator, requiresGrad: true)
        b = Tensor(zeros: [outFeatures, rank], requiresGrad: true)
    }

    /// x·Wᵀ + b plus this adapter's update, in one op (see `loraLinear`).
    public func adapting(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        loraLinear(x, weight: weight, bias: bias, adapterInput: dropout.map { $0(x) } ?? x, a: a, b: b, scale: scale)
    }

    /// scale · B·A, the (out, in) update a merge adds to W.
    public func delta() -> [Float] {
        let (out, inputs) = (b.shape[0], a.shape[1])
        var merged = [Float](repeating: 0, count: out * inputs)
        merged.withUnsafeMutableBufferPointer { m in
            Kernels.matmul(b.data, a.data, m.baseAddress!, m: out, n: inputs, k: rank)
        }
        return merged.map { $0 * scale }
    }

    public var parameters: [Parameter] { [Parameter(name: "lora_A", tensor: a), Parameter(name: "lora_B", tensor: b)] }
}
