/// Token ids as text, the way `tinygpt tokenizer encode` prints them and
/// `decode` and `logits` read them.
public enum TokenIdText {
    /// "1 2 3\n" or "[1, 2, 3]\n", built as bytes (String joining is slow for millions of ids).
    public static func format(_ ids: [Int], json: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 6 + 3)
        if json { out.append(UInt8(ascii: "[")) }
        var digits = [UInt8](repeating: 0, count: 20)
        for (k, id) in ids.enumerated() {
            if k > 0 {
                if json { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: " "))
            }
            var v = id, n = 0
            if v < 0 { out.append(UInt8(ascii: "-")); v = -v }
            repeat { digits[n] = UInt8(48 + v % 10); v /= 10; n += 1 } while v > 0
            while n > 0 { n -= 1; out.append(digits[n]) }
        }
        if json { out.append(UInt8(ascii: "]")) }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Ids separated by whitespace or by commas ("1 2 3", "1, 2, 3"), optionally
    /// inside one pair of brackets ("[1, 2, 3]"), as `encode` prints them.
    /// Anything else (nested or stray brackets, empty elements) is refused.
    /// A byte scan: fast for millions of ids.
    public static func parse(_ source: String, vocabSize: Int) throws -> [Int] {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        var bytes = Array(source.utf8)[...]
        while let b = bytes.first, isSpace(b) { bytes = bytes.dropFirst() }
        while let b = bytes.last, isSpace(b) { bytes = bytes.dropLast() }
        if bytes.first == 0x5B {
            guard bytes.last == 0x5D, bytes.count >= 2 else { throw TokenizerError("ids: '[' without a closing ']'; give \"1 2 3\" or \"[1, 2, 3]\"") }
            bytes = bytes.dropFirst().dropLast()
        }
        var ids: [Int] = []
        var word: [UInt8] = []
        var commaPending = false  // a comma seen since the last id
        func element() throws {
            guard !word.isEmpty else { return }
            guard word.count <= 18, word.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                throw TokenizerError("'\(String(decoding: word, as: UTF8.self))' is not a token id (ids are integers 0...\(vocabSize - 1), separated by spaces or commas)")
            }
            ids.append(word.reduce(0) { $0 * 10 + Int($1 - 48) })
            word.removeAll(keepingCapacity: true)
            commaPending = false
        }
        for b in bytes {
            if isSpace(b) {
                try element()
            } else if b == 0x2C {
                try element()
                guard !ids.isEmpty, !commaPending else { throw TokenizerError("ids: an empty element before a ','; give \"1 2 3\" or \"[1, 2, 3]\"") }
                commaPending = true
            } else if b == 0x5B || b == 0x5D {
                throw TokenizerError("ids: a stray '\(b == 0x5B ? "[" : "]")'; give \"1 2 3\" or one list \"[1, 2, 3]\"")
            } else {
                word.append(b)
            }
        }
        try element()
        if commaPending { throw TokenizerError("ids: a trailing ','; give \"1 2 3\" or \"[1, 2, 3]\"") }
        return ids
    }
}
