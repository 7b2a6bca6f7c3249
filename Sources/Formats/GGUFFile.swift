import Foundation
import Files
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// GGUF (ggml's model file, docs/gguf.md of the ggml repository), versions 2 and 3, little-endian:
//
//     "GGUF", u32 version, u64 tensor count, u64 metadata count
//     metadata:     string key, u32 value type, value        (strings: u64 length + UTF-8 bytes)
//     tensor infos: string name, u32 n_dims, u64 × n_dims dimensions (fastest first),
//                   u32 ggml type, u64 offset (from the start of the data section)
//     padding to general.alignment (default 32), then the data section: each tensor
//     at its offset, a multiple of the alignment.
//
// docs/interop.md says what tinygpt reads, writes and refuses.

/// The type of a GGUF metadata value (the numbers are the file's).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    var name: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }

    /// Bytes of one value of a fixed-size type; nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// A GGUF metadata value.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool), string(String)
    /// The element type is stated even when the array is empty.
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The value of any integer type, if it fits in an Int.
    public var integer: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value of a float type (or an integer, which counts, widths and ids often are).
    public var number: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return integer.map(Double.init)
        }
    }

    /// A short description for error messages: the type, and the value unless it is long.
    public var summary: String {
        switch self {
        case .string(let s): return s.count > 60 ? "a string of \(s.utf8.count) bytes" : "\"\(s)\""
        case .array(let t, let items): return "an array of \(items.count) \(t.name)"
        case .bool(let b): return "\(b)"
        case .float32(let v): return "\(v) (float32)"
        case .float64(let v): return "\(v) (float64)"
        default: return "\(integer.map(String.init) ?? "a too large number") (\(type.name))"
        }
    }
}

/// A tensor type of GGUF that tinygpt reads (ggml's numbers).
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, bf16 = 30, q8_0 = 8, q4_0 = 2, q4_1 = 3, q4_K = 12, q5_K = 13, q6_K = 14

    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q8_0: return "Q8_0"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }

    /// Values per block (1 for plain floats) and bytes per block.
    public var block: (values: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (GGMLBlocks.legacyBlockValues, GGMLBlocks.q4_0Bytes)
        case .q4_1: return (GGMLBlocks.legacyBlockValues, GGMLBlocks.q4_1Bytes)
        case .q8_0: return (GGMLBlocks.legacyBlockValues, GGMLBlocks.q8_0Bytes)
        case .q4_K: return (GGMLBlocks.kBlockValues, GGMLBlocks.q4_KBytes)
        case .q5_K: return (GGMLBlocks.kBlockValues, GGMLBlocks.q5_KBytes)
        case .q6_K: return (GGMLBlocks.kBlockValues, GGMLBlocks.q6_KBytes)
        }
    }

    /// Every supported type's name, for error messages.
    public static var supportedList: String { allCases.map(\.name).joined(separator: ", ") }

    /// ggml's names of the types tinygpt does not read, so an error can name them.
    static let otherNames: [UInt32: String] = [
        6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
        19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64",
        28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
    ]

    /// Decodes `count` values (a whole number of blocks) to float32.
    public func decode(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        let blocks = count / block.values
        switch self {
        case .f32: GGMLBlocks.decodeF32(source, count: count, into: out)
        case .f16: GGMLBlocks.decodeF16(source, count: count, into: out)
        case .bf16: GGMLBlocks.decodeBF16(source, count: count, into: out)
        case .q4_0: GGMLBlocks.dequantizeQ4_0(source, blocks: blocks, into: out)
        case .q4_1: GGMLBlocks.dequantizeQ4_1(source, blocks: blocks, into: out)
        case .q8_0: GGMLBlocks.dequantizeQ8_0(source, blocks: blocks, into: out)
        case .q4_K: GGMLBlocks.dequantizeQ4_K(source, blocks: blocks, into: out)
        case .q5_K: GGMLBlocks.dequantizeQ5_K(source, blocks: blocks, into: out)
        case .q6_K: GGMLBlocks.dequantizeQ6_K(source, blocks: blocks, into: out)
        }
    }
}

/// One tensor as a GGUF file describes it.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml's order: the first dimension is the fastest-moving (a matrix's columns).
    public let dimensions: [Int]
    public let type: GGMLType
    /// From the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public var count: Int { dimensions.reduce(1, *) }
    /// Row-major order, slowest first, as safetensors and PyTorch write it: (rows, cols) for a matrix.
    public var shape: [Int] { dimensions.reversed() }
}

/// A GGUF file, read through a read-only memory map: the header, metadata and
/// tensor infos are parsed and checked when it opens; tensor data is decoded
/// on demand, one tensor at a time. Every count and offset is checked against
/// the file's size before anything is allocated from it.
public final class GGUFFile {
    public let path: String
    public let version: Int
    /// Key–value pairs in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    private let index: [String: Int]
    private let tensorIndex: [String: Int]
    private let base: UnsafeRawPointer?
    private let size: Int
    private let dataStart: Int

    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32

    public init(path: String) throws {
        self.path = path
        func cannotRead(_ code: Int32) -> FormatError { FormatError("\(path): cannot read: \(posixReason(code))") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw cannotRead(errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw cannotRead(errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw cannotRead((status.st_mode & S_IFMT) == S_IFDIR ? EISDIR : ENODEV) }
        size = Int(status.st_size)
        if size == 0 {
            base = nil
        } else {
            guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else { throw cannotRead(errno) }
            base = UnsafeRawPointer(mapped)
        }
        do {
            var reader = Reader(bytes: UnsafeRawBufferPointer(start: base, count: size), path: path)
            let header = try reader.header()
            version = header.version
            metadata = header.metadata
            tensors = header.tensors
            alignment = header.alignment
            dataStart = header.dataStart
            index = header.index
            tensorIndex = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
        } catch {
            if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
            throw error
        }
    }

    deinit { if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) } }

    public subscript(key: String) -> GGUFValue? { index[key].map { metadata[$0].value } }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's stored bytes (valid while the file is open).
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base! + dataStart + tensor.offset, count: tensor.byteCount)
    }

    /// The tensor's values as float32, decoded as ggml does, in row-major order.
    public func floats(of tensor: GGUFTensorInfo) -> [Float] {
        [Float](unsafeUninitializedCapacity: tensor.count) { out, initialized in
            if tensor.count > 0 { tensor.type.decode(bytes(of: tensor).baseAddress!, count: tensor.count, into: out.baseAddress!) }
            initialized = tensor.count
        }
    }

    /// Drops the tensor's pages from memory (they reload if read again), so a
    /// pass over every tensor holds about one tensor of the file at a time.
    public func release(_ tensor: GGUFTensorInfo) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart + tensor.offset, end = start + tensor.byteCount
        let first = (start + page - 1) / page * page, last = end / page * page
        if last > first { _ = madvise(UnsafeMutableRawPointer(mutating: base) + first, last - first, MADV_DONTNEED) }
    }
}

/// Parses the header, metadata and tensor infos, checking each length against the bytes left.
private struct Reader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0

    init(bytes: UnsafeRawBufferPointer, path: String) { self.bytes = bytes; self.path = path }

    func fail(_ problem: String) -> FormatError { FormatError("\(path): \(problem)") }

    /// The file ends before `count` more bytes of `what`.
    func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count <= bytes.count - position else {
            throw fail("truncated: the file ends at byte \(bytes.count), inside \(what()) (at byte \(position), \(count) bytes needed)")
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// A u64 count or length that must leave at least `minimumSize` bytes per item in the file.
    mutating func count(_ what: String, minimumSize: Int) throws -> Int {
        let n = try load(UInt64.self, what)
        let left = UInt64(bytes.count - position)
        guard n <= left / UInt64(max(minimumSize, 1)) else {
            throw fail("\(what) is \(n), more than the \(left) bytes left in the file can hold: the file is truncated or damaged")
        }
        return Int(n)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let length = try count("the length of \(what())", minimumSize: 1)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)])
        position += length
        // Decoding replaces invalid UTF-8, so a string whose bytes changed was not valid.
        let s = String(decoding: raw, as: UTF8.self)
        guard s.utf8.count == length, s.utf8.elementsEqual(raw) else { throw fail("\(what()) is not valid UTF-8") }
        return s
    }

    mutating func value(_ type: GGUFValueType, _ what: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .bool:
            let b = try load(UInt8.self, what)
            guard b <= 1 else { throw fail("\(what) is a bool stored as \(b); only 0 and 1 are valid") }
            return .bool(b == 1)
        case .string: return .string(try string(what))
        case .array:
            guard depth < 8 else { throw fail("\(what): arrays nested deeper than 8 levels") }
            let raw = try load(UInt32.self, "the element type of \(what)")
            guard let element = GGUFValueType(rawValue: raw) else {
                throw fail("\(what): unknown array element type \(raw) (0…12 are defined)")
            }
            let n = try count("the length of \(what)", minimumSize: element.fixedSize ?? 8)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(try value(element, "\(what)[\(i)]", depth: depth + 1)) }
            return .array(element, items)
        }
    }

    struct Header {
        var version: Int
        var metadata: [(key: String, value: GGUFValue)]
        var index: [String: Int]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataStart: Int
    }

    mutating func header() throws -> Header {
        guard bytes.count >= 4 else { throw fail("truncated: \(bytes.count) bytes, too short for the GGUF magic") }
        guard Array(bytes[0..<4]) == GGUFFile.magic else {
            let shown = bytes[0..<4].map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            throw fail("not a GGUF file: it starts with \"\(shown)\", not \"GGUF\"")
        }
        position = 4
        let version = try load(UInt32.self, "the version")
        switch version {
        case 2, 3: break
        case 1: throw fail("GGUF version 1 (32-bit counts, 2023) is not supported; convert the model again with a current llama.cpp (versions 2 and 3 are read)")
        default:
            if version.byteSwapped == 2 || version.byteSwapped == 3 { throw fail("a big-endian GGUF file (version \(version.byteSwapped)); only little-endian files are read") }
            throw fail("unknown GGUF version \(version); versions 2 and 3 are read")
        }
        let tensorCount = try count("the tensor count", minimumSize: 8 + 4 + 4 + 8)
        let keyCount = try count("the metadata count", minimumSize: 8 + 4 + 1)

        var metadata: [(key: String, value: GGUFValue)] = []
        var index: [String: Int] = [:]
        metadata.reserveCapacity(keyCount)
        for i in 0..<keyCount {
            let key = try string("metadata key \(i)")
            let raw = try load(UInt32.self, "the type of metadata '\(key)'")
            guard let type = GGUFValueType(rawValue: raw) else { throw fail("metadata '\(key)': unknown value type \(raw) (0…12 are defined)") }
            let value = try self.value(type, "metadata '\(key)'")
            guard index[key] == nil else { throw fail("metadata key '\(key)' appears twice") }
            index[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = GGUFFile.defaultAlignment
        if let i = index["general.alignment"] {
            let v = metadata[i].value
            guard let a = v.integer, a > 0, a & (a - 1) == 0, a <= 1 << 30 else {
                throw fail("general.alignment is \(v.summary); it must be a power of two")
            }
            alignment = a
        }

        var infos: [(name: String, dimensions: [Int], type: GGMLType, offset: Int)] = []
        var names = Set<String>()
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try string("the name of tensor \(i)")
            guard names.insert(name).inserted else { throw fail("tensor '\(name)' appears twice") }
            let n = try load(UInt32.self, "the dimension count of tensor '\(name)'")
            guard (1...4).contains(n) else { throw fail("tensor '\(name)' has \(n) dimensions; GGUF tensors have 1 to 4") }
            var dimensions: [Int] = []
            for _ in 0..<n {
                let d = try load(UInt64.self, "the dimensions of tensor '\(name)'")
                guard d <= UInt64(Int32.max) else { throw fail("tensor '\(name)' has a dimension of \(d), beyond any file's size") }
                dimensions.append(Int(d))
            }
            let rawType = try load(UInt32.self, "the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                let known = GGMLType.otherNames[rawType].map { "type \($0) (\(rawType)), which tinygpt does not read" } ?? "an unknown type \(rawType)"
                throw fail("tensor '\(name)' has \(known); supported tensor types: \(GGMLType.supportedList)")
            }
            let offset = try load(UInt64.self, "the offset of tensor '\(name)'")
            infos.append((name, dimensions, type, Int(clamping: offset)))
        }
        let dataStart = (position + alignment - 1) / alignment * alignment
        guard dataStart <= bytes.count || infos.isEmpty else {
            throw fail("truncated: the file ends at byte \(bytes.count), before its data section (byte \(dataStart))")
        }
        let dataSize = max(0, bytes.count - dataStart)

        var tensors: [GGUFTensorInfo] = []
        for info in infos {
            let (values, blockBytes) = info.type.block
            guard info.dimensions[0] % values == 0 else {
                throw fail("tensor '\(info.name)': rows of \(info.dimensions[0]) values are not whole \(info.type.name) blocks of \(values)")
            }
            var byteCount = info.dimensions[0] / values * blockBytes
            for d in info.dimensions.dropFirst() {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor '\(info.name)': dimensions \(info.dimensions) overflow") }
                byteCount = product
            }
            guard info.offset <= dataSize, byteCount <= dataSize - info.offset else {
                throw fail("tensor '\(info.name)': \(info.type.name) \(info.dimensions) needs \(byteCount) bytes at offset \(info.offset), "
                           + "but the data section holds \(dataSize) bytes: the file is truncated or the offset or size is wrong")
            }
            guard info.offset % alignment == 0 else {
                throw fail("tensor '\(info.name)': offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dimensions, type: info.type, offset: info.offset, byteCount: byteCount))
        }
        var end = 0, previous = ""
        for t in tensors.sorted(by: { $0.offset < $1.offset }) where t.byteCount > 0 {
            guard t.offset >= end else {
                throw fail("tensor '\(t.name)' (bytes \(t.offset)..<\(t.offset + t.byteCount) of the data section) overlaps tensor '\(previous)', which ends at \(end)")
            }
            end = t.offset + t.byteCount
            previous = t.name
        }
        return Header(version: Int(version), metadata: metadata, index: index, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }
}

/// Writes a GGUF version 3 file: metadata, tensor infos, then each tensor's
/// bytes padded to the alignment, streamed one tensor at a time. Atomic, as
/// every file tinygpt writes (a temporary file renamed over the target).
public struct GGUFWriter {
    public struct Tensor {
        public let name: String
        /// ggml's order (fastest first).
        public let dimensions: [Int]
        public let type: GGMLType
        public init(name: String, dimensions: [Int], type: GGMLType) { self.name = name; self.dimensions = dimensions; self.type = type }

        var byteCount: Int { dimensions[0] / type.block.values * type.block.bytes * dimensions.dropFirst().reduce(1, *) }
    }

    public var metadata: [(key: String, value: GGUFValue)] = []
    public var tensors: [Tensor] = []
    public var alignment = GGUFFile.defaultAlignment

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) { metadata[i].value = value } else { metadata.append((key, value)) }
    }

    /// The header, metadata and tensor infos, padded to where the data starts.
    func headerBytes() -> [UInt8] {
        var out: [UInt8] = GGUFFile.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .float64(let x): u64(x.bitPattern)
            case .bool(let x): out.append(x ? 1 : 0)
            case .string(let s): string(s)
            case .array(let type, let items):
                u32(type.rawValue); u64(UInt64(items.count))
                for item in items { value(item) }
            }
        }
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, v) in metadata { string(key); u32(v.type.rawValue); value(v) }
        var offset = 0
        for t in tensors {
            string(t.name)
            u32(UInt32(t.dimensions.count))
            for d in t.dimensions { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset += padded(t.byteCount)
        }
        out += [UInt8](repeating: 0, count: padded(out.count) - out.count)
        return out
    }

    func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Writes the file; `data(i)` gives tensor i's bytes (exactly its byte count), called in order.
    public func write(to url: URL, data: (Int) throws -> [UInt8]) throws {
        for (key, v) in metadata {
            if case .array(let type, let items) = v, let bad = items.first(where: { $0.type != type }) {
                throw FormatError("GGUF metadata '\(key)': an array of \(type.name) holds a \(bad.type.name)")
            }
        }
        for t in tensors where t.dimensions.isEmpty || t.dimensions[0] % t.type.block.values != 0 {
            throw FormatError("GGUF tensor '\(t.name)': dimensions \(t.dimensions) are not whole \(t.type.name) blocks")
        }
        let header = headerBytes()
        try AtomicFile.write(to: url) { fd in
            try header.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: url.path) }
            for (i, t) in tensors.enumerated() {
                var bytes = try data(i)
                guard bytes.count == t.byteCount else {
                    throw FormatError("GGUF tensor '\(t.name)': \(bytes.count) bytes given, \(t.type.name) \(t.dimensions) needs \(t.byteCount)")
                }
                bytes += [UInt8](repeating: 0, count: padded(bytes.count) - bytes.count)
                try bytes.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: url.path) }
            }
        }
    }
}
