import Foundation
import Files

/// A value inside a template, with the Python semantics Jinja gives it
/// (Hugging Face renders chat templates with Python's jinja2): truthiness,
/// equality, `str()` and `repr()` as Python's.
public enum TemplateValue {
    /// A name or member that does not exist; prints as "", is false, iterates as empty.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([TemplateValue])
    case tuple([TemplateValue])
    case dict(TemplateDictionary)
    /// A `namespace()`: the one mutable object, assigned with `{% set ns.name = … %}`.
    case namespace(TemplateNamespace)
    case function(TemplateFunction)

    /// A JSON value as a template value (objects keep their key order).
    public init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(TemplateValue.init(json:)))
        case .object(let members): self = .dict(TemplateDictionary(members.map { ($0.key, TemplateValue(json: $0.value)) }))
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python's truth value.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .function: return true
        }
    }

    /// The type name Python would use in an error message.
    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// Python's `str()`: what `{{ value }}` prints.
    var text: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's `repr()`.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloat(d)
        case .string(let s): return pythonStringRepr(s)
        case .list(let a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .tuple(let a): return a.count == 1 ? "(\(a[0].repr),)" : "(" + a.map(\.repr).joined(separator: ", ") + ")"
        case .dict(let d): return "{" + d.entries.map { pythonStringRepr($0.key) + ": " + $0.value.repr }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + TemplateValue.dict(n.members).repr + ">"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    /// The items a `for` loop visits: a sequence's elements, a dictionary's keys, a string's characters.
    func iterated(line: Int) throws -> [TemplateValue] {
        switch self {
        case .undefined: return []
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.entries.map { .string($0.key) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError("'\(typeName)' object is not iterable", line: line)
        }
    }
}

/// Python's equality: numbers compare by value (True == 1), containers element by element.
func templateEqual(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { templateEqual($0, $1) }
    case (.dict(let x), .dict(let y)):
        return x.count == y.count && x.entries.allSatisfy { e in y[e.key].map { templateEqual(e.value, $0) } ?? false }
    case (.namespace(let x), .namespace(let y)): return x === y
    default:
        if let x = a.number, let y = b.number { return x == y }
        return false
    }
}

extension TemplateValue {
    /// Numbers (bool counts, as in Python) as Double, for comparisons.
    var number: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// An integer (bool counts, as in Python).
    var integer: Int? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return i
        default: return nil
        }
    }
}

/// An insertion-ordered dictionary with string keys (what chat messages and JSON objects are).
public struct TemplateDictionary {
    public private(set) var entries: [(key: String, value: TemplateValue)] = []
    private var index: [String: Int] = [:]

    public init(_ pairs: [(String, TemplateValue)] = []) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> TemplateValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let i = index[key] {
                if let newValue { entries[i].value = newValue } else {
                    entries.remove(at: i)
                    index = [:]
                    for (j, e) in entries.enumerated() { index[e.key] = j }
                }
            } else if let newValue {
                index[key] = entries.count
                entries.append((key, newValue))
            }
        }
    }
}

/// The object `namespace(...)` makes: members a loop body can change.
public final class TemplateNamespace {
    var members: TemplateDictionary
    init(_ members: TemplateDictionary) { self.members = members }
}

/// A callable: a global (`range`, `raise_exception`, …), a bound method, a macro.
public struct TemplateFunction {
    let name: String
    let call: (_ arguments: [TemplateValue], _ keywords: [(String, TemplateValue)], _ line: Int) throws -> TemplateValue
}

/// Python's `repr()` of a float: the shortest text that reads back, with ".0" on whole numbers.
func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    let magnitude = abs(d)
    if magnitude != 0 && (magnitude >= 1e16 || magnitude < 1e-4) {
        // Python switches to exponent form at these bounds and writes the exponent with a sign and two digits.
        var s = "\(d)"
        if !s.contains("e") { s = String(format: "%.17g", d) }
        guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s }
        var mantissa = String(s[..<e])
        if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
        let exponent = Int(s[s.index(after: e)...]) ?? 0
        return mantissa + "e" + (exponent < 0 ? "-" : "+") + (abs(exponent) < 10 ? "0" : "") + String(abs(exponent))
    }
    if d == d.rounded(), magnitude < 1e16 { return String(format: "%.1f", d) }
    return "\(d)"
}

/// Python's `repr()` of a str: single quotes unless the text holds one and no double quote.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote { out += "\\" + String(quote) }
            else if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\x%02x", scalar.value) }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + String(quote)
}
