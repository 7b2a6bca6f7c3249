/// Float32 matrix multiply over whole row-major buffers.
///
///     C[m×n] = op(A) · op(B)      (or C += … when `accumulate`)
///
/// op(A) is A[m×k], or Aᵀ when `transposeA` (A stored k×m);
/// op(B) is B[k×n], or Bᵀ when `transposeB` (B stored n×k).
/// These three forms (A·B, A·Bᵀ, Aᵀ·B) are all a linear layer's forward and
/// backward need, without materialising a transpose.
public func matmul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int,
    transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
) {
    matmulReference(a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
}

/// The plain triple loop: the reference the fast kernel is tested against.
/// Accumulates in Double so it is a trustworthy yardstick.
public func matmulReference(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int,
    transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transposeA ? a[p * m + i] : a[i * k + p]
                let y = transposeB ? b[j * k + p] : b[p * n + j]
                s += Double(x) * Double(y)
            }
            c[i * n + j] = accumulate ? c[i * n + j] + Float(s) : Float(s)
        }
    }
}
