import Kernels

/// f(x) elementwise for one of the `Activation` functions.
public func activate(_ x: Tensor, _ f: Activation) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    activationForward(f, x.data, out.data, x.count)
    return out.recordOp([x]) { out in
        if let (dx, accumulate) = x.gradientWrite { activationBackward(f, x.data, out.grad!.data, dx, x.count, accumulate: accumulate) }
    }
}

public func relu(_ x: Tensor) -> Tensor { activate(x, .relu) }
/// Exact GELU, x·Φ(x).
public func gelu(_ x: Tensor) -> Tensor { activate(x, .gelu) }
/// GELU's tanh approximation (GPT-2's).
public func geluTanh(_ x: Tensor) -> Tensor { activate(x, .geluTanh) }
/// Swish x·σ(βx); β = 1 is SiLU.
public func swish(_ x: Tensor, beta: Float = 1) -> Tensor { activate(x, .swish(beta: beta)) }
public func sigmoid(_ x: Tensor) -> Tensor { activate(x, .sigmoid) }
public func tanh(_ x: Tensor) -> Tensor { activate(x, .tanh) }
/// Squared ReLU, max(0, x)² (Primer).
public func reluSquared(_ x: Tensor) -> Tensor { activate(x, .reluSquared) }

/// Soft-capping c·tanh(x/c) elementwise (Gemma 2's logits); c > 0.
public func softcap(_ x: Tensor, cap: Float) -> Tensor {
    require(cap > 0, "softcap: the cap must be > 0, got \(cap)")
    let out = Tensor(uninitialized: x.shape)
    softcapForward(x.data, out.data, x.count, cap: cap)
    return out.recordOp([x]) { out in
        if let (dx, accumulate) = x.gradientWrite { softcapBackward(x.data, out.grad!.data, dx, x.count, cap: cap, accumulate: accumulate) }
    }
}
