// The per-element arithmetic of the optimizers; NN/Optimizer.swift decides
// which tensors get which settings. Each update follows PyTorch's
// single-tensor implementation operation by operation, in its order and
// without fused multiply-adds, so every lane rounds as PyTorch does. The
// loops are here, compiled -Ounchecked, because they stream every parameter
// and both moments once per step.

/// Settings of one Adam/AdamW update of one tensor.
public struct AdamUpdate: Sendable {
    public var beta1: Float, beta2: Float, eps: Float
    /// lr / (1 − β₁ᵗ)
    public var stepSize: Float
    /// √(1 − β₂ᵗ)
    public var bias2Root: Float
    /// 1 − lr·λ: AdamW's decoupled weight decay (1 for none).
    public var decoupled: Float
    /// λ: Adam's weight decay, added to the gradient (0 for none).
    public var coupled: Float
    /// L1 and L2 penalties λ₁·Σ|w| + λ₂·Σw², added to the gradient.
    public var l1: Float, l2: Float
    /// Multiplies the stored gradient first (gradient clipping), as if it had been scaled in place.
    public var gradientScale: Float

    public init(beta1: Float, beta2: Float, eps: Float, stepSize: Float, bias2Root: Float,
                decoupled: Float, coupled: Float, l1: Float, l2: Float, gradientScale: Float = 1) {
        (self.beta1, self.beta2, self.eps, self.stepSize, self.bias2Root) = (beta1, beta2, eps, stepSize, bias2Root)
        (self.decoupled, self.coupled, self.l1, self.l2, self.gradientScale) = (decoupled, coupled, l1, l2, gradientScale)
    }
}

/// The gradient plus the L1 and L2 penalties' gradients λ₁·sign(w) + 2λ₂·w.
@inline(__always)
func penalised(_ grad: Float16Lanes, _ w: Float16Lanes, l1: Float, l2: Float) -> Float16Lanes {
    var grad = grad
    if l1 != 0 { grad += l1 * Float16Lanes().replacing(with: 1, where: w .> 0).replacing(with: -1, where: w .< 0) }
    if l2 != 0 { grad += 2 * l2 * w }
    return grad
}

@inline(__always)
func adamLanes(_ w: Float16Lanes, _ g: Float16Lanes, _ m: inout Float16Lanes, _ v: inout Float16Lanes,
               _ h: AdamUpdate) -> Float16Lanes {
    var grad = penalised(h.gradientScale == 1 ? g : g * h.gradientScale, w, l1: h.l1, l2: h.l2)
    if h.coupled != 0 { grad += h.coupled * w }
    m += (grad - m) * (1 - h.beta1)                  // torch: exp_avg.lerp_(grad, 1 - beta1)
    v = v * h.beta2 + (1 - h.beta2) * grad * grad     // mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    let denom = v.squareRoot() / h.bias2Root + h.eps
    return (h.decoupled == 1 ? w : w * h.decoupled) - h.stepSize * m / denom
}

/// One Adam/AdamW step over `count` elements: updates weights `w` and the
/// moments `m`, `v` in place from gradients `g`.
public func adamUpdate(weights w: FloatPointer, gradients g: ConstFloatPointer,
                       first m: FloatPointer, second v: FloatPointer, count: Int, _ h: AdamUpdate) {
    var i = 0
    while i + 16 <= count {
        var mi = load16(m + i), vi = load16(v + i)
        let wi = adamLanes(load16(w + i), load16(g + i), &mi, &vi, h)
        store16(mi, m + i); store16(vi, v + i); store16(wi, w + i)
        i += 16
    }
    if i < count {
        let n = count - i
        var mi = loadPartial16(m + i, n), vi = loadPartial16(v + i, n)
        let wi = adamLanes(loadPartial16(w + i, n), loadPartial16(g + i, n), &mi, &vi, h)
        storePartial16(mi, m + i, n); storePartial16(vi, v + i, n); storePartial16(wi, w + i, n)
    }
}

/// One SGD step (torch.optim.SGD, dampening 0) over `count` elements. With
/// momentum, `buffer` holds it; on the first step it starts as the gradient.
/// The gradient is multiplied by `gradientScale` first (gradient clipping).
public func sgdUpdate(weights w: FloatPointer, gradients g: ConstFloatPointer, momentumBuffer buffer: FloatPointer?,
                      count: Int, lr: Float, weightDecay: Float, momentum: Float, firstStep: Bool, l1: Float, l2: Float,
                      gradientScale: Float = 1) {
    @inline(__always) func lanes(_ wi: Float16Lanes, _ gi: Float16Lanes, _ bi: Float16Lanes) -> (w: Float16Lanes, buffer: Float16Lanes) {
        var grad = penalised(gradientScale == 1 ? gi : gi * gradientScale, wi, l1: l1, l2: l2)
        if weightDecay != 0 { grad += weightDecay * wi }
        var b = bi
        if momentum != 0 {
            b = firstStep ? grad : bi * momentum + grad
            grad = b
        }
        return (wi - lr * grad, b)
    }
    let hasBuffer = momentum != 0 && buffer != nil
    var i = 0
    while i + 16 <= count {
        let r = lanes(load16(w + i), load16(g + i), hasBuffer && !firstStep ? load16(buffer! + i) : Float16Lanes())
        if hasBuffer { store16(r.buffer, buffer! + i) }
        store16(r.w, w + i)
        i += 16
    }
    if i < count {
        let n = count - i
        let r = lanes(loadPartial16(w + i, n), loadPartial16(g + i, n),
                      hasBuffer && !firstStep ? loadPartial16(buffer! + i, n) : Float16Lanes())
        if hasBuffer { storePartial16(r.buffer, buffer! + i, n) }
        storePartial16(r.w, w + i, n)
    }
}
