import Kernels

// Reshaping and rearranging: reshape shares storage; transpose, slice and
// concat copy into contiguous outputs (every tensor here is contiguous).

extension Tensor {
    /// The same elements under a new shape (one dimension may be -1: inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            require(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for shape \(describe(shape))")
            dims[i] = count / known
        }
        require(dims.allSatisfy { $0 >= 0 } && dims.reduce(1, *) == count,
                     "reshape: shape \(describe(shape)) (\(count) elements) cannot become \(newShape)")
        let out = Tensor(shape: dims, storage: storage)
        return out.recordOp([self]) { [self] out in receiveGradient(out.grad!) }
    }

    /// Swaps two dimensions (copying).
    public func transposed(_ d0: Int, _ d1: Int) -> Tensor {
        require(d0 >= 0 && d1 >= 0 && d0 < rank && d1 < rank, "transpose: dims \(d0), \(d1) out of range for shape \(describe(shape))")
        if d0 == d1 { return reshaped(shape) }
        let (lo, hi) = (min(d0, d1), max(d0, d1))
        let outer = shape[..<lo].reduce(1, *), middle = shape[(lo + 1)..<hi].reduce(1, *)
        let inner = shape[(hi + 1)...].reduce(1, *)
        var outShape = shape
        outShape.swapAt(lo, hi)
        let out = Tensor(uninitialized: outShape)
        transposeCopy(data, out.data, outer: outer, n0: shape[lo], middle: middle, n1: shape[hi], inner: inner, accumulate: false)
        return out.recordOp([self]) { [self] out in
            if let (d, accumulate) = gradientWrite {
                transposeCopy(out.grad!.data, d, outer: outer, n0: shape[hi], middle: middle, n1: shape[lo], inner: inner, accumulate: accumulate)
            }
        }
    }

    /// (B, T, H·D) → (B, H, T, D)
    public func splitHeads(_ heads: Int) -> Tensor {
        require(rank == 3 && heads > 0 && shape[2] % heads == 0,
                     "splitHeads: shape \(describe(shape)) cannot split into \(heads) heads (need (B, T, C) with C divisible by heads)")
        return reshaped([shape[0], shape[1], heads, shape[2] / heads]).transposed(1, 2)
    }

    /// (B, H, T, D) → (B, T, H·D)
    public func mergeHeads() -> Tensor {
        require(rank == 4, "mergeHeads: needs (B, H, T, D), got \(describe(shape))")
        return transposed(1, 2).reshaped([shape[0], shape[2], shape[1] * shape[3]])
    }

    /// Elements `range` along dimension `dim` (copying).
    public func slice(_ dim: Int, _ range: Range<Int>) -> Tensor {
        require(dim >= 0 && dim < rank, "slice: dim \(dim) out of range for shape \(describe(shape))")
        require(range.lowerBound >= 0 && range.upperBound <= shape[dim],
                     "slice: range \(range) out of bounds for dimension \(dim) of size \(shape[dim])")
        let outer = shape[..<dim].reduce(1, *), inner = shape[(dim + 1)...].reduce(1, *)
        let n = shape[dim], len = range.count, start = range.lowerBound
        var outShape = shape
        outShape[dim] = len
        let out = Tensor(uninitialized: outShape)
        for o in 0..<outer {
            out.data.advanced(by: o * len * inner).update(from: data + (o * n + start) * inner, count: len * inner)
        }
        return out.recordOp([self]) { [self] out in
            guard let d = gradientTarget else { return }
            for o in 0..<outer {
                vectorAccumulate(d + (o * n + start) * inner, out.grad!.data + o * len * inner, len * inner)
            }
        }
    }
}

extension Tensor {
    /// The rows `indices` of this tensor seen as (rows, last dimension):
    /// (count, C). A row may be picked more than once; its gradient adds up.
    /// How a score head reads each sequence's last token.
    public func rows(_ indices: [Int]) -> Tensor {
        require(rank >= 1, "rows: needs at least one dimension, got a scalar")
        let width = shape[rank - 1], available = count / max(width, 1)
        for i in indices { require(i >= 0 && i < available, "rows: row \(i) out of range 0..<\(available) of shape \(describe(shape))") }
        let out = Tensor(uninitialized: [indices.count, width])
        for (r, i) in indices.enumerated() { (out.data + r * width).update(from: data + i * width, count: width) }
        return out.recordOp([self]) { [self] out in
            guard let d = gradientTarget else { return }
            for (r, i) in indices.enumerated() { vectorAccumulate(d + i * width, out.grad!.data + r * width, width) }
        }
    }
}

/// Joins tensors along `dim`; all other dimensions must agree.
public func concat(_ parts: [Tensor], dim: Int) -> Tensor {
    require(!parts.isEmpty, "concat: no tensors")
    let first = parts[0].shape
    require(dim >= 0 && dim < first.count, "concat: dim \(dim) out of range for shape \(describe(first))")
    for p in parts {
        var a = p.shape, b = first
        require(a.count == b.count, "concat: shapes \(describe(first)) and \(describe(p.shape)) differ in rank")
        a[dim] = 0; b[dim] = 0
        require(a == b, "concat: shapes \(describe(first)) and \(describe(p.shape)) differ outside dimension \(dim)")
    }
    let outer = first[..<dim].reduce(1, *), inner = first[(dim + 1)...].reduce(1, *)
    let total = parts.map { $0.shape[dim] }.reduce(0, +)
    var outShape = first
    outShape[dim] = total
    let out = Tensor(uninitialized: outShape)
    var start = 0
    var starts: [Int] = []
    for p in parts {
        starts.append(start)
        let len = p.shape[dim]
        for o in 0..<outer {
            (out.data + (o * total + start) * inner).update(from: p.data + o * len * inner, count: len * inner)
        }
        start += len
    }
    return out.recordOp(parts) { out in
        for (p, s) in zip(parts, starts) {
            guard let d = p.gradientTarget else { continue }
            let len = p.shape[dim]
            for o in 0..<outer { vectorAccumulate(d + o * len * inner, out.grad!.data + (o * total + s) * inner, len * inner) }
        }
    }
}
