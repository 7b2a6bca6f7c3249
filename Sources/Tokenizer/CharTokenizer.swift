import Foundation

/// Character-level tokenizer, as nanoGPT's shakespeare_char: the vocabulary is the distinct
/// Unicode scalars (code points, like Python's `str`) of the training text sorted by value,
/// then the special tokens. Stored as a `WordLevel` tokenizer.json (see docs/tokenizer.md).
public final class CharTokenizer: Tokenizer, @unchecked Sendable {
    /// The scalar of each id below `chars.count`.
    public let chars: [Unicode.Scalar]
    public let specialTokens: [String: Int]
    public var vocabSize: Int { chars.count + specialTokens.count }
    private let idOf: [UInt32: Int]
    private let specialMatcher: SpecialMatcher
    private let specialById: [Int: String]
    private let bytesOf: [[UInt8]]

    /// Vocabulary from the distinct characters of `trainingText` (which must not be empty).
    public convenience init(trainingText: String, specialTokens: [String] = []) throws {
        try BPETokenizer.checkSpecials(specialTokens)
        // Specials are cut out first so their characters are not learned from them.
        var specialIds: [String: Int] = [:]
        for (k, s) in specialTokens.enumerated() { specialIds[s] = k }
        let matcher = SpecialMatcher(specialIds)
        var set = Set<UInt32>()
        var t = trainingText
        t.withUTF8 { buf in
            guard let p = buf.baseAddress else { return }
            for s in matcher.segments(p, buf.count) where s.special < 0 {
                let seg = String(decoding: UnsafeBufferPointer(start: p + s.start, count: s.end - s.start), as: UTF8.self)
                for u in seg.unicodeScalars { set.insert(u.value) }
            }
        }
        guard !set.isEmpty else { throw TokenizerError("the training text is empty (no text outside special tokens)") }
        let chars = set.sorted().map { Unicode.Scalar($0)! }
        var specials: [String: Int] = [:]
        for (k, s) in specialTokens.enumerated() { specials[s] = chars.count + k }
        try self.init(chars: chars, specialTokens: specials)
    }

    /// From parts: `chars[i]` has id i; specials have ids from `chars.count` on (any order).
    public init(chars: [Unicode.Scalar], specialTokens: [String: Int]) throws {
        self.chars = chars
        self.specialTokens = specialTokens
        var map: [UInt32: Int] = [:]
        for (i, c) in chars.enumerated() {
            if map[c.value] != nil { throw TokenizerError("character U+\(String(c.value, radix: 16, uppercase: true)) appears twice in the vocabulary") }
            map[c.value] = i
        }
        idOf = map
        let ids = Set(specialTokens.values)
        guard ids == Set(chars.count..<(chars.count + specialTokens.count)) else {
            throw TokenizerError("special token ids must be \(chars.count)...\(chars.count + specialTokens.count - 1) (after the characters), got \(specialTokens.values.sorted())")
        }
        specialMatcher = SpecialMatcher(specialTokens)
        specialById = Dictionary(uniqueKeysWithValues: specialTokens.map { ($1, $0) })
        bytesOf = chars.map { Array(String($0).utf8) }
    }

    /// Throws for a character outside the vocabulary, naming it, its code point, its character
    /// offset (scalars, 0-based) and its line and column (1-based).
    public func encode(_ text: String) throws -> [Int] {
        var out: [Int] = []
        var t = text
        var failure: TokenizerError?
        t.withUTF8 { buf in
            guard let p = buf.baseAddress else { return }
            var scalarOffset = 0, line = 1, column = 1
            for s in specialMatcher.segments(p, buf.count) {
                let seg = UnsafeBufferPointer(start: p + s.start, count: s.end - s.start)
                if s.special >= 0 {
                    out.append(s.special)
                    let n = String(decoding: seg, as: UTF8.self).unicodeScalars.count
                    scalarOffset += n; column += n
                    continue
                }
                for u in String(decoding: seg, as: UTF8.self).unicodeScalars {
                    guard let id = idOf[u.value] else {
                        failure = TokenizerError("character \(describe(u)) at character offset \(scalarOffset) (line \(line), column \(column)) is not in the vocabulary of \(chars.count) characters")
                        return
                    }
                    out.append(id)
                    scalarOffset += 1
                    if u == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            if id >= 0 && id < chars.count {
                out.append(contentsOf: bytesOf[id])
            } else if let s = specialById[id] {
                out.append(contentsOf: s.utf8)
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            }
        }
        return out
    }
}

/// `'x' (U+0078)`, with invisible characters shown by code point only.
func describe(_ u: Unicode.Scalar) -> String {
    let code = "U+" + String(format: "%04X", u.value)
    if u.properties.isWhitespace || u.properties.generalCategory == .control || u.properties.generalCategory == .format {
        return code
    }
    return "'\(u)' (\(code))"
}
