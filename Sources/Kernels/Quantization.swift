import Foundation

/// Group-wise symmetric quantization (the form of llama.cpp's Q8_0/Q4_0 and
/// llama2.c's runq): each row of a weight matrix (out, in) is cut into groups
/// of `groupSize` consecutive inputs; a group stores one Float scale
/// s = max|w| / qmax and integers q = round(w / s), rounded half away from
/// zero, so w ≈ q·s. qmax is 127 (int8) or 7 (int4); −128 and −8 never occur.
///
/// int4 packs two values per byte, as offset nibbles (q + 8, 1…15): within a
/// group, byte i holds value i in its low nibble and value i + groupSize/2 in
/// its high nibble, so both halves unpack into contiguous lanes.
public enum QuantizedFormat: String, CaseIterable, Sendable {
    case int8, int4

    /// The largest |q|.
    public var maxLevel: Float { self == .int8 ? 127 : 7 }
    /// Bytes of integer data for `count` values.
    public func byteCount(_ count: Int) -> Int { self == .int8 ? count : count / 2 }
}

/// A quantized weight matrix (rows, cols): integer data and one scale per group,
/// read-only. The storage is this matrix's own (quantized here, or copied from
/// arrays) or another object's (a mapped checkpoint file), which it keeps alive.
public struct QuantizedMatrix: @unchecked Sendable {
    public let format: QuantizedFormat
    public let rows: Int, cols: Int, groupSize: Int
    /// int8: rows·cols signed values as bytes; int4: rows·cols/2 packed bytes.
    public let data: UnsafeBufferPointer<UInt8>
    /// rows · cols/groupSize scales, row-major.
    public let scales: UnsafeBufferPointer<Float>
    /// Keeps `data` and `scales` alive.
    let owner: AnyObject

    public var groupsPerRow: Int { cols / groupSize }

    /// Takes stored data as it is, into storage of its own; the loader checks lengths and scales first.
    public init(format: QuantizedFormat, rows: Int, cols: Int, groupSize: Int, data: [UInt8], scales: [Float]) {
        let storage = QuantizedStorage(data, scales)
        self.init(format: format, rows: rows, cols: cols, groupSize: groupSize, data: UnsafeBufferPointer(storage.data),
                  scales: UnsafeBufferPointer(storage.scales), owner: storage)
    }

    /// Reads data that `owner` keeps alive (a mapped file), without copying it.
    public init(format: QuantizedFormat, rows: Int, cols: Int, groupSize: Int, data: UnsafeBufferPointer<UInt8>,
                scales: UnsafeBufferPointer<Float>, owner: AnyObject) {
        require(groupSize >= 1 && cols % groupSize == 0 && (format == .int8 || groupSize % 2 == 0),
                "QuantizedMatrix: group size \(groupSize) does not fit rows of \(cols)")
        require(data.count == format.byteCount(rows * cols) && scales.count == rows * (cols / groupSize),
                "QuantizedMatrix: \(data.count) bytes and \(scales.count) scales do not fit (\(rows), \(cols)) in groups of \(groupSize)")
        self.format = format; self.rows = rows; self.cols = cols; self.groupSize = groupSize
        self.data = data; self.scales = scales; self.owner = owner
    }

    /// Quantizes a row-major float matrix.
    public init(quantizing w: [Float], rows: Int, cols: Int, groupSize: Int, format: QuantizedFormat) {
        require(w.count == rows * cols, "QuantizedMatrix: \(w.count) values do not fill (\(rows), \(cols))")
        let groups = rows * cols / groupSize
        var data = [UInt8](repeating: 0, count: format.byteCount(rows * cols))
        var scales = [Float](repeating: 0, count: groups)
        var levels = [Int8](repeating: 0, count: groupSize)
        w.withUnsafeBufferPointer { w in
            for g in 0..<groups {
                let scale = quantizeGroup(w.baseAddress! + g * groupSize, count: groupSize, maxLevel: format.maxLevel, into: &levels)
                scales[g] = scale
                switch format {
                case .int8:
                    for i in 0..<groupSize { data[g * groupSize + i] = UInt8(bitPattern: levels[i]) }
                case .int4:
                    let half = groupSize / 2
                    for i in 0..<half {
                        data[g * half + i] = UInt8(levels[i] + 8) | UInt8(levels[i + half] + 8) << 4
                    }
                }
            }
        }
        self.init(format: format, rows: rows, cols: cols, groupSize: groupSize, data: data, scales: scales)
    }

    /// The integer level of element (r, c), −127…127 or −7…7.
    public func level(_ r: Int, _ c: Int) -> Int {
        switch format {
        case .int8: return Int(Int8(bitPattern: data[r * cols + c]))
        case .int4:
            let (g, i) = (c / groupSize, c % groupSize), half = groupSize / 2
            let byte = data[(r * cols + g * groupSize) / 2 + i % half]
            return Int(i < half ? byte & 15 : byte >> 4) - 8
        }
    }

    /// Row r as floats (q·s): for one embedding row, and for tests.
    public func dequantizedRow(_ r: Int, into out: FloatPointer) {
        for c in 0..<cols { out[c] = Float(level(r, c)) * scales[r * groupsPerRow + c / groupSize] }
    }

    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        out.withUnsafeMutableBufferPointer { o in for r in 0..<rows { dequantizedRow(r, into: o.baseAddress! + r * cols) } }
        return out
    }
}

/// A quantized matrix's own bytes and scales.
final class QuantizedStorage {
    let data: UnsafeMutableBufferPointer<UInt8>
    let scales: UnsafeMutableBufferPointer<Float>
    init(_ data: [UInt8], _ scales: [Float]) {
        self.data = .allocate(capacity: data.count)
        self.scales = .allocate(capacity: scales.count)
        _ = self.data.initialize(from: data)
        _ = self.scales.initialize(from: scales)
    }
    deinit { data.deallocate(); scales.deallocate() }
}

/// Quantizes `count` values into `levels`; returns the scale max|x| / maxLevel
/// (0 for an all-zero group, whose levels are then 0). Groups of 16·k values
/// go 16 at a time, with the same scale and levels as value by value.
public func quantizeGroup(_ x: UnsafePointer<Float>, count: Int, maxLevel: Float, into levels: UnsafeMutablePointer<Int8>) -> Float {
    count % 16 == 0 ? quantizeGroup16(x, count: count, maxLevel: maxLevel, into: levels)
                    : quantizeGroupOneByOne(x, count: count, maxLevel: maxLevel, into: levels)
}

/// quantizeGroup value by value: the rule itself, and the tests' reference.
func quantizeGroupOneByOne(_ x: UnsafePointer<Float>, count: Int, maxLevel: Float, into levels: UnsafeMutablePointer<Int8>) -> Float {
    var largest: Float = 0
    for i in 0..<count { largest = max(largest, abs(x[i])) }
    let scale = largest / maxLevel
    let inverse: Float = scale > 0 ? 1 / scale : 0
    for i in 0..<count {
        // .rounded() is round half away from zero; the clamp only guards 1/scale's rounding.
        levels[i] = Int8(max(-maxLevel, min(maxLevel, (x[i] * inverse).rounded())))
    }
    return scale
}

/// The largest |x| of 16·k values, 16 lanes at a time: quantizeGroup's
/// maximum (max ignores NaN the same way in any order).
@inline(__always)
func largestMagnitude(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let raw = UnsafeRawPointer(x)
    var largest = SIMD16<Float>()
    var i = 0
    while i < count {
        let m = unsafeBitCast(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
        largest = SIMD16<Float>(max(largest[0], m[0]), max(largest[1], m[1]), max(largest[2], m[2]), max(largest[3], m[3]), max(largest[4], m[4]), max(largest[5], m[5]), max(largest[6], m[6]), max(largest[7], m[7]), max(largest[8], m[8]), max(largest[9], m[9]), max(largest[10], m[10]), max(largest[11], m[11]), max(largest[12], m[12]), max(largest[13], m[13]), max(largest[14], m[14]), max(largest[15], m[15]))
        i += 16
    }
    let lanes8 = SIMD8<Float>(max(largest[0], largest[8]), max(largest[1], largest[9]), max(largest[2], largest[10]), max(largest[3], largest[11]), max(largest[4], largest[12]), max(largest[5], largest[13]), max(largest[6], largest[14]), max(largest[7], largest[15]))
    return max(max(max(lanes8[0], lanes8[4]), max(lanes8[1], lanes8[5])), max(max(lanes8[2], lanes8[6]), max(lanes8[3], lanes8[7])))
}

/// 16 values times `inverse`, rounded half away from zero and clamped to
/// ±maxLevel (the clamp only guards 1/scale's rounding), as quantizeGroup does.
@inline(__always)
func roundedLevels(_ raw: UnsafeRawPointer, _ offset: Int, _ inverse: Float, maxLevel: Float) -> SIMD16<Int32> {
    let v = raw.loadUnaligned(fromByteOffset: 4 * offset, as: SIMD16<Float>.self) * inverse
    @inline(__always) func level(_ y: Float) -> Int32 { Int32(max(-maxLevel, min(maxLevel, y.rounded()))) }
    return SIMD16<Int32>(level(v[0]), level(v[1]), level(v[2]), level(v[3]), level(v[4]), level(v[5]), level(v[6]), level(v[7]), level(v[8]), level(v[9]), level(v[10]), level(v[11]), level(v[12]), level(v[13]), level(v[14]), level(v[15]))
}

/// quantizeGroup for a group of 16·k values, 16 at a time.
@inline(__always)
func quantizeGroup16(_ x: UnsafePointer<Float>, count: Int, maxLevel: Float, into levels: UnsafeMutablePointer<Int8>) -> Float {
    let scale = largestMagnitude(x, count: count) / maxLevel
    let inverse: Float = scale > 0 ? 1 / scale : 0
    var i = 0
    while i < count {
        let v = roundedLevels(UnsafeRawPointer(x), i, inverse, maxLevel: maxLevel)
        UnsafeMutableRawPointer(levels + i).storeBytes(of: SIMD16<Int8>(Int8(truncatingIfNeeded: v[0]), Int8(truncatingIfNeeded: v[1]), Int8(truncatingIfNeeded: v[2]), Int8(truncatingIfNeeded: v[3]), Int8(truncatingIfNeeded: v[4]), Int8(truncatingIfNeeded: v[5]), Int8(truncatingIfNeeded: v[6]), Int8(truncatingIfNeeded: v[7]), Int8(truncatingIfNeeded: v[8]), Int8(truncatingIfNeeded: v[9]), Int8(truncatingIfNeeded: v[10]), Int8(truncatingIfNeeded: v[11]), Int8(truncatingIfNeeded: v[12]), Int8(truncatingIfNeeded: v[13]), Int8(truncatingIfNeeded: v[14]), Int8(truncatingIfNeeded: v[15])), as: SIMD16<Int8>.self)
        i += 16
    }
    return scale
}

/// An activation vector quantized to int8 per group, as runq's Q8_0 does on
/// the fly: buffers allocated once, reused every token.
public final class QuantizedActivations {
    public let capacity: Int
    public let levels: UnsafeMutablePointer<Int8>
    public let scales: UnsafeMutablePointer<Float>
    /// The levels laid out for the int4 shapes, when int4 weights read them.
    public let int4: Int4Activations

    public init(capacity: Int) {
        self.capacity = capacity
        levels = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity)
        int4 = Int4Activations(capacity: capacity)
    }
    deinit { levels.deallocate(); scales.deallocate() }

    /// Quantizes x (n values) in groups of `groupSize`; for int4 weights also
    /// lays the levels out for the int4 shape this process runs.
    public func quantize(_ x: UnsafePointer<Float>, count n: Int, groupSize: Int, for format: QuantizedFormat = .int8) {
        require(n <= capacity && n % groupSize == 0, "QuantizedActivations: \(n) values in groups of \(groupSize) (capacity \(capacity))")
        for g in 0..<(n / groupSize) {
            scales[g] = quantizeGroup(x + g * groupSize, count: groupSize, maxLevel: 127, into: levels + g * groupSize)
        }
        if format == .int4 && int4UnitsCover(groupSize: groupSize) {
            int4.prepare(levels, count: n, groupSize: groupSize, kernel: MatmulKernel.current)
        } else {
            int4.prepare(levels, count: n, groupSize: groupSize, kernel: .generic)  // the twin reads the levels themselves
        }
    }
}

/// One matrix–vector product of a batch of them: out[r] = Σ_c W[r, c] · x[c] (+ bias[r]).
public struct MatVecJob {
    public enum Weights {
        case float(UnsafePointer<Float>)
        case quantized(QuantizedMatrix)
    }
    public let weights: Weights
    public let rows: Int, cols: Int
    /// Float input (float weights) — quantized weights read `activations`.
    public let input: UnsafePointer<Float>
    public let activations: QuantizedActivations?
    public let bias: UnsafePointer<Float>?
    public let output: UnsafeMutablePointer<Float>

    public init(weights: Weights, rows: Int, cols: Int, input: UnsafePointer<Float>, activations: QuantizedActivations?,
                bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        self.weights = weights; self.rows = rows; self.cols = cols; self.input = input
        self.activations = activations; self.bias = bias; self.output = output
    }
}

/// Runs several independent matrix–vector products in one parallel region
/// (q, k and v; gate and up), so there is one barrier for the lot, with the
/// rows split over threads by `forEachRowRun`. Each output row is computed
/// whole by one thread, in the same order whatever the split or the build,
/// so results depend on neither the thread count nor the register block.
public func matVec(_ jobs: [MatVecJob]) {
    withRawJobs(jobs) { raw in
        // Only pointers cross into the workers: copying a job that holds
        // arrays or classes would retain them from both threads.
        forEachRowRun(raw, rows: { $0.rows }, multiplyAdds: raw.reduce(0) { $0 + $1.rows * $1.cols }) { j, rows in
            raw[j].run(rows: rows)
        }
    }
}

/// The row schedule of `matVec` and `matVecBatched`: the jobs' rows, taken in
/// order, are cut into one contiguous run per thread, as OpenMP's static
/// schedule does: each core reads its weights as one sequential stream, which
/// the prefetchers follow (blocks dealt out in turn had each core skip over
/// the other's rows). A thread gets at least 16K multiply-adds (a few
/// microseconds), else the handover costs more than it saves. `body(j, rows)`
/// runs rows `rows` of job j on the thread of their run.
@inline(__always)
func forEachRowRun<Job>(_ jobs: UnsafeBufferPointer<Job>, rows: (Job) -> Int, multiplyAdds: Int, _ body: (Int, Range<Int>) -> Void) {
    let total = jobs.reduce(0) { $0 + rows($1) }
    let parts = max(1, min(Parallel.threads, multiplyAdds / 16_384, total))
    Parallel.forEach(parts) { part in
        var lo = total * part / parts
        let hi = total * (part + 1) / parts
        var first = 0, j = 0
        while lo < hi {
            while first + rows(jobs[j]) <= lo { first += rows(jobs[j]); j += 1 }
            let end = min(hi, first + rows(jobs[j]))
            body(j, (lo - first)..<(end - first))
            lo = end
        }
    }
}

/// A job as plain pointers, valid inside `withRawJobs`.
struct RawMatVecJob {
    let format: QuantizedFormat?  // nil: float weights
    let weights: UnsafeRawPointer
    let scales: UnsafePointer<Float>?
    let rows: Int, cols: Int, groupSize: Int
    let input: UnsafePointer<Float>
    let levels: UnsafePointer<Int8>?, inputScales: UnsafePointer<Float>?
    let bias: UnsafePointer<Float>?
    let output: UnsafeMutablePointer<Float>
    /// int4 weights with a unit-shaped group size: the activations' layout and its shape.
    var int4Kernel: MatmulKernel? = nil
    var wide: UnsafePointer<Int16>? = nil, correction: UnsafePointer<Int32>? = nil, interleaved: UnsafePointer<Int8>? = nil

    @inline(__always)
    func run(rows range: Range<Int>) {
        guard let format else {
            // One row at a time, in two chains: a single sequential stream. Streaming eight
            // rows at once (dot8) shares each load of the input, but measured slower on
            // the AVX-512 build once the weights sat in one block (docs/benchmarks.md).
            let w = weights.assumingMemoryBound(to: Float.self)
            for r in range { output[r] = floatDot(w + r * cols, input, cols) + (bias?[r] ?? 0) }
            return
        }
        let groups = cols / groupSize
        for r in range {
            let dot: Float
            switch format {
            case .int8:
                dot = int8RowDot(weights.assumingMemoryBound(to: Int8.self) + r * cols, scales! + r * groups, levels!, inputScales!,
                                 groups: groups, groupSize: groupSize)
            case .int4:
                let w = weights.assumingMemoryBound(to: UInt8.self) + r * cols / 2, ws = scales! + r * groups
                switch int4Kernel {
                case .avx512?: dot = int4RowDotAVX512(w, ws, levels!, inputScales!, wide: wide!, correction: correction!, cols: cols, groupSize: groupSize)
                case .avx2?: dot = int4RowDotAVX2(w, ws, levels!, inputScales!, wide: wide!, correction: correction!, cols: cols, groupSize: groupSize)
                case .neon?: dot = int4RowDotNEON(w, ws, levels!, inputScales!, interleaved: interleaved!, cols: cols, groupSize: groupSize)
                case .generic?: dot = int4RowDotReference(w, ws, levels!, inputScales!, cols: cols, groupSize: groupSize)
                case nil: dot = int4RowDot(w, ws, levels!, inputScales!, groups: groups, groupSize: groupSize)
                }
            }
            output[r] = dot + (bias?[r] ?? 0)
        }
    }
}

/// Hands `body` the jobs as plain pointers, in a buffer on the stack:
/// generation calls this a few times per layer per token, and nothing here
/// touches the heap. The jobs' weights stay alive for the call (`jobs` holds them).
private func withRawJobs(_ jobs: [MatVecJob], _ body: (UnsafeBufferPointer<RawMatVecJob>) -> Void) {
    withUnsafeTemporaryAllocation(of: RawMatVecJob.self, capacity: jobs.count) { raw in
        for (i, job) in jobs.enumerated() {
            switch job.weights {
            case .float(let w):
                raw.initializeElement(at: i, to: RawMatVecJob(format: nil, weights: UnsafeRawPointer(w), scales: nil, rows: job.rows,
                                                           cols: job.cols, groupSize: 1, input: job.input, levels: nil, inputScales: nil,
                                                           bias: job.bias, output: job.output))
            case .quantized(let m):
                let a = job.activations!
                var r = RawMatVecJob(format: m.format, weights: UnsafeRawPointer(m.data.baseAddress!), scales: m.scales.baseAddress!,
                                     rows: m.rows, cols: m.cols, groupSize: m.groupSize, input: job.input, levels: a.levels,
                                     inputScales: a.scales, bias: job.bias, output: job.output)
                if m.format == .int4 && int4UnitsCover(groupSize: m.groupSize) {
                    r.int4Kernel = a.int4.kernel
                    r.wide = UnsafePointer(a.int4.wide); r.correction = UnsafePointer(a.int4.correction)
                    r.interleaved = UnsafePointer(a.int4.interleaved)
                }
                raw.initializeElement(at: i, to: r)
            }
        }
        withExtendedLifetime(jobs) { body(UnsafeBufferPointer(raw)) }
    }
}

/// Int32 lanes → Float lanes (vcvtdq2ps); the generic SIMD initialiser is an out-of-line call.
@inlinable @inline(__always)
func toFloat(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

@inlinable @inline(__always)
func load16(_ p: UnsafePointer<Int8>) -> SIMD16<Int8> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int8>.self) }

/// Σ a[i]·b[i] in 16 float lanes.
@inlinable
public func floatDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Float16Lanes(), acc1 = Float16Lanes()
    var i = 0
    // Two chains, 64 values a pass: the same sums as 32 a pass, with half the
    // loop's branches (at 32 a pass, f32 decode ran about 15% slower in the
    // builds that placed the loop inside one 64-byte block; Zen 5).
    while i + 64 <= n {
        acc0.addProduct(load16(a + i), load16(b + i))
        acc1.addProduct(load16(a + i + 16), load16(b + i + 16))
        acc0.addProduct(load16(a + i + 32), load16(b + i + 32))
        acc1.addProduct(load16(a + i + 48), load16(b + i + 48))
        i += 64
    }
    if i + 32 <= n {
        acc0.addProduct(load16(a + i), load16(b + i))
        acc1.addProduct(load16(a + i + 16), load16(b + i + 16))
        i += 32
    }
    if i + 16 <= n { acc0.addProduct(load16(a + i), load16(b + i)); i += 16 }
    var sum = horizontalSum(acc0 + acc1)
    while i < n { sum += a[i] * b[i]; i += 1 }
    return sum
}

/// Σ over 16 int8 pairs into 8 Int32 lanes: products of sign-extended
/// 16-bit values, adjacent pairs added (the pattern LLVM turns into
/// vpmaddwd; SIMD32 conversions are lowered lane by lane, so 16 it is).
/// |q| ≤ 127, so a product fits 16 bits and a pair sum 32.
@inlinable @inline(__always)
func multiplyAddPairs(_ a: SIMD16<Int8>, _ b: SIMD16<Int8>) -> SIMD8<Int32> {
    let p = widen(widen(a)) &* widen(widen(b))
    return p.evenHalf &+ p.oddHalf
}

// Lane-by-lane widening, spelled out: LLVM folds these into one vpmovsx*,
// where the standard library's generic `truncatingIfNeeded:` is an out-of-line call.
@inlinable @inline(__always)
func widen(_ v: SIMD16<Int8>) -> SIMD16<Int16> {
    SIMD16<Int16>(Int16(v[0]), Int16(v[1]), Int16(v[2]), Int16(v[3]), Int16(v[4]), Int16(v[5]), Int16(v[6]), Int16(v[7]),
                  Int16(v[8]), Int16(v[9]), Int16(v[10]), Int16(v[11]), Int16(v[12]), Int16(v[13]), Int16(v[14]), Int16(v[15]))
}

@inlinable @inline(__always)
func widen(_ v: SIMD16<Int16>) -> SIMD16<Int32> {
    SIMD16<Int32>(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]),
                  Int32(v[8]), Int32(v[9]), Int32(v[10]), Int32(v[11]), Int32(v[12]), Int32(v[13]), Int32(v[14]), Int32(v[15]))
}

/// Unsigned nibbles (0…15) as signed bytes.
@inlinable @inline(__always)
func asSigned(_ v: SIMD16<UInt8>) -> SIMD16<Int8> { unsafeBitCast(v, to: SIMD16<Int8>.self) }

/// Exact integer dot product of one group (any size), for the scalar tail and as the tests' reference.
@inlinable
public func int8GroupDot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
    var acc = SIMD8<Int32>()
    var i = 0
    while i + 16 <= n {
        acc &+= multiplyAddPairs(load16(a + i), load16(b + i))
        i += 16
    }
    var sum = acc.wrappedSum()
    while i < n { sum &+= Int32(a[i]) * Int32(b[i]); i += 1 }
    return sum
}

/// Σ_g (Σ_i qw·qx) · sw_g · sx_g over a row of int8 weights.
@inlinable
public func int8RowDot(_ w: UnsafePointer<Int8>, _ ws: UnsafePointer<Float>, _ x: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                       groups: Int, groupSize: Int) -> Float {
    if groupSize % 16 != 0 {
        var sum: Float = 0
        for g in 0..<groups {
            sum += Float(int8GroupDot(w + g * groupSize, x + g * groupSize, groupSize)) * (ws[g] * xs[g])
        }
        return sum
    }
    // Each group's integer sum is exact; its lanes are scaled once per group.
    var total = SIMD8<Float>()
    for g in 0..<groups {
        var acc0 = SIMD8<Int32>(), acc1 = SIMD8<Int32>()
        var i = g * groupSize
        let end = i + groupSize
        while i + 32 <= end {
            acc0 &+= multiplyAddPairs(load16(w + i), load16(x + i))
            acc1 &+= multiplyAddPairs(load16(w + i + 16), load16(x + i + 16))
            i += 32
        }
        if i < end { acc0 &+= multiplyAddPairs(load16(w + i), load16(x + i)) }
        let acc = acc0 &+ acc1
        total.addProduct(toFloat(acc), SIMD8<Float>(repeating: ws[g] * xs[g]))
    }
    return horizontalSum(total)
}

/// As `int8RowDot`, for int4 weights packed as in `QuantizedFormat`: 32
/// packed bytes unpack to 32 low and 32 high values, matched with the
/// activations of each half group.
@inlinable
public func int4RowDot(_ w: UnsafePointer<UInt8>, _ ws: UnsafePointer<Float>, _ x: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
                       groups: Int, groupSize: Int) -> Float {
    let half = groupSize / 2
    var total: Float = 0
    for g in 0..<groups {
        let packed = w + g * half, xg = x + g * groupSize
        var i = 0
        var acc8 = SIMD8<Int32>()
        while i + 16 <= half {
            let bytes = UnsafeRawPointer(packed + i).loadUnaligned(as: SIMD16<UInt8>.self)
            let low = asSigned(bytes & 15) &- 8
            let high = asSigned(bytes &>> 4) &- 8
            acc8 &+= multiplyAddPairs(low, load16(xg + i))
            acc8 &+= multiplyAddPairs(high, load16(xg + half + i))
            i += 16
        }
        var rest = acc8.wrappedSum()
        while i < half {
            let byte = packed[i]
            rest &+= (Int32(byte & 15) - 8) * Int32(xg[i]) + (Int32(byte >> 4) - 8) * Int32(xg[half + i])
            i += 1
        }
        total += Float(rest) * (ws[g] * xs[g])
    }
    return total
}

extension QuantizedMatrix {
    /// Rows `range` as floats (q·s), row-major into `out`: the panels a batched product multiplies.
    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let groups = groupsPerRow
        for r in range {
            let row = out + (r - range.lowerBound) * cols
            for g in 0..<groups {
                let scale = scales[r * groups + g], o = row + g * groupSize
                switch format {
                case .int8:
                    let q = UnsafeRawPointer(data.baseAddress! + r * cols + g * groupSize).assumingMemoryBound(to: Int8.self)
                    var i = 0
                    while i + 16 <= groupSize { store(floats(load16(q + i)) * scale, o + i); i += 16 }
                    while i < groupSize { o[i] = Float(q[i]) * scale; i += 1 }
                case .int4:
                    let half = groupSize / 2, q = data.baseAddress! + (r * cols + g * groupSize) / 2
                    var i = 0
                    while i + 16 <= half {
                        let b = loadBytes(q + i)
                        store(floats(asSigned(b & 15) &- 8) * scale, o + i)
                        store(floats(asSigned(b &>> 4) &- 8) * scale, o + half + i)
                        i += 16
                    }
                    while i < half {
                        o[i] = Float(Int(q[i] & 15) - 8) * scale
                        o[half + i] = Float(Int(q[i] >> 4) - 8) * scale
                        i += 1
                    }
                }
            }
        }
    }
}

/// out (t, rows) = x (t, cols) · Wᵀ for quantized W: a panel of W's rows at a
/// time is dequantized and multiplied by the float matmul, the panels spread
/// over the threads (each output element is one matmul's, whatever the split).
public func quantizedMatmul(_ x: UnsafePointer<Float>, _ w: QuantizedMatrix, _ out: UnsafeMutablePointer<Float>, tokens t: Int) {
    let panel = 64, panels = (w.rows + panel - 1) / panel
    Parallel.forEach(panels) { p in
        let first = p * panel, rows = min(panel, w.rows - first)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: rows * w.cols)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: t * rows)
        defer { weights.deallocate(); product.deallocate() }
        w.dequantizeRows(first..<(first + rows), into: weights)
        matmul(x, weights, product, m: t, n: rows, k: w.cols, transposeB: true)
        for i in 0..<t { (out + i * w.rows + first).update(from: product + i * rows, count: rows) }
    }
}

@inline(__always)
func floats(_ v: SIMD16<Int8>) -> SIMD16<Float> {
    SIMD16<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
                  Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
}

@inline(__always)
func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self) }
