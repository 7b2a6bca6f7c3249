/// One float matrix (rows, cols) times `batch` vectors: the inputs (batch, cols)
/// and outputs (batch, rows) row after row.
public struct BatchedMatVecJob {
    public let weights: UnsafePointer<Float>
    public let rows: Int, cols: Int
    public let input: UnsafePointer<Float>
    public let bias: UnsafePointer<Float>?
    public let output: UnsafeMutablePointer<Float>

    public init(weights: UnsafePointer<Float>, rows: Int, cols: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                output: UnsafeMutablePointer<Float>) {
        self.weights = weights; self.rows = rows; self.cols = cols; self.input = input; self.bias = bias; self.output = output
    }
}

/// `matVec` for several sequences at once (decoding a batch): each weight row
/// is read from memory once and dotted with every input while it sits in the
/// cache, so a step streams the weights once instead of once per sequence.
/// Rows are split over threads as `matVec` splits them, and every output is
/// the same `floatDot` of the same row and input, so each sequence's results
/// are exactly those of its own `matVec`.
public func matVecBatched(_ jobs: [BatchedMatVecJob], batch: Int) {
    jobs.withUnsafeBufferPointer { raw in
        forEachRowRun(raw, rows: { $0.rows }, multiplyAdds: raw.reduce(0) { $0 + $1.rows * $1.cols } * batch) { j, rows in
            let job = raw[j]
            for r in rows {
                let w = job.weights + r * job.cols, bias = job.bias?[r] ?? 0
                for b in 0..<batch { job.output[b * job.rows + r] = floatDot(w, job.input + b * job.cols, job.cols) + bias }
            }
        }
    }
}
