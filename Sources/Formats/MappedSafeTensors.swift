import Foundation
import Files
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file mapped read-only, for inference: the header is checked
/// exactly as `SafeTensors.read` checks it, and tensors are read where they
/// lie in the mapping, so loading costs the time to map and the weights sit
/// in memory once (as page cache, shared with other processes reading the
/// same file). F32 data is used in place when it is 4-byte aligned in the
/// file and the machine is little-endian; otherwise (and for F16/BF16, which
/// inference computes in float32) the tensor is converted once into a buffer
/// this object owns and its stored pages are dropped from memory; `notes`
/// says so for misaligned F32.
///
/// The file's size and modification time are checked again once the header
/// has been checked, so a file replaced or truncated while it was opened is
/// refused. Files written by tinygpt are replaced by renaming, which leaves
/// a mapping of the old file intact.
public final class MappedSafeTensors: @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        public let count: Int
        /// Byte offset of the tensor's data from the start of the file.
        let offset: Int
        let byteCount: Int
    }

    public let source: String
    public let metadata: [String: String]
    /// Tensors in data-offset order.
    public let tensors: [Entry]
    /// Things the user may want to know (data read as a copy), one line each.
    public private(set) var notes: [String] = []

    let base: UnsafeMutableRawPointer?
    let size: Int
    /// Converted tensors by name, freed in deinit.
    private var copies: [String: UnsafeMutableBufferPointer<Float>] = [:]
    private let index: [String: Int]

    public var names: [String] { tensors.map(\.name) }
    public subscript(name: String) -> Entry? { index[name].map { tensors[$0] } }

    /// Maps `url` and checks its header.
    public init(contentsOf url: URL) throws {
        source = url.path
        func cannotRead(_ code: Int32) -> FormatError { FormatError("\(url.path): cannot read: \(posixReason(code))") }
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw cannotRead(errno) }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0 else { throw cannotRead(errno) }
        guard (before.st_mode & S_IFMT) == S_IFREG else { throw cannotRead((before.st_mode & S_IFMT) == S_IFDIR ? EISDIR : ENODEV) }
        size = Int(before.st_size)
        guard size >= 8 else {
            // Nothing to map; the parser names the problem from the size alone.
            _ = try [UInt8](repeating: 0, count: size).withUnsafeBytes { try SafeTensors.parseHeader($0, source: url.path) }
            throw FormatError("\(url.path): cannot read")
        }
        // No MAP_POPULATE: the loaders check every value once, on all threads, and that pass brings the pages in.
        let flags = MAP_PRIVATE
        guard let mapped = mmap(nil, size, PROT_READ, flags, fd, 0), mapped != MAP_FAILED else { throw cannotRead(errno) }
        base = mapped
        do {
            let (metadata, layouts, dataStart) = try SafeTensors.parseHeader(UnsafeRawBufferPointer(start: mapped, count: size), source: url.path)
            self.metadata = metadata
            tensors = layouts.map {
                Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, count: $0.count, offset: dataStart + $0.begin, byteCount: $0.end - $0.begin)
            }
            var after = stat()
            guard fstat(fd, &after) == 0 else { throw cannotRead(errno) }
            guard after.st_size == before.st_size, Self.modified(after) == Self.modified(before) else {
                throw FormatError("\(url.path): the file changed while it was being opened (size \(before.st_size) → \(after.st_size)); open it again once it is written")
            }
        } catch {
            munmap(mapped, size)
            throw error
        }
        index = Dictionary(tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private static func modified(_ s: stat) -> [Int] {
        #if os(Linux)
        return [Int(s.st_mtim.tv_sec), Int(s.st_mtim.tv_nsec)]
        #else
        return [Int(s.st_mtimespec.tv_sec), Int(s.st_mtimespec.tv_nsec)]
        #endif
    }

    deinit {
        if let base { munmap(base, size) }
        for copy in copies.values { copy.deallocate() }
    }

    /// The stored bytes of a tensor, in place.
    public func bytes(_ entry: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base! + entry.offset, count: entry.byteCount)
    }

    /// A tensor's values as Float: in place for aligned little-endian F32,
    /// else converted once into a buffer owned by this object. Valid while
    /// this object lives. Integer tensors are not floats (use `bytes`).
    public func floats(_ entry: Entry) -> UnsafeBufferPointer<Float> {
        require(entry.dtype.byteCount > 1, "MappedSafeTensors: \(entry.name) is \(entry.dtype.rawValue), not a float tensor")
        let start = base! + entry.offset
        if entry.dtype == .f32 && 1.littleEndian == 1 && Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            return UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: entry.count)
        }
        if let copy = copies[entry.name] { return UnsafeBufferPointer(rebasing: copy[0..<entry.count]) }
        if entry.dtype == .f32 {
            notes.append("\(source): tensor '\(entry.name)' is not 4-byte aligned in the file; it is read as a copy")
        }
        // Cache-line aligned, as the mapped F32 tensors are: the kernels' wide loads then never straddle two lines.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * max(entry.count, 1), alignment: 64).bindMemory(to: Float.self)
        SafeTensors.decode(start, count: entry.count, dtype: entry.dtype, into: copy.baseAddress!)
        copies[entry.name] = copy
        release(entry)  // the stored bytes are not read again
        return UnsafeBufferPointer(rebasing: copy[0..<entry.count])
    }

    /// Lets the whole pages of a tensor's stored bytes leave memory (a
    /// converted tensor, or one copied out). The mapping is clean, so they
    /// are read from the file again if anything reads them.
    public func release(_ entry: Entry) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (entry.offset + page - 1) / page * page, last = (entry.offset + entry.byteCount) / page * page
        if last > first { _ = madvise(base! + first, last - first, MADV_DONTNEED) }
    }
}

/// The index of the first infinity or NaN in `range` (all by default), or
/// nil. Exponent bits all ones plus one carry into the sign bit, so one OR
/// per 16 values says whether a piece holds one; only then is it searched.
func firstNonFinite(_ values: UnsafeBufferPointer<Float>, in range: Range<Int>? = nil) -> Int? {
    firstFlagged(values, in: range, flags: { bits in (bits & 0x7F80_0000) &+ 0x0080_0000 }, bad: { !$0.isFinite })
}

/// The index of the first value in `range` that is not finite or is below
/// zero (−0 is allowed), or nil: a quantized checkpoint's scales. A negative
/// value other than −0 has the sign bit and a nonzero rest, whose sum with
/// 0x7FFFFFFF carries into the sign bit.
func firstNegativeOrNonFinite(_ values: UnsafeBufferPointer<Float>, in range: Range<Int>? = nil) -> Int? {
    firstFlagged(values, in: range, flags: { bits in ((bits & 0x7F80_0000) &+ 0x0080_0000) | (bits & ((bits & 0x7FFF_FFFF) &+ 0x7FFF_FFFF)) },
                 bad: { !$0.isFinite || $0 < 0 })
}

/// The first index in `range` whose value is `bad`, where `flags` sets the
/// sign bit of every lane whose value is bad; pieces without a flag are not
/// searched value by value.
@inline(__always)
private func firstFlagged(_ values: UnsafeBufferPointer<Float>, in range: Range<Int>?,
                          flags flag: (SIMD16<UInt32>) -> SIMD16<UInt32>, bad: (Float) -> Bool) -> Int? {
    guard let base = values.baseAddress else { return nil }
    let range = range ?? 0..<values.count
    let raw = UnsafeRawPointer(base)
    var flags = SIMD16<UInt32>()
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
        flags |= flag(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self))
        i += 16
    }
    let lanes8 = flags.lowHalf | flags.highHalf, lanes4 = lanes8.lowHalf | lanes8.highHalf, lanes2 = lanes4.lowHalf | lanes4.highHalf
    if (lanes2[0] | lanes2[1]) & 0x8000_0000 == 0 {
        while i < range.upperBound { if bad(values[i]) { return i }; i += 1 }
        return nil
    }
    return range.first { bad(values[$0]) }
}

/// The index of the first byte in `range` (all by default) holding a level
/// the format never writes (−128 for int8; a zero nibble, −8, for int4), or
/// nil. 64 bytes at a time as eight words: (x − 0x11…) & ~x & 0x88… is
/// nonzero exactly when a nibble of x is zero (the same with bytes for int8,
/// after x ^ 0x80…); only a range where it is gets searched.
func firstOutOfRangeLevel(_ bytes: UnsafeBufferPointer<UInt8>, format: QuantizedFormat, in range: Range<Int>? = nil) -> Int? {
    guard let base = bytes.baseAddress else { return nil }
    let range = range ?? 0..<bytes.count
    func bad(_ b: UInt8) -> Bool { format == .int8 ? b == 0x80 : (b & 15 == 0 || b >> 4 == 0) }
    let (ones, highs, flip): (UInt64, UInt64, UInt64) = format == .int8
        ? (0x0101_0101_0101_0101, 0x8080_8080_8080_8080, 0x8080_8080_8080_8080)
        : (0x1111_1111_1111_1111, 0x8888_8888_8888_8888, 0)
    let onesV = SIMD8<UInt64>(repeating: ones), highsV = SIMD8<UInt64>(repeating: highs), flipV = SIMD8<UInt64>(repeating: flip)
    var found = SIMD8<UInt64>()
    var i = range.lowerBound
    while i + 64 <= range.upperBound {
        let x = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<UInt64>.self) ^ flipV
        found |= (x &- onesV) & ~x & highsV
        i += 64
    }
    if found == SIMD8() {
        while i < range.upperBound { if bad(bytes[i]) { return i }; i += 1 }
        return nil
    }
    return range.first { bad(bytes[$0]) }
}

/// Runs each check over pieces of its range on every thread (reading the
/// pieces also brings a mapped file's pages in) and returns the first
/// failure in check order: (check, index), or nil. The answer does not
/// depend on the thread count.
func firstFailure(_ checks: [(count: Int, scan: (Range<Int>) -> Int?)]) -> (check: Int, index: Int)? {
    let piece = 1 << 20
    var pieces: [(check: Int, range: Range<Int>)] = []
    for (c, check) in checks.enumerated() {
        var start = 0
        repeat {
            pieces.append((c, start..<min(check.count, start + piece)))
            start += piece
        } while start < check.count
    }
    var found = [Int?](repeating: nil, count: pieces.count)
    found.withUnsafeMutableBufferPointer { found in
        Parallel.forEach(pieces.count) { i in found[i] = checks[pieces[i].check].scan(pieces[i].range) }
    }
    for (i, index) in found.enumerated() { if let index { return (pieces[i].check, index) } }
    return nil
}
