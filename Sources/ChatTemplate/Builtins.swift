import Foundation

/// Positional and keyword arguments of a filter, method or global, bound to parameter names.
struct Arguments {
    let function: String
    let positional: [TemplateValue]
    let keywords: [(String, TemplateValue)]
    let line: Int

    /// Refuses more positional arguments than `parameters` or a keyword that is not one of them.
    func check(_ parameters: [String]) throws {
        if positional.count > parameters.count {
            throw TemplateError("\(function) takes at most \(parameters.count) argument\(parameters.count == 1 ? "" : "s"), got \(positional.count)", line: line)
        }
        if let k = keywords.first(where: { !parameters.contains($0.0) }) {
            throw TemplateError("\(function) has no parameter '\(k.0)'", line: line)
        }
    }

    subscript(_ i: Int, _ name: String) -> TemplateValue? {
        if i < positional.count { return positional[i] }
        return keywords.first { $0.0 == name }?.1
    }

    func string(_ i: Int, _ name: String) throws -> String? {
        guard let v = self[i, name] else { return nil }
        if case .none = v { return nil }
        guard case .string(let s) = v else { throw TemplateError("\(function): '\(name)' must be a string, got \(v.typeName)", line: line) }
        return s
    }

    func int(_ i: Int, _ name: String) throws -> Int? {
        guard let v = self[i, name] else { return nil }
        if case .none = v { return nil }
        guard let n = v.integer else { throw TemplateError("\(function): '\(name)' must be an integer, got \(v.typeName)", line: line) }
        return n
    }

    func bool(_ i: Int, _ name: String) -> Bool? { self[i, name].map(\.truthy) }
}

extension Interpreter {
    static let filters: Set = ["trim", "length", "count", "upper", "lower", "capitalize", "title", "default", "d", "tojson", "first", "last",
                               "items", "join", "replace", "string", "int", "float", "list", "reverse", "sort", "unique", "map", "select",
                               "reject", "selectattr", "rejectattr", "abs", "round", "min", "max", "sum", "indent", "safe", "escape", "e"]
    static let tests: Set = ["defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
                             "iterable", "sequence", "callable", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt",
                             "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "lower", "upper", "sameas", "escaped"]

    /// The globals Hugging Face gives a chat template.
    static func globals() -> [String: TemplateValue] {
        [
            "raise_exception": .function(TemplateFunction(name: "raise_exception") { arguments, _, line in
                throw TemplateError(arguments.first?.text ?? "", line: line, raisedByTemplate: true)
            }),
            "namespace": .function(TemplateFunction(name: "namespace") { arguments, keywords, line in
                var members = TemplateDictionary()
                for a in arguments {
                    guard case .dict(let d) = a else { throw TemplateError("namespace() takes a dictionary or name=value pairs", line: line) }
                    for e in d.entries { members[e.key] = e.value }
                }
                for (k, v) in keywords { members[k] = v }
                return .namespace(TemplateNamespace(members))
            }),
            "dict": .function(TemplateFunction(name: "dict") { arguments, keywords, line in
                var d = TemplateDictionary()
                for a in arguments {
                    guard case .dict(let other) = a else { throw TemplateError("dict() takes a dictionary or name=value pairs", line: line) }
                    for e in other.entries { d[e.key] = e.value }
                }
                for (k, v) in keywords { d[k] = v }
                return .dict(d)
            }),
            "range": .function(TemplateFunction(name: "range") { arguments, _, line in
                let n = try arguments.map { v -> Int in
                    guard let i = v.integer else { throw TemplateError("range() takes integers, got \(v.typeName)", line: line) }
                    return i
                }
                let (start, stop, step): (Int, Int, Int)
                switch n.count {
                case 1: (start, stop, step) = (0, n[0], 1)
                case 2: (start, stop, step) = (n[0], n[1], 1)
                case 3: (start, stop, step) = (n[0], n[1], n[2])
                default: throw TemplateError("range() takes 1 to 3 integers, got \(n.count)", line: line)
                }
                guard step != 0 else { throw TemplateError("range() step must not be zero", line: line) }
                let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
                guard count <= 100_000 else { throw TemplateError("range() of \(count) items is too long for a chat template", line: line) }
                return .list(stride(from: start, to: stop, by: step).map { .int($0) })
            }),
            "strftime_now": .function(TemplateFunction(name: "strftime_now") { arguments, _, line in
                guard case .string(let format)? = arguments.first else { throw TemplateError("strftime_now() takes a format string", line: line) }
                var now = time(nil)
                var parts = tm()
                localtime_r(&now, &parts)
                var buffer = [Int8](repeating: 0, count: 256)
                let n = strftime(&buffer, buffer.count, format, &parts)
                return .string(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }),
        ]
    }

    // MARK: members

    /// `value.name`: a method or member first, then an item, as jinja2's getattr.
    func member(_ value: TemplateValue, _ name: String, line: Int) throws -> TemplateValue {
        switch value {
        case .undefined(let why):
            throw TemplateError(why, line: line)
        case .dict(let d):
            if let method = dictionaryMethod(d, name) { return .function(method) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.members[name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
        case .string(let s):
            if let method = stringMethod(s, name) { return .function(method) }
        case .list(let items), .tuple(let items):
            if let method = listMethod(items, name) { return .function(method) }
        default:
            break
        }
        return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }

    func dictionaryMethod(_ d: TemplateDictionary, _ name: String) -> TemplateFunction? {
        switch name {
        case "items": return TemplateFunction(name: "dict.items") { _, _, _ in .list(d.entries.map { .tuple([.string($0.key), $0.value]) }) }
        case "keys": return TemplateFunction(name: "dict.keys") { _, _, _ in .list(d.entries.map { .string($0.key) }) }
        case "values": return TemplateFunction(name: "dict.values") { _, _, _ in .list(d.entries.map(\.value)) }
        case "get":
            return TemplateFunction(name: "dict.get") { arguments, keywords, line in
                let a = Arguments(function: "dict.get()", positional: arguments, keywords: keywords, line: line)
                try a.check(["key", "default"])
                guard case .string(let key)? = a[0, "key"] else { return a[1, "default"] ?? .none }
                return d[key] ?? a[1, "default"] ?? .none
            }
        case "pop", "update", "clear", "setdefault", "popitem", "copy", "fromkeys":
            return TemplateFunction(name: "dict.\(name)") { _, _, line in
                throw TemplateError("dict.\(name)() is not available in a chat template (dictionaries cannot be changed)", line: line)
            }
        default: return nil
        }
    }

    func listMethod(_ items: [TemplateValue], _ name: String) -> TemplateFunction? {
        switch name {
        case "index":
            return TemplateFunction(name: "list.index") { arguments, _, line in
                guard let x = arguments.first, let i = items.firstIndex(where: { templateEqual($0, x) }) else {
                    throw TemplateError("list.index(): the value is not in the list", line: line)
                }
                return .int(i)
            }
        case "count":
            return TemplateFunction(name: "list.count") { arguments, _, _ in
                .int(arguments.first.map { x in items.filter { templateEqual($0, x) }.count } ?? 0)
            }
        case "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse":
            return TemplateFunction(name: "list.\(name)") { _, _, line in
                throw TemplateError("list.\(name)() is not available in a chat template (lists cannot be changed; use namespace())", line: line)
            }
        default: return nil
        }
    }

    func stringMethod(_ s: String, _ name: String) -> TemplateFunction? {
        func method(_ body: @escaping (Arguments) throws -> TemplateValue) -> TemplateFunction {
            TemplateFunction(name: "str.\(name)") { arguments, keywords, line in
                try body(Arguments(function: "str.\(name)()", positional: arguments, keywords: keywords, line: line))
            }
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            return method { a in
                try a.check(["chars"])
                return .string(pythonStrip(s, chars: try a.string(0, "chars"), leading: name != "rstrip", trailing: name != "lstrip"))
            }
        case "startswith", "endswith":
            return method { a in
                try a.check(["prefix"])
                let candidates: [TemplateValue]
                switch a[0, "prefix"] {
                case .tuple(let items)?, .list(let items)?: candidates = items
                case let v?: candidates = [v]
                case nil: throw TemplateError("str.\(name)() needs an argument", line: a.line)
                }
                return .bool(try candidates.contains { c in
                    guard case .string(let p) = c else { throw TemplateError("str.\(name)() takes strings, got \(c.typeName)", line: a.line) }
                    return name == "startswith" ? s.unicodeScalars.starts(with: p.unicodeScalars)
                                                : s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed())
                })
            }
        case "split", "rsplit":
            return method { a in
                try a.check(["sep", "maxsplit"])
                return .list(pythonSplit(s, separator: try a.string(0, "sep"), maxSplit: try a.int(1, "maxsplit") ?? -1, fromRight: name == "rsplit")
                    .map { .string($0) })
            }
        case "splitlines":
            return method { _ in .list(s.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline }).map { .string(String($0)) }
                .dropLast(s.last?.isNewline == true || s.isEmpty ? 1 : 0)) }
        case "upper": return method { _ in .string(s.uppercased()) }
        case "lower": return method { _ in .string(s.lowercased()) }
        case "title": return method { _ in .string(pythonTitle(s)) }
        case "capitalize": return method { _ in .string(capitalized(s)) }
        case "replace":
            return method { a in
                try a.check(["old", "new", "count"])
                guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                    throw TemplateError("str.replace() needs old and new strings", line: a.line)
                }
                return .string(replacing(s, old, new, count: try a.int(2, "count") ?? -1))
            }
        case "find", "rfind", "count":
            return method { a in
                try a.check(["sub"])
                guard let sub = try a.string(0, "sub") else { throw TemplateError("str.\(name)() needs a string", line: a.line) }
                let scalars = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
                var found: [Int] = []
                var i = 0
                while i + needle.count <= scalars.count {
                    if Array(scalars[i..<(i + needle.count)]) == needle { found.append(i); i += max(needle.count, 1) } else { i += 1 }
                }
                if name == "count" { return .int(found.count) }
                return .int((name == "find" ? found.first : found.last) ?? -1)
            }
        case "join":
            return method { a in
                try a.check(["iterable"])
                guard let items = a[0, "iterable"] else { throw TemplateError("str.join() needs a list", line: a.line) }
                return .string(try items.iterated(line: a.line).map { v -> String in
                    guard case .string(let t) = v else { throw TemplateError("str.join(): expected strings, got \(v.typeName)", line: a.line) }
                    return t
                }.joined(separator: s))
            }
        case "removeprefix", "removesuffix":
            return method { a in
                guard let affix = try a.string(0, "affix") else { throw TemplateError("str.\(name)() needs a string", line: a.line) }
                if name == "removeprefix", s.hasPrefix(affix) { return .string(String(s.unicodeScalars.dropFirst(affix.unicodeScalars.count))) }
                if name == "removesuffix", s.hasSuffix(affix) { return .string(String(s.unicodeScalars.dropLast(affix.unicodeScalars.count))) }
                return .string(s)
            }
        case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower":
            return method { _ in
                let scalars = s.unicodeScalars
                switch name {
                case "isdigit": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
                case "isalpha": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic })
                case "isalnum": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
                case "isspace": return .bool(!scalars.isEmpty && scalars.allSatisfy(isPythonSpace))
                case "isupper": return .bool(scalars.contains { $0.properties.isCased } && !scalars.contains { $0.properties.isLowercase })
                default: return .bool(scalars.contains { $0.properties.isCased } && !scalars.contains { $0.properties.isUppercase })
                }
            }
        default: return nil
        }
    }

    // MARK: filters

    func applyFilter(_ call: FilterCall, to value: TemplateValue, _ scope: Scope) throws -> TemplateValue {
        let a = Arguments(function: "filter '\(call.name)'", positional: try call.arguments.map { try evaluate($0, scope) },
                          keywords: try call.keywords.map { ($0.0, try evaluate($0.1, scope)) }, line: call.line)
        return try filter(call.name, value, a)
    }

    func filter(_ name: String, _ value: TemplateValue, _ a: Arguments) throws -> TemplateValue {
        let line = a.line
        func strict(_ v: TemplateValue) throws -> TemplateValue {
            if case .undefined(let why) = v { throw TemplateError(why, line: line) }
            return v
        }
        switch name {
        case "trim":
            try a.check(["chars"])
            return .string(pythonStrip(value.text, chars: try a.string(0, "chars"), leading: true, trailing: true))
        case "length", "count":
            try a.check([])
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .list(let items), .tuple(let items): return .int(items.count)
            case .dict(let d): return .int(d.count)
            default: throw TemplateError("object of type '\(value.typeName)' has no len()", line: line)
            }
        case "upper": return .string(value.text.uppercased())
        case "lower": return .string(value.text.lowercased())
        case "capitalize": return .string(capitalized(value.text))
        case "title":
            // jinja2's title: words begin after spaces, '-', '(', '{', '[' and '<'.
            var out = "", atStart = true
            for scalar in value.text.unicodeScalars {
                let boundary = isPythonSpace(scalar) || "-({[<".unicodeScalars.contains(scalar)
                out += atStart && !boundary ? String(scalar).uppercased() : String(scalar).lowercased()
                atStart = boundary
            }
            return .string(out)
        case "default", "d":
            try a.check(["default_value", "boolean"])
            let useDefault = value.isUndefined || (a.bool(1, "boolean") == true && !value.truthy)
            return useDefault ? (a[0, "default_value"] ?? .string("")) : value
        case "tojson":
            try a.check(["ensure_ascii", "indent", "separators", "sort_keys"])
            var separators = (item: ", ", key: ": ")
            let indent = try a.int(1, "indent")
            if indent != nil { separators.item = "," }
            if case .tuple(let s)? = a[2, "separators"], s.count == 2, case .string(let i) = s[0], case .string(let k) = s[1] { separators = (i, k) }
            if case .list(let s)? = a[2, "separators"], s.count == 2, case .string(let i) = s[0], case .string(let k) = s[1] { separators = (i, k) }
            return .string(try pythonJSON(value, indent: indent, level: 0, separators: separators, asciiOnly: a.bool(0, "ensure_ascii") ?? false,
                                          sortKeys: a.bool(3, "sort_keys") ?? false, line: line))
        case "first", "last":
            try a.check([])
            let items = try strict(value).iterated(line: line)
            return (name == "first" ? items.first : items.last) ?? .undefined("no \(name) item, the sequence was empty")
        case "items":
            try a.check([])
            switch value {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.entries.map { .tuple([.string($0.key), $0.value]) })
            default: throw TemplateError("the items filter needs a mapping, got \(value.typeName)", line: line)
            }
        case "join":
            try a.check(["d", "attribute"])
            let separator = try a.string(0, "d") ?? ""
            var items = try value.iterated(line: line)
            if let attribute = a[1, "attribute"] { items = try items.map { try attributeValue($0, attribute, line: line) } }
            return .string(items.map(\.text).joined(separator: separator))
        case "replace":
            try a.check(["old", "new", "count"])
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else { throw TemplateError("replace needs old and new strings", line: line) }
            return .string(replacing(value.text, old, new, count: try a.int(2, "count") ?? -1))
        case "string", "safe":
            return name == "safe" ? value : .string(value.text)
        case "escape", "e":
            var out = ""
            for c in value.text {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.append(c)
                }
            }
            return .string(out)
        case "int":
            try a.check(["default", "base"])
            let fallback = a[0, "default"] ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces)
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            try a.check(["default"])
            let fallback = a[0, "default"] ?? .double(0)
            switch value {
            case .int, .bool, .double: return .double(value.number!)
            case .string(let s): return Double(s.trimmingCharacters(in: .whitespaces)).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "list":
            try a.check([])
            return .list(try value.iterated(line: line))
        case "reverse":
            try a.check([])
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try strict(value).iterated(line: line).reversed())
        case "sort", "unique":
            try a.check(name == "sort" ? ["reverse", "case_sensitive", "attribute"] : ["case_sensitive", "attribute"])
            let caseSensitive = a.bool(name == "sort" ? 1 : 0, "case_sensitive") ?? false
            let attribute = a[name == "sort" ? 2 : 1, "attribute"]
            func key(_ v: TemplateValue) throws -> TemplateValue {
                let k = try attribute.map { try attributeValue(v, $0, line: line) } ?? v
                if !caseSensitive, case .string(let s) = k { return .string(s.lowercased()) }
                return k
            }
            let items = try strict(value).iterated(line: line)
            if name == "unique" {
                var seen: [TemplateValue] = [], out: [TemplateValue] = []
                for item in items {
                    let k = try key(item)
                    if !seen.contains(where: { templateEqual($0, k) }) { seen.append(k); out.append(item) }
                }
                return .list(out)
            }
            let keyed = try items.map { (try key($0), $0) }
            let descending = a.bool(0, "reverse") == true
            var failure: TemplateError?
            let sorted = keyed.enumerated().sorted { x, y in
                do {
                    let order = try compare(x.element.0, y.element.0, op: "<", line: line)
                    return order != 0 ? (descending ? order > 0 : order < 0) : x.offset < y.offset
                } catch { failure = error as? TemplateError; return false }
            }.map(\.element.1)
            if let failure { throw failure }
            return .list(sorted)
        case "map":
            let items = try value.iterated(line: line)
            if let attribute = a.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = a.keywords.first(where: { $0.0 == "default" })?.1
                return .list(try items.map { item in
                    let v = try attributeValue(item, attribute, line: line)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard case .string(let filterName)? = a.positional.first else { throw TemplateError("map needs a filter name or attribute=", line: line) }
            guard Interpreter.filters.contains(filterName) else { throw TemplateError("unsupported Jinja construct: filter '\(filterName)'", line: line) }
            let rest = Arguments(function: "filter '\(filterName)'", positional: Array(a.positional.dropFirst()), keywords: a.keywords, line: line)
            return .list(try items.map { try filter(filterName, $0, rest) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            var positional = a.positional
            var attribute: TemplateValue? = nil
            if byAttribute {
                guard !positional.isEmpty else { throw TemplateError("\(name) needs an attribute name", line: line) }
                attribute = positional.removeFirst()
            }
            var testName: String? = nil
            if !positional.isEmpty {
                guard case .string(let t) = positional.removeFirst() else { throw TemplateError("\(name): the test must be named by a string", line: line) }
                guard Interpreter.tests.contains(t) else { throw TemplateError("unsupported Jinja construct: test '\(t)'", line: line) }
                testName = t
            }
            let keep = name.hasPrefix("select")
            return .list(try value.iterated(line: line).filter { item in
                let subject = try attribute.map { try attributeValue(item, $0, line: line) } ?? item
                let passes = try testName.map { try applyTest($0, subject, positional, line: line) } ?? subject.truthy
                return passes == keep
            })
        case "abs":
            switch value {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw TemplateError("bad operand type for abs(): '\(value.typeName)'", line: line)
            }
        case "round":
            try a.check(["precision", "method"])
            guard let x = value.number else { throw TemplateError("round needs a number, got \(value.typeName)", line: line) }
            let precision = try a.int(0, "precision") ?? 0
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule
            switch try a.string(1, "method") ?? "common" {
            case "common": rule = .toNearestOrEven  // Python's round()
            case "ceil": rule = .up
            case "floor": rule = .down
            case let m: throw TemplateError("round: method must be common, ceil or floor, got '\(m)'", line: line)
            }
            return .double((x * scale).rounded(rule) / scale)
        case "min", "max":
            try a.check(["case_sensitive", "attribute"])
            let items = try strict(value).iterated(line: line)
            guard var best = items.first else { return .undefined("no \(name) item, the sequence was empty") }
            for item in items.dropFirst() {
                let order = try compare(item, best, op: "<", line: line)
                if (name == "min" && order < 0) || (name == "max" && order > 0) { best = item }
            }
            return best
        case "sum":
            try a.check(["attribute", "start"])
            var total = a[1, "start"] ?? .int(0)
            for item in try value.iterated(line: line) {
                total = try binary("+", total, try a[0, "attribute"].map { try attributeValue(item, $0, line: line) } ?? item, line: line)
            }
            return total
        case "indent":
            try a.check(["width", "first", "blank"])
            let pad: String
            if case .string(let s)? = a[0, "width"] { pad = s } else { pad = String(repeating: " ", count: try a.int(0, "width") ?? 4) }
            let lines = value.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let blank = a.bool(2, "blank") ?? false
            var out: [String] = []
            for (i, l) in lines.enumerated() {
                let indentThis = i == 0 ? (a.bool(1, "first") ?? false) : (blank || !l.trimmingCharacters(in: .whitespaces).isEmpty)
                out.append(indentThis && (blank || !l.isEmpty || i == 0) ? pad + l : l)
            }
            return .string(out.joined(separator: "\n"))
        default:
            throw TemplateError("unsupported Jinja construct: filter '\(name)'", line: line)
        }
    }

    /// An item's attribute for filters that take `attribute=` (dotted paths and integer indices allowed).
    func attributeValue(_ item: TemplateValue, _ attribute: TemplateValue, line: Int) throws -> TemplateValue {
        if let i = attribute.integer { return try self.item(item, .int(i), line: line) }
        guard case .string(let path) = attribute else { throw TemplateError("attribute must be a string, got \(attribute.typeName)", line: line) }
        var v = item
        for part in path.split(separator: ".") {
            if case .undefined = v { return v }
            v = try self.item(v, Int(part).map { .int($0) } ?? .string(String(part)), line: line)
        }
        return v
    }

    // MARK: tests

    func applyTest(_ name: String, _ v: TemplateValue, _ arguments: [TemplateValue], line: Int) throws -> Bool {
        func argument() throws -> TemplateValue {
            guard let first = arguments.first else { throw TemplateError("test '\(name)' needs an argument", line: line) }
            return first
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "number": return v.number != nil
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable":
            switch v { case .string, .list, .tuple, .dict, .undefined: return true; default: return false }
        case "sequence":
            switch v { case .string, .list, .tuple, .dict: return true; default: return false }
        case "callable": if case .function = v { return true }; return false
        case "odd", "even":
            guard let i = v.integer else { throw TemplateError("test '\(name)' needs an integer, got \(v.typeName)", line: line) }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            guard let i = v.integer, let n = try argument().integer, n != 0 else { throw TemplateError("divisibleby needs non-zero integers", line: line) }
            return i % n == 0
        case "eq", "equalto", "==": return templateEqual(v, try argument())
        case "ne", "!=": return !templateEqual(v, try argument())
        case "lt", "lessthan", "<": return try compare(v, try argument(), op: "<", line: line) < 0
        case "le", "<=": return try compare(v, try argument(), op: "<=", line: line) <= 0
        case "gt", "greaterthan", ">": return try compare(v, try argument(), op: ">", line: line) > 0
        case "ge", ">=": return try compare(v, try argument(), op: ">=", line: line) >= 0
        case "in": return try contains(try argument(), v, line: line)
        case "lower": if case .string(let s) = v { return s == s.lowercased() }; return false
        case "upper": if case .string(let s) = v { return s == s.uppercased() }; return false
        case "sameas":
            switch (v, try argument()) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "escaped": return false
        default: throw TemplateError("unsupported Jinja construct: test '\(name)'", line: line)
        }
    }
}

// MARK: Python's string rules

/// Python's str.isspace for one character.
func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
    s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
}

func pythonStrip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
    let strip: (Unicode.Scalar) -> Bool = chars.map { set in { set.unicodeScalars.contains($0) } } ?? isPythonSpace
    var scalars = Substring(s).unicodeScalars[...]
    if leading { while let f = scalars.first, strip(f) { scalars.removeFirst() } }
    if trailing { while let l = scalars.last, strip(l) { scalars.removeLast() } }
    return String(String.UnicodeScalarView(scalars))
}

func pythonSplit(_ s: String, separator: String?, maxSplit: Int, fromRight: Bool) -> [String] {
    let scalars = Array(s.unicodeScalars)
    var parts: [String] = []
    guard let separator else {
        // Runs of whitespace separate; no empty parts.
        var words: [(Int, Int)] = []
        var i = 0
        while i < scalars.count {
            while i < scalars.count && isPythonSpace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            let start = i
            while i < scalars.count && !isPythonSpace(scalars[i]) { i += 1 }
            words.append((start, i))
        }
        guard maxSplit >= 0, words.count > maxSplit + 1 else { return words.map { String(String.UnicodeScalarView(scalars[$0.0..<$0.1])) } }
        if fromRight {
            let kept = words.suffix(maxSplit)
            let head = pythonStrip(String(String.UnicodeScalarView(scalars[0..<kept.first!.0])), chars: nil, leading: true, trailing: true)
            return [head] + kept.map { String(String.UnicodeScalarView(scalars[$0.0..<$0.1])) }
        }
        let kept = words.prefix(maxSplit)
        let tail = pythonStrip(String(String.UnicodeScalarView(scalars[kept.last!.1...])), chars: nil, leading: true, trailing: true)
        return kept.map { String(String.UnicodeScalarView(scalars[$0.0..<$0.1])) } + [tail]
    }
    let sep = Array(separator.unicodeScalars)
    guard !sep.isEmpty else { return [s] }
    var cuts: [Int] = []
    var i = 0
    while i + sep.count <= scalars.count {
        if Array(scalars[i..<(i + sep.count)]) == sep { cuts.append(i); i += sep.count } else { i += 1 }
    }
    if maxSplit >= 0 && cuts.count > maxSplit { cuts = fromRight ? Array(cuts.suffix(maxSplit)) : Array(cuts.prefix(maxSplit)) }
    var start = 0
    for c in cuts {
        parts.append(String(String.UnicodeScalarView(scalars[start..<c])))
        start = c + sep.count
    }
    parts.append(String(String.UnicodeScalarView(scalars[start...])))
    return parts
}

/// Python's str.title: a letter after a letter is lower case, any other letter upper case.
func pythonTitle(_ s: String) -> String {
    var out = "", previousCased = false
    for scalar in s.unicodeScalars {
        let cased = scalar.properties.isCased
        out += cased ? (previousCased ? String(scalar).lowercased() : String(scalar).uppercased()) : String(scalar)
        previousCased = cased
    }
    return out
}

func capitalized(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return String(first).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
}

func replacing(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    if count < 0 { return old.isEmpty ? s : s.replacingOccurrences(of: old, with: new) }
    var out = "", rest = Substring(s), n = 0
    while n < count, !old.isEmpty, let r = rest.range(of: old) {
        out += rest[..<r.lowerBound] + new
        rest = rest[r.upperBound...]
        n += 1
    }
    return out + rest
}

/// Python's json.dumps as transformers' tojson calls it (ensure_ascii=False unless asked).
func pythonJSON(_ v: TemplateValue, indent: Int?, level: Int, separators: (item: String, key: String), asciiOnly: Bool,
                sortKeys: Bool, line: Int) throws -> String {
    func nested(_ x: TemplateValue) throws -> String {
        try pythonJSON(x, indent: indent, level: level + 1, separators: separators, asciiOnly: asciiOnly, sortKeys: sortKeys, line: line)
    }
    func container(_ open: String, _ close: String, _ parts: [String]) -> String {
        if parts.isEmpty { return open + close }
        guard let indent else { return open + parts.joined(separator: separators.item) + close }
        let inner = "\n" + String(repeating: " ", count: indent * (level + 1))
        let outer = "\n" + String(repeating: " ", count: indent * level)
        return open + inner + parts.joined(separator: separators.item + inner) + outer + close
    }
    switch v {
    case .none: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d):
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        return pythonFloat(d)
    case .string(let s): return jsonQuote(s, asciiOnly: asciiOnly)
    case .list(let items), .tuple(let items): return container("[", "]", try items.map(nested))
    case .dict(let d):
        let entries = sortKeys ? d.entries.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } : d.entries
        return container("{", "}", try entries.map { jsonQuote($0.key, asciiOnly: asciiOnly) + separators.key + (try nested($0.value)) })
    case .undefined(let why): throw TemplateError("tojson: \(why)", line: line)
    default: throw TemplateError("tojson: a \(v.typeName) has no JSON form", line: line)
    }
}

func jsonQuote(_ s: String, asciiOnly: Bool) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7F) {
                if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                } else {
                    out += String(format: "\\u%04x", scalar.value)
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
