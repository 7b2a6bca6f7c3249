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
/// callers prefix the file's name.
public struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private let maxDepth = 64

    /// Parses one complete JSON document; trailing whitespace is allowed, anything else is not.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw FileError("not valid UTF-8")
        }
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < bytes.count { throw parser.failure("unexpected text after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func failure(_ message: String) -> FileError {
        var line = 1, column = 1
        for b in bytes[..<min(index, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return FileError("line \(line), column \(column): \(message)")
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
    }

    private mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
        for b in literal.utf8 {
            guard current == b else { throw failure("invalid literal (expected '\(literal)')") }
            index += 1
        }
        return value
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < maxDepth else { throw failure("nested more than \(maxDepth) levels deep") }
        guard let b = current else { throw failure("unexpected end of input, expected a value") }
        switch b {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(b)))', expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<[UInt8]>()  // by bytes: "é" and "e\u{301}" are equal Strings but distinct keys
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let keyStart = index
            let key = try parseString()
            guard seen.insert(Array(key.utf8)).inserted else {
                index = keyStart
                throw failure("duplicate key '\(key)'")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after key '\(key)'") }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw failure("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(items)
            default: throw failure("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = current, let digit = Int(String(Unicode.Scalar(b)), radix: 16) else {
                throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func parseString() throws -> String {
        index += 1
        var out: [UInt8] = []
        while true {
            guard let b = current else { throw failure("unterminated string") }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
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
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw failure("invalid number")
        }
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
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else {
            index = start
            throw failure("number \(text) is out of range")
        }
        return .double(d)
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
