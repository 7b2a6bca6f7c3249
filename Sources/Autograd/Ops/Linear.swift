import Kernels

// Matrix products and embedding lookup. Backward passes use the A·Bᵀ and
// Aᵀ·B forms of the matmul kernel, so no transpose is ever materialised.

/// a (…, M, K) · b (K, N) → (…, M, N), or batched: b (…, K, N) with the same
/// leading dimensions as a.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    require(a.rank >= 2 && b.rank >= 2, "matmul: needs matrices, got \(describe(a.shape)) and \(describe(b.shape))")
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
    let k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
    let lead = Array(a.shape.dropLast(2))
    let batched = b.rank > 2
    require(k == k2 && (!batched || Array(b.shape.dropLast(2)) == lead),
                 "matmul: shapes \(describe(a.shape)) and \(describe(b.shape)) do not multiply")
    let out = Tensor(uninitialized: lead + [m, n])
    let batches = lead.reduce(1, *)
    if batched {
        for i in 0..<batches { Kernels.matmul(a.data + i * m * k, b.data + i * k * n, out.data + i * m * n, m: m, n: n, k: k) }
    } else {
        Kernels.matmul(a.data, b.data, out.data, m: batches * m, n: n, k: k)  // one tall product
    }
    return out.recordOp([a, b]) { out in
        let g = out.grad!.data
        if let (da, acc) = a.gradientWrite {  // dA = dC · Bᵀ
            if batched {
                for i in 0..<batches { Kernels.matmul(g + i * m * n, b.data + i * k * n, da + i * m * k, m: m, n: k, k: n, transposeB: true, accumulate: acc) }
            } else {
                Kernels.matmul(g, b.data, da, m: batches * m, n: k, k: n, transposeB: true, accumulate: acc)
            }
        }
        if let (db, acc) = b.gradientWrite {  // dB = Aᵀ · dC
            if batched {
                for i in 0..<batches { Kernels.matmul(a.data + i * m * k, g + i * m * n, db + i * k * n, m: k, n: n, k: m, transposeA: true, accumulate: acc) }
            } else {
                Kernels.matmul(a.data, g, db, m: k, n: n, k: batches * m, transposeA: true, accumulate: acc)
            }
        }
    }
}

/// A linear layer: x (…, K) · Wᵀ + b, with W (N, K) as in PyTorch's nn.Linear
/// and an optional bias (N).
/// With `residual` (same shape as the result), returns residual + (x·Wᵀ (+ bias)),
/// a pre-norm block's x + f(x): the bias and the residual are added in one
/// pass over the product, and the residual's gradient is the output's, handed
/// over without a copy. Same bits as `add(residual, linear(x, …))`, one
/// tensor and two passes over memory fewer.
public func linear(_ x: Tensor, weight w: Tensor, bias: Tensor? = nil, adding residual: Tensor? = nil) -> Tensor {
    require(w.rank == 2 && x.rank >= 1 && x.shape.last == w.shape[1],
                 "linear: input \(describe(x.shape)) does not match weight \(describe(w.shape)) (need input (…, K), weight (N, K))")
    let n = w.shape[0], k = w.shape[1]
    if let bias { require(bias.shape == [n], "linear: bias \(describe(bias.shape)) does not match weight \(describe(w.shape))") }
    let rows = x.count / max(k, 1)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
    if let residual { require(residual.shape == out.shape, "linear: residual \(describe(residual.shape)) does not match the output \(describe(out.shape))") }
    Kernels.matmul(x.data, w.data, out.data, m: rows, n: n, k: k, transposeB: true)
    switch (bias, residual) {
    case (let bias?, let residual?): addBiasAndResidual(out.data, bias: bias.data, residual: residual.data, rows: rows, cols: n)
    case (let bias?, nil): for r in 0..<rows { vectorAdd(out.data + r * n, bias.data, out.data + r * n, n) }
    case (nil, let residual?): vectorAdd(residual.data, out.data, out.data, out.count)
    case (nil, nil): break
    }
    return out.recordOp([x, w] + (bias.map { [$0] } ?? []) + (residual.map { [$0] } ?? [])) { out in
        let g = out.grad!.data
        if let (dx, acc) = x.gradientWrite { Kernels.matmul(g, w.data, dx, m: rows, n: k, k: n, accumulate: acc) }
        if let (dw, acc) = w.gradientWrite { Kernels.matmul(g, x.data, dw, m: n, n: k, k: rows, transposeA: true, accumulate: acc) }
        if let bias, let db = bias.gradientTarget { accumulateColumnSums(g, rows: rows, cols: n, into: db) }
        // Last: the residual may adopt the gradient's buffer, which later gradients then add into.
        residual?.receiveGradient(out.grad!)
    }
}

/// Rows of `table` (V, D) picked by `ids` → ids.shape + (D). The backward
/// scatter-adds into the picked rows (in order, so repeated ids are exact).
public func embedding(_ table: Tensor, ids: [Int32], shape: [Int]) -> Tensor {
    require(table.rank == 2, "embedding: table must be (V, D), got \(describe(table.shape))")
    require(shape.reduce(1, *) == ids.count, "embedding: \(ids.count) ids do not fill shape \(describe(shape))")
    let v = table.shape[0], d = table.shape[1]
    for id in ids {
        require(id >= 0 && Int(id) < v, "embedding: id \(id) out of range 0..<\(v)")
    }
    let out = Tensor(uninitialized: shape + [d])
    for (i, id) in ids.enumerated() { (out.data + i * d).update(from: table.data + Int(id) * d, count: d) }
    return out.recordOp([table]) { out in
        guard let dt = table.gradientTarget else { return }
        let g = out.grad!.data
        for (i, id) in ids.enumerated() { axpy(dt + Int(id) * d, g + i * d, 1, d) }
    }
}
