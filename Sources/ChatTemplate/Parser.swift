/// Jinja's grammar, for the subset chat templates use. Precedence, loosest
/// first: `a if c else b`; `or`; `and`; `not`; comparisons and `in`; `+ -`;
/// `~`; `* / // %`; `**`; unary `-`; then a primary with its `.name`,
/// `[index]`, `(call)`, `| filter` and `is test` suffixes, so that
/// `'a' + x | trim` is `'a' + (x | trim)` and `not x is defined` is `not (x is defined)`.
struct Parser {
    /// Tags outside the subset, refused by name.
    static let unsupportedTags: Set = ["extends", "block", "include", "import", "from", "with", "autoescape", "call", "do", "trans",
                                      "endblock", "endwith", "endautoescape", "endcall"]

    var pieces: [Lexer.Piece]
    var index = 0

    init(_ pieces: [Lexer.Piece]) { self.pieces = pieces }

    static func parse(_ template: String) throws -> [Node] {
        var parser = Parser(try Lexer(template).pieces())
        let (nodes, end) = try parser.body(until: [])
        if let end { throw TemplateError("unexpected '{% \(end.name) %}'", line: end.line) }
        return nodes
    }

    /// Nodes up to one of the `ends` tags (returned with its tokens), or the end of the template (nil).
    mutating func body(until ends: Set<String>) throws -> ([Node], (name: String, tokens: TokenStream, line: Int)?) {
        var nodes: [Node] = []
        while index < pieces.count {
            let piece = pieces[index]
            index += 1
            switch piece {
            case .text(let s, _):
                nodes.append(.text(s))
            case .output(let tokens, let line):
                var stream = TokenStream(tokens, line: line)
                let e = try stream.tuple()
                try stream.expectEnd()
                nodes.append(.output(e))
            case .statement(let tokens, let line):
                var stream = TokenStream(tokens, line: line)
                guard let tag = stream.peek, tag.kind == .name else { throw TemplateError("a tag needs a name, e.g. {% if … %}", line: line) }
                if ends.contains(tag.text) {
                    stream.advance()
                    return (nodes, (tag.text, stream, line))
                }
                stream.advance()
                nodes += try statement(tag.text, &stream, line: line)
            }
        }
        return (nodes, nil)
    }

    mutating func block(_ opener: String, line: Int, ends: Set<String>) throws -> ([Node], (name: String, tokens: TokenStream, line: Int)) {
        let (nodes, end) = try body(until: ends)
        guard let end else {
            let expected = ends.sorted().map { "{% \($0) %}" }.joined(separator: " or ")
            throw TemplateError("'{% \(opener) %}' is never closed (expected \(expected))", line: line)
        }
        return (nodes, end)
    }

    mutating func statement(_ tag: String, _ s: inout TokenStream, line: Int) throws -> [Node] {
        switch tag {
        case "if":
            var branches: [(Expression, [Node])] = []
            var condition = try s.expression()
            try s.expectEnd()
            var otherwise: [Node] = []
            while true {
                let (nodes, end) = try block("if", line: line, ends: ["elif", "else", "endif"])
                var tokens = end.tokens
                switch end.name {
                case "elif":
                    branches.append((condition, nodes))
                    condition = try tokens.expression()
                    try tokens.expectEnd()
                    continue
                case "else":
                    branches.append((condition, nodes))
                    try tokens.expectEnd()
                    let (rest, close) = try block("if", line: line, ends: ["endif"])
                    let closing = close.tokens
                    try closing.expectEnd()
                    otherwise = rest
                default:
                    try tokens.expectEnd()
                    branches.append((condition, nodes))
                }
                break
            }
            return [.conditional(branches: branches, otherwise: otherwise)]
        case "for":
            let target = try s.assignTarget(allowMember: false)
            try s.expectName("in")
            let iterable = try s.tuple(conditional: false, extraEnds: ["recursive"])
            var filter: Expression? = nil
            if s.skipName("if") { filter = try s.expression() }
            if s.peekName("recursive") { throw TemplateError("unsupported Jinja construct 'recursive' loops", line: line) }
            try s.expectEnd()
            let (body, end) = try block("for", line: line, ends: ["else", "endfor"])
            var otherwise: [Node] = []
            let tokens = end.tokens
            try tokens.expectEnd()
            if end.name == "else" {
                let (rest, close) = try block("for", line: line, ends: ["endfor"])
                let closing = close.tokens
                try closing.expectEnd()
                otherwise = rest
            }
            return [.loop(Loop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line))]
        case "set":
            let target = try s.assignTarget(allowMember: true)
            if s.skipOp("=") {
                let value = try s.tuple()
                try s.expectEnd()
                return [.assign(target, value, line: line)]
            }
            var filters: [FilterCall] = []
            while s.skipOp("|") { filters.append(try s.filterCall()) }
            try s.expectEnd()
            let (body, end) = try block("set", line: line, ends: ["endset"])
            let tokens = end.tokens
            try tokens.expectEnd()
            return [.assignBlock(target, body: body, filters: filters, line: line)]
        case "macro":
            let name = try s.expectName()
            try s.expectOp("(")
            var parameters: [(String, Expression?)] = []
            while !s.skipOp(")") {
                if !parameters.isEmpty { try s.expectOp(",") }
                if s.skipOp(")") { break }
                let parameter = try s.expectName()
                parameters.append((parameter, s.skipOp("=") ? try s.expression() : nil))
            }
            try s.expectEnd()
            let (body, end) = try block("macro", line: line, ends: ["endmacro"])
            var tokens = end.tokens
            _ = tokens.skipName(name)
            try tokens.expectEnd()
            return [.macro(Macro(name: name, parameters: parameters, body: body, line: line))]
        case "filter":
            var filters = [try s.filterCall()]
            while s.skipOp("|") { filters.append(try s.filterCall()) }
            try s.expectEnd()
            let (body, end) = try block("filter", line: line, ends: ["endfilter"])
            let tokens = end.tokens
            try tokens.expectEnd()
            return [.filterBlock(filters: filters, body: body)]
        case "print":
            let e = try s.tuple()
            try s.expectEnd()
            return [.output(e)]
        case "break":
            try s.expectEnd()
            return [.breakLoop(line: line)]
        case "continue":
            try s.expectEnd()
            return [.continueLoop(line: line)]
        case "generation":
            // transformers' marker of the assistant's tokens: rendered as its body.
            try s.expectEnd()
            let (body, end) = try block("generation", line: line, ends: ["endgeneration"])
            let tokens = end.tokens
            try tokens.expectEnd()
            return body
        default:
            if Parser.unsupportedTags.contains(tag) { throw TemplateError("unsupported Jinja construct '{% \(tag) %}'", line: line) }
            if tag.hasPrefix("end") || ["elif", "else"].contains(tag) { throw TemplateError("unexpected '{% \(tag) %}'", line: line) }
            throw TemplateError("unknown tag '{% \(tag) %}'", line: line)
        }
    }
}

/// The tokens of one tag, consumed by the expression grammar.
struct TokenStream {
    let tokens: [Lexer.Token]
    var position = 0
    let line: Int

    init(_ tokens: [Lexer.Token], line: Int) { self.tokens = tokens; self.line = line }

    var peek: Lexer.Token? { position < tokens.count ? tokens[position] : nil }
    var currentLine: Int { peek?.line ?? tokens.last?.line ?? line }
    mutating func advance() { position += 1 }

    func peekOp(_ op: String) -> Bool { peek.map { $0.kind == .op && $0.text == op } ?? false }
    func peekName(_ name: String) -> Bool { peek.map { $0.kind == .name && $0.text == name } ?? false }
    mutating func skipOp(_ op: String) -> Bool { if peekOp(op) { advance(); return true }; return false }
    mutating func skipName(_ name: String) -> Bool { if peekName(name) { advance(); return true }; return false }

    func unexpected(_ wanted: String) -> TemplateError {
        guard let t = peek else { return TemplateError("expected \(wanted) before the end of the tag", line: currentLine) }
        return TemplateError("expected \(wanted), got '\(t.text)'", line: t.line)
    }

    mutating func expectOp(_ op: String) throws { guard skipOp(op) else { throw unexpected("'\(op)'") } }
    mutating func expectName(_ name: String) throws { guard skipName(name) else { throw unexpected("'\(name)'") } }
    mutating func expectName() throws -> String {
        guard let t = peek, t.kind == .name else { throw unexpected("a name") }
        advance()
        return t.text
    }
    func expectEnd() throws {
        if let t = peek { throw TemplateError("unexpected '\(t.text)' at the end of the tag", line: t.line) }
    }

    /// `name`, `a, b` (optionally in parentheses) or, where allowed, `ns.member`.
    mutating func assignTarget(allowMember: Bool) throws -> AssignTarget {
        let parenthesized = skipOp("(")
        let first = try expectName()
        if allowMember && !parenthesized && skipOp(".") { return .member(object: first, name: try expectName()) }
        var names = [first]
        var isTuple = parenthesized
        while skipOp(",") {
            isTuple = true
            if peekOp(")") || peekName("in") || peekOp("=") { break }
            names.append(try expectName())
        }
        if parenthesized { try expectOp(")") }
        return isTuple ? .names(names) : .name(first)
    }

    /// An expression, or several separated by commas (a tuple).
    mutating func tuple(conditional: Bool = true, extraEnds: Set<String> = []) throws -> Expression {
        var items: [Expression] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard skipOp(",") else { break }
                sawComma = true
            }
            if peek == nil || peekOp(")") || peek.map({ $0.kind == .name && extraEnds.contains($0.text) }) == true { break }
            if !conditional && peekName("if") { break }
            items.append(conditional ? try expression() : try or())
        }
        if items.isEmpty { throw unexpected("an expression") }
        return items.count == 1 && !sawComma ? items[0] : .tuple(items)
    }

    mutating func expression() throws -> Expression {
        var e = try or()
        while skipName("if") {
            let condition = try or()
            let otherwise = skipName("else") ? try expression() : nil
            e = .conditional(then: e, condition: condition, otherwise: otherwise)
        }
        return e
    }

    mutating func or() throws -> Expression {
        var e = try and()
        while skipName("or") { e = .or(e, try and()) }
        return e
    }

    mutating func and() throws -> Expression {
        var e = try not()
        while skipName("and") { e = .and(e, try not()) }
        return e
    }

    mutating func not() throws -> Expression {
        if skipName("not") { return .not(try not()) }
        return try comparison()
    }

    mutating func comparison() throws -> Expression {
        var left = try sum()
        var result: Expression? = nil
        while true {
            let line = currentLine
            var op: String
            if let t = peek, t.kind == .op, ["==", "!=", ">", ">=", "<", "<="].contains(t.text) { op = t.text; advance() }
            else if skipName("in") { op = "in" }
            else if peekName("not"), position + 1 < tokens.count, tokens[position + 1].kind == .name, tokens[position + 1].text == "in" {
                position += 2; op = "not in"
            } else { break }
            let right = try sum()
            let compared = Expression.binary(op, left, right, line: line)
            result = result.map { .and($0, compared) } ?? compared  // a < b < c: both hold
            left = right
        }
        return result ?? left
    }

    mutating func sum() throws -> Expression {
        var e = try concatenation()
        while let t = peek, t.kind == .op, t.text == "+" || t.text == "-" {
            advance()
            e = .binary(t.text, e, try concatenation(), line: t.line)
        }
        return e
    }

    mutating func concatenation() throws -> Expression {
        var e = try product()
        while let t = peek, t.kind == .op, t.text == "~" {
            advance()
            e = .binary("~", e, try product(), line: t.line)
        }
        return e
    }

    mutating func product() throws -> Expression {
        var e = try power()
        while let t = peek, t.kind == .op, ["*", "/", "//", "%"].contains(t.text) {
            advance()
            e = .binary(t.text, e, try power(), line: t.line)
        }
        return e
    }

    mutating func power() throws -> Expression {
        var e = try unary()
        while let t = peek, t.kind == .op, t.text == "**" {
            advance()
            e = .binary("**", e, try unary(), line: t.line)
        }
        return e
    }

    mutating func unary(filters: Bool = true) throws -> Expression {
        var e: Expression
        let line = currentLine
        if skipOp("-") { e = .negate(try unary(filters: false), line: line) }
        else if skipOp("+") { e = try unary(filters: false) }
        else { e = try primary() }
        e = try postfix(e)
        return filters ? try filterSuffixes(e) : e
    }

    mutating func primary() throws -> Expression {
        guard let t = peek else { throw unexpected("an expression") }
        switch t.kind {
        case .name:
            advance()
            switch t.text {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(t.text, line: t.line)
            }
        case .string:
            var s = t.text
            advance()
            while let next = peek, next.kind == .string { s += next.text; advance() }  // 'a' 'b' is 'ab'
            return .literal(.string(s))
        case .integer:
            advance()
            guard let i = Int(t.text) else { throw TemplateError("integer \(t.text) is too large", line: t.line) }
            return .literal(.int(i))
        case .float:
            advance()
            return .literal(.double(Double(t.text) ?? 0))
        case .op:
            if skipOp("(") {
                if skipOp(")") { return .tuple([]) }
                let e = try tuple()
                try expectOp(")")
                return e
            }
            if skipOp("[") {
                var items: [Expression] = []
                while !skipOp("]") {
                    if !items.isEmpty { try expectOp(","); if skipOp("]") { break } }
                    items.append(try expression())
                }
                return .list(items)
            }
            if skipOp("{") {
                var pairs: [(Expression, Expression)] = []
                while !skipOp("}") {
                    if !pairs.isEmpty { try expectOp(","); if skipOp("}") { break } }
                    let key = try expression()
                    try expectOp(":")
                    pairs.append((key, try expression()))
                }
                return .dict(pairs, line: t.line)
            }
            throw TemplateError("unexpected '\(t.text)'", line: t.line)
        }
    }

    mutating func postfix(_ start: Expression) throws -> Expression {
        var e = start
        while let t = peek, t.kind == .op {
            switch t.text {
            case ".":
                advance()
                guard let member = peek, member.kind == .name || member.kind == .integer else { throw unexpected("a member name after '.'") }
                advance()
                e = member.kind == .integer ? .index(e, .literal(.int(Int(member.text) ?? 0)), line: t.line) : .attribute(e, member.text, line: t.line)
            case "[":
                advance()
                e = try subscriptSuffix(e, line: t.line)
            case "(":
                advance()
                let (arguments, keywords) = try callArguments()
                e = .call(e, arguments: arguments, keywords: keywords, line: t.line)
            default:
                return e
            }
        }
        return e
    }

    mutating func subscriptSuffix(_ e: Expression, line: Int) throws -> Expression {
        func part() throws -> Expression? { peekOp(":") || peekOp("]") ? nil : try expression() }
        let start = try part()
        if skipOp(":") {
            let stop = try part()
            var step: Expression? = nil
            if skipOp(":") { step = try part() }
            try expectOp("]")
            return .slice(e, start: start, stop: stop, step: step, line: line)
        }
        guard var index = start else { throw unexpected("an index") }
        if peekOp(",") {
            var items = [index]
            while skipOp(",") { if peekOp("]") { break }; items.append(try expression()) }
            index = .tuple(items)
        }
        try expectOp("]")
        return .index(e, index, line: line)
    }

    /// Arguments up to and including ")": positional, then `name=value`.
    mutating func callArguments() throws -> ([Expression], [(String, Expression)]) {
        var arguments: [Expression] = [], keywords: [(String, Expression)] = []
        while !skipOp(")") {
            if !(arguments.isEmpty && keywords.isEmpty) { try expectOp(","); if skipOp(")") { break } }
            if peekOp("*") || peekOp("**") { throw TemplateError("unsupported Jinja construct '*args' in a call", line: currentLine) }
            if let t = peek, t.kind == .name, position + 1 < tokens.count, tokens[position + 1].kind == .op, tokens[position + 1].text == "=" {
                position += 2
                keywords.append((t.text, try expression()))
            } else {
                guard keywords.isEmpty else { throw TemplateError("a positional argument follows a keyword argument", line: currentLine) }
                arguments.append(try expression())
            }
        }
        return (arguments, keywords)
    }

    mutating func filterCall() throws -> FilterCall {
        let line = currentLine
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        var arguments: [Expression] = [], keywords: [(String, Expression)] = []
        if skipOp("(") { (arguments, keywords) = try callArguments() }
        return FilterCall(name: name, arguments: arguments, keywords: keywords, line: line)
    }

    mutating func filterSuffixes(_ start: Expression) throws -> Expression {
        var e = start
        while true {
            if skipOp("|") {
                e = .filter(e, try filterCall())
            } else if peekName("is") {
                let line = currentLine
                advance()
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var arguments: [Expression] = []
                if skipOp("(") {
                    let (positional, keywords) = try callArguments()
                    arguments = positional + keywords.map(\.1)
                } else if let t = peek, t.kind != .op || ["(", "[", "{"].contains(t.text),
                          !(t.kind == .name && ["else", "or", "and", "if", "is"].contains(t.text)) {
                    // One argument without parentheses: `x is divisibleby 3`.
                    arguments = [try postfix(try primary())]
                }
                e = .test(e, name: name, arguments: arguments, negated: negated, line: line)
            } else if peekOp("(") {
                advance()
                let line = currentLine
                let (arguments, keywords) = try callArguments()
                e = .call(e, arguments: arguments, keywords: keywords, line: line)
            } else {
                return e
            }
        }
    }
}
