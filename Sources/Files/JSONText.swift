import Foundation

/// A parsed document some of whose objects or arrays were checked but left as text
/// (`JSONParser.parse(_:deferring:)`).
public struct JSONDocument: Sendable {
    /// The document, in which each deferred object or array stands as an empty one of its kind.
    public let root: JSONValue
    /// The deferred values, in the order of the paths asked for; nil where a path led to no object or array.
    public let deferred: [JSONText?]
}

/// The text of one JSON object or array of a document the parser accepted, read again on demand.
public struct JSONText: @unchecked Sendable {
    /// The whole document; `range` is the value's bytes, offsets from its start.
    let data: Data
    let range: Range<Int>
    /// The object's members or the array's elements.
    public let count: Int
    /// An object's keys, as the parse checked them.
    let keys: KeySet?

    /// The value as a tree.
    public func value() throws -> JSONValue {
        try withReader { try $0.value() }
    }

    /// Calls `body` with a reader of the text, valid only during the call.
    public func withReader<R>(_ body: (JSONTextReader) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { raw in try body(JSONTextReader(bytes: raw.bindMemory(to: UInt8.self), range: range, keys: keys)) }
    }
}

/// One value of accepted JSON text, in memory that outlives it only inside `JSONText.withReader`:
/// members and elements come one at a time and strings as their bytes, so a caller builds its own
/// tables without a `JSONValue` per entry.
public struct JSONTextReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let range: Range<Int>
    private let keys: KeySet?

    init(bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, keys: KeySet? = nil) {
        self.bytes = bytes
        self.range = range
        self.keys = keys
    }

    /// The position, in file order, of the member with this key (its UTF-8, escapes decoded), or
    /// nil. Only the object a `JSONText` holds has the index; a nested value answers nil.
    public func memberIndex(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        keys?.index(of: key, in: bytes)
    }

    /// The value as a tree.
    public func value() throws -> JSONValue {
        // Digits alone (a vocabulary's ids): read here, without a parser.
        if range.count <= 18 {
            var value = 0
            for b in bytes[range] {
                guard b &- 0x30 < 10 else { return try JSONParser.parseChecked(UnsafeBufferPointer(rebasing: bytes[range])) }
                value = value * 10 + Int(b &- 0x30)
            }
            return .int(value)
        }
        return try JSONParser.parseChecked(UnsafeBufferPointer(rebasing: bytes[range]))
    }

    public var isObject: Bool { bytes[range.lowerBound] == UInt8(ascii: "{") }
    public var isArray: Bool { bytes[range.lowerBound] == UInt8(ascii: "[") }
    public var isString: Bool { bytes[range.lowerBound] == UInt8(ascii: "\"") }

    /// A string's UTF-8, escapes decoded (valid only during the call); nil for another kind.
    public func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R? {
        guard isString else { return nil }
        return try withString(string(range.lowerBound), body)
    }

    /// An object's members in file order: each key's UTF-8 (escapes decoded; valid only during the
    /// call) and its value. Nothing for another kind.
    public func forEachMember(_ body: (UnsafeBufferPointer<UInt8>, JSONTextReader) throws -> Void) throws {
        guard isObject else { return }
        var i = skipSpace(range.lowerBound + 1)
        while bytes[i] != UInt8(ascii: "}") {
            let key = string(i)
            i = skipSpace(key.end)  // at the ':'
            i = skipSpace(i + 1)
            let valueEnd = end(i)
            let value = JSONTextReader(bytes: bytes, range: i..<valueEnd)
            try withString(key) { try body($0, value) }
            i = skipSpace(valueEnd)
            if bytes[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) }
        }
    }

    /// An array's elements in file order. Nothing for another kind.
    public func forEachElement(_ body: (JSONTextReader) throws -> Void) rethrows {
        guard isArray else { return }
        var i = skipSpace(range.lowerBound + 1)
        while bytes[i] != UInt8(ascii: "]") {
            let valueEnd = end(i)
            try body(JSONTextReader(bytes: bytes, range: i..<valueEnd))
            i = skipSpace(valueEnd)
            if bytes[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) }
        }
    }

    // Scanning text the parser accepted: every value is complete and well formed.

    private func skipSpace(_ from: Int) -> Int {
        var i = from
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// The end of the value starting at `start`.
    private func end(_ start: Int) -> Int {
        var i = start
        switch bytes[i] {
        case UInt8(ascii: "\""):
            return string(i).end
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            repeat {
                switch bytes[i] {
                case UInt8(ascii: "\""): i = end(i) - 1
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                default: break
                }
                i += 1
            } while depth > 0
            return i
        default:
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { break }
                i += 1
            }
            return i
        }
    }

    /// The string literal at `start`: where it ends, and whether it has an escape.
    private func string(_ start: Int) -> (start: Int, end: Int, escaped: Bool) {
        var i = start + 1, escaped = false
        while bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") { escaped = true; i += 2 } else { i += 1 }
        }
        return (start, i + 1, escaped)
    }

    /// The UTF-8 of a string literal: its own bytes, or decoded when it has an escape.
    private func withString<R>(_ s: (start: Int, end: Int, escaped: Bool), _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        if !s.escaped { return try body(UnsafeBufferPointer(rebasing: bytes[(s.start + 1)..<(s.end - 1)])) }
        let decoded = try JSONParser.parseChecked(UnsafeBufferPointer(rebasing: bytes[s.start..<s.end])).string ?? ""
        return try Array(decoded.utf8).withUnsafeBufferPointer(body)
    }
}
