import Foundation

/// The one JSON value type of tinygpt, for reading and writing: a parsed JSON value. Objects keep their key order and duplicate keys are
/// rejected by the parser, so callers see exactly what the file says
/// (Foundation's parsers drop both facts, and safetensors needs the second).
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// A number, or null when it is NaN or infinite (JSON has no form for those).
    public static func number(_ d: Double) -> JSONValue { d.isFinite ? .double(d) : .null }

    /// An object from key–value pairs, in the order given.
    public static func object(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(members.map { (key: $0.key, value: $0.value) })
    }

    /// Sets an object's member: replaced in place if present, else appended.
    public mutating func set(_ key: String, _ value: JSONValue) {
        guard case .object(var members) = self else { return }
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append((key, value)) }
        self = .object(members)
    }

    /// An object's member (the first with that key), or nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var int: Int? { if case .int(let i) = self { return i }; return nil }
    /// An integer or a float, as Double.
    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    /// An object's members in file order.
    public var members: [(key: String, value: JSONValue)]? { if case .object(let m) = self { return m }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Pretty-printed JSON text with a final newline, as written to files.
    public var fileData: Data { Data((serialized(indent: 2) + "\n").utf8) }

    /// The value as JSON text, for error messages ("got ...").
    public var summary: String {
        let text = serialized()
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }

    /// Compact JSON (`indent == nil`) or pretty-printed with `indent` spaces per level.
    /// Arrays of scalars stay on one line so string lists read naturally.
    public func serialized(indent: Int? = nil, level: Int = 0) -> String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return JSONValue.format(d)
        case .string(let s): return JSONValue.quote(s)
        case .array(let items):
            let scalars = items.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            guard let indent, !scalars else {
                return "[" + items.map { $0.serialized() }.joined(separator: indent == nil ? "," : ", ") + "]"
            }
            let inner = String(repeating: " ", count: indent * (level + 1))
            let outer = String(repeating: " ", count: indent * level)
            return "[\n" + items.map { inner + $0.serialized(indent: indent, level: level + 1) }.joined(separator: ",\n") + "\n" + outer + "]"
        case .object(let members):
            guard let indent else {
                return "{" + members.map { JSONValue.quote($0.key) + ":" + $0.value.serialized() }.joined(separator: ",") + "}"
            }
            if members.isEmpty { return "{}" }
            let inner = String(repeating: " ", count: indent * (level + 1))
            let outer = String(repeating: " ", count: indent * level)
            let lines = members.map { inner + JSONValue.quote($0.key) + ": " + $0.value.serialized(indent: indent, level: level + 1) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + outer + "}"
        }
    }

    /// Shortest text that parses back to the same Double; always has a '.' or
    /// an exponent so it reads as a float. Non-finite values have no JSON form:
    /// writers validate first, and error messages may show "nan" or "inf".
    public static func format(_ d: Double) -> String { "\(d)" }

    /// A JSON string literal: escapes `"`, `\`, control characters and DEL; everything else raw UTF-8.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A strict RFC 8259 parser over UTF-8 bytes. Errors (FileError) carry line and column;
/// callers prefix the file's name. It scans raw bytes: a string without escapes becomes a
/// String in one copy, an integer is read digit by digit, and keys are checked for repeats by
/// their bytes. Values at deferred paths are checked the same way but not built (`JSONDocument`).
public struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private let maxDepth = 64
    /// Byte ranges and member or element counts of the deferred values, by their index in the caller's list of paths.
    private var deferredRanges: [(path: Int, range: Range<Int>, count: Int, keys: KeySet?)] = []
    /// The keys of the object just checked with `keepingKeys`.
    private var keptKeys: KeySet?

    /// Parses one complete JSON document; trailing whitespace is allowed, anything else is not.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { try parse($0) }
    }

    public static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { try parse($0.bindMemory(to: UInt8.self)) }
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        guard JSONParser.isValidUTF8(bytes) else { throw FileError("not valid UTF-8") }
        return try parseDocument(bytes, deferring: []).value
    }

    /// Parses a document as `parse` does, with the same errors, but leaves each object or array
    /// found at one of `paths` (keys from the root) as text: a large vocabulary can then be read
    /// without a `JSONValue` per entry.
    public static func parse(_ data: Data, deferring paths: [[String]]) throws -> JSONDocument {
        let (root, ranges) = try data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard JSONParser.isValidUTF8(bytes) else { throw FileError("not valid UTF-8") }
            return try parseDocument(bytes, deferring: paths)
        }
        var deferred = [JSONText?](repeating: nil, count: paths.count)
        for (path, range, count, keys) in ranges { deferred[path] = JSONText(data: data, range: range, count: count, keys: keys) }
        return JSONDocument(root: root, deferred: deferred)
    }

    /// Parses checked UTF-8 (a value a document parse already accepted).
    static func parseChecked(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        try parseDocument(bytes, deferring: []).value
    }

    private static func parseDocument(_ bytes: UnsafeBufferPointer<UInt8>, deferring paths: [[String]]) throws
        -> (value: JSONValue, deferred: [(path: Int, range: Range<Int>, count: Int, keys: KeySet?)]) {
        var parser = JSONParser(bytes: bytes)
        let pending = paths.enumerated().map { DeferredPath(index: $0.offset, keys: $0.element.map { Array($0.utf8) }[...]) }
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0, build: true, pending: pending)
        parser.skipWhitespace()
        if parser.index < bytes.count { throw parser.failure("unexpected text after the JSON value") }
        return (value, parser.deferredRanges)
    }

    /// Whole-buffer UTF-8 check; ASCII runs are skipped eight bytes at a time.
    static func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return true }
        let n = b.count
        var i = 0
        while i < n {
            if i + 8 <= n, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8; continue }
            let c = base[i]
            if c < 0x80 { i += 1; continue }
            let length: Int, minimum: UInt32
            var code: UInt32
            switch c {
            case 0xC2...0xDF: length = 2; code = UInt32(c & 0x1F); minimum = 0x80
            case 0xE0...0xEF: length = 3; code = UInt32(c & 0x0F); minimum = 0x800
            case 0xF0...0xF4: length = 4; code = UInt32(c & 0x07); minimum = 0x10000
            default: return false
            }
            guard i + length <= n else { return false }
            for k in 1..<length {
                let cont = base[i + k]
                guard cont & 0xC0 == 0x80 else { return false }
                code = code << 6 | UInt32(cont & 0x3F)
            }
            // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
            if code < minimum || (0xD800...0xDFFF).contains(code) || code > 0x10FFFF { return false }
            i += length
        }
        return true
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func failure(_ message: String) -> FileError {
        var line = 1, column = 1
        for b in bytes[..<min(index, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return FileError("line \(line), column \(column): \(message)")
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            let b = bytes[index]
            guard b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D else { return }
            index += 1
        }
    }

    private mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
        for b in literal.utf8 {
            guard current == b else { throw failure("invalid literal (expected '\(literal)')") }
            index += 1
        }
        return value
    }

    /// A path still to be followed into nested objects: `keys` are what remains of it.
    private struct DeferredPath { let index: Int; let keys: ArraySlice<[UInt8]> }

    /// With `build` false the value is checked but not built: the result is an object's or array's
    /// count (as .int), else .null.
    private mutating func parseValue(depth: Int, build: Bool, pending: [DeferredPath], keepingKeys: Bool = false) throws -> JSONValue {
        guard depth < maxDepth else { throw failure("nested more than \(maxDepth) levels deep") }
        guard let b = current else { throw failure("unexpected end of input, expected a value") }
        switch b {
        case UInt8(ascii: "{"): return try parseObject(depth: depth, build: build, pending: pending, keepingKeys: keepingKeys)
        case UInt8(ascii: "["): return try parseArray(depth: depth, build: build)
        case UInt8(ascii: "\""):
            let s = try parseString()
            return build ? .string(string(s)) : .null
        case UInt8(ascii: "t"): return try expect("true", build ? .bool(true) : .null)
        case UInt8(ascii: "f"): return try expect("false", build ? .bool(false) : .null)
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try parseNumber()
            return build ? number : .null
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(b)))', expected a value")
        }
    }

    /// `keepingKeys`: the keys stay in `keptKeys`, an index of the members.
    private mutating func parseObject(depth: Int, build: Bool, pending: [DeferredPath], keepingKeys: Bool) throws -> JSONValue {
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        var keys = KeySet()
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            if keepingKeys { keptKeys = keys }
            return build ? .object(members) : .int(0)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let keyStart = index
            let key = try parseString()
            let inserted: Bool
            switch key {
            case .input(let r): inserted = keys.insert(UnsafeBufferPointer(rebasing: bytes[r]), at: r.lowerBound, in: bytes)
            case .decoded(let b): inserted = b.withUnsafeBufferPointer { keys.insert($0, at: nil, in: bytes) }
            }
            if !inserted {
                index = keyStart
                throw failure("duplicate key '\(string(key))'")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after key '\(string(key))'") }
            index += 1
            skipWhitespace()
            let inner = pending.isEmpty ? [] : withBytes(key) { k in
                pending.compactMap { p in p.keys.first.map { $0.elementsEqual(k) } == true ? DeferredPath(index: p.index, keys: p.keys.dropFirst()) : nil }
            }
            let value: JSONValue
            if let here = inner.first(where: { $0.keys.isEmpty }), build, current == UInt8(ascii: "{") || current == UInt8(ascii: "[") {
                let start = index
                let isObject = current == UInt8(ascii: "{")
                keptKeys = nil
                let count = try parseValue(depth: depth + 1, build: false, pending: [], keepingKeys: true).int ?? 0
                deferredRanges.append((here.index, start..<index, count, keptKeys))
                value = isObject ? .object([]) : .array([])
            } else {
                value = try parseValue(depth: depth + 1, build: build, pending: inner.filter { !$0.keys.isEmpty })
            }
            if build { members.append((string(key), value)) }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                if keepingKeys { keptKeys = keys }
                return build ? .object(members) : .int(keys.count)
            default: throw failure("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray(depth: Int, build: Bool) throws -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return build ? .array(items) : .int(0) }
        var count = 0
        while true {
            skipWhitespace()
            let item = try parseValue(depth: depth + 1, build: build, pending: [])
            if build { items.append(item) }
            count += 1
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return build ? .array(items) : .int(count)
            default: throw failure("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let digit: UInt8
            switch current {
            case let c? where (0x30...0x39).contains(c): digit = c - 0x30
            case let c? where (0x41...0x46).contains(c): digit = c - 0x41 + 10
            case let c? where (0x61...0x66).contains(c): digit = c - 0x61 + 10
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// A string's UTF-8 with escapes decoded: a range of the input when it has no escape.
    private enum StringBytes { case input(Range<Int>), decoded([UInt8]) }

    private func withBytes<R>(_ s: StringBytes, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch s {
        case .input(let r): return try body(UnsafeBufferPointer(rebasing: bytes[r]))
        case .decoded(let b): return try b.withUnsafeBufferPointer(body)
        }
    }

    private func string(_ s: StringBytes) -> String { withBytes(s) { String(decoding: $0, as: UTF8.self) } }

    private mutating func parseString() throws -> StringBytes {
        index += 1
        // The common case: no escape before the closing quote, the bytes stay where they are.
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return .input(start..<(index - 1))
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { break }
            index += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let b = current else { throw failure("unterminated string") }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                return .decoded(out)
            case UInt8(ascii: "\\"):
                guard let e = current else { throw failure("unterminated string") }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard current == UInt8(ascii: "\\") else { throw failure("unpaired surrogate in \\u escape") }
                        index += 1
                        guard current == UInt8(ascii: "u") else { throw failure("unpaired surrogate in \\u escape") }
                        index += 1
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw failure("unpaired surrogate in \\u escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw failure("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            case 0..<0x20:
                throw failure("control character in string (escape it)")
            default:
                out.append(b)
            }
        }
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = index
        var isInteger = true
        func digits() -> Int {
            let from = index
            while let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { index += 1 }
            return index - from
        }
        let negative = current == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw failure("invalid number")
        }
        let integerEnd = index
        if current == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard digits() > 0 else { throw failure("invalid number: digits expected after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("invalid number: digits expected in exponent") }
        }
        // Up to 18 digits always fit an Int; longer integers go through the text.
        if isInteger && integerEnd - integerStart <= 18 {
            var value = 0
            for k in integerStart..<integerEnd { value = value * 10 + Int(bytes[k] - 0x30) }
            return .int(negative ? -value : value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else {
            index = start
            throw failure("number \(text) is out of range")
        }
        return .double(d)
    }
}

/// The keys of one object, compared by their UTF-8 bytes ("é" and "e\u{301}" are equal Strings
/// but distinct keys): scanned while the object is small, hashed in an open-addressing table once
/// it is large (a vocabulary). A key without escapes is kept as its offset in the document, one
/// with escapes as a copy; the document's bytes are passed to each call.
struct KeySet: Sendable {
    private var copies: [UInt8] = []
    /// A key's bytes: `document[start..<start+count]`, or `copies[-start-1...]` when start is negative.
    private var keys: [(start: Int32, count: Int32, hash: UInt32)] = []
    /// Indices into `keys`, -1 for empty; no table while the object is small.
    private var slots: [Int32] = []
    private static let scanned = 16

    var count: Int { keys.count }

    /// Adds a key (`key` is `document` from `offset` on, or a copy when `offset` is nil); false if the set already holds it.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, at offset: Int?, in document: UnsafeBufferPointer<UInt8>) -> Bool {
        let h = KeySet.hash(key)
        if index(key, h, document) != nil { return false }
        if let offset {
            keys.append((Int32(offset), Int32(key.count), h))
        } else {
            keys.append((Int32(-copies.count - 1), Int32(key.count), h))
            copies.append(contentsOf: key)
        }
        if keys.count == KeySet.scanned || (!slots.isEmpty && keys.count * 2 > slots.count) {
            rehash(max(64, slots.count * 2))
        } else if !slots.isEmpty {
            var s = Int(h) & (slots.count - 1)
            while slots[s] >= 0 { s = (s + 1) & (slots.count - 1) }
            slots[s] = Int32(keys.count - 1)
        }
        return true
    }

    /// The key's position in insertion order, or nil.
    func index(of key: UnsafeBufferPointer<UInt8>, in document: UnsafeBufferPointer<UInt8>) -> Int? {
        index(key, KeySet.hash(key), document)
    }

    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt32 { UInt32(truncatingIfNeeded: FNV1a64.hash(key) >> 32) }

    private func index(_ key: UnsafeBufferPointer<UInt8>, _ h: UInt32, _ document: UnsafeBufferPointer<UInt8>) -> Int? {
        if slots.isEmpty {
            for (i, k) in keys.enumerated() where k.hash == h && same(k, key, document) { return i }
            return nil
        }
        var s = Int(h) & (slots.count - 1)
        while slots[s] >= 0 {
            let k = keys[Int(slots[s])]
            if k.hash == h && same(k, key, document) { return Int(slots[s]) }
            s = (s + 1) & (slots.count - 1)
        }
        return nil
    }

    private func same(_ k: (start: Int32, count: Int32, hash: UInt32), _ key: UnsafeBufferPointer<UInt8>, _ document: UnsafeBufferPointer<UInt8>) -> Bool {
        guard Int(k.count) == key.count else { return false }
        if key.isEmpty { return true }
        if k.start >= 0 { return memcmp(document.baseAddress! + Int(k.start), key.baseAddress!, key.count) == 0 }
        return copies.withUnsafeBufferPointer { memcmp($0.baseAddress! + Int(-k.start - 1), key.baseAddress!, key.count) == 0 }
    }

    private mutating func rehash(_ size: Int) {
        slots = [Int32](repeating: -1, count: size)
        for (i, k) in keys.enumerated() {
            var s = Int(k.hash) & (size - 1)
            while slots[s] >= 0 { s = (s + 1) & (size - 1) }
            slots[s] = Int32(i)
        }
    }
}

// Literals, so that JSON to be written reads like JSON: ["n_layer": .int(m.nLayer), "use_cache": true].
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
                     ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements.map { (key: $0.0, value: $0.1) }) }
    public init(nilLiteral: ()) { self = .null }
}
