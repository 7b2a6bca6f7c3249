/// Muon's orthogonalisation (Keller Jordan 2024, "Muon: MomentumOrthogonalized
/// by Newton-Schulz", as in modded-nanogpt's `zeropower_via_newtonschulz5`):
/// X ← G/(‖G‖_F + 1e-7), transposed when it has more rows than columns so
/// that X Xᵀ is the small Gram matrix, then `steps` times
///
///     A = X Xᵀ,  B = b·A + c·A·A,  X ← a·X + B·X     (a, b, c) = (3.4445, −4.7750, 2.0315)
///
/// which pushes every singular value of X towards 1 (into roughly 0.5–1.5:
/// the coefficients trade exactness for a steep slope at zero), keeping the
/// singular vectors: about U·Vᵀ of G's SVD. Float32 throughout (the reference runs
/// in bfloat16). Single-threaded matmuls when called inside a parallel region.
public enum NewtonSchulz {
    public static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)
    public static let epsilon: Float = 1e-7

    /// out (rows, cols) = the orthogonalised `g` (rows, cols); out may not alias g.
    public static func orthogonalize(_ g: ConstFloatPointer, _ out: FloatPointer, rows: Int, cols: Int, steps: Int = 5) {
        let n = rows * cols
        if n == 0 { return }
        let (a, b, c) = coefficients
        let transposed = rows > cols
        let (r, k) = transposed ? (cols, rows) : (rows, cols)     // X is (r, k) with r ≤ k
        let x = FloatPointer.allocate(capacity: n), product = FloatPointer.allocate(capacity: n)
        let gram = FloatPointer.allocate(capacity: r * r), square = FloatPointer.allocate(capacity: r * r)
        defer { for p in [x, product, gram, square] { p.deallocate() } }
        let inverse = 1 / (sumOfSquares(g, n).squareRoot() + epsilon)
        if transposed {
            for i in 0..<rows { for j in 0..<cols { x[j * rows + i] = g[i * cols + j] * inverse } }
        } else {
            vectorScale(g, inverse, x, n)
        }
        for _ in 0..<steps {
            matmul(x, x, gram, m: r, n: r, k: k, transposeB: true)          // A = X Xᵀ (r, r)
            matmul(gram, gram, square, m: r, n: r, k: r)                    // A·A
            for i in 0..<(r * r) { gram[i] = b * gram[i] + c * square[i] }  // B
            matmul(gram, x, product, m: r, n: k, k: r)                      // B·X (r, k)
            for i in 0..<n { x[i] = a * x[i] + product[i] }
        }
        if transposed {
            for i in 0..<rows { for j in 0..<cols { out[i * cols + j] = x[j * rows + i] } }
        } else {
            out.update(from: x, count: n)
        }
    }
}
