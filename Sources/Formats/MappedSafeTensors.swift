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
/// file and the machine is little-endian; otherwise (and for F16/BF16) the
/// tensor is converted into a buffer this object owns, and `notes` says so.
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
        // MAP_POPULATE reads the whole file into the page tables now, in large
        // batches, rather than one fault per page while the first token runs.
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
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
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(entry.count, 1))
        let values = SafeTensors.floats(UnsafeRawBufferPointer(start: base!, count: size), from: entry.offset, count: entry.count, dtype: entry.dtype)
        _ = copy.initialize(from: values)
        copies[entry.name] = copy
        return UnsafeBufferPointer(rebasing: copy[0..<entry.count])
    }
}

/// The index of the first infinity or NaN, or nil: 16 values per step (the
/// whole of a float checkpoint is scanned once at load).
func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
    guard let base = values.baseAddress else { return nil }
    let raw = UnsafeRawPointer(base)
    let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
    var i = 0
    while i + 16 <= values.count {
        let bits = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
        if any((bits & exponent) .== exponent) { break }
        i += 16
    }
    while i < values.count {
        if !values[i].isFinite { return i }
        i += 1
    }
    return nil
}

/// The index of the first byte holding a level the format never writes (−128
/// for int8; a zero nibble, −8, for int4), or nil.
func firstOutOfRangeLevel(_ bytes: UnsafeBufferPointer<UInt8>, format: QuantizedFormat) -> Int? {
    guard let base = bytes.baseAddress else { return nil }
    func bad(_ b: UInt8) -> Bool { format == .int8 ? b == 0x80 : (b & 15 == 0 || b >> 4 == 0) }
    var i = 0
    while i + 16 <= bytes.count {
        let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<UInt8>.self)
        let found = format == .int8 ? any(v .== 0x80) : any((v & 15) .== 0) || any((v &>> 4) .== 0)
        if found { break }
        i += 16
    }
    while i < bytes.count {
        if bad(bytes[i]) { return i }
        i += 1
    }
    return nil
}
