import Foundation
import Files

/// A configuration problem, printed by the CLI as one line: `tinygpt: error: <description>`.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// One documented config field, as listed by `RunConfig.documentedFields`.
public struct ConfigFieldInfo: Equatable {
    public let section: String
    public let name: String
    /// "integer", "number", "boolean", "string", "list of strings", "string (choice)", "integer or null".
    public let type: String
    /// The default as JSON text (`null` for an optional field left unset).
    public let defaultValue: String
    /// The allowed values or range, e.g. "≥ 1", "in [0, 1)", "layernorm | rmsnorm"; "" when anything of the type goes.
    public let allowed: String
    public let doc: String
    /// `section.name`, as used by `--set`.
    public var key: String { "\(section).\(name)" }
}

/// A numeric range check, described the way the docs and errors print it.
struct Bounds {
    var lower: Double?
    var lowerInclusive = true
    var upper: Double?
    var upperInclusive = true

    static let any = Bounds()
    static func atLeast(_ v: Double) -> Bounds { Bounds(lower: v) }
    static func greaterThan(_ v: Double) -> Bounds { Bounds(lower: v, lowerInclusive: false) }
    /// [lo, hi)
    static func halfOpen(_ lo: Double, _ hi: Double) -> Bounds { Bounds(lower: lo, upper: hi, upperInclusive: false) }
    /// (lo, hi]
    static func leftOpen(_ lo: Double, _ hi: Double) -> Bounds { Bounds(lower: lo, lowerInclusive: false, upper: hi) }
    /// [lo, hi]
    static func between(_ lo: Double, _ hi: Double) -> Bounds { Bounds(lower: lo, upper: hi) }
    /// (lo, hi)
    static func open(_ lo: Double, _ hi: Double) -> Bounds { Bounds(lower: lo, lowerInclusive: false, upper: hi, upperInclusive: false) }

    func contains(_ v: Double) -> Bool {
        if let lower, lowerInclusive ? v < lower : v <= lower { return false }
        if let upper, upperInclusive ? v > upper : v >= upper { return false }
        return true
    }

    var text: String {
        func n(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }
        switch (lower, upper) {
        case (nil, nil): return ""
        case let (lo?, nil): return (lowerInclusive ? "≥ " : "> ") + n(lo)
        case let (nil, hi?): return (upperInclusive ? "≤ " : "< ") + n(hi)
        case let (lo?, hi?): return "in " + (lowerInclusive ? "[" : "(") + n(lo) + ", " + n(hi) + (upperInclusive ? "]" : ")")
        }
    }
}

/// One row of a section's field table: everything the generic machinery needs
/// to decode, override, validate, encode and document a field.
struct ConfigField<Section> {
    let name: String
    let type: String
    let allowed: String
    let doc: String
    /// The field's current value as JSON.
    let get: (Section) -> JSONValue
    /// Type-checks `value` and stores it; the error says what was expected.
    let set: (inout Section, JSONValue, _ key: String) throws -> Void
    /// Turns `--set` text into the JSON value `set` expects.
    let parseText: (String) -> JSONValue?
    /// Range check, run by `validate()`.
    let check: (Section, _ key: String) throws -> Void
    /// For object fields: `--set key.member=text` sets one member.
    var setMember: ((inout Section, _ member: String, _ text: String, _ key: String) throws -> Void)? = nil
}

private func typeError(_ key: String, _ expected: String, _ value: JSONValue) -> ConfigError {
    ConfigError("\(key) must be \(expected), got \(value.summary)")
}

extension ConfigField {
    static func int(_ name: String, _ path: WritableKeyPath<Section, Int>, _ bounds: Bounds = .any, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "integer", allowed: bounds.text, doc: doc,
            get: { .int($0[keyPath: path]) },
            set: { section, value, key in
                guard case .int(let i) = value else { throw typeError(key, "an integer", value) }
                section[keyPath: path] = i
            },
            parseText: { Int($0).map(JSONValue.int) },
            check: { section, key in
                let v = section[keyPath: path]
                guard bounds.contains(Double(v)) else { throw ConfigError("\(key) must be \(bounds.text), got \(v)") }
            })
    }

    /// An integer that may be null (unset); `bounds` applies only when set.
    static func optionalInt(_ name: String, _ path: WritableKeyPath<Section, Int?>, _ bounds: Bounds, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "integer or null", allowed: bounds.text, doc: doc,
            get: { $0[keyPath: path].map(JSONValue.int) ?? .null },
            set: { section, value, key in
                switch value {
                case .null: section[keyPath: path] = nil
                case .int(let i): section[keyPath: path] = i
                default: throw typeError(key, "an integer or null", value)
                }
            },
            parseText: { $0 == "null" ? .null : Int($0).map(JSONValue.int) },
            check: { section, key in
                guard let v = section[keyPath: path] else { return }
                guard bounds.contains(Double(v)) else { throw ConfigError("\(key) must be \(bounds.text), got \(v)") }
            })
    }

    static func number(_ name: String, _ path: WritableKeyPath<Section, Double>, _ bounds: Bounds = .any, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "number", allowed: bounds.text, doc: doc,
            get: { .double($0[keyPath: path]) },
            set: { section, value, key in
                switch value {
                case .int(let i): section[keyPath: path] = Double(i)
                case .double(let d): section[keyPath: path] = d
                default: throw typeError(key, "a number", value)
                }
            },
            parseText: { text in isDecimalNumber(text) ? Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } : nil },
            check: { section, key in
                let v = section[keyPath: path]
                guard v.isFinite else { throw ConfigError("\(key) must be a finite number, got \(v)") }
                guard bounds.contains(v) else { throw ConfigError("\(key) must be \(bounds.text), got \(v)") }
            })
    }

    /// A number that may be null (off); `bounds` applies only when set.
    static func optionalNumber(_ name: String, _ path: WritableKeyPath<Section, Double?>, _ bounds: Bounds, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "number or null", allowed: bounds.text, doc: doc,
            get: { $0[keyPath: path].map(JSONValue.double) ?? .null },
            set: { section, value, key in
                switch value {
                case .null: section[keyPath: path] = nil
                case .int(let i): section[keyPath: path] = Double(i)
                case .double(let d): section[keyPath: path] = d
                default: throw typeError(key, "a number or null", value)
                }
            },
            parseText: { text in
                if text == "null" { return .null }
                return isDecimalNumber(text) ? Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } : nil
            },
            check: { section, key in
                guard let v = section[keyPath: path] else { return }
                guard v.isFinite else { throw ConfigError("\(key) must be a finite number or null, got \(v)") }
                guard bounds.contains(v) else { throw ConfigError("\(key) must be \(bounds.text) or null (off), got \(v)") }
            })
    }

    static func bool(_ name: String, _ path: WritableKeyPath<Section, Bool>, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "boolean", allowed: "true | false", doc: doc,
            get: { .bool($0[keyPath: path]) },
            set: { section, value, key in
                guard case .bool(let b) = value else { throw typeError(key, "true or false", value) }
                section[keyPath: path] = b
            },
            parseText: { $0 == "true" ? .bool(true) : $0 == "false" ? .bool(false) : nil },
            check: { _, _ in })
    }

    static func string(_ name: String, _ path: WritableKeyPath<Section, String>, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "string", allowed: "", doc: doc,
            get: { .string($0[keyPath: path]) },
            set: { section, value, key in
                guard case .string(let s) = value else { throw typeError(key, "a string", value) }
                section[keyPath: path] = s
            },
            parseText: { .string($0) },
            check: { _, _ in })
    }

    /// On the command line: a JSON array, or comma-separated items (empty text = empty list).
    static func strings(_ name: String, _ path: WritableKeyPath<Section, [String]>, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "list of strings", allowed: "", doc: doc,
            get: { .array($0[keyPath: path].map(JSONValue.string)) },
            set: { section, value, key in
                guard case .array(let items) = value else { throw typeError(key, "a list of strings", value) }
                section[keyPath: path] = try items.map {
                    guard case .string(let s) = $0 else { throw typeError(key, "a list of strings", value) }
                    return s
                }
            },
            parseText: { text in
                if text.hasPrefix("[") { return try? JSONParser.parse(Array(text.utf8)) }
                return .array(text.isEmpty ? [] : text.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) })
            },
            check: { _, _ in })
    }

    /// Non-negative integers (token ids). On the command line: a JSON array, or
    /// comma-separated integers (empty text = empty list).
    static func integers(_ name: String, _ path: WritableKeyPath<Section, [Int]>, _ bounds: Bounds, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "list of integers", allowed: bounds.text, doc: doc,
            get: { .array($0[keyPath: path].map(JSONValue.int)) },
            set: { section, value, key in
                guard case .array(let items) = value else { throw typeError(key, "a list of integers", value) }
                section[keyPath: path] = try items.map {
                    guard case .int(let i) = $0 else { throw typeError(key, "a list of integers", value) }
                    return i
                }
            },
            parseText: { text in
                if text.hasPrefix("[") { return try? JSONParser.parse(Array(text.utf8)) }
                if text.isEmpty { return .array([]) }
                let items = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !items.contains(nil) else { return nil }
                return .array(items.map { .int($0!) })
            },
            check: { section, key in
                for v in section[keyPath: path] where !bounds.contains(Double(v)) {
                    throw ConfigError("\(key): every id must be \(bounds.text), got \(v)")
                }
            })
    }

    /// Swish's β: a number, or the word "learnable". Its range depends on the
    /// activation, so the section's combination check applies it.
    static func swishBeta(_ name: String, _ path: WritableKeyPath<Section, SwishBeta>, _ doc: String) -> ConfigField {
        ConfigField(
            name: name, type: "number or \"learnable\"", allowed: "> 0 | learnable", doc: doc,
            get: { section in
                // Bound first: Swift 6.0's type checker crashes on a pattern match against a key-path subscript.
                let value: SwishBeta = section[keyPath: path]
                switch value {
                case .fixed(let beta): return .double(beta)
                case .learnable: return .string("learnable")
                }
            },
            set: { section, value, key in
                switch value {
                case .int(let i): section[keyPath: path] = .fixed(Double(i))
                case .double(let d): section[keyPath: path] = .fixed(d)
                case .string("learnable"): section[keyPath: path] = .learnable
                default: throw typeError(key, "a number or \"learnable\"", value)
                }
            },
            parseText: { text in
                if text == "learnable" { return .string(text) }
                return isDecimalNumber(text) ? Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } : nil
            },
            check: { section, key in
                let value: SwishBeta = section[keyPath: path]
                if case .fixed(let beta) = value, !beta.isFinite {
                    throw ConfigError("\(key) must be a finite number or \"learnable\", got \(beta)")
                }
            })
    }

    /// A choice that may be null: unset, its value follows from other fields (the section says how).
    static func optionalChoice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<Section, E?>, _ doc: String) -> ConfigField where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return ConfigField(
            name: name, type: "string (choice) or null", allowed: names.joined(separator: " | "), doc: doc,
            get: { $0[keyPath: path].map { .string($0.rawValue) } ?? .null },
            set: { section, value, key in
                if case .null = value { section[keyPath: path] = nil; return }
                guard case .string(let s) = value else { throw typeError(key, "one of \(names.joined(separator: ", ")) or null", value) }
                guard let e = E(rawValue: s) else {
                    throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")) or null; got '\(s)'" + suggestion(for: s, among: names, listIfFar: false))
                }
                section[keyPath: path] = e
            },
            parseText: { $0 == "null" ? .null : .string($0) },
            check: { _, _ in })
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<Section, E>, _ doc: String) -> ConfigField where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return ConfigField(
            name: name, type: "string (choice)", allowed: names.joined(separator: " | "), doc: doc,
            get: { .string($0[keyPath: path].rawValue) },
            set: { section, value, key in
                // A choice named true and false (sample.early_stopping) also takes JSON's booleans, as transformers writes them.
                let s: String
                switch value {
                case .string(let text): s = text
                case .bool(let b) where names.contains("true") && names.contains("false"): s = b ? "true" : "false"
                default: throw typeError(key, "one of \(names.joined(separator: ", "))", value)
                }
                guard let e = E(rawValue: s) else {
                    throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")); got '\(s)'" + suggestion(for: s, among: names, listIfFar: false))
                }
                section[keyPath: path] = e
            },
            parseText: { .string($0) },
            check: { _, _ in })
    }
}

/// A section of the run config: a struct with defaults (`init()`) and a field table.
/// Decoding, `--set`, validation, encoding and docs all go through the table.
protocol ConfigSection {
    init()
    static var name: String { get }
    static var fields: [ConfigField<Self>] { get }
    /// Rules that involve more than one field; runs after every field's own check passed.
    func checkCombinations() throws
}

extension ConfigSection {
    func checkCombinations() throws {}

    static func field(named key: String) throws -> ConfigField<Self> {
        if let f = fields.first(where: { $0.name == key }) { return f }
        throw ConfigError("unknown key '\(name).\(key)'" + suggestion(for: key, among: fields.map(\.name)))
    }

    /// Applies the members of a JSON object on top of `self`.
    mutating func apply(_ value: JSONValue) throws {
        guard case .object(let members) = value else {
            throw ConfigError("'\(Self.name)' must be an object, got \(value.summary)")
        }
        for (key, member) in members {
            try Self.field(named: key).set(&self, member, "\(Self.name).\(key)")
        }
    }

    func validate() throws {
        for f in Self.fields { try f.check(self, "\(Self.name).\(f.name)") }
        try checkCombinations()
    }

    var json: JSONValue { .object(Self.fields.map { ($0.name, $0.get(self)) }) }

    static var documentedFields: [ConfigFieldInfo] {
        let defaults = Self()
        return fields.map {
            ConfigFieldInfo(section: name, name: $0.name, type: $0.type, defaultValue: $0.get(defaults).serialized(),
                            allowed: $0.allowed, doc: $0.doc)
        }
    }
}

/// "; did you mean 'x'?" for the closest name; when nothing is close, the full
/// list (unless the caller's message already lists the names).
func suggestion(for word: String, among names: [String], listIfFar: Bool = true) -> String {
    guard let best = names.min(by: { editDistance(word, $0) < editDistance(word, $1) }) else { return "" }
    if editDistance(word, best) <= max(2, word.count / 2) { return "; did you mean '\(best)'?" }
    return listIfFar ? "; valid keys: " + names.joined(separator: ", ") : ""
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var row = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = row
    }
    return previous[b.count]
}

/// True for decimal numbers with an optional exponent ("3", "-0.5", ".5", "3e-4"),
/// false for what `Double(_:)` also takes but a user never means: hexadecimal
/// ("0x10"), "nan", "inf", digit separators.
func isDecimalNumber(_ text: String) -> Bool {
    var bytes = Array(text.utf8)[...]
    func digits() -> Int {
        let n = bytes.prefix(while: { $0 >= 48 && $0 <= 57 }).count
        bytes = bytes.dropFirst(n)
        return n
    }
    if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
    var mantissa = digits()
    if bytes.first == UInt8(ascii: ".") { bytes = bytes.dropFirst(); mantissa += digits() }
    guard mantissa > 0 else { return false }
    if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
        bytes = bytes.dropFirst()
        if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard digits() > 0 else { return false }
    }
    return bytes.isEmpty
}
