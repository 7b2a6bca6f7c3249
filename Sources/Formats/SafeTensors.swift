import Foundation
import Files
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// safetensors: an 8-byte little-endian header length N, N bytes of JSON header
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}}),
// then the tensors' little-endian bytes. Offsets are relative to the data section.
// See docs/formats.md for what we write, read and refuse.

/// A tensor to write: row-major values of the given shape ([] is a scalar),
/// as float32 `values` stored in `dtype` (F32, or F16/BF16 rounded to nearest
/// even when written), or as the raw little-endian `bytes` of any dtype
/// (I8/U8 of quantized checkpoints; F16/BF16 copied from another file).
public struct SafeTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public var dtype: SafeTensorsDType = .f32
    public var bytes: [UInt8] = []

    public init(name: String, shape: [Int], values: [Float], dtype: SafeTensorsDType = .f32) {
        require(dtype.isFloat, "SafeTensor: float values are stored as F32, F16 or BF16, not \(dtype.rawValue)")
        self.name = name
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }

    public init(name: String, shape: [Int], bytes: [UInt8], dtype: SafeTensorsDType) {
        self.name = name
        self.shape = shape
        self.values = []
        self.dtype = dtype
        self.bytes = bytes
    }

    /// Whether `bytes` holds the stored form (else `values` is converted on writing).
    var isRaw: Bool { dtype.byteCount == 1 || !bytes.isEmpty }

    public var layout: SafeTensorLayout { SafeTensorLayout(name: name, shape: shape, dtype: dtype) }
}

/// Where a tensor goes in a file being written: its name, shape and stored dtype.
public struct SafeTensorLayout: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: SafeTensorsDType
    public init(name: String, shape: [Int], dtype: SafeTensorsDType) { self.name = name; self.shape = shape; self.dtype = dtype }
}

/// Element types the reader converts to Float.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    /// Integers, kept as bytes (`Entry.bytes`), not converted.
    case i8 = "I8", u8 = "U8"

    public var byteCount: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .i8, .u8: return 1
        }
    }

    /// F32, F16 or BF16: values read as Float.
    public var isFloat: Bool { byteCount > 1 }

    /// The 16-bit float format of F16 and BF16, nil for the others.
    public var halfFloat: HalfFloat? { self == .f16 ? .f16 : self == .bf16 ? .bf16 : nil }

    public init(_ half: HalfFloat) { self = half == .f16 ? .f16 : .bf16 }
}

/// A safetensors file as read: tensors in data-offset order, values converted to Float.
public struct SafeTensorsFile: Sendable {
    public struct Entry: Sendable {
        public let name: String
        /// The dtype stored in the file (values are always returned as Float).
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        public let values: [Float]
        /// I8 and U8 tensors: the stored bytes (`values` is empty).
        public var bytes: [UInt8] = []
    }

    public let metadata: [String: String]
    public let tensors: [Entry]

    public var names: [String] { tensors.map(\.name) }

    public subscript(name: String) -> Entry? { tensors.first { $0.name == name } }
}

/// A problem reading or writing a safetensors file, as one line naming the file and tensor.
public enum SafeTensors {
    /// Headers larger than this are refused before anything is allocated for them.
    public static let maxHeaderSize = 100 << 20
    static let metadataKey = "__metadata__"

    // MARK: Writing

    /// Writes tensors in the given order, header padded with spaces so the data
    /// starts 64-byte aligned. Atomic: a temporary file in the same directory is
    /// renamed over `url`, so readers see the old file or the complete new one.
    public static func write(_ tensors: [SafeTensor], metadata: [String: String] = [:], to url: URL) throws {
        for tensor in tensors {
            let stored = tensor.isRaw ? tensor.bytes.count : tensor.values.count
            let needed = elementCount(tensor.shape).map { tensor.isRaw ? $0 * tensor.dtype.byteCount : $0 }
            if let needed, needed != stored {  // an invalid shape is the header's to name
                throw FormatError("\(url.path): tensor '\(tensor.name)': shape \(tensor.shape) needs \(needed) \(tensor.isRaw ? "bytes" : "values"), got \(stored)")
            }
        }
        try write(layouts: tensors.map(\.layout), metadata: metadata, to: url) { i, emit in
            let tensor = tensors[i]
            if tensor.isRaw {
                try tensor.bytes.withUnsafeBytes(emit)
            } else if let half = tensor.dtype.halfFloat {
                var stored = [UInt8](repeating: 0, count: 2 * tensor.values.count)
                tensor.values.withUnsafeBufferPointer { values in
                    stored.withUnsafeMutableBytes { if let out = $0.baseAddress, let x = values.baseAddress { half.encode(x, count: values.count, into: out) } }
                }
                try stored.withUnsafeBytes(emit)
            } else if 1.littleEndian == 1 {
                try tensor.values.withUnsafeBytes(emit)
            } else {
                let swapped = tensor.values.map { $0.bitPattern.littleEndian }
                try swapped.withUnsafeBytes(emit)
            }
        }
    }

    /// Writes tensors whose stored bytes `data(i, emit)` produces one tensor at
    /// a time (in one or more `emit` calls, together exactly the tensor's byte
    /// count), so a file can be written without holding all its tensors.
    public static func write(layouts: [SafeTensorLayout], metadata: [String: String] = [:], to url: URL,
                             data: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let header = try headerBytes(for: layouts, metadata: metadata, source: url.path)
        try AtomicFile.write(to: url) { fd in
            try header.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: url.path) }
            for (i, layout) in layouts.enumerated() {
                var written = 0
                try data(i) { chunk in
                    try AtomicFile.writeAll(fd, chunk, path: url.path)
                    written += chunk.count
                }
                let expected = elementCount(layout.shape)! * layout.dtype.byteCount
                guard written == expected else {
                    throw FormatError("\(url.path): tensor '\(layout.name)': \(written) bytes were written where its shape \(layout.shape) of \(layout.dtype.rawValue) needs \(expected)")
                }
            }
        }
    }

    private static func headerBytes(for tensors: [SafeTensorLayout], metadata: [String: String], source: String) throws -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            members.append((metadataKey, .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var seen = Set<String>()
        var offset = 0
        for tensor in tensors {
            func fail(_ problem: String) -> FormatError {
                FormatError("\(source): tensor '\(tensor.name)': \(problem)")
            }
            guard tensor.name != metadataKey else { throw fail("the name \(metadataKey) is reserved for metadata") }
            guard seen.insert(tensor.name).inserted else { throw fail("duplicate tensor name") }
            guard let count = elementCount(tensor.shape) else { throw fail("invalid shape \(tensor.shape)") }
            let end = offset + tensor.dtype.byteCount * count
            members.append((tensor.name, .object([
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .array(tensor.shape.map(JSONValue.int))),
                ("data_offsets", .array([.int(offset), .int(end)])),
            ])))
            offset = end
        }
        var json = Array(JSONValue.object(members).serialized().utf8)
        // The data section starts on a 64-byte boundary (a cache line, a zmm load): mapped for
        // inference, tensors whose sizes are multiples of 64 bytes then never straddle lines.
        json += Array(repeating: UInt8(ascii: " "), count: (64 - (8 + json.count) % 64) % 64)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json
    }


    // MARK: Reading

    /// Reads a file through a read-only mapping: each tensor's pages are dropped
    /// from memory once it is converted, so loading peaks at the tensors plus
    /// about one tensor of file, not at the tensors plus the whole file.
    public static func read(from url: URL) throws -> SafeTensorsFile {
        try withReadOnlyMapping(of: url) { bytes in
            // An empty (or tiny) file has nothing to map; decode names the problem.
            guard let base = bytes.baseAddress, bytes.count >= 8 else { return try decode(Data(bytes), source: url.path) }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            return try decode(bytes, source: url.path) { range in
                // Whole pages inside the converted range only; the mapping is clean, so they reload if read again.
                let first = (range.lowerBound + page - 1) / page * page, last = range.upperBound / page * page
                if last > first { _ = madvise(UnsafeMutableRawPointer(mutating: base + first), last - first, MADV_DONTNEED) }
            }
        }
    }

    /// Parses a whole file's bytes; `source` names it in errors. Every header number
    /// is checked against the actual byte count before anything is allocated from it.
    public static func decode(_ data: Data, source: String) throws -> SafeTensorsFile {
        try data.withUnsafeBytes { try decode($0, source: source) }
    }

    /// `converted` is told each byte range once its tensor has been copied out.
    private static func decode(_ bytes: UnsafeRawBufferPointer, source: String,
                               converted: (Range<Int>) -> Void = { _ in }) throws -> SafeTensorsFile {
        let (metadata, layouts, dataStart) = try parseHeader(bytes, source: source)
        let tensors = layouts.map { layout in
            defer { converted((dataStart + layout.begin)..<(dataStart + layout.end)) }
            guard layout.dtype.byteCount > 1 else {
                return SafeTensorsFile.Entry(name: layout.name, dtype: layout.dtype, shape: layout.shape, values: [],
                                             bytes: Array(bytes[(dataStart + layout.begin)..<(dataStart + layout.end)]))
            }
            return SafeTensorsFile.Entry(name: layout.name, dtype: layout.dtype, shape: layout.shape,
                                         values: floats(bytes, from: dataStart + layout.begin, count: layout.count, dtype: layout.dtype))
        }
        return SafeTensorsFile(metadata: metadata, tensors: tensors)
    }

    /// Checks the header against the file's `bytes` (all of them): the tensors'
    /// layouts in data-offset order, tiling the data section exactly.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, source: String) throws
        -> (metadata: [String: String], layouts: [Layout], dataStart: Int) {
        func fail(_ problem: String) -> FormatError { FormatError("\(source): \(problem)") }

        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, too short for the 8-byte header length") }
        let declared = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(maxHeaderSize) else {
            throw fail("header length \(declared) exceeds the limit of \(maxHeaderSize) bytes")
        }
        let headerSize = Int(declared)
        guard headerSize <= bytes.count - 8 else {
            throw fail("header length \(headerSize) exceeds the \(bytes.count - 8) bytes after the length field")
        }
        let dataStart = 8 + headerSize
        let dataSize = bytes.count - dataStart

        let header: JSONValue
        do {
            header = try JSONParser.parse(Array(bytes[8..<dataStart]))
        } catch let failure as FileError {
            throw fail("invalid header JSON: \(failure.description)")
        }
        guard case .object(let members) = header else { throw fail("header must be a JSON object, got \(header.summary)") }

        var metadata: [String: String] = [:]
        var layouts: [Layout] = []
        for (name, value) in members {
            if name == metadataKey {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                layouts.append(try parseEntry(name, value, dataSize: dataSize, fail: fail))
            }
        }

        // Offsets must tile the data section exactly: sorted, contiguous, no overlap, nothing left over.
        layouts.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for layout in layouts {
            if layout.begin < covered {
                throw fail("tensor '\(layout.name)': data_offsets [\(layout.begin), \(layout.end)] overlap the previous tensor, which ends at \(covered)")
            }
            if layout.begin > covered {
                throw fail("tensor '\(layout.name)': data_offsets [\(layout.begin), \(layout.end)] leave a hole of \(layout.begin - covered) bytes before it (previous data ends at \(covered))")
            }
            covered = layout.end
        }
        guard covered == dataSize else {
            throw fail("data section has \(dataSize - covered) bytes after the last tensor (tensors cover \(covered) of \(dataSize))")
        }

        return (metadata, layouts, dataStart)
    }

    /// A validated header entry: counts and offsets are consistent and inside the data section.
    struct Layout {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        let count: Int
        let begin: Int
        let end: Int
    }

    private static func parseMetadata(_ value: JSONValue, fail: (String) -> FormatError) throws -> [String: String] {
        guard case .object(let pairs) = value else { throw fail("\(metadataKey) must be an object of strings, got \(value.summary)") }
        var metadata: [String: String] = [:]
        for (key, item) in pairs {
            guard case .string(let s) = item else { throw fail("\(metadataKey) value for '\(key)' must be a string, got \(item.summary)") }
            metadata[key] = s
        }
        return metadata
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, dataSize: Int, fail: (String) -> FormatError) throws -> Layout {
        func problem(_ text: String) -> FormatError { fail("tensor '\(name)': \(text)") }
        guard case .object(let fields) = value else { throw problem("entry must be an object, got \(value.summary)") }
        func field(_ key: String) throws -> JSONValue {
            guard let v = fields.first(where: { $0.key == key })?.value else { throw problem("missing '\(key)'") }
            return v
        }
        func nonNegativeInts(_ key: String) throws -> [Int] {
            let v = try field(key)
            guard case .array(let items) = v else { throw problem("'\(key)' must be an array of integers, got \(v.summary)") }
            return try items.map {
                guard case .int(let i) = $0, i >= 0 else { throw problem("'\(key)' must hold non-negative integers, got \(v.summary)") }
                return i
            }
        }

        let dtypeValue = try field("dtype")
        guard case .string(let dtypeName) = dtypeValue else { throw problem("'dtype' must be a string, got \(dtypeValue.summary)") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw problem("dtype \(dtypeName) is not supported; only F32, F16, BF16, I8 and U8 can be read")
        }
        let shape = try nonNegativeInts("shape")
        let offsets = try nonNegativeInts("data_offsets")
        guard offsets.count == 2 else { throw problem("'data_offsets' must be [begin, end], got \(offsets)") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw problem("data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= dataSize else {
            throw problem("data_offsets [\(begin), \(end)] run past the end of the \(dataSize)-byte data section")
        }
        guard let count = elementCount(shape) else { throw problem("shape \(shape) has too many elements") }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, byteCount == end - begin else {
            throw problem("shape \(shape) of \(dtypeName) needs \(overflow ? "too many" : String(byteCount)) bytes, but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return Layout(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// Product of the dimensions, or nil if one is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }

    static func floats(_ raw: UnsafeRawBufferPointer, from start: Int, count: Int, dtype: SafeTensorsDType) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let out = buffer.baseAddress { decode(raw.baseAddress! + start, count: count, dtype: dtype, into: out) }
            initialized = count
        }
    }

    /// Stored little-endian values of a float dtype → float32 (exact for every dtype read).
    static func decode(_ source: UnsafeRawPointer, count: Int, dtype: SafeTensorsDType, into out: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            if 1.littleEndian == 1 { UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: 4 * count) }
            else { GGMLBlocks.decodeF32(source, count: count, into: out) }
        case .f16: HalfFloat.f16.decode(source, count: count, into: out)
        case .bf16: HalfFloat.bf16.decode(source, count: count, into: out)
        case .i8, .u8: preconditionFailure("SafeTensors: integer tensors are kept as bytes")
        }
    }

}
