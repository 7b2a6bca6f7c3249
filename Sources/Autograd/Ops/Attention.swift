import Kernels

/// Causal (or full) scaled-dot-product attention as one fused op:
/// softmax(q·kᵀ/√D + bias)·v with grouped K/V heads.
///
///     q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D) with Hkv dividing H   → (B, H, Tq, D)
///
/// or with `layout: .tokenMajor` (training, no transposed copies: a linear
/// layer's (B, T, H·D) output reshaped)
///
///     q: (B, Tq, H, D)   k, v: (B, Tk, Hkv, D)   → (B, Tq, H, D)
///
/// `bias` (H, Tq, Tk) is added to the scores: a constant (ALiBi), or learned
/// (T5's relative positions), when it receives the sum over the batch of the
/// scores' gradient. With `causal`, query i is at position i + Tk − Tq, so keys
/// from a KV cache of earlier positions line up; `prefixLengths` (one per
/// batch row, a prefix LM) lets every query of a row also see its first keys.
/// With `keyLength`, k and v are (B, Hkv, capacity, D) buffers of which the
/// first `keyLength` positions are used (a preallocated cache; head-major only).
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, causal: Bool = true, prefixLengths: [Int]? = nil,
                      keyLength: Int? = nil, layout: HeadLayout = .headMajor) -> Tensor {
    let tokenMajor = layout == .tokenMajor
    require(q.rank == 4 && k.rank == 4 && v.rank == 4,
                 "attention: q, k, v must be \(tokenMajor ? "(B, T, H, D)" : "(B, H, T, D)"), got \(describe(q.shape)), \(describe(k.shape)), \(describe(v.shape))")
    require(!tokenMajor || keyLength == nil, "attention: keyLength (a KV cache) needs the head-major layout")
    let (b, h, tq, d) = tokenMajor ? (q.shape[0], q.shape[2], q.shape[1], q.shape[3]) : (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (hkv, capacity) = tokenMajor ? (k.shape[2], k.shape[1]) : (k.shape[1], k.shape[2])
    let tk = keyLength ?? capacity
    require(tk >= 1 && tk <= capacity, "attention: keyLength \(tk) outside 1...\(capacity)")
    require(k.shape == v.shape && k.shape[0] == b && k.shape[3] == d,
                 "attention: k \(describe(k.shape)) and v \(describe(v.shape)) must match q \(describe(q.shape)) in batch and head size")
    require(hkv > 0 && h % hkv == 0, "attention: \(hkv) K/V heads must divide \(h) query heads")
    require(!causal || tq <= tk, "attention: causal attention needs at least as many keys (\(tk)) as queries (\(tq))")
    if let bias { require(bias.shape == [h, tq, tk], "attention: bias \(describe(bias.shape)) must be (\(h), \(tq), \(tk))") }
    if let prefixLengths {
        require(causal, "attention: prefix lengths apply to causal attention")
        require(prefixLengths.count == b && prefixLengths.allSatisfy { $0 >= 0 },
                "attention: need one prefix length ≥ 0 per batch row (\(b)), got \(prefixLengths)")
    }
    let shape = AttentionShape(batch: b, heads: h, kvHeads: hkv, queryLength: tq, keyLength: tk, headSize: d, causal: causal,
                               keyCapacity: capacity, layout: layout, prefixLengths: prefixLengths ?? [])
    let out = Tensor(uninitialized: q.shape)
    let lse = Tensor(uninitialized: [b, h, tq])
    attentionForward(q.data, k.data, v.data, bias: bias?.data, out.data, logSumExp: lse.data, shape: shape)
    let learnedBias = bias.flatMap { $0.needsGrad ? $0 : nil }
    return out.recordOp([q, k, v] + (learnedBias.map { [$0] } ?? [])) { out in
        // The kernel writes all three gradients (the first time it reaches one,
        // outright); scratch buffers for those not needed. K/V buffers with
        // unused capacity take the zero-filled gradient, as the kernel writes
        // only the used rows.
        var scratch: [Tensor] = []
        func target(_ t: Tensor, wholeWrite: Bool) -> (UnsafeMutablePointer<Float>, Bool) {
            if wholeWrite, let (d, accumulate) = t.gradientWrite { return (d, accumulate) }
            if let d = t.gradientTarget { return (d, true) }
            scratch.append(Tensor(uninitialized: t.shape))
            return (scratch.last!.data, false)
        }
        let (dq, addQ) = target(q, wholeWrite: true)
        let (dk, addK) = target(k, wholeWrite: tk == capacity), (dv, addV) = target(v, wholeWrite: tk == capacity)
        // Per (batch, head), so that no two workers write one entry; summed over the batch in order after.
        let perRow = learnedBias.map { _ in Tensor(uninitialized: [b, h, tq, tk]) }
        attentionBackward(q.data, k.data, v.data, bias: bias?.data, out.data, logSumExp: lse.data, out.grad!.data,
                          dq: dq, dk: dk, dv: dv, biasGradient: perRow?.data, shape: shape, accumulate: (addQ, addK, addV))
        if let learnedBias, let perRow, let dBias = learnedBias.gradientTarget {
            let n = h * tq * tk
            for row in 0..<b { vectorAccumulate(dBias, perRow.data + row * n, n) }
        }
        withExtendedLifetime(scratch) {}
    }
}

/// Rotary position embedding on x (B, H, T, D), or (B, T, H, D) with
/// `layout: .tokenMajor`, for positions offset..<offset+T.
public func rotaryEmbedding(_ x: Tensor, offset: Int = 0, theta: Float = 10_000, layout: HeadLayout = .headMajor) -> Tensor {
    require(x.rank == 4, "rotaryEmbedding: needs \(layout == .tokenMajor ? "(B, T, H, D)" : "(B, H, T, D)"), got \(describe(x.shape))")
    require(x.shape[3] % 2 == 0, "rotaryEmbedding: head size \(x.shape[3]) must be even")
    let (n, t, heads, d) = rotaryRows(x.shape, layout)
    let out = Tensor(uninitialized: x.shape)
    applyRotary(x.data, out.data, count: n, length: t, heads: heads, headSize: d, offset: offset, theta: theta)
    return out.recordOp([x]) { out in
        guard let dx = x.gradientTarget else { return }
        // The rotation is orthogonal: its backward is the inverse rotation.
        let back = Tensor(uninitialized: x.shape)
        applyRotary(out.grad!.data, back.data, count: n, length: t, heads: heads, headSize: d, offset: offset, theta: theta, inverse: true)
        vectorAccumulate(dx, back.data, x.count)
    }
}

/// (rows, positions, heads per position, head size) of a rank-4 x for applyRotary.
func rotaryRows(_ shape: [Int], _ layout: HeadLayout) -> (Int, Int, Int, Int) {
    layout == .tokenMajor ? (shape[0], shape[1], shape[2], shape[3]) : (shape[0] * shape[1], shape[2], 1, shape[3])
}
