import Autograd
import Kernels

/// A bottleneck adapter (Houlsby et al. 2019) on a sublayer's output y (…, d):
///
///     y + up(f(down(y)))      down (r, d) + bias, up (d, r) + bias
///
/// down starts normal(0, 0.01²) (Houlsby's near-identity initialisation), up
/// and both biases at zero, so a fresh adapter is the identity.
public final class BottleneckAdapter: Layer {
    public let down: Linear, up: Linear
    public let activation: Activation

    public init(modelSize d: Int, bottleneck r: Int, activation: Activation, generator: inout RandomGenerator) {
        require(r >= 1 && r <= d, "BottleneckAdapter: bottleneck \(r) must be in 1...\(d)")
        self.activation = activation
        down = Linear(d, r, bias: true, initializer: .normal(std: 0.01), generator: &generator)
        up = Linear(r, d, bias: true, initializer: .normal(std: 0), generator: &generator)
        up.weight.data.update(repeating: 0, count: up.weight.count)
    }

    public func callAsFunction(_ y: Tensor) -> Tensor {
        up(activate(down(y), activation), adding: y)
    }

    public var parameters: [Parameter] { down.parameters(prefixed: "down") + up.parameters(prefixed: "up") }
}

/// Prefix tuning's learned keys and values (Li & Liang 2021, as PEFT's
/// PrefixEncoder): one row of 2·layers·kv values per virtual token, laid out
/// [layer 0 keys, layer 0 values, layer 1 keys, …], each kv = kvHeads·headSize
/// wide (head-major within it). With a projection the rows are
///
///     tanh(E·W1ᵀ + b1)·W2ᵀ + b2      E (N, kv), W1 (hidden, kv), W2 (2·L·kv, hidden)
///
/// (the reparameterisation used while training); without one, E (N, 2·L·kv) is the rows.
/// E starts normal(0, 1) and the projections uniform(±1/√in), torch's defaults for
/// nn.Embedding and nn.Linear, which PEFT keeps.
public final class PrefixEncoder: Layer {
    public let embedding: Tensor
    public let projection: (first: Tensor, firstBias: Tensor, second: Tensor, secondBias: Tensor)?
    public let virtualTokens: Int, layers: Int, kvWidth: Int

    public init(virtualTokens n: Int, layers: Int, kvWidth: Int, projectionHidden: Int?, generator: inout RandomGenerator) {
        virtualTokens = n
        self.layers = layers
        self.kvWidth = kvWidth
        let rowWidth = 2 * layers * kvWidth
        if let hidden = projectionHidden {
            embedding = Tensor.randomNormal([n, kvWidth], std: 1, generator: &generator, requiresGrad: true)
            func uniform(_ shape: [Int], fanIn: Int) -> Tensor {
                let bound = 1 / Float(fanIn).squareRoot()
                return Tensor.randomUniform(shape, low: -bound, high: bound, generator: &generator, requiresGrad: true)
            }
            let w1 = uniform([hidden, kvWidth], fanIn: kvWidth), b1 = uniform([hidden], fanIn: kvWidth)
            let w2 = uniform([rowWidth, hidden], fanIn: hidden), b2 = uniform([rowWidth], fanIn: hidden)
            projection = (w1, b1, w2, b2)
        } else {
            embedding = Tensor.randomNormal([n, rowWidth], std: 1, generator: &generator, requiresGrad: true)
            projection = nil
        }
    }

    /// The prefixes (N, 2·L·kv), on the graph.
    public func rows() -> Tensor {
        guard let p = projection else { return embedding }
        return linear(tanh(linear(embedding, weight: p.first, bias: p.firstBias)), weight: p.second, bias: p.secondBias)
    }

    /// Layer `layer`'s keys and values from `rows` (N, 2·L·kv): (N, kv) each.
    public func keysAndValues(_ rows: Tensor, layer: Int) -> (keys: Tensor, values: Tensor) {
        let both = rows.slice(1, (2 * layer * kvWidth)..<((2 * layer + 2) * kvWidth))   // (N, 2·kv)
        return (both.slice(1, 0..<kvWidth), both.slice(1, kvWidth..<(2 * kvWidth)))
    }

    public var parameters: [Parameter] {
        var all = [Parameter(name: "embedding", tensor: embedding)]
        if let p = projection {
            all += [Parameter(name: "mlp.0.weight", tensor: p.first), Parameter(name: "mlp.0.bias", tensor: p.firstBias),
                    Parameter(name: "mlp.2.weight", tensor: p.second), Parameter(name: "mlp.2.bias", tensor: p.secondBias)]
        }
        return all
    }
}

/// `batch` copies of t stacked on a new leading dimension: (batch,) + t.shape.
/// Every copy's gradient adds into t's.
public func batchCopies(_ t: Tensor, _ batch: Int) -> Tensor {
    let one = t.reshaped([1] + t.shape)
    return batch == 1 ? one : concat(Array(repeating: one, count: batch), dim: 0)
}
