import Kernels

/// A linear layer with a LoRA adapter, fused: x·Wᵀ + b + s·(u·Aᵀ)·Bᵀ with
/// x (…, K), W (N, K), A (r, K), B (N, r), and u the adapter's input (x itself,
/// or x after dropout). Only h = s·u·Aᵀ (rows × r) is kept for backward, not
/// the adapter's (rows × N) output, so an adapter costs little memory, and
/// B = 0 leaves the output bit for bit (each element gains s·h·0 = 0).
public func loraLinear(_ x: Tensor, weight w: Tensor, bias: Tensor?, adapterInput u: Tensor, a: Tensor, b: Tensor, scale s: Float) -> Tensor {
    let n = w.shape[0], k = w.shape[1], r = a.shape[0]
    require(u.shape == x.shape && a.rank == 2 && a.shape[1] == k && b.shape == [n, r],
            "loraLinear: input \(describe(x.shape)), weight \(describe(w.shape)), A \(describe(a.shape)), B \(describe(b.shape)) do not fit (need A (r, K), B (N, r))")
    if let bias { require(bias.shape == [n], "loraLinear: bias \(describe(bias.shape)) does not match weight \(describe(w.shape))") }
    let rows = x.count / max(k, 1)
    let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
    Kernels.matmul(x.data, w.data, y.data, m: rows, n: n, k: k, transposeB: true)  // as `linear`
    if let bias { for row in 0..<rows { vectorAdd(y.data + row * n, bias.data, y.data + row * n, n) } }
    let h = Tensor(uninitialized: [rows, r])
    Kernels.matmul(u.data, a.data, h.data, m: rows, n: r, k: k, transposeB: true)  // u·Aᵀ
    vectorScale(h.data, s, h.data, h.count)
    Kernels.matmul(h.data, b.data, y.data, m: rows, n: n, k: r, transposeB: true, accumulate: true)
    let inputs = [x, w] + (bias.map { [$0] } ?? []) + (u === x ? [] : [u]) + [a, b]
    return y.recordOp(inputs) { y in
        let g = y.grad!.data
        if let (dx, acc) = x.gradientWrite { Kernels.matmul(g, w.data, dx, m: rows, n: k, k: n, accumulate: acc) }
        if let (dw, acc) = w.gradientWrite { Kernels.matmul(g, x.data, dw, m: n, n: k, k: rows, transposeA: true, accumulate: acc) }
        if let bias, let db = bias.gradientTarget { accumulateColumnSums(g, rows: rows, cols: n, into: db) }
        if let (dB, acc) = b.gradientWrite { Kernels.matmul(g, h.data, dB, m: n, n: r, k: rows, transposeA: true, accumulate: acc) }  // gᵀ·h
        guard a.needsGrad || u.needsGrad else { return }
        let dh = Tensor(uninitialized: [rows, r])
        Kernels.matmul(g, b.data, dh.data, m: rows, n: r, k: n)      // g·B
        vectorScale(dh.data, s, dh.data, dh.count)                    // ∂/∂(u·Aᵀ)
        if let (dA, acc) = a.gradientWrite { Kernels.matmul(dh.data, u.data, dA, m: r, n: k, k: rows, transposeA: true, accumulate: acc) }
        if let (du, acc) = u.gradientWrite { Kernels.matmul(dh.data, a.data, du, m: rows, n: k, k: r, accumulate: acc) }
    }
}
