import Kernels

// Elementwise arithmetic with broadcasting over leading dimensions: the
// smaller operand's shape must equal the trailing part of the larger one's
// (a bias (C) added to (B, T, C), a gain multiplied into every row).

extension Tensor {
    /// The gradient accumulation target (zero-filled on first use), or nil if
    /// no gradient is needed.
    var gradientTarget: UnsafeMutablePointer<Float>? { needsGrad ? gradientBuffer() : nil }

    /// For a backward that writes every element of this tensor's gradient:
    /// the buffer, and whether to add to what it holds. On first use the
    /// buffer comes unfilled and `accumulate` is false, sparing a zero-fill.
    var gradientWrite: (pointer: UnsafeMutablePointer<Float>, accumulate: Bool)? {
        guard needsGrad else { return nil }
        if let g = grad { return (g.data, true) }
        let g = Tensor(uninitialized: shape)
        grad = g
        return (g.data, false)
    }

    /// Gives this tensor an op output's gradient `g` (same element count).
    /// Nothing reads an output's gradient after its op's backward, so a
    /// tensor without a gradient yet adopts g's buffer instead of copying it.
    func receiveGradient(_ g: Tensor) {
        guard needsGrad else { return }
        if let mine = grad {
            vectorAccumulate(mine.data, g.data, count)
        } else {
            grad = Tensor(shape: shape, storage: g.storage)
        }
    }
}

/// Matches a pair for broadcasting: returns (larger, smaller, rows) where the
/// smaller operand repeats `rows` times along the larger one.
private func broadcastPair(_ a: Tensor, _ b: Tensor, _ op: String) -> (big: Tensor, small: Tensor, rows: Int) {
    let (big, small) = a.rank >= b.rank ? (a, b) : (b, a)
    require(Array(big.shape.suffix(small.rank)) == small.shape,
                 "\(op): shapes \(describe(a.shape)) and \(describe(b.shape)) do not broadcast (the smaller must equal the trailing dimensions of the larger)")
    return (big, small, small.count == 0 ? 0 : big.count / small.count)
}

/// a + b, broadcasting the smaller over the leading dimensions of the larger.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (big, small, rows) = broadcastPair(a, b, "add")
    let out = Tensor(uninitialized: big.shape)
    let n = small.count
    if rows == 1 {
        vectorAdd(big.data, small.data, out.data, n)
    } else {
        for r in 0..<rows { vectorAdd(big.data + r * n, small.data, out.data + r * n, n) }
    }
    return out.recordOp([big, small]) { out in
        let g = out.grad!
        // small first: once big adopts g's buffer, big's later gradients land in it.
        if rows == 1, let (d, accumulate) = small.gradientWrite {  // same shapes (a residual): copy or add
            if accumulate { vectorAccumulate(d, g.data, n) } else { vectorScale(g.data, 1, d, n) }
        } else if let d = small.gradientTarget {
            accumulateColumnSums(g.data, rows: rows, cols: n, into: d)
        }
        if big === small { vectorAccumulate(big.gradientTarget!, g.data, big.count) } else { big.receiveGradient(g) }
    }
}

/// a ⊙ b, broadcasting the smaller over the leading dimensions of the larger.
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (big, small, rows) = broadcastPair(a, b, "mul")
    let out = Tensor(uninitialized: big.shape)
    let n = small.count
    for r in 0..<rows { vectorMultiply(big.data + r * n, small.data, out.data + r * n, n) }
    return out.recordOp([big, small]) { out in
        let g = out.grad!
        if let d = big.gradientTarget {
            for r in 0..<rows { vectorAccumulateProduct(d + r * n, g.data + r * n, small.data, n) }
        }
        if let d = small.gradientTarget { accumulateColumnDots(g.data, big.data, rows: rows, cols: n, into: d) }
    }
}

/// a · s for a constant s.
public func scale(_ a: Tensor, _ s: Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    vectorScale(a.data, s, out.data, a.count)
    return out.recordOp([a]) { out in
        if let (d, accumulate) = a.gradientWrite {
            if accumulate { vectorAccumulate(d, out.grad!.data, scale: s, a.count) } else { vectorScale(out.grad!.data, s, d, a.count) }
        }
    }
}

/// λ·a + (1 − λ)·b for a learned scalar λ (one element) and a, b of one shape:
/// value residual learning's mix of a layer's values with the first layer's.
public func interpolate(_ a: Tensor, _ b: Tensor, weight: Tensor) -> Tensor {
    require(a.shape == b.shape, "interpolate: shapes \(describe(a.shape)) and \(describe(b.shape)) differ")
    require(weight.count == 1, "interpolate: the weight must be one element, got shape \(describe(weight.shape))")
    let w = weight.data[0]
    let out = Tensor(uninitialized: a.shape)
    vectorInterpolate(a.data, b.data, weight: w, out.data, a.count)
    return out.recordOp([a, b, weight]) { out in
        let g = out.grad!.data
        if let d = weight.gradientTarget {
            var s = 0.0
            for i in 0..<a.count { s += Double(g[i]) * Double(a.data[i] - b.data[i]) }
            d[0] += Float(s)
        }
        if let d = a.gradientTarget { vectorAccumulate(d, g, scale: w, a.count) }
        if let d = b.gradientTarget { vectorAccumulate(d, g, scale: 1 - w, b.count) }
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor { add(a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { add(a, scale(b, -1)) }
public func * (a: Tensor, b: Tensor) -> Tensor { mul(a, b) }
public func * (a: Tensor, s: Float) -> Tensor { scale(a, s) }
public func * (s: Float, a: Tensor) -> Tensor { scale(a, s) }

/// Σ of all elements, as a scalar. Summed in Double, in order: deterministic.
public func sum(_ a: Tensor) -> Tensor {
    var s = 0.0
    for i in 0..<a.count { s += Double(a.data[i]) }
    let out = Tensor(scalar: Float(s))
    return out.recordOp([a]) { out in
        let g = out.grad!.data[0]
        if let d = a.gradientTarget { for i in 0..<a.count { d[i] += g } }
    }
}

/// Mean of all elements, as a scalar.
public func mean(_ a: Tensor) -> Tensor {
    require(a.count > 0, "mean: empty tensor of shape \(describe(a.shape))")
    return scale(sum(a), 1 / Float(a.count))
}

/// Mean squared error mean((a − b)²), as a scalar.
public func mseLoss(_ a: Tensor, _ b: Tensor) -> Tensor {
    require(a.shape == b.shape, "mseLoss: shapes \(describe(a.shape)) and \(describe(b.shape)) differ")
    require(a.count > 0, "mseLoss: empty tensors")
    var s = 0.0
    for i in 0..<a.count { let d = Double(a.data[i] - b.data[i]); s += d * d }
    let n = Float(a.count)
    let out = Tensor(scalar: Float(s / Double(a.count)))
    return out.recordOp([a, b]) { out in
        let g = out.grad!.data[0] * 2 / n
        if let d = a.gradientTarget { for i in 0..<a.count { d[i] += g * (a.data[i] - b.data[i]) } }
        if let d = b.gradientTarget { for i in 0..<b.count { d[i] -= g * (a.data[i] - b.data[i]) } }
    }
}
