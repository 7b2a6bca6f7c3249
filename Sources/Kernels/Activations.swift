import Foundation

/// Pointwise activation functions: forward, and backward that accumulates
/// dx += dy · f'(x). Each formula sits next to its derivative.
public enum Activation: Equatable, Sendable {
    case relu
    /// Squared ReLU: max(0, x)² (Primer, So et al. 2021).
    case reluSquared
    /// GELU, exact: x·Φ(x) = ½x(1 + erf(x/√2)).
    case gelu
    /// GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    case geluTanh
    /// Swish: x·σ(βx); β = 1 is SiLU.
    case swish(beta: Float)
    case sigmoid
    case tanh
}

@inlinable @inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    // Never exponentiate a large positive number: no overflow, no NaN.
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

private let sqrtHalf: Float = 0.70710678118654752
private let invSqrt2Pi: Float = 0.39894228040143268
private let sqrt2OverPi: Float = 0.79788456080286536
private let geluCubic: Float = 0.044715

extension Activation {
    @inlinable
    public func value(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .reluSquared: return x > 0 ? x * x : 0
        case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752))
        case .geluTanh:
            return 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
        case .swish(let beta): return x * stableSigmoid(beta * x)
        case .sigmoid: return stableSigmoid(x)
        case .tanh: return tanhf(x)
        }
    }

    @inlinable
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .reluSquared: return x > 0 ? 2 * x : 0
        case .gelu:
            // Φ(x) + x·φ(x)
            return 0.5 * (1 + erff(x * 0.70710678118654752)) + x * 0.39894228040143268 * expf(-0.5 * x * x)
        case .geluTanh:
            let inner = 0.79788456080286536 * (x + 0.044715 * x * x * x)
            let t = tanhf(inner)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.79788456080286536 * (1 + 3 * 0.044715 * x * x)
        case .swish(let beta):
            let s = stableSigmoid(beta * x)
            return s + beta * x * s * (1 - s)
        case .sigmoid:
            let s = stableSigmoid(x)
            return s * (1 - s)
        case .tanh:
            let t = tanhf(x)
            return 1 - t * t
        }
    }
}

/// out[i] = f(x[i]). One SIMD loop per function (the switch is outside).
public func activationForward(_ f: Activation, _ x: ConstFloatPointer, _ out: FloatPointer, _ n: Int) {
    forChunks(n, grain: elementwiseGrain / 4) { lo, hi in
        switch f {
        case .relu:
            map16(x, out, lo, hi) { x in x.replacing(with: 0, where: x .< 0) }  // (pointwiseMax may not vectorise)
        case .reluSquared:
            map16(x, out, lo, hi) { x in (x * x).replacing(with: 0, where: x .< 0) }
        case .gelu:
            map16(x, out, lo, hi) { x in x * vnormalCDF(x, gaussian: vexp(-0.5 * x * x)) }
        case .geluTanh:
            map16(x, out, lo, hi) { x in
                0.5 * x * (1 + vtanh(sqrt2OverPi * x.addingProduct(geluCubic * x * x, x)))
            }
        case .swish(let beta):
            map16(x, out, lo, hi) { x in x * vsigmoid(beta * x) }
        case .sigmoid:
            map16(x, out, lo, hi) { vsigmoid($0) }
        case .tanh:
            map16(x, out, lo, hi) { vtanh($0) }
        }
    }
}

/// dx[i] += dy[i] · f'(x[i])   (= when not `accumulate`)
public func activationBackward(_ f: Activation, _ x: ConstFloatPointer, _ dy: ConstFloatPointer, _ dx: FloatPointer, _ n: Int,
                               accumulate: Bool = true) {
    forChunks(n, grain: elementwiseGrain / 4) { lo, hi in
        switch f {
        case .relu:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in dy.replacing(with: 0, where: x .<= 0) }
        case .reluSquared:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in (2 * x * dy).replacing(with: 0, where: x .<= 0) }
        case .gelu:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
                // Φ(x) + x·φ(x), sharing e^(−x²/2) between the two terms.
                let gaussian = vexp(-0.5 * x * x)
                return dy * vnormalCDF(x, gaussian: gaussian).addingProduct(x * invSqrt2Pi, gaussian)
            }
        case .geluTanh:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
                let t = vtanh(sqrt2OverPi * x.addingProduct(geluCubic * x * x, x))
                let slope: Float16Lanes = sqrt2OverPi * (1 + 3 * geluCubic * x * x)
                let sech2: Float16Lanes = 1 - t * t  // split for Swift 6.0's type checker
                return dy * (0.5 * (1 + t) + 0.5 * x * sech2 * slope)
            }
        case .swish(let beta):
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
                let s = vsigmoid(beta * x)
                return dy * (s + beta * x * s * (1 - s))
            }
        case .sigmoid:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
                let s = vsigmoid(x)
                return dy * s * (1 - s)
            }
        case .tanh:
            accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
                let t = vtanh(x)
                return dy * (1 - t * t)
            }
        }
    }
}

/// Logit soft-capping, out[i] = c·tanh(x[i]/c) (Gemma 2): every value is
/// squashed smoothly into (−c, c), near the identity while |x| ≪ c.
public func softcapForward(_ x: ConstFloatPointer, _ out: FloatPointer, _ n: Int, cap c: Float) {
    let inverse = 1 / c
    forChunks(n, grain: elementwiseGrain / 4) { lo, hi in
        map16(x, out, lo, hi) { x in c * vtanh(x * inverse) }
    }
}

/// dx[i] += dy[i] · (1 − tanh²(x[i]/c)), the derivative of c·tanh(x/c) (= when not `accumulate`).
public func softcapBackward(_ x: ConstFloatPointer, _ dy: ConstFloatPointer, _ dx: FloatPointer, _ n: Int, cap c: Float,
                            accumulate: Bool = true) {
    let inverse = 1 / c
    forChunks(n, grain: elementwiseGrain / 4) { lo, hi in
        accumulate16(x, dy, dx, lo, hi, accumulate: accumulate) { x, dy in
            let t = vtanh(x * inverse)
            return dy * (1 - t * t)
        }
    }
}
