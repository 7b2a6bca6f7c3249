import Kernels

/// LayerNorm over the last dimension: (x − μ)/√(σ² + ε)·γ + β (β optional).
public func layerNorm(_ x: Tensor, gain: Tensor, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    let cols = x.shape.last ?? 0
    require(gain.shape == [cols] && (bias == nil || bias!.shape == [cols]),
                 "layerNorm: input \(describe(x.shape)) needs gain and bias of shape (\(cols)), got \(describe(gain.shape))\(bias.map { " and " + describe($0.shape) } ?? "")")
    let rows = cols == 0 ? 0 : x.count / cols
    let out = Tensor(uninitialized: x.shape)
    let mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
    layerNormForward(x.data, gamma: gain.data, beta: bias?.data, out.data, mean: mean.data, rstd: rstd.data, rows: rows, cols: cols, eps: eps)
    return out.recordOp([x, gain] + (bias.map { [$0] } ?? [])) { out in
        let dx = x.gradientWrite
        layerNormBackward(x.data, gamma: gain.data, mean: mean.data, rstd: rstd.data, out.grad!.data,
                          dx: dx?.pointer, accumulateDx: dx?.accumulate ?? true,
                          dgamma: gain.gradientTarget, dbeta: bias?.gradientTarget, rows: rows, cols: cols)
    }
}

/// RMSNorm over the last dimension: x/√(mean(x²) + ε)·γ.
public func rmsNorm(_ x: Tensor, gain: Tensor, eps: Float = 1e-5) -> Tensor {
    let cols = x.shape.last ?? 0
    require(gain.shape == [cols], "rmsNorm: input \(describe(x.shape)) needs gain of shape (\(cols)), got \(describe(gain.shape))")
    let rows = cols == 0 ? 0 : x.count / cols
    let out = Tensor(uninitialized: x.shape)
    let rstd = Tensor(uninitialized: [rows])
    rmsNormForward(x.data, gamma: gain.data, out.data, rstd: rstd.data, rows: rows, cols: cols, eps: eps)
    return out.recordOp([x, gain]) { out in
        let dx = x.gradientWrite
        rmsNormBackward(x.data, gamma: gain.data, rstd: rstd.data, out.grad!.data,
                        dx: dx?.pointer, accumulateDx: dx?.accumulate ?? true, dgamma: gain.gradientTarget, rows: rows, cols: cols)
    }
}

/// Inverted dropout: zeroes each element with probability p and scales the
/// rest by 1/(1 − p), so the expected value is unchanged and evaluation needs
/// no rescaling. The mask comes from `generator`, drawn in element order on
/// the calling thread: the same seed gives the same mask for any thread count.
public func dropout(_ x: Tensor, probability p: Float, generator: inout RandomGenerator) -> Tensor {
    require(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    if p == 0 { return x }
    let keep = 1 / (1 - p)
    let mask = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { mask.data[i] = generator.uniform() < p ? 0 : keep }
    return mul(x, mask)
}
