import Autograd
import Kernels

/// A named, trainable tensor. Names are stable, dotted paths
/// ("blocks.0.attn.q.weight"): they are the keys of checkpoints.
public struct Parameter {
    public let name: String
    public let tensor: Tensor
    public init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }
    /// Matrices and embeddings decay; norm gains and biases do not (as in
    /// nanoGPT and the AdamW paper's practice).
    public var decays: Bool { tensor.rank >= 2 }
    /// A 2-D weight inside the blocks (attention and feed-forward matrices):
    /// what Muon orthogonalises. Embeddings, the head, norms and biases are not.
    public var isHiddenMatrix: Bool { Parameter.isHiddenMatrix(name: name, rank: tensor.rank) }
    public static func isHiddenMatrix(name: String, rank: Int) -> Bool { rank == 2 && name.hasPrefix("blocks.") }
}

/// Anything that owns parameters.
public protocol Layer: AnyObject {
    /// Parameters with names relative to the layer.
    var parameters: [Parameter] { get }
}

extension Layer {
    /// This layer's parameters with `prefix.` prepended to their names.
    public func parameters(prefixed prefix: String) -> [Parameter] {
        parameters.map { Parameter(name: prefix + "." + $0.name, tensor: $0.tensor) }
    }
}

/// How weight matrices are initialised.
public enum WeightInit: Equatable, Sendable {
    /// Normal(0, std): GPT-2 uses 0.02.
    case normal(std: Float)
    /// Glorot & Bengio: uniform(±√(6/(fan_in + fan_out))).
    case xavier
    /// He et al.: normal(0, √(2/fan_in)).
    case kaiming

    /// A (fanOut, fanIn) matrix, trainable.
    public func matrix(_ fanOut: Int, _ fanIn: Int, generator: inout RandomGenerator) -> Tensor {
        switch self {
        case .normal(let std):
            return Tensor.randomNormal([fanOut, fanIn], std: std, generator: &generator, requiresGrad: true)
        case .xavier:
            let a = (6 / Float(fanIn + fanOut)).squareRoot()
            return Tensor.randomUniform([fanOut, fanIn], low: -a, high: a, generator: &generator, requiresGrad: true)
        case .kaiming:
            return Tensor.randomNormal([fanOut, fanIn], std: (2 / Float(fanIn)).squareRoot(), generator: &generator, requiresGrad: true)
        }
    }
}
