import Kernels

/// Analytic gradients from `backward()` next to central finite differences,
/// for checking an op or a whole model.
///
/// The scalar checked is L = Σᵢ wᵢ·f(inputs)ᵢ with fixed random weights w, so
/// every output element matters and errors cannot cancel. L is summed in
/// Double, leaving float32 rounding inside f as the only noise.
public struct GradientComparison {
    public let analytic: [[Float]]
    public let numeric: [[Float]]

    /// The worst element by |a − n| / (absolute + relative·|n|): a ratio ≤ 1
    /// means every element is within tolerance.
    public func worst(absolute: Float, relative: Float) -> (ratio: Float, input: Int, index: Int, analytic: Float, numeric: Float) {
        var best: (Float, Int, Int, Float, Float) = (0, -1, -1, 0, 0)
        for (i, (a, n)) in zip(analytic, numeric).enumerated() {
            for j in a.indices {
                let r = abs(a[j] - n[j]) / (absolute + relative * abs(n[j]))
                if !(r <= best.0) { best = (r.isNaN ? .infinity : r, i, j, a[j], n[j]) }
            }
        }
        return best
    }
}

/// Computes both gradients of Σ w⊙f() with respect to each of `inputs`.
/// `f` must be deterministic (no dropout with a fresh generator, etc.).
public func compareGradients(of inputs: [Tensor], step: Float = 1e-2, seed: UInt64 = 7, _ f: () -> Tensor) -> GradientComparison {
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let probe = Autograd.noGrad { f() }
    var generator = RandomGenerator(seed: seed)
    let weights = (0..<probe.count).map { _ in Double(generator.normal()) }
    let weightTensor = Tensor(weights.map { Float($0) }, shape: probe.shape)

    sum(mul(f(), weightTensor)).backward()
    let analytic = inputs.map { $0.grad?.toArray() ?? [Float](repeating: 0, count: $0.count) }

    func objective() -> Double {
        let y = Autograd.noGrad { f() }
        var s = 0.0
        for i in 0..<y.count { s += weights[i] * Double(y.data[i]) }
        return s
    }
    var numeric: [[Float]] = []
    for x in inputs {
        var g = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + step
            let up = objective()
            x.data[i] = saved - step
            let down = objective()
            x.data[i] = saved
            // Divide by the step actually taken after float rounding.
            g[i] = Float((up - down) / (Double(saved + step) - Double(saved - step)))
        }
        numeric.append(g)
    }
    return GradientComparison(analytic: analytic, numeric: numeric)
}
