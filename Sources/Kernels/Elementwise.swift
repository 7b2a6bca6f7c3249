/// Vectorised whole-buffer elementwise kernels. Large buffers are split into
/// fixed-size chunks across threads (chunking depends only on the length, so
/// results do not depend on the thread count).

public typealias FloatPointer = UnsafeMutablePointer<Float>
public typealias ConstFloatPointer = UnsafePointer<Float>

/// Chunk size for parallel elementwise loops: big enough that a chunk's work
/// dwarfs the dispatch cost, small enough to balance two to eight cores.
public let elementwiseGrain = 1 << 15

/// Applies `body` to consecutive ranges of 0..<n, in parallel for large n.
@inlinable
public func forChunks(_ n: Int, grain: Int = elementwiseGrain, _ body: (Int, Int) -> Void) {
    if n <= grain {
        body(0, n)
    } else {
        Parallel.forRanges(n, grain: grain) { r in body(r.lowerBound, r.upperBound) }
    }
}

/// out[i] = a[i] + b[i]
public func vectorAdd(_ a: ConstFloatPointer, _ b: ConstFloatPointer, _ out: FloatPointer, _ n: Int) {
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            let x = load8(a + i)
            let y = load8(b + i)
            store8(x + y, out + i)
            i += 8
        }
        while i < hi { out[i] = a[i] + b[i]; i += 1 }
    }
}

/// out[r, c] = residual[r, c] + (out[r, c] + bias[c]): a linear layer's bias
/// and a residual connection in one pass, rounded as the two adds would be.
public func addBiasAndResidual(_ out: FloatPointer, bias: ConstFloatPointer, residual: ConstFloatPointer, rows: Int, cols: Int) {
    forChunks(rows, grain: max(1, elementwiseGrain / max(cols, 1))) { lo, hi in
        for r in lo..<hi {
            let o = out + r * cols, x = residual + r * cols
            var c = 0
            while c + 8 <= cols {
                store8(load8(x + c) + (load8(o + c) + load8(bias + c)), o + c)
                c += 8
            }
            while c < cols { o[c] = x[c] + (o[c] + bias[c]); c += 1 }
        }
    }
}

/// out[i] = a[i] * b[i]
public func vectorMultiply(_ a: ConstFloatPointer, _ b: ConstFloatPointer, _ out: FloatPointer, _ n: Int) {
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            let x = load8(a + i)
            let y = load8(b + i)
            store8(x * y, out + i)
            i += 8
        }
        while i < hi { out[i] = a[i] * b[i]; i += 1 }
    }
}

/// out[i] = a[i] * s
public func vectorScale(_ a: ConstFloatPointer, _ s: Float, _ out: FloatPointer, _ n: Int) {
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            store8(load8(a + i) * s, out + i)
            i += 8
        }
        while i < hi { out[i] = a[i] * s; i += 1 }
    }
}

/// out[i] = w * a[i] + (1 − w) * b[i], unfused in every lane (the same bits in a SIMD lane as in the tail).
public func vectorInterpolate(_ a: ConstFloatPointer, _ b: ConstFloatPointer, weight w: Float, _ out: FloatPointer, _ n: Int) {
    let v = 1 - w
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            store8(load8(a + i) * w + load8(b + i) * v, out + i)
            i += 8
        }
        while i < hi { out[i] = a[i] * w + b[i] * v; i += 1 }
    }
}

/// dst[i] += s * a[i]
public func vectorAccumulate(_ dst: FloatPointer, _ a: ConstFloatPointer, scale s: Float = 1, _ n: Int) {
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            var d = load8(dst + i)
            d.addProduct(load8(a + i), SIMD8<Float>(repeating: s))
            store8(d, dst + i)
            i += 8
        }
        while i < hi { dst[i] += s * a[i]; i += 1 }
    }
}

/// dst[i] += a[i] * b[i]
public func vectorAccumulateProduct(_ dst: FloatPointer, _ a: ConstFloatPointer, _ b: ConstFloatPointer, _ n: Int) {
    forChunks(n) { lo, hi in
        var i = lo
        while i + 8 <= hi {
            var d = load8(dst + i)
            d.addProduct(load8(a + i),
                         load8(b + i))
            store8(d, dst + i)
            i += 8
        }
        while i < hi { dst[i] += a[i] * b[i]; i += 1 }
    }
}

/// Σ a[i]·b[i] over a short vector (one row), in 8 lanes then reduced.
@inlinable
public func dot(_ a: ConstFloatPointer, _ b: ConstFloatPointer, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc.addProduct(load8(a + i),
                       load8(b + i))
        i += 8
    }
    var s = horizontalSum(acc)
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[i] += s * x[i] over a short vector (one row), single-threaded.
@inlinable
public func axpy(_ y: FloatPointer, _ x: ConstFloatPointer, _ s: Float, _ n: Int) {
    let sv = SIMD8<Float>(repeating: s)
    var i = 0
    while i + 8 <= n {
        var d = load8(y + i)
        d.addProduct(load8(x + i), sv)
        store8(d, y + i)
        i += 8
    }
    while i < n { y[i] += s * x[i]; i += 1 }
}

/// Column sums of a [rows × cols] matrix, accumulated into out[cols].
/// Split over column blocks, each summing its rows in order: deterministic.
public func accumulateColumnSums(_ a: ConstFloatPointer, rows: Int, cols: Int, into out: FloatPointer) {
    forColumnBlocks(rows: rows, cols: cols) { lo, hi in
        for r in 0..<rows {
            let row = a + r * cols
            for j in lo..<hi { out[j] += row[j] }
        }
    }
}

@inlinable @inline(__always)
public func store8(_ v: SIMD8<Float>, _ p: FloatPointer) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inlinable @inline(__always)
public func load8(_ p: ConstFloatPointer) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// out[j] += Σ_r a[r, j] · b[r, j] over a [rows × cols] pair (column dot products).
public func accumulateColumnDots(_ a: ConstFloatPointer, _ b: ConstFloatPointer, rows: Int, cols: Int, into out: FloatPointer) {
    forColumnBlocks(rows: rows, cols: cols) { lo, hi in
        for r in 0..<rows {
            let ar = a + r * cols, br = b + r * cols
            for j in lo..<hi { out[j] += ar[j] * br[j] }
        }
    }
}

/// Copies (or adds) the transpose of dimensions n0 and n1 in a tensor viewed
/// as (A, n0, M, n1, C): dst[a, j, m, i, c] (+)= src[a, i, m, j, c].
public func transposeCopy(_ src: ConstFloatPointer, _ dst: FloatPointer,
                          outer: Int, n0: Int, middle: Int, n1: Int, inner: Int, accumulate: Bool) {
    let total = outer * n1
    let body: (Int) -> Void = { aj in
        let a = aj / n1, j = aj % n1
        for m in 0..<middle {
            for i in 0..<n0 {
                let s = src + (((a * n0 + i) * middle + m) * n1 + j) * inner
                let d = dst + (((a * n1 + j) * middle + m) * n0 + i) * inner
                if accumulate {
                    axpy(d, s, 1, inner)
                } else {
                    // Rows of a head are short (32–128 floats): inline copies beat a memmove call each.
                    var c = 0
                    while c + 16 <= inner { store16(load16(s + c), d + c); c += 16 }
                    while c < inner { d[c] = s[c]; c += 1 }
                }
            }
        }
    }
    withoutActuallyEscaping(body) { body in
        if outer * n0 * middle * n1 * inner > elementwiseGrain { Parallel.forEach(total, body) } else { for x in 0..<total { body(x) } }
    }
}
