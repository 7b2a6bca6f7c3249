import Foundation

/// Float32 matrix multiply over whole row-major buffers.
///
///     C[m×n] = op(A) · op(B)      (or C += … when `accumulate`)
///
/// op(A) is A[m×k], or Aᵀ when `transposeA` (A stored k×m);
/// op(B) is B[k×n], or Bᵀ when `transposeB` (B stored n×k).
/// These three forms (A·B, A·Bᵀ, Aᵀ·B) are all a linear layer's forward and
/// backward need, without materialising a transpose. C must not overlap A or
/// B: they are read in place while C is written.
///
/// Three paths: m > 8 runs a 12×32 register-blocked microkernel over cache
/// blocks, reading A and a k×n B in place and packing only Bᵀ and ragged
/// edges; m <= 8 (token-by-token generation) streams B once, either with
/// m-row kernels (A·B, Aᵀ·B) or as dot products (A·Bᵀ).
///
/// Determinism: work is split over tiles of C only, and every blocking size
/// depends on m, n, k alone, never on `Parallel.threads`, so results are
/// bit-identical for any thread count. Except for the m <= 8 A·Bᵀ dot
/// products, each element is summed p = 0, 1, …, k-1 with one FMA per step,
/// so a row of A·B also comes out the same alone as inside a larger product.
public func matmul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int,
    transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
) {
    require(m >= 0 && n >= 0 && k >= 0, "matmul: negative size m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        return
    }
    if m <= skinnyRows && transposeB {
        skinnyDotMatmul(a, b, c, m: m, n: n, k: k, transposeA: transposeA, accumulate: accumulate)
        return
    }
    // One specialised copy of each path per register block.
    switch MatmulKernel.current {
    case .avx512: matmulPaths(AVX512Block.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
    case .avx2: matmulPaths(AVX2Block.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
    case .neon: matmulPaths(NEONBlock.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
    case .generic: matmulPaths(GenericBlock.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
    }
}

@inline(__always)
private func matmulPaths<Block: RegisterBlock>(
    _ block: Block.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool
) {
    if m <= skinnyRows {
        skinnyMatmul(block, a, b, c, m: m, n: n, k: k, transposeA: transposeA, accumulate: accumulate)
    } else {
        blockedMatmul(block, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate)
    }
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

/// A register block: the microkernel's rows × columns of C held in registers
/// (see MatmulKernel). A last column panel of at most `narrowCols` (or
/// `narrowestCols`) columns uses a narrower kernel, so with 12×32 n = 65 pads
/// to 72, not 96.
protocol RegisterBlock {
    static var rows: Int { get }
    static var cols: Int { get }
    static var narrowCols: Int { get }
    static var narrowestCols: Int { get }
    /// The rows × cols kernel; A row r, step p at a[aRowStride*r + aStep*p].
    static func full(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool)
    /// The rows × `width` kernel, width `narrowCols` or `narrowestCols`.
    static func narrow(width: Int, kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool)
    /// One row of C over 256 columns (a skinny group), as register-sized pieces.
    static func row256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool)
}

enum AVX512Block: RegisterBlock {
    static var rows: Int { 12 }
    static var cols: Int { 32 }
    static var narrowCols: Int { 16 }
    static var narrowestCols: Int { 8 }
    @inline(__always) static func full(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel12x32(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func narrow(width: Int, kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        if width == 16 {
            microKernel12x16(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
        } else {
            microKernel12x8(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
        }
    }
    @inline(__always) static func row256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel1x256(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
}

enum AVX2Block: RegisterBlock {
    static var rows: Int { 6 }
    static var cols: Int { 16 }
    static var narrowCols: Int { 8 }
    static var narrowestCols: Int { 8 }
    @inline(__always) static func full(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel6x16(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func narrow(width: Int, kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel6x8(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func row256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel1x128(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
        microKernel1x128(kc: kc, a: a, b: b + 128, ldb: ldb, c: c + 128, ldc: ldc, loadC: loadC)
    }
}

enum NEONBlock: RegisterBlock {
    static var rows: Int { 8 }
    static var cols: Int { 12 }
    static var narrowCols: Int { 8 }
    static var narrowestCols: Int { 4 }
    @inline(__always) static func full(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel8x12(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func narrow(width: Int, kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        if width == 8 {
            microKernel8x8(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
        } else {
            microKernel8x4(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
        }
    }
    @inline(__always) static func row256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        for piece in stride(from: 0, to: 256, by: 64) {
            microKernel1x64(kc: kc, a: a, b: b + piece, ldb: ldb, c: c + piece, ldc: ldc, loadC: loadC)
        }
    }
}

enum GenericBlock: RegisterBlock {
    static var rows: Int { 4 }
    static var cols: Int { 8 }
    static var narrowCols: Int { 4 }
    static var narrowestCols: Int { 4 }
    @inline(__always) static func full(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel4x8(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func narrow(width: Int, kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        microKernel4x4(kc: kc, a: a, aRowStride: aRowStride, aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
    @inline(__always) static func row256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        for piece in stride(from: 0, to: 256, by: 64) {
            microKernel1x64(kc: kc, a: a, b: b + piece, ldb: ldb, c: c + piece, ldc: ldc, loadC: loadC)
        }
    }
}

/// The skinny path's column panels (its m-row kernels are 32 wide for every block).
let skinnyCols = 32
/// Up to this many rows (token-by-token generation), C is computed by the
/// GEMV-like paths, which read B once and pack nothing big.
let skinnyRows = 8
/// Reduction block: the k-range packed and multiplied in one pass over C.
/// Whole k up to `maxReductionBlock`, else k cut into equal blocks below it.
/// Fewer passes mean C is loaded and stored fewer times; a 96-row A block
/// and a 32-column B panel of 768 (295 + 98 KB) still sit in the 1 MB L2
/// (figures: docs/benchmarks.md, "Kernel constants and their measurements").
@inline(__always) func reductionBlock(_ k: Int) -> Int {
    let blocks = (k + maxReductionBlock - 1) / maxReductionBlock
    return (k + blocks - 1) / blocks
}
let maxReductionBlock = 768
/// Target rows / columns of C per task (a task is whole register panels).
/// Several tasks per thread at 256²; measured no better at 48/144 rows or 64/256 columns.
let taskRows = 96
let taskCols = 128
/// Fewest tasks a product is cut into while it has panels to spare (a fixed
/// number, so the split never depends on the thread count).
let minimumTasks = 8

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

/// Runs `body(task)` for every task in 0..<count on `Parallel.threads` workers
/// started by `Parallel.forEach`, each worker taking the next undone task.
/// Which thread runs a task never changes what it computes (tasks own their
/// outputs), so this keeps results thread-count independent, while a worker
/// slowed by other load on the machine simply does fewer tasks.
func forEachTask(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(Parallel.threads, count)
    if workers <= 1 {
        for task in 0..<count { body(task) }
        return
    }
    let next = TaskCounter()
    Parallel.forEach(workers) { _ in
        while true {
            let task = next.take()
            if task >= count { return }
            body(task)
        }
    }
}

/// Hands out 0, 1, 2, … to the workers. A lock, not an atomic, to stay within
/// Foundation; a task is tens of microseconds, the lock tens of nanoseconds.
private final class TaskCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return next - 1
    }
}

@inline(__always) func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }

/// Splits `items` into about items/target parts whose sizes differ by at most one.
struct EvenSplit {
    let items: Int
    let parts: Int

    init(items: Int, target: Int) {
        self.items = items
        parts = max(1, (items + target / 2) / max(target, 1))
    }

    init(items: Int, parts: Int) {
        self.items = items
        self.parts = max(1, parts)
    }

    /// Part `index` as a range of items: the first items % parts parts get one extra.
    @inline(__always) func range(_ index: Int) -> Range<Int> {
        let base = items / parts, extra = items % parts
        let lo = index * base + min(index, extra)
        return lo..<(lo + base + (index < extra ? 1 : 0))
    }
}

/// Writes dst[p*width + j] = src[j*rowStride + p] for j < rows, p < count, and
/// zeros for rows ..< width: a panel of op(B) from Bᵀ's rows. Whole 16×16
/// blocks go through registers; the ragged rest is copied one by one.
@inline(__always)
func packTransposed(_ src: UnsafePointer<Float>, rowStride: Int, rows: Int, count: Int,
                    into dst: UnsafeMutablePointer<Float>, width: Int) {
    let fullRows = rows / 16 * 16, fullCount = count / 16 * 16
    var j = 0
    while j < fullRows {
        var p = 0
        while p < fullCount {
            transposeBlock16(from: src + j * rowStride + p, srcStride: rowStride, to: dst + p * width + j, dstStride: width)
            p += 16
        }
        for p in fullCount..<count {
            for jj in j..<(j + 16) { dst[p * width + jj] = src[jj * rowStride + p] }
        }
        j += 16
    }
    for jj in fullRows..<rows {
        for p in 0..<count { dst[p * width + jj] = src[jj * rowStride + p] }
    }
    for jj in rows..<width {
        for p in 0..<count { dst[p * width + jj] = 0 }
    }
}

/// Width of the column panels of op(B): all `Block.cols` wide, except a last
/// panel of `narrowCols` or `narrowestCols` when at most that many columns remain.
struct PanelLayout {
    let blockCols: Int
    let panels: Int
    let lastWidth: Int
    /// Sum of all panel widths (n rounded up).
    let paddedN: Int

    init<Block: RegisterBlock>(n: Int, _ block: Block.Type) {
        blockCols = Block.cols
        let full = n / blockCols, rest = n % blockCols
        panels = full + (rest > 0 ? 1 : 0)
        lastWidth = rest == 0 ? blockCols
            : rest <= Block.narrowestCols ? Block.narrowestCols : rest <= Block.narrowCols ? Block.narrowCols : blockCols
        paddedN = full * blockCols + (rest == 0 ? 0 : lastWidth)
    }

    @inline(__always) func width(_ panel: Int) -> Int { panel == panels - 1 ? lastWidth : blockCols }
}

/// Packs panel `ip` of op(A), MR tall: for each reduction block starting at p0,
/// it holds rows ip*MR ..< ip*MR+MR as a[p*MR + r], zero-padded past m.
@inline(__always)
func packAPanel(_ ip: Int, _ a: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>, m: Int, k: Int, transposeA: Bool, mr: Int) {
    let paddedM = roundUp(m, mr)
    do {
        let i0 = ip * mr
        let rows = min(mr, m - i0)
        var p0 = 0
        while p0 < k {
            let kc = min(reductionBlock(k), k - p0)
            let dst = packed + p0 * paddedM + ip * mr * kc
            if transposeA {
                // A stored k×m: the MR values for one p are contiguous (12 = 8 + 4 floats).
                for p in 0..<kc {
                    let src = a + (p0 + p) * m + i0
                    let row = dst + p * mr
                    if rows == mr && (mr == 12 || mr == 8) {
                        UnsafeMutableRawPointer(row).storeBytes(
                            of: UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                        if mr == 12 {
                            UnsafeMutableRawPointer(row + 8).storeBytes(
                                of: UnsafeRawPointer(src + 8).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                        }
                    } else if rows == mr && (mr == 6 || mr == 4) {
                        // The AVX2 and generic blocks: an element loop here had cost Aᵀ·B
                        // about a fifth of its time at 768×128·128×65.
                        UnsafeMutableRawPointer(row).storeBytes(
                            of: UnsafeRawPointer(src).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                        if mr == 6 {
                            UnsafeMutableRawPointer(row + 4).storeBytes(
                                of: UnsafeRawPointer(src + 4).loadUnaligned(as: SIMD2<Float>.self), as: SIMD2<Float>.self)
                        }
                    } else {
                        for r in 0..<rows { row[r] = src[r] }
                        for r in rows..<mr { row[r] = 0 }
                    }
                }
            } else {
                // A full panel goes 16 values of p at a time through a register
                // transpose (12 rows plus 4 ignored); the ragged rest one by one.
                let src = a + i0 * k + p0
                var p = 0
                if rows == mr {
                    while p + 16 <= kc {
                        transposeRows(mr, from: src + p, srcStride: k, to: dst + p * mr)
                        p += 16
                    }
                }
                while p < kc {
                    let row = dst + p * mr
                    for r in 0..<rows { row[r] = src[r * k + p] }
                    for r in rows..<mr { row[r] = 0 }
                    p += 1
                }
            }
            p0 += kc
        }
    }
}

/// Packs panel `jp` of op(B), NR wide: for each reduction block starting at p0,
/// it holds columns jp*NR ..< jp*NR+NR as b[p*NR + j], zero-padded past n.
@inline(__always)
func packBPanel(_ jp: Int, _ b: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>, n: Int, k: Int, transposeB: Bool,
                layout: PanelLayout) {
    let paddedN = layout.paddedN, blockCols = layout.blockCols
    do {
        let j0 = jp * blockCols
        let nr = layout.width(jp)
        let cols = min(nr, n - j0)
        var p0 = 0
        while p0 < k {
            let kc = min(reductionBlock(k), k - p0)
            let dst = packed + p0 * paddedN + jp * blockCols * kc
            if transposeB {
                packTransposed(b + j0 * k + p0, rowStride: k, rows: cols, count: kc, into: dst, width: nr)
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

/// Rows a multiple of 4 KB apart all fall in the same cache sets, so an
/// operand with such a row length is packed rather than read in place
/// (docs/benchmarks.md, "Kernel constants and their measurements").
@inline(__always) func aliasesInCache(_ rowLength: Int) -> Bool { rowLength % 1024 == 0 }

func blockedMatmul<Block: RegisterBlock>(
    _ block: Block.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool
) {
    let mr = Block.rows, blockCols = Block.cols
    let layout = PanelLayout(n: n, block)
    let paddedM = roundUp(m, mr), paddedN = layout.paddedN
    let aFloats = paddedM * k, bFloats = paddedN * k
    let (raw, capacity) = packCache.take(bytes: (aFloats + bFloats) * MemoryLayout<Float>.stride + 64)
    defer { packCache.give(raw, capacity: capacity) }
    let packedA = raw.bindMemory(to: Float.self, capacity: aFloats + bFloats + 16)
    // Start B's panels on a 64-byte boundary too (aFloats is a multiple of 4 only).
    let packedB = packedA + roundUp(aFloats, 16)

    // Tasks are blocks of whole register panels, spread evenly (sizes differ by
    // at most one panel) so that no task is a small leftover that unbalances the threads.
    var rowSplit = EvenSplit(items: paddedM / mr, target: taskRows / mr)
    var colSplit = EvenSplit(items: layout.panels, target: taskCols / blockCols)
    // A small C with a long reduction (a weight gradient, 128×128 over k = 768)
    // would be one or two tasks: cut finer so every core gets some.
    while rowSplit.parts * colSplit.parts < minimumTasks {
        if rowSplit.parts < rowSplit.items {
            rowSplit = EvenSplit(items: rowSplit.items, parts: min(rowSplit.items, rowSplit.parts * 2))
        } else if colSplit.parts < colSplit.items {
            colSplit = EvenSplit(items: colSplit.items, parts: min(colSplit.items, colSplit.parts * 2))
        } else {
            break
        }
    }
    // The 12-row panels of op(A) are read in place by the microkernel (row r,
    // step p at aRowStride*r + aStep*p), and so are op(B)'s full 32-column
    // panels when B is stored k×n (rows `n` apart). Only the rest is packed:
    // op(B) from Bᵀ, a ragged last column panel of B, and an A whose rows
    // alias in cache or that has fewer than 12 rows: packing is a visible share
    // of a training step.
    let (aRowStride, aStep) = transposeA ? (1, m) : (k, 1)
    let aPanels = paddedM / mr
    // Aᵀ (stored k×m) is packed for blocks under 12 rows: in place, each step
    // p would use only mr·4 bytes of a fresh cache line. Except for a short
    // reduction into a narrow C (up to 192 columns), where the packing is not
    // paid back (docs/benchmarks.md, "Kernel constants and their measurements").
    let packsNarrowAT = transposeA && mr < 12 && (reductionBlock(k) > 256 || n > 192)
    let fullPanels = aliasesInCache(transposeA ? m : k) || packsNarrowAT ? 0 : m / mr
    let fullBPanels = transposeB || aliasesInCache(n) ? 0 : n / blockCols
    // A ragged last row panel (m % 12 rows) is read in place as the last 12
    // rows of A, through the scratch tile, keeping only its new rows: the same
    // FMAs as zero-padding it, without packing it, which cost a cold cache
    // line per step p (about 30 µs for a weight gradient over k = 768).
    let aInPlace = fullPanels > 0
    let shiftsLastPanel = aInPlace && fullPanels < aPanels
    let packedAPanels = fullPanels == 0 ? aPanels : 0, packedBPanels = layout.panels - fullBPanels
    // A little packing (up to 16 KB) stays on this thread: with the polling
    // workers a parallel region costs about a microsecond, more than such a
    // pack gains from being split.
    let packCount = packedBPanels + packedAPanels
    let pack = { (index: Int) in
        if index < packedBPanels {
            packBPanel(fullBPanels + index, b, into: packedB, n: n, k: k, transposeB: transposeB, layout: layout)
        } else {
            packAPanel(fullPanels + index - packedBPanels, a, into: packedA, m: m, k: k, transposeA: transposeA, mr: mr)
        }
    }
    if (packedAPanels * mr + packedBPanels * blockCols) * k <= 4_096 {
        for index in 0..<packCount { pack(index) }
    } else {
        forEachTask(packCount, pack)
    }

    forEachTask(rowSplit.parts * colSplit.parts) { task in
        let rowPanels = rowSplit.range(task % rowSplit.parts)
        let colPanels = colSplit.range(task / rowSplit.parts)
        let i0 = rowPanels.lowerBound * mr, i1 = min(m, rowPanels.upperBound * mr)
        let j0 = colPanels.lowerBound * blockCols, j1 = min(n, colPanels.upperBound * blockCols)
        // Edge tiles go through this scratch tile so the microkernel never writes outside C.
        var edge = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &edge) { edgeBytes in
            // 384 floats: the largest block, 12×32.
            let scratch = edgeBytes.baseAddress!.bindMemory(to: Float.self, capacity: mr * blockCols)
            var p0 = 0
            while p0 < k {
                let kc = min(reductionBlock(k), k - p0)
                let loadC = accumulate || p0 > 0
                var j = j0
                while j < j1 {
                    let nr = layout.width(j / blockCols)
                    let cols = min(nr, j1 - j)
                    let bInPlace = j / blockCols < fullBPanels
                    // Offsets computed apart and the pointers typed: Swift 6.0's type checker gives up on the ternaries otherwise.
                    let bOffset: Int = bInPlace ? p0 * n + j : p0 * paddedN + (j / blockCols) * blockCols * kc
                    let bPanel: UnsafePointer<Float> = bInPlace ? b + bOffset : UnsafePointer(packedB + bOffset)
                    let ldb = bInPlace ? n : nr
                    var i = i0
                    while i < i1 {
                        let rows = min(mr, i1 - i)
                        let shift: Int = i / mr < fullPanels || !shiftsLastPanel ? 0 : mr - rows
                        let aOffset: Int = aInPlace ? (i - shift) * aRowStride + p0 * aStep : p0 * paddedM + (i / mr) * mr * kc
                        let aPanel: UnsafePointer<Float> = aInPlace ? a + aOffset : UnsafePointer(packedA + aOffset)
                        let rs = aInPlace ? aRowStride : 1, step = aInPlace ? aStep : mr
                        let cTile = c + i * n + j
                        // Scratch row `shift + r` holds row i + r of C.
                        let scratchRows = scratch + shift * nr
                        if nr < blockCols {
                            // Only ever the last panel, so not worth a direct-store variant.
                            if loadC {
                                for r in 0..<rows {
                                    for s in 0..<cols { scratchRows[r * nr + s] = cTile[r * n + s] }
                                }
                            }
                            Block.narrow(width: nr, kc: kc, a: aPanel, aRowStride: rs, aStep: step, b: bPanel, ldb: ldb, c: scratch, ldc: nr, loadC: loadC)
                            for r in 0..<rows {
                                for s in 0..<cols { cTile[r * n + s] = scratchRows[r * nr + s] }
                            }
                        } else if rows == mr && cols == nr {
                            Block.full(kc: kc, a: aPanel, aRowStride: rs, aStep: step, b: bPanel, ldb: ldb, c: cTile, ldc: n, loadC: loadC)
                        } else {
                            if loadC {
                                for r in 0..<rows {
                                    for s in 0..<cols { scratchRows[r * nr + s] = cTile[r * n + s] }
                                }
                            }
                            Block.full(kc: kc, a: aPanel, aRowStride: rs, aStep: step, b: bPanel, ldb: ldb, c: scratch, ldc: nr, loadC: loadC)
                            for r in 0..<rows {
                                for s in 0..<cols { cTile[r * n + s] = scratchRows[r * nr + s] }
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

// MARK: - Skinny path (m <= 8)

/// The m-row × 32-column kernel for 1 <= m <= 8.
@inline(__always)
func skinnyKernel(rows: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    switch rows {
    case 1: microKernel1x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 2: microKernel2x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 3: microKernel3x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 4: microKernel4x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 5: microKernel5x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 6: microKernel6x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    case 7: microKernel7x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    default: microKernel8x32(kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, loadC: loadC)
    }
}

/// GEMV-like C = op(A)·B for m <= 8 (B stored k×n): B dominates the
/// traffic, so it is read once, straight from memory, never packed (except a
/// ragged last panel). Tasks are 256-column groups (parallel over n); inside,
/// 64-long reduction blocks keep the 64 rows of B being read (one page each)
/// in the TLB and caches while all 8 panels of the group use them. Each
/// element is still summed p = 0, 1, …, k-1 with one FMA per step, as in the
/// blocked path, so the results match it bit for bit.
func skinnyMatmul<Block: RegisterBlock>(
    _ block: Block.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, accumulate: Bool
) {
    let nr = skinnyCols
    let panels = (n + nr - 1) / nr
    let groupPanels = 8, reduction = 64
    let aFloats = transposeA ? 0 : m * k
    let edgeFloats = n % nr == 0 ? 0 : nr * k
    let (raw, capacity) = packCache.take(bytes: (roundUp(aFloats, 16) + edgeFloats) * MemoryLayout<Float>.stride + 64)
    defer { packCache.give(raw, capacity: capacity) }
    let buffer = raw.bindMemory(to: Float.self, capacity: roundUp(aFloats, 16) + edgeFloats)
    // The kernel wants a[p*m + r]: exactly how Aᵀ is stored; A itself is transposed here (m*k floats, cheap).
    let aPanel: UnsafePointer<Float>
    if transposeA {
        aPanel = a
    } else {
        for r in 0..<m {
            for p in 0..<k { buffer[p * m + r] = a[r * k + p] }
        }
        aPanel = UnsafePointer(buffer)
    }
    let edgePanel = buffer + roundUp(aFloats, 16)

    forEachTask((panels + groupPanels - 1) / groupPanels) { group in
        let firstPanel = group * groupPanels
        let endPanel = min(panels, firstPanel + groupPanels)
        let edgeCols = n - (panels - 1) * nr
        let hasEdge = endPanel == panels && edgeCols < nr
        var edge = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                    SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &edge) { edgeBytes in
            // The ragged last panel: B's columns packed zero-padded, C's through a scratch tile.
            let scratch = edgeBytes.baseAddress!.bindMemory(to: Float.self, capacity: skinnyRows * nr)
            let edgeC = c + (panels - 1) * nr
            if hasEdge {
                for p in 0..<k {
                    let src = b + p * n + (panels - 1) * nr
                    let row = edgePanel + p * nr
                    for j in 0..<edgeCols { row[j] = src[j] }
                    for j in edgeCols..<nr { row[j] = 0 }
                }
                if accumulate {
                    for r in 0..<m {
                        for s in 0..<edgeCols { scratch[r * nr + s] = edgeC[r * n + s] }
                    }
                }
            }
            if m == 1 && endPanel - firstPanel == groupPanels && !hasEdge {
                // One row: 256 columns fit in 16 registers, so B is streamed
                // row by row (1 KB runs) instead of 128-byte pieces a page apart.
                Block.row256(kc: k, a: aPanel, b: b + firstPanel * nr, ldb: n,
                             c: c + firstPanel * nr, ldc: n, loadC: accumulate)
                return
            }
            var p0 = 0
            while p0 < k {
                let kc = min(reduction, k - p0)
                let loadC = accumulate || p0 > 0
                for panel in firstPanel..<endPanel {
                    if hasEdge && panel == panels - 1 {
                        skinnyKernel(rows: m, kc: kc, a: aPanel + p0 * m, b: edgePanel + p0 * nr, ldb: nr,
                                     c: scratch, ldc: nr, loadC: loadC)
                    } else {
                        skinnyKernel(rows: m, kc: kc, a: aPanel + p0 * m, b: b + p0 * n + panel * nr, ldb: n,
                                     c: c + panel * nr, ldc: n, loadC: loadC)
                    }
                }
                p0 += kc
            }
            if hasEdge {
                for r in 0..<m {
                    for s in 0..<edgeCols { edgeC[r * n + s] = scratch[r * nr + s] }
                }
            }
        }
    }
}

// MARK: - Skinny A·Bᵀ (m <= 8): dot products

/// Dot products of `a` (length k) with four rows of Bᵀ: 16 lanes each (lane l
/// sums p ≡ l mod 16), then a fixed-order lane sum, then the ragged tail.
@inline(__always)
func dot4(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rowStride: Int, k: Int) -> SIMD4<Float> {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    let b0 = b, b1 = b + rowStride, b2 = b + 2 * rowStride, b3 = b + 3 * rowStride
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }
    var p = 0
    while p + 16 <= k {
        let x = load(a + p)
        s0.addProduct(x, load(b0 + p))
        s1.addProduct(x, load(b1 + p))
        s2.addProduct(x, load(b2 + p))
        s3.addProduct(x, load(b3 + p))
        p += 16
    }
    var result = SIMD4<Float>(horizontalSum(s0), horizontalSum(s1), horizontalSum(s2), horizontalSum(s3))
    while p < k {
        result.addProduct(SIMD4(repeating: a[p]), SIMD4(b0[p], b1[p], b2[p], b3[p]))
        p += 1
    }
    return result
}

/// Eight dot products, each summed in exactly the order `dot4` uses: eight
/// rows of Bᵀ streamed at once, one load of `a` for all of them.
@inline(__always)
func dot8(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rowStride: Int, k: Int) -> SIMD8<Float> {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var s4 = SIMD16<Float>(), s5 = SIMD16<Float>(), s6 = SIMD16<Float>(), s7 = SIMD16<Float>()
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }
    var p = 0
    while p + 16 <= k {
        let x = load(a + p)
        s0.addProduct(x, load(b + p))
        s1.addProduct(x, load(b + rowStride + p))
        s2.addProduct(x, load(b + 2 * rowStride + p))
        s3.addProduct(x, load(b + 3 * rowStride + p))
        s4.addProduct(x, load(b + 4 * rowStride + p))
        s5.addProduct(x, load(b + 5 * rowStride + p))
        s6.addProduct(x, load(b + 6 * rowStride + p))
        s7.addProduct(x, load(b + 7 * rowStride + p))
        p += 16
    }
    var result = SIMD8<Float>(horizontalSum(s0), horizontalSum(s1), horizontalSum(s2), horizontalSum(s3),
                              horizontalSum(s4), horizontalSum(s5), horizontalSum(s6), horizontalSum(s7))
    while p < k {
        var column = SIMD8<Float>()
        for r in 0..<8 { column[r] = b[r * rowStride + p] }
        result.addProduct(SIMD8(repeating: a[p]), column)
        p += 1
    }
    return result
}

/// Whether the GEMV paths stream eight rows of Bᵀ at once (`dot8`) or four:
/// eight 16-lane accumulators take half of AVX-512's 32 registers but all 16
/// of AVX2's (each is two ymm there) and spill. Either way each row's sum is
/// the same bits, so the choice changes speed only.
var dotEightRows: Bool { MatmulKernel.current == .avx512 }

/// One dot product, summed in exactly the order `dot4` uses for each of its four.
@inline(__always)
func dot1(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, k: Int) -> Float {
    var s = SIMD16<Float>()
    var p = 0
    while p + 16 <= k {
        s.addProduct(UnsafeRawPointer(a + p).loadUnaligned(as: SIMD16<Float>.self),
                     UnsafeRawPointer(b + p).loadUnaligned(as: SIMD16<Float>.self))
        p += 16
    }
    var result = horizontalSum(s)
    while p < k {
        result = result.addingProduct(a[p], b[p])
        p += 1
    }
    return result
}

/// C = op(A)·Bᵀ for m <= 8: rows of both A and Bᵀ are contiguous in p, so each
/// output is a dot product and B is streamed once, with no packing. Parallel
/// over 32-column groups of C. Each element's summation order depends on k
/// only (never on threads), but differs from the blocked path's, so a row
/// computed here may differ from the same row inside a big product by rounding.
func skinnyDotMatmul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, accumulate: Bool
) {
    var aRows = a
    var scratch: UnsafeMutablePointer<Float>?
    if transposeA {
        // Aᵀ stored k×m: make its m rows contiguous (m*k floats, cheap).
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        for p in 0..<k {
            for r in 0..<m { rows[r * k + p] = a[p * m + r] }
        }
        aRows = UnsafePointer(rows)
        scratch = rows
    }
    defer { scratch?.deallocate() }
    let group = 32
    let eightRows = dotEightRows
    forEachTask((n + group - 1) / group) { g in
        let jEnd = min(n, g * group + group)
        for r in 0..<m {
            let aRow = aRows + r * k
            let cRow = c + r * n
            var j = g * group
            while eightRows && j + 8 <= jEnd {
                var d = dot8(aRow, b + j * k, rowStride: k, k: k)
                if accumulate { d = UnsafeRawPointer(cRow + j).loadUnaligned(as: SIMD8<Float>.self) + d }
                UnsafeMutableRawPointer(cRow + j).storeBytes(of: d, as: SIMD8<Float>.self)
                j += 8
            }
            while j + 4 <= jEnd {
                var d = dot4(aRow, b + j * k, rowStride: k, k: k)
                if accumulate { d = SIMD4(cRow[j], cRow[j + 1], cRow[j + 2], cRow[j + 3]) + d }
                cRow[j] = d[0]; cRow[j + 1] = d[1]; cRow[j + 2] = d[2]; cRow[j + 3] = d[3]
                j += 4
            }
            while j < jEnd {
                let d = dot1(aRow, b + j * k, k: k)
                cRow[j] = accumulate ? cRow[j] + d : d
                j += 1
            }
        }
    }
}
