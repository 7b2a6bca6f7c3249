import Foundation

/// Variables visible at a point of the template. A `for` body gets a new
/// scope each iteration and a macro call one of its own; `if` does not, so
/// `{% set %}` inside a loop is forgotten after it (which is why templates
/// use `namespace()`), as in jinja2.
final class Scope {
    var variables: [String: TemplateValue] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> TemplateValue? {
        var scope: Scope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// Renders parsed nodes. Expressions follow Python's semantics for the
/// operators, as jinja2 does; an error names the template line.
struct Interpreter {
    enum Flow { case normal, breakLoop, continueLoop }

    func render(_ nodes: [Node], _ scope: Scope, into out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let s):
                out += s
            case .output(let e):
                out += try evaluate(e, scope).text
            case .conditional(let branches, let otherwise):
                var taken = false
                for branch in branches where try evaluate(branch.condition, scope).truthy {
                    let flow = try render(branch.body, scope, into: &out)
                    if flow != .normal { return flow }
                    taken = true
                    break
                }
                if !taken {
                    let flow = try render(otherwise, scope, into: &out)
                    if flow != .normal { return flow }
                }
            case .loop(let loop):
                try run(loop, scope, into: &out)
            case .assign(let target, let e, let line):
                try assign(target, try evaluate(e, scope), scope, line: line)
            case .assignBlock(let target, let body, let filters, let line):
                var text = ""
                _ = try render(body, scope, into: &text)
                var value = TemplateValue.string(text)
                for f in filters { value = try applyFilter(f, to: value, scope) }
                try assign(target, value, scope, line: line)
            case .macro(let macro):
                scope.variables[macro.name] = .function(makeMacro(macro, definedIn: scope))
            case .filterBlock(let filters, let body):
                var text = ""
                _ = try render(body, scope, into: &text)
                var value = TemplateValue.string(text)
                for f in filters { value = try applyFilter(f, to: value, scope) }
                out += value.text
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    func run(_ loop: Loop, _ scope: Scope, into out: inout String) throws {
        var items = try evaluate(loop.iterable, scope).iterated(line: loop.line)
        if let filter = loop.filter {
            // The filter sees each item as the loop variable, before `loop` exists; loop.length counts what passes.
            items = try items.filter { item in
                let probe = Scope(parent: scope)
                try assign(loop.target, item, probe, line: loop.line)
                return try evaluate(filter, probe).truthy
            }
        }
        if items.isEmpty {
            _ = try render(loop.otherwise, scope, into: &out)
            return
        }
        let count = items.count
        for (i, item) in items.enumerated() {
            let body = Scope(parent: scope)
            var info = TemplateDictionary([("index", .int(i + 1)), ("index0", .int(i)), ("revindex", .int(count - i)),
                                           ("revindex0", .int(count - i - 1)), ("first", .bool(i == 0)), ("last", .bool(i == count - 1)),
                                           ("length", .int(count)), ("depth", .int(1)), ("depth0", .int(0))])
            if i > 0 { info["previtem"] = items[i - 1] }
            if i + 1 < count { info["nextitem"] = items[i + 1] }
            info["cycle"] = .function(TemplateFunction(name: "loop.cycle") { arguments, _, line in
                guard !arguments.isEmpty else { throw TemplateError("loop.cycle() needs at least one value", line: line) }
                return arguments[i % arguments.count]
            })
            body.variables["loop"] = .dict(info)
            try assign(loop.target, item, body, line: loop.line)
            if try render(loop.body, body, into: &out) == .breakLoop { break }
        }
    }

    func assign(_ target: AssignTarget, _ value: TemplateValue, _ scope: Scope, line: Int) throws {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .names(let names):
            let items: [TemplateValue]
            switch value {
            case .list(let a), .tuple(let a): items = a
            default: items = try value.iterated(line: line)
            }
            guard items.count == names.count else {
                throw TemplateError("cannot unpack \(items.count) value\(items.count == 1 ? "" : "s") into \(names.count) names (\(names.joined(separator: ", ")))", line: line)
            }
            for (name, item) in zip(names, items) { scope.variables[name] = item }
        case .member(let object, let name):
            guard case .namespace(let ns)? = scope.lookup(object) else {
                throw TemplateError("'\(object).\(name)' can only be set when '\(object)' is a namespace()", line: line)
            }
            ns.members[name] = value
        }
    }

    func makeMacro(_ macro: Macro, definedIn scope: Scope) -> TemplateFunction {
        TemplateFunction(name: macro.name) { arguments, keywords, line in
            guard arguments.count <= macro.parameters.count else {
                throw TemplateError("macro '\(macro.name)' takes \(macro.parameters.count) arguments, got \(arguments.count)", line: line)
            }
            let local = Scope(parent: scope)
            for (i, parameter) in macro.parameters.enumerated() {
                if i < arguments.count { local.variables[parameter.name] = arguments[i]; continue }
                if let given = keywords.first(where: { $0.0 == parameter.name }) { local.variables[parameter.name] = given.1; continue }
                local.variables[parameter.name] = try parameter.defaultValue.map { try evaluate($0, local) }
                    ?? .undefined("parameter '\(parameter.name)' of macro '\(macro.name)' was not given")
            }
            if let unknown = keywords.first(where: { k in !macro.parameters.contains { $0.name == k.0 } }) {
                throw TemplateError("macro '\(macro.name)' has no parameter '\(unknown.0)'", line: line)
            }
            var text = ""
            _ = try render(macro.body, local, into: &text)
            return .string(text)
        }
    }

    // MARK: expressions

    func evaluate(_ e: Expression, _ scope: Scope) throws -> TemplateValue {
        switch e {
        case .literal(let v):
            return v
        case .name(let name, _):
            return scope.lookup(name) ?? .undefined("'\(name)' is undefined")
        case .list(let items):
            return .list(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs, let line):
            var d = TemplateDictionary()
            for (k, v) in pairs {
                guard case .string(let key) = try evaluate(k, scope) else { throw TemplateError("dictionary keys must be strings here", line: line) }
                d[key] = try evaluate(v, scope)
            }
            return .dict(d)
        case .attribute(let object, let name, let line):
            return try member(try evaluate(object, scope), name, line: line)
        case .index(let object, let index, let line):
            return try item(try evaluate(object, scope), try evaluate(index, scope), line: line)
        case .slice(let object, let start, let stop, let step, let line):
            let value = try evaluate(object, scope)
            func bound(_ e: Expression?) throws -> Int? {
                guard let e else { return nil }
                let v = try evaluate(e, scope)
                if case .none = v { return nil }
                guard let i = v.integer else { throw TemplateError("slice indices must be integers, got \(v.typeName)", line: line) }
                return i
            }
            return try slice(value, start: try bound(start), stop: try bound(stop), step: try bound(step), line: line)
        case .call(let callee, let arguments, let keywords, let line):
            let f = try evaluate(callee, scope)
            let args = try arguments.map { try evaluate($0, scope) }
            let kws = try keywords.map { ($0.0, try evaluate($0.1, scope)) }
            switch f {
            case .function(let fn): return try fn.call(args, kws, line)
            case .undefined(let why): throw TemplateError(why, line: line)
            default: throw TemplateError("'\(f.typeName)' object is not callable", line: line)
            }
        case .filter(let value, let call):
            return try applyFilter(call, to: try evaluate(value, scope), scope)
        case .test(let value, let name, let arguments, let negated, let line):
            let result = try applyTest(name, try evaluate(value, scope), try arguments.map { try evaluate($0, scope) }, line: line)
            return .bool(result != negated)
        case .not(let e):
            return .bool(!(try evaluate(e, scope).truthy))
        case .negate(let e, let line):
            switch try evaluate(e, scope) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case .bool(let b): return .int(b ? -1 : 0)
            case .undefined(let why): throw TemplateError(why, line: line)
            case let v: throw TemplateError("bad operand type for unary -: '\(v.typeName)'", line: line)
            }
        case .and(let a, let b):
            let left = try evaluate(a, scope)
            return left.truthy ? try evaluate(b, scope) : left
        case .or(let a, let b):
            let left = try evaluate(a, scope)
            return left.truthy ? left : try evaluate(b, scope)
        case .conditional(let then, let condition, let otherwise):
            if try evaluate(condition, scope).truthy { return try evaluate(then, scope) }
            return try otherwise.map { try evaluate($0, scope) } ?? .undefined("the conditional expression has no else branch")
        case .binary(let op, let a, let b, let line):
            return try binary(op, try evaluate(a, scope), try evaluate(b, scope), line: line)
        }
    }

    func binary(_ op: String, _ a: TemplateValue, _ b: TemplateValue, line: Int) throws -> TemplateValue {
        switch op {
        case "==": return .bool(templateEqual(a, b))
        case "!=": return .bool(!templateEqual(a, b))
        case "<", "<=", ">", ">=":
            let order = try compare(a, b, op: op, line: line)
            switch op {
            case "<": return .bool(order < 0)
            case "<=": return .bool(order <= 0)
            case ">": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "in": return .bool(try contains(b, a, line: line))
        case "not in": return .bool(!(try contains(b, a, line: line)))
        case "~": return .string(a.text + b.text)
        default: break
        }
        if case .undefined(let why) = a { throw TemplateError(why, line: line) }
        if case .undefined(let why) = b { throw TemplateError(why, line: line) }
        func unsupported() -> TemplateError {
            TemplateError("unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'", line: line)
        }
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> TemplateValue {
            guard !r.overflow else { throw TemplateError("integer overflow in \(op)", line: line) }
            return .int(r.partialValue)
        }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("+", .tuple(let x), .tuple(let y)): return .tuple(x + y)
        case ("*", .string(let s), _), ("*", _, .string(let s)):
            guard let n = (a.integer ?? b.integer), !(a.integer != nil && b.integer != nil) else { throw unsupported() }
            return .string(String(repeating: s, count: max(0, n)))
        case ("*", .list(let l), _), ("*", _, .list(let l)):
            guard let n = (a.integer ?? b.integer) else { throw unsupported() }
            return .list(Array(Array(repeating: l, count: max(0, n)).joined()))
        default: break
        }
        guard let x = a.number, let y = b.number else {
            if op == "%", case .string = a { throw TemplateError("unsupported Jinja construct '%' string formatting", line: line) }
            throw unsupported()
        }
        if let i = a.integer, let j = b.integer {
            switch op {
            case "+": return try checked(i.addingReportingOverflow(j))
            case "-": return try checked(i.subtractingReportingOverflow(j))
            case "*": return try checked(i.multipliedReportingOverflow(by: j))
            case "//", "%":
                guard j != 0 else { throw TemplateError("integer division or modulo by zero", line: line) }
                var q = i / j, r = i % j
                if r != 0 && ((r < 0) != (j < 0)) { q -= 1; r += j }  // Python floors
                return .int(op == "//" ? q : r)
            case "**" where j >= 0:
                var result = 1
                for _ in 0..<j { result = try checked(result.multipliedReportingOverflow(by: i)).integer! }
                return .int(result)
            default: break
            }
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/":
            guard y != 0 else { throw TemplateError("division by zero", line: line) }
            return .double(x / y)
        case "//":
            guard y != 0 else { throw TemplateError("float floor division by zero", line: line) }
            return .double((x / y).rounded(.down))
        case "%":
            guard y != 0 else { throw TemplateError("float modulo by zero", line: line) }
            let r = x.truncatingRemainder(dividingBy: y)
            return .double(r != 0 && ((r < 0) != (y < 0)) ? r + y : r)
        case "**": return .double(pow(x, y))
        default: throw unsupported()
        }
    }

    /// -1, 0 or 1, as Python orders numbers, strings (by code point) and sequences.
    func compare(_ a: TemplateValue, _ b: TemplateValue, op: String, line: Int) throws -> Int {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            for (p, q) in zip(x.unicodeScalars, y.unicodeScalars) where p != q { return p.value < q.value ? -1 : 1 }
            let (m, n) = (x.unicodeScalars.count, y.unicodeScalars.count)
            return m == n ? 0 : (m < n ? -1 : 1)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !templateEqual(p, q) { return try compare(p, q, op: op, line: line) }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        default:
            if case .undefined(let why) = a { throw TemplateError(why, line: line) }
            if case .undefined(let why) = b { throw TemplateError(why, line: line) }
            guard let x = a.number, let y = b.number else {
                throw TemplateError("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", line: line)
            }
            return x == y ? 0 : (x < y ? -1 : 1)
        }
    }

    /// Python's `needle in container`.
    func contains(_ container: TemplateValue, _ needle: TemplateValue, line: Int) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else { throw TemplateError("'in <string>' requires a string on the left, not '\(needle.typeName)'", line: line) }
            return n.isEmpty || s.contains(n)
        case .list(let items), .tuple(let items): return items.contains { templateEqual($0, needle) }
        case .dict(let d):
            guard case .string(let key) = needle else { return false }
            return d[key] != nil
        case .namespace(let ns):
            guard case .string(let key) = needle else { return false }
            return ns.members[key] != nil
        case .undefined: return false
        default: throw TemplateError("argument of type '\(container.typeName)' is not iterable", line: line)
        }
    }

    /// `value[index]`: an item first, then (for a string index) a member, as jinja2's getitem.
    func item(_ value: TemplateValue, _ index: TemplateValue, line: Int) throws -> TemplateValue {
        switch (value, index) {
        case (.undefined(let why), _):
            throw TemplateError(why, line: line)
        case (.dict(let d), .string(let key)):
            if let v = d[key] { return v }
            return try member(value, key, line: line)
        case (.namespace, .string(let key)):
            return try member(value, key, line: line)
        case (.list(let items), _), (.tuple(let items), _):
            if case .string(let name) = index { return try member(value, name, line: line) }
            guard let i = index.integer else { break }
            let j = i < 0 ? items.count + i : i
            guard j >= 0 && j < items.count else { return .undefined("\(value.typeName) index \(i) out of range") }
            return items[j]
        case (.string(let s), _):
            if case .string(let name) = index { return try member(value, name, line: line) }
            guard let i = index.integer else { break }
            let scalars = Array(s.unicodeScalars)
            let j = i < 0 ? scalars.count + i : i
            guard j >= 0 && j < scalars.count else { return .undefined("string index \(i) out of range") }
            return .string(String(scalars[j]))
        default:
            if case .string(let name) = index { return try member(value, name, line: line) }
        }
        return .undefined("'\(value.typeName) object' has no item \(index.repr)")
    }

    func slice(_ value: TemplateValue, start: Int?, stop: Int?, step: Int?, line: Int) throws -> TemplateValue {
        let step = step ?? 1
        guard step != 0 else { throw TemplateError("slice step cannot be zero", line: line) }
        func indices(_ count: Int) -> [Int] {
            func clamp(_ i: Int?, _ fallback: Int, low: Int, high: Int) -> Int {
                guard var i else { return fallback }
                if i < 0 { i += count }
                return min(max(i, low), high)
            }
            if step > 0 {
                let a = clamp(start, 0, low: 0, high: count), b = clamp(stop, count, low: 0, high: count)
                return a < b ? Array(stride(from: a, to: b, by: step)) : []
            }
            let a = clamp(start, count - 1, low: -1, high: count - 1), b = clamp(stop, -1, low: -1, high: count - 1)
            return a > b ? Array(stride(from: a, to: b, by: step)) : []
        }
        switch value {
        case .list(let items): return .list(indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(indices(items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined(let why): throw TemplateError(why, line: line)
        default: throw TemplateError("'\(value.typeName)' object cannot be sliced", line: line)
        }
    }
}
