/// The split patterns real tokenizers use, hand-written (Swift `Regex` is far too slow).
/// `split` reproduces GPT-2's `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
/// `splitLlama3` LLaMA-3's and Qwen2's, `splitDigits` the `Digits` pre-tokenizer; all over
/// Unicode scalars: \p{L} = general categories L*, \p{N} = N*, \s = White_Space (the same
/// sets Oniguruma uses). Input is valid UTF-8 bytes.
enum PreTokenizer {
    /// The Unicode version whose character classes the split follows (see docs/tokenizer.md).
    static let unicodeCutoff: (major: Int, minor: Int) = (16, 0)
    static let letter: UInt8 = 0, number: UInt8 = 1, space: UInt8 = 2, other: UInt8 = 3

    /// Classes of the Basic Multilingual Plane, computed once on first use (Swift runs a static
    /// initializer exactly once, thread-safely), then only read: threads share it without
    /// races. Planes above are looked up directly.
    static let bmpClass: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        var v = 0
        while v < 0x10000 {
            if let run = uniformRuns.first(where: { $0.range.contains(v) }) {
                (p + v).update(repeating: run.class, count: run.range.count)
                v = run.range.upperBound
            } else {
                p[v] = classify(UInt32(v))
                v += 1
            }
        }
        return p
    }()

    /// Ranges of the BMP whose scalars all have one class, filled without asking
    /// the stdlib about each (the table's cost at start-up is those questions):
    /// CJK ideographs (Extension A and the unified block) and Hangul syllables
    /// are letters, surrogates and private use are other. A test holds the
    /// table to `classify` for every scalar.
    static let uniformRuns: [(range: Range<Int>, class: UInt8)] = [
        (0x3400..<0x4DC0, letter), (0x4E00..<0xA000, letter), (0xAC00..<0xD7A4, letter),
        (0xD800..<0xE000, other), (0xE000..<0xF900, other),
    ]

    @inline(__always)
    static func bmp(_ table: UnsafeMutablePointer<UInt8>, _ v: Int) -> UInt8 { table[v] }

    // Never inlined: it touches resilient stdlib types (GeneralCategory) whose unknown size
    // would otherwise cost a metadata call and a stack allocation in every hot caller.
    @inline(never)
    static func classify(_ v: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(v) else { return other }  // surrogates never occur in valid UTF-8
        let p = s.properties
        // Code points assigned after `unicodeCutoff` count as unassigned (other), as in the
        // Oniguruma tables `tokenizers` uses; without this, e.g. CJK Extension J (Unicode 17)
        // would be letters here but not there.
        guard let age = p.age, age.major < unicodeCutoff.major || (age.major == unicodeCutoff.major && age.minor <= unicodeCutoff.minor) else { return other }
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }

    /// The scalar class and byte length at `i`.
    @inline(__always)
    static func scalarClass(_ p: UnsafePointer<UInt8>, _ i: Int, _ table: UnsafeMutablePointer<UInt8>) -> (UInt8, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (table[Int(b0)], 1) }
        if b0 < 0xE0 {
            let v = (b0 & 0x1F) << 6 | (UInt32(p[i + 1]) & 0x3F)
            return (bmp(table, Int(v)), 2)
        }
        if b0 < 0xF0 {
            let v = (b0 & 0x0F) << 12 | (UInt32(p[i + 1]) & 0x3F) << 6 | (UInt32(p[i + 2]) & 0x3F)
            return (bmp(table, Int(v)), 3)
        }
        let v = (b0 & 0x07) << 18 | (UInt32(p[i + 1]) & 0x3F) << 12 | (UInt32(p[i + 2]) & 0x3F) << 6 | (UInt32(p[i + 3]) & 0x3F)
        return (classify(v), 4)
    }

    /// Calls `body(start, end)` for each piece starting in `from..<to`. `limit` (≥ `to`) is the
    /// end of the string as the regex sees it (the whitespace look-ahead may look up to it).
    /// `to` must be a piece boundary (see `isSafeSplit`) or equal to `limit`.
    @inline(__always)
    static func split(_ p: UnsafePointer<UInt8>, from: Int, to: Int, limit end: Int, _ body: (Int, Int) -> Void) {
        let table = bmpClass
        var i = from
        while i < to {
            let c = p[i]
            // Contractions: 's 't 'm 'd 're 've 'll (case-sensitive, as in GPT-2).
            if c == 0x27 && i + 1 < end {
                let c1 = p[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 {
                    body(i, i + 2); i += 2; continue
                }
                if i + 2 < end {
                    let c2 = p[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        body(i, i + 3); i += 3; continue
                    }
                }
            }
            var (cls, n) = scalarClass(p, i, table)
            var j = i + n
            // ` ?X+`: an ASCII space joins a following letter/number/other run.
            if c == 0x20 && j < end {
                let (cls2, n2) = scalarClass(p, j, table)
                if cls2 != space { cls = cls2; j += n2 }
            }
            if cls != space {
                while j < end {
                    let (k, m) = scalarClass(p, j, table)
                    if k != cls { break }
                    j += m
                }
                body(i, j); i = j; continue
            }
            // Whitespace: `\s+(?!\S)` leaves the last whitespace scalar for the next piece
            // when a non-space follows; a single one then matches `\s+` alone.
            var lastStart = i
            while j < end {
                let (k, m) = scalarClass(p, j, table)
                if k != space { break }
                lastStart = j
                j += m
            }
            if j < end && lastStart > i { j = lastStart }
            body(i, j); i = j
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:
    /// LLaMA-3's pattern (maxDigits 3) and Qwen2's (maxDigits 1), with the same classes and
    /// arguments as `split`.
    @inline(__always)
    static func splitLlama3(_ p: UnsafePointer<UInt8>, from: Int, to: Int, limit end: Int, maxDigits: Int, _ body: (Int, Int) -> Void) {
        let table = bmpClass
        var i = from
        while i < to {
            let c = p[i]
            if c == 0x27, let n = contraction(p, i + 1, end) { body(i, i + 1 + n); i += 1 + n; continue }
            let (cls, n) = scalarClass(p, i, table)
            // [^\r\n\p{L}\p{N}]?\p{L}+: a letter run, with one leading non-newline, non-number character.
            var letterStart = -1
            if cls == letter {
                letterStart = i
            } else if cls != number && c != 0x0A && c != 0x0D && i + n < end && scalarClass(p, i + n, table).0 == letter {
                letterStart = i + n
            }
            if letterStart >= 0 {
                var j = letterStart
                while j < end {
                    let (k, m) = scalarClass(p, j, table)
                    if k != letter { break }
                    j += m
                }
                body(i, j); i = j; continue
            }
            if cls == number {
                var j = i + n, count = 1
                while j < end && count < maxDigits {
                    let (k, m) = scalarClass(p, j, table)
                    if k != number { break }
                    j += m; count += 1
                }
                body(i, j); i = j; continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            var otherStart = -1
            if cls == other {
                otherStart = i
            } else if c == 0x20 && i + 1 < end && scalarClass(p, i + 1, table).0 == other {
                otherStart = i + 1
            }
            if otherStart >= 0 {
                var j = otherStart
                while j < end {
                    let (k, m) = scalarClass(p, j, table)
                    if k != other { break }
                    j += m
                }
                while j < end && (p[j] == 0x0A || p[j] == 0x0D) { j += 1 }
                body(i, j); i = j; continue
            }
            // Whitespace. `\s*[\r\n]+` ends after the run's last newline, if it has one.
            var j = i, lastNewline = -1, lastStart = i
            while j < end {
                let (k, m) = scalarClass(p, j, table)
                if k != space { break }
                if p[j] == 0x0A || p[j] == 0x0D { lastNewline = j }
                lastStart = j
                j += m
            }
            if lastNewline >= 0 { body(i, lastNewline + 1); i = lastNewline + 1; continue }
            // `\s+(?!\S)|\s+`, as in `split`.
            if j < end && lastStart > i { j = lastStart }
            body(i, j); i = j
        }
    }

    /// The length after the apostrophe of a case-insensitive contraction at `i`
    /// (s t m d re ve ll; `ſ` folds to s, as in Oniguruma's case folding), or nil.
    @inline(__always)
    static func contraction(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        guard i < end else { return nil }
        let a = p[i]
        if a == 0xC5 && i + 1 < end && p[i + 1] == 0xBF { return 2 }  // U+017F LATIN SMALL LETTER LONG S
        guard isASCIILetter(a) else { return nil }
        let l1 = a | 0x20
        if l1 == 0x73 || l1 == 0x74 || l1 == 0x6D || l1 == 0x64 { return 1 }
        guard i + 1 < end, isASCIILetter(p[i + 1]) else { return nil }
        let l2 = p[i + 1] | 0x20
        if (l1 == 0x72 && l2 == 0x65) || (l1 == 0x76 && l2 == 0x65) || (l1 == 0x6C && l2 == 0x6C) { return 2 }
        return nil
    }

    @inline(__always) static func isASCIILetter(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }

    /// `Digits`: each number character its own piece (`individual`), or each run of them.
    @inline(__always)
    static func splitDigits(_ p: UnsafePointer<UInt8>, from: Int, to: Int, individual: Bool, _ body: (Int, Int) -> Void) {
        let table = bmpClass
        var i = from, pieceStart = from
        while i < to {
            let (k, m) = scalarClass(p, i, table)
            if k != number { i += m; continue }
            if i > pieceStart { body(pieceStart, i) }
            var j = i + m
            if !individual {
                while j < to {
                    let (k2, m2) = scalarClass(p, j, table)
                    if k2 != number { break }
                    j += m2
                }
            }
            body(i, j)
            i = j; pieceStart = j
        }
        if to > pieceStart { body(pieceStart, to) }
    }

    /// The scalar value and byte length of the valid UTF-8 at `i`.
    @inline(__always)
    static func scalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | (UInt32(p[i + 1]) & 0x3F), 2) }
        if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | (UInt32(p[i + 1]) & 0x3F) << 6 | (UInt32(p[i + 2]) & 0x3F), 3) }
        return ((b0 & 0x07) << 18 | (UInt32(p[i + 1]) & 0x3F) << 12 | (UInt32(p[i + 2]) & 0x3F) << 6 | (UInt32(p[i + 3]) & 0x3F), 4)
    }

    /// `WhitespaceSplit` (`punctuation` false) and `BertPreTokenizer` (true): the runs between
    /// whitespace (White_Space, as Rust's `char::is_whitespace`), which is dropped; with
    /// `punctuation`, each of BERT's punctuation characters is a piece of its own.
    @inline(__always)
    static func splitWhitespace(_ p: UnsafePointer<UInt8>, from: Int, to: Int, punctuation: Bool, _ body: (Int, Int) -> Void) {
        var i = from, pieceStart = from
        while i < to {
            let (v, n) = scalar(p, i)
            let c = BertCharacters.classes(v)
            if c & BertCharacters.whitespace != 0 {
                if i > pieceStart { body(pieceStart, i) }
                i += n; pieceStart = i
            } else if punctuation && c & BertCharacters.punctuation != 0 {
                if i > pieceStart { body(pieceStart, i) }
                body(i, i + n)
                i += n; pieceStart = i
            } else {
                i += n
            }
        }
        if to > pieceStart { body(pieceStart, to) }
    }

    /// True if a piece boundary is certain at `i` whatever came before: the previous byte is
    /// a newline (whitespace that is not the space a ` ?X+` piece may start with) and the byte
    /// at `i` is ASCII non-whitespace (so no whitespace run crosses `i`).
    @inline(__always)
    static func isSafeSplit(_ p: UnsafePointer<UInt8>, _ i: Int) -> Bool {
        let c = p[i]
        return p[i - 1] == 0x0A && c < 0x80 && c != 0x20 && !(0x09...0x0D).contains(c)
    }
}

/// Finds special tokens in text, leftmost-longest (as the Hugging Face added-token matcher).
/// A token with `lstrip` (`rstrip`) also takes the whitespace before (after) it, as in
/// `tokenizers`, never reaching into the token matched before.
struct SpecialMatcher {
    private var byFirstByte: [[(bytes: [UInt8], id: Int)]] = Array(repeating: [], count: 256)
    let isEmpty: Bool
    private let leftStripping: Set<Int>, rightStripping: Set<Int>

    init(_ specials: [String: Int], lstrip: Set<String> = [], rstrip: Set<String> = []) {
        isEmpty = specials.isEmpty
        for (s, id) in specials.sorted(by: { $0.key.utf8.count > $1.key.utf8.count || ($0.key.utf8.count == $1.key.utf8.count && $0.value < $1.value) }) {
            let b = Array(s.utf8)
            if !b.isEmpty { byFirstByte[Int(b[0])].append((b, id)) }
        }
        leftStripping = Set(lstrip.compactMap { specials[$0] })
        rightStripping = Set(rstrip.compactMap { specials[$0] })
    }

    /// The longest special starting at `i` (its end and id), or nil.
    @inline(__always)
    func match(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (end: Int, id: Int)? {
        let cands = byFirstByte[Int(p[i])]
        if cands.isEmpty { return nil }
        outer: for c in cands where c.bytes.count <= n - i {
            for k in 1..<c.bytes.count where p[i + k] != c.bytes[k] { continue outer }
            return (i + c.bytes.count, c.id)
        }
        return nil
    }

    /// Splits `0..<n` into text segments and special tokens, in order.
    func segments(_ p: UnsafePointer<UInt8>, _ n: Int) -> [(start: Int, end: Int, special: Int)] {
        var out: [(Int, Int, Int)] = []
        if isEmpty { return n > 0 ? [(0, n, -1)] : [] }
        var segStart = 0, i = 0
        while i < n {
            if let m = match(p, i, n) {
                var start = i, end = m.end
                if leftStripping.contains(m.id) {
                    while start > segStart {
                        var k = start - 1
                        while k > segStart && p[k] & 0xC0 == 0x80 { k -= 1 }  // back to the scalar's first byte
                        guard PreTokenizer.scalarClass(p, k, PreTokenizer.bmpClass).0 == PreTokenizer.space else { break }
                        start = k
                    }
                }
                if rightStripping.contains(m.id) {
                    while end < n {
                        let (k, len) = PreTokenizer.scalarClass(p, end, PreTokenizer.bmpClass)
                        guard k == PreTokenizer.space else { break }
                        end += len
                    }
                }
                if start > segStart { out.append((segStart, start, -1)) }
                out.append((start, end, m.id))
                i = end; segStart = i
            } else {
                i += 1
            }
        }
        if n > segStart { out.append((segStart, n, -1)) }
        return out
    }
}
