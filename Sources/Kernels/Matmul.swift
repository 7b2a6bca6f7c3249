import Foundation

/// Float32 matrix multiply over whole row-major buffers.
///
///     C[m×n] = op(A) · op(B)      (or C += … when `accumulate`)
///
/// op(A) is A[m×k], or Aᵀ when `transposeA` (A stored k×m);
/// op(B) is B[k×n], or Bᵀ when `transposeB` (B stored n×k).
/// These three forms (A·B, A·Bᵀ, Aᵀ·B) are all a linear layer's forward and
/// backward need, without materialising a transpose.
///
/// Determinism: work is split over tiles of C only, and every blocking size
/// depends on m, n, k alone, so each output element is summed in the same
/// order (p = 0, 1, …, k-1) whatever `Parallel.threads` is.
public func matmul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int,
    transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "matmul: negative size m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        return
    }
    blockedMatmul(a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
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

// MARK: - Blocked, packed, parallel kernel

/// Register block of the microkernel (rows × columns of C held in registers).
let blockRows = 12
let blockCols = 32
/// Reduction block: one B micro-panel (kc × 32 floats = 32 KB at 256) stays in L1/L2.
let reductionBlock = 256
/// Cache block of C rows / columns handled by one task; multiples of the register block.
let taskRows = 96
let taskCols = 128

/// Pack buffers kept between calls so a big matmul does not page-fault fresh memory every time.
private final class PackCache: @unchecked Sendable {
    let lock = NSLock()
    var buffer: UnsafeMutableRawPointer?
    var capacity = 0

    /// Takes the cached buffer if it is free and large enough, else allocates one.
    func take(bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        lock.lock()
        defer { lock.unlock() }
        if let b = buffer, capacity >= bytes {
            buffer = nil
            return (b, capacity)
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes)
    }

    /// Keeps the larger of the returned and the cached buffer; frees the other.
    func give(_ b: UnsafeMutableRawPointer, capacity bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        if buffer == nil || bytes > capacity {
            buffer?.deallocate()
            buffer = b
            capacity = bytes
        } else {
            b.deallocate()
        }
    }
}

private let packCache = PackCache()

@inline(__always) func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }

/// Packs op(A) into MR-tall panels: for each reduction block starting at p0,
/// panel `ip` holds rows ip*MR ..< ip*MR+MR as a[p*MR + r], zero-padded past m.
func packA(_ a: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>, m: Int, k: Int, transposeA: Bool) {
    let mr = blockRows
    let paddedM = roundUp(m, mr)
    let panels = paddedM / mr
    Parallel.forEach(panels) { ip in
        let i0 = ip * mr
        let rows = min(mr, m - i0)
        var p0 = 0
        while p0 < k {
            let kc = min(reductionBlock, k - p0)
            let dst = packed + p0 * paddedM + ip * mr * kc
            if transposeA {
                // A stored k×m: the MR values for one p are contiguous.
                for p in 0..<kc {
                    let src = a + (p0 + p) * m + i0
                    let row = dst + p * mr
                    for r in 0..<rows { row[r] = src[r] }
                    for r in rows..<mr { row[r] = 0 }
                }
            } else {
                for r in 0..<rows {
                    let src = a + (i0 + r) * k + p0
                    for p in 0..<kc { dst[p * mr + r] = src[p] }
                }
                for r in rows..<mr {
                    for p in 0..<kc { dst[p * mr + r] = 0 }
                }
            }
            p0 += kc
        }
    }
}

/// Packs op(B) into NR-wide panels: for each reduction block starting at p0,
/// panel `jp` holds columns jp*NR ..< jp*NR+NR as b[p*NR + j], zero-padded past n.
func packB(_ b: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>, n: Int, k: Int, transposeB: Bool) {
    let nr = blockCols
    let paddedN = roundUp(n, nr)
    let panels = paddedN / nr
    Parallel.forEach(panels) { jp in
        let j0 = jp * nr
        let cols = min(nr, n - j0)
        var p0 = 0
        while p0 < k {
            let kc = min(reductionBlock, k - p0)
            let dst = packed + p0 * paddedN + jp * nr * kc
            if transposeB {
                for j in 0..<cols {
                    let src = b + (j0 + j) * k + p0
                    for p in 0..<kc { dst[p * nr + j] = src[p] }
                }
                for j in cols..<nr {
                    for p in 0..<kc { dst[p * nr + j] = 0 }
                }
            } else {
                // B stored k×n: the NR values for one p are contiguous.
                for p in 0..<kc {
                    let src = b + (p0 + p) * n + j0
                    let row = dst + p * nr
                    for j in 0..<cols { row[j] = src[j] }
                    for j in cols..<nr { row[j] = 0 }
                }
            }
            p0 += kc
        }
    }
}

func blockedMatmul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool
) {
    let mr = blockRows, nr = blockCols
    let paddedM = roundUp(m, mr), paddedN = roundUp(n, nr)
    let aFloats = paddedM * k, bFloats = paddedN * k
    let (raw, capacity) = packCache.take(bytes: (aFloats + bFloats) * MemoryLayout<Float>.stride + 64)
    defer { packCache.give(raw, capacity: capacity) }
    let packedA = raw.bindMemory(to: Float.self, capacity: aFloats + bFloats + 16)
    // Start B's panels on a 64-byte boundary too (aFloats is a multiple of 4 only).
    let packedB = packedA + roundUp(aFloats, 16)

    packA(a, into: packedA, m: m, k: k, transposeA: transposeA)
    packB(b, into: packedB, n: n, k: k, transposeB: transposeB)

    let rowTasks = (m + taskRows - 1) / taskRows
    let colTasks = (n + taskCols - 1) / taskCols
    Parallel.forEach(rowTasks * colTasks) { task in
        let i0 = (task % rowTasks) * taskRows
        let j0 = (task / rowTasks) * taskCols
        let i1 = min(m, i0 + taskRows), j1 = min(n, j0 + taskCols)
        // Edge tiles go through this scratch tile so the microkernel never writes outside C.
        var edge = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &edge) { edgeBytes in
            let scratch = edgeBytes.baseAddress!.bindMemory(to: Float.self, capacity: mr * nr)
            var p0 = 0
            while p0 < k {
                let kc = min(reductionBlock, k - p0)
                let loadC = accumulate || p0 > 0
                var j = j0
                while j < j1 {
                    let cols = min(nr, j1 - j)
                    let bPanel = packedB + p0 * paddedN + (j / nr) * nr * kc
                    var i = i0
                    while i < i1 {
                        let rows = min(mr, i1 - i)
                        let aPanel = packedA + p0 * paddedM + (i / mr) * mr * kc
                        let cTile = c + i * n + j
                        if rows == mr && cols == nr {
                            microKernel12x32(kc: kc, a: aPanel, b: bPanel, ldb: nr, c: cTile, ldc: n, loadC: loadC)
                        } else {
                            if loadC {
                                for r in 0..<rows {
                                    for s in 0..<cols { scratch[r * nr + s] = cTile[r * n + s] }
                                }
                            }
                            microKernel12x32(kc: kc, a: aPanel, b: bPanel, ldb: nr, c: scratch, ldc: nr, loadC: loadC)
                            for r in 0..<rows {
                                for s in 0..<cols { cTile[r * n + s] = scratch[r * nr + s] }
                            }
                        }
                        i += mr
                    }
                    j += nr
                }
                p0 += kc
            }
        }
    }
}
