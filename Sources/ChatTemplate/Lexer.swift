/// Splits a Jinja template into text and tags, and a tag into tokens, with
/// the whitespace rules Hugging Face renders chat templates with
/// (`trim_blocks=True, lstrip_blocks=True`, and jinja2's defaults):
///
/// - line endings become "\n", and one final newline of the template is dropped;
/// - `{%-`, `{{-`, `{#-` remove all whitespace before the tag, `-%}`, `-}}`, `-#}` all after it;
/// - trim_blocks: the first newline after `%}` or `#}` is removed (not after `}}`);
/// - lstrip_blocks: spaces and tabs from the start of a line up to `{%` or `{#` are removed;
/// - `{%+` and `+%}` turn the last two off for one tag.
struct Lexer {
    enum Piece {
        case text(String, line: Int)
        case output([Token], line: Int)
        case statement([Token], line: Int)
    }

    struct Token: Equatable {
        enum Kind: Equatable { case name, string, integer, float, op }
        let kind: Kind
        let text: String
        let line: Int
    }

    let source: [UInt8]
    let lineStarts: [Int]

    init(_ template: String) {
        var normalized = template.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if normalized.hasSuffix("\n") { normalized.removeLast() }
        source = Array(normalized.utf8)
        var starts = [0]
        for (i, b) in source.enumerated() where b == UInt8(ascii: "\n") { starts.append(i + 1) }
        lineStarts = starts
    }

    func line(at offset: Int) -> Int {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo + 1
    }

    func text(_ range: Range<Int>) -> String { String(decoding: source[range], as: UTF8.self) }

    func starts(_ literal: String, at i: Int) -> Bool {
        let bytes = Array(literal.utf8)
        guard i + bytes.count <= source.count else { return false }
        return source[i..<(i + bytes.count)].elementsEqual(bytes)
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    func pieces() throws -> [Piece] {
        var out: [Piece] = []
        var pos = 0
        var lineStarting = true
        while pos < source.count {
            guard let open = nextTagStart(from: pos) else {
                out.append(.text(text(pos..<source.count), line: line(at: pos)))
                break
            }
            let kind = source[open + 1]  // '{', '%' or '#'
            var sign: UInt8? = nil
            if open + 2 < source.count, source[open + 2] == UInt8(ascii: "-") || source[open + 2] == UInt8(ascii: "+") { sign = source[open + 2] }
            var textEnd = open
            if sign == UInt8(ascii: "-") {
                while textEnd > pos && Lexer.isSpace(source[textEnd - 1]) { textEnd -= 1 }
            } else if sign != UInt8(ascii: "+") && kind != UInt8(ascii: "{") {
                // lstrip_blocks: only spaces between the line's start and the tag.
                var lineStart = textEnd
                while lineStart > pos && source[lineStart - 1] != UInt8(ascii: "\n") { lineStart -= 1 }
                let atLineStart = lineStart > pos || (lineStart == pos && (lineStarting || pos == 0))
                if atLineStart && lineStart < textEnd && source[lineStart..<textEnd].allSatisfy(Lexer.isSpace) { textEnd = lineStart }
            }
            if textEnd > pos { out.append(.text(text(pos..<textEnd), line: line(at: pos))) }
            let bodyStart = open + 2 + (sign == nil ? 0 : 1)
            let tagLine = line(at: open)
            switch kind {
            case UInt8(ascii: "#"):
                guard let close = find("#}", from: bodyStart) else { throw TemplateError("missing end of comment tag '#}'", line: tagLine) }
                pos = afterTagEnd(close, length: 2, trims: true)
            case UInt8(ascii: "%") where isRawTag(bodyStart):
                let (content, end) = try raw(after: bodyStart, line: tagLine)
                if !content.isEmpty { out.append(.text(content, line: tagLine)) }
                pos = end
            default:
                let (tokens, close) = try tokens(from: bodyStart, output: kind == UInt8(ascii: "{"), line: tagLine)
                out.append(kind == UInt8(ascii: "{") ? .output(tokens, line: tagLine) : .statement(tokens, line: tagLine))
                pos = afterTagEnd(close, length: 2, trims: kind == UInt8(ascii: "%"))
            }
            lineStarting = pos > 0 && source[pos - 1] == UInt8(ascii: "\n")
        }
        return out
    }

    func nextTagStart(from i: Int) -> Int? {
        var j = i
        while j + 1 < source.count {
            if source[j] == UInt8(ascii: "{") {
                let n = source[j + 1]
                if n == UInt8(ascii: "{") || n == UInt8(ascii: "%") || n == UInt8(ascii: "#") { return j }
            }
            j += 1
        }
        return nil
    }

    func find(_ literal: String, from i: Int) -> Int? {
        var j = i
        while j < source.count {
            if starts(literal, at: j) { return j }
            j += 1
        }
        return nil
    }

    /// The position after a tag's closing delimiter at `close` (preceded by an optional sign):
    /// after "-" all following whitespace goes; after a plain block or comment end, one newline (trim_blocks).
    func afterTagEnd(_ close: Int, length: Int, trims: Bool) -> Int {
        var end = close + length
        let sign: UInt8? = close > 0 ? source[close - 1] : nil
        if sign == UInt8(ascii: "-") {
            while end < source.count && Lexer.isSpace(source[end]) { end += 1 }
        } else if trims && sign != UInt8(ascii: "+") && end < source.count && source[end] == UInt8(ascii: "\n") {
            end += 1
        }
        return end
    }

    func isRawTag(_ i: Int) -> Bool {
        var j = i
        while j < source.count && Lexer.isSpace(source[j]) { j += 1 }
        guard starts("raw", at: j) else { return false }
        j += 3
        while j < source.count && Lexer.isSpace(source[j]) { j += 1 }
        return starts("%}", at: j) || starts("-%}", at: j)
    }

    /// `{% raw %}…{% endraw %}`: the text between, untouched; returns it and the position after the end tag.
    func raw(after i: Int, line: Int) throws -> (String, Int) {
        var j = i
        while !starts("%}", at: j) { j += 1 }
        var contentStart = j + 2
        if source[j - 1] == UInt8(ascii: "-") { while contentStart < source.count && Lexer.isSpace(source[contentStart]) { contentStart += 1 } }
        var k = contentStart
        while k < source.count {
            if starts("{%", at: k) {
                var m = k + 2
                let sign: UInt8? = m < source.count && (source[m] == UInt8(ascii: "-") || source[m] == UInt8(ascii: "+")) ? source[m] : nil
                if sign != nil { m += 1 }
                while m < source.count && Lexer.isSpace(source[m]) { m += 1 }
                if starts("endraw", at: m) {
                    m += 6
                    while m < source.count && Lexer.isSpace(source[m]) { m += 1 }
                    let closeAt = starts("-%}", at: m) ? m + 1 : m
                    if starts("%}", at: closeAt) {
                        var contentEnd = k
                        if sign == UInt8(ascii: "-") { while contentEnd > contentStart && Lexer.isSpace(source[contentEnd - 1]) { contentEnd -= 1 } }
                        return (text(contentStart..<contentEnd), afterTagEnd(closeAt, length: 2, trims: true))
                    }
                }
            }
            k += 1
        }
        throw TemplateError("missing end of raw directive ('{% endraw %}')", line: line)
    }

    static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
                            ">", "<", "=", ".", ":", "|", ",", ";"]

    /// The tokens of a tag body up to its end delimiter ("}}" or "%}", outside brackets); returns where the delimiter starts.
    func tokens(from start: Int, output: Bool, line tagLine: Int) throws -> ([Token], Int) {
        let close = output ? "}}" : "%}"
        var tokens: [Token] = []
        var open: [String] = []  // closing brackets expected, innermost last
        var i = start
        while true {
            while i < source.count && Lexer.isSpace(source[i]) { i += 1 }
            guard i < source.count else {
                throw TemplateError("unexpected end of template: '\(close)' is missing", line: tagLine)
            }
            if open.isEmpty {
                if starts(close, at: i) { return (tokens, i) }
                if (source[i] == UInt8(ascii: "-") || (!output && source[i] == UInt8(ascii: "+"))) && starts(close, at: i + 1) { return (tokens, i + 1) }
            }
            let tokenLine = line(at: i)
            let b = source[i]
            if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                let (value, end) = try string(at: i, line: tokenLine)
                tokens.append(Token(kind: .string, text: value, line: tokenLine))
                i = end
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                var j = i
                func digits() { while j < source.count && (isDigit(source[j]) || (source[j] == UInt8(ascii: "_") && j + 1 < source.count && isDigit(source[j + 1]))) { j += 1 } }
                digits()
                var isFloat = false
                if j + 1 < source.count && source[j] == UInt8(ascii: ".") && isDigit(source[j + 1]) { isFloat = true; j += 1; digits() }
                if j < source.count && (source[j] == UInt8(ascii: "e") || source[j] == UInt8(ascii: "E")) {
                    var k = j + 1
                    if k < source.count && (source[k] == UInt8(ascii: "+") || source[k] == UInt8(ascii: "-")) { k += 1 }
                    if k < source.count && isDigit(source[k]) { isFloat = true; j = k; digits() }
                }
                tokens.append(Token(kind: isFloat ? .float : .integer, text: text(i..<j).replacingOccurrences(of: "_", with: ""), line: tokenLine))
                i = j
            } else if isNameStart(b) {
                var j = i + 1
                while j < source.count && (isNameStart(source[j]) || isDigit(source[j])) { j += 1 }
                tokens.append(Token(kind: .name, text: text(i..<j), line: tokenLine))
                i = j
            } else if let op = Lexer.operators.first(where: { starts($0, at: i) }) {
                switch op {
                case "(": open.append(")")
                case "[": open.append("]")
                case "{": open.append("}")
                case ")", "]", "}":
                    guard let expected = open.popLast() else { throw TemplateError("unexpected '\(op)'", line: tokenLine) }
                    guard expected == op else { throw TemplateError("unexpected '\(op)', expected '\(expected)'", line: tokenLine) }
                default: break
                }
                tokens.append(Token(kind: .op, text: op, line: tokenLine))
                i += op.utf8.count
            } else {
                let scalar = String(decoding: source[i..<min(i + 4, source.count)], as: UTF8.self).first.map(String.init) ?? "?"
                throw TemplateError("unexpected character '\(scalar)' in a tag", line: tokenLine)
            }
        }
    }

    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    func isNameStart(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || b == UInt8(ascii: "_") || b >= 0x80
    }

    /// A quoted string literal, its escapes decoded as Python's: \n \t \r \\ \' \" \xhh \uhhhh \Uhhhhhhhh and
    /// octal; any other backslash stays as it is.
    func string(at start: Int, line: Int) throws -> (String, Int) {
        let quote = source[start]
        var bytes: [UInt8] = []
        var i = start + 1
        while i < source.count {
            let b = source[i]
            if b == quote { return (String(decoding: bytes, as: UTF8.self), i + 1) }
            if b == UInt8(ascii: "\\"), i + 1 < source.count {
                let e = source[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "a"): bytes.append(0x07)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "v"): bytes.append(0x0B)
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): bytes.append(e)
                case UInt8(ascii: "\n"): break
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                    guard i + count <= source.count, let value = UInt32(text(i..<(i + count)), radix: 16), let scalar = Unicode.Scalar(value) else {
                        throw TemplateError("malformed \\\(Character(Unicode.Scalar(e))) escape in a string", line: line)
                    }
                    bytes += Array(String(Character(scalar)).utf8)
                    i += count
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = UInt32(e - UInt8(ascii: "0"))
                    var n = 1
                    while n < 3 && i < source.count && source[i] >= UInt8(ascii: "0") && source[i] <= UInt8(ascii: "7") {
                        value = value * 8 + UInt32(source[i] - UInt8(ascii: "0")); i += 1; n += 1
                    }
                    bytes += Array(String(Character(Unicode.Scalar(value)!)).utf8)
                default: bytes += [UInt8(ascii: "\\"), e]
                }
                continue
            }
            bytes.append(b)
            i += 1
        }
        throw TemplateError("unterminated string literal", line: line)
    }
}
