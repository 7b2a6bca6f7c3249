import Foundation
import Files

/// The steps around a WordPiece or Unigram model: what tokenizer.json's normalizer,
/// pre_tokenizer, decoder and post_processor say.
public struct TextPipeline: PipelineSteps, Equatable, Sendable {
    public var normalizers: [NormalizerStep] = []
    public var preTokenizers: [PreTokenizerStep] = []
    public var decoders: [DecoderStep] = []
    public var prefix: [TemplateToken] = []

    public init() {}

    /// The layout of the WordPiece and Unigram tokenizers tinygpt trains: no normalizer; spaces
    /// become "▁", which starts every word (prepended to each text segment), so no text is lost;
    /// the decoder gives the spaces back (and, for WordPiece, first drops the `##` of continuations).
    static func metaspaceLayout(wordPiece: Bool) -> TextPipeline {
        var p = TextPipeline()
        p.preTokenizers = [.metaspace(replacement: "▁", prependScheme: .always, split: true)]
        // A continuation's "##" is its only leading '#'s: every other token starts with "▁".
        p.decoders = (wordPiece ? [.strip(content: "#", start: 2, stop: 0)] : []) + [.metaspace(replacement: "▁", prependScheme: .always)]
        return p
    }
}

/// The added tokens of a tokenizer.json: content → id, and their flags.
struct AddedTokens: Sendable {
    var ids: [String: Int] = [:]
    /// `special` false.
    var nonSpecial: Set<String> = []
    /// `normalized` true: matched in the normalized text.
    var normalized: Set<String> = []
    /// `lstrip`/`rstrip`: the token takes the whitespace before/after it.
    var lstrip: Set<String> = [], rstrip: Set<String> = []

    /// Special tokens (matched whole, not normalized), as training makes them.
    init(specials: [String: Int] = [:]) { ids = specials }

    var entries: [TokenizerFile.AddedToken] {
        ids.map { content, id in
            TokenizerFile.AddedToken(id: id, content: content, special: !nonSpecial.contains(content), normalized: normalized.contains(content),
                                     lstrip: lstrip.contains(content), rstrip: rstrip.contains(content))
        }
    }
}

/// Cuts a text into what a WordPiece or Unigram model encodes, as `tokenizers` does: added tokens
/// that are not normalized come out of the original text first; each segment between them is
/// normalized, the normalized added tokens come out of that, and the rest is pre-tokenized.
struct PieceSplitter: @unchecked Sendable {
    let pipeline: TextPipeline
    let raw: SpecialMatcher
    let normalized: SpecialMatcher

    init(pipeline: TextPipeline, added: AddedTokens) {
        self.pipeline = pipeline
        var rawIds = added.ids, normalizedIds: [String: Int] = [:]
        let normalizedNames = pipeline.normalizers.isEmpty ? [] : added.normalized
        for t in normalizedNames { if let id = rawIds.removeValue(forKey: t) { normalizedIds[pipeline.normalize(t)] = id } }
        raw = SpecialMatcher(rawIds, lstrip: added.lstrip, rstrip: added.rstrip)
        let strips = { (names: Set<String>) in Set(names.filter { normalizedNames.contains($0) }.map(pipeline.normalize)) }
        normalized = SpecialMatcher(normalizedIds, lstrip: strips(added.lstrip), rstrip: strips(added.rstrip))
    }

    /// Calls `special` with the id of each added token and `piece` with the UTF-8 of each
    /// pre-token, in text order.
    func run(_ text: String, special: (Int) throws -> Void, piece: ([UInt8]) throws -> Void) rethrows {
        var t = text
        try t.withUTF8 { buf in
            guard let p = buf.baseAddress else { return }
            for s in raw.segments(p, buf.count) {
                if s.special >= 0 { try special(s.special); continue }
                let bytes = UnsafeBufferPointer(start: p + s.start, count: s.end - s.start)
                if pipeline.normalizers.isEmpty {
                    try preTokenize(Array(bytes), atTextStart: s.start == 0, piece)
                    continue
                }
                var segment = pipeline.normalize(String(decoding: bytes, as: UTF8.self))
                try segment.withUTF8 { nb in
                    guard let q = nb.baseAddress else { return }
                    for s2 in normalized.segments(q, nb.count) {
                        if s2.special >= 0 { try special(s2.special); continue }
                        try preTokenize(Array(UnsafeBufferPointer(start: q + s2.start, count: s2.end - s2.start)),
                                        atTextStart: s.start == 0 && s2.start == 0, piece)
                    }
                }
            }
        }
    }

    /// Runs the pre-tokenizers on one normalized segment. `atTextStart`: the segment starts the
    /// text (Metaspace's `first` prepends only there).
    func preTokenize(_ segment: [UInt8], atTextStart: Bool, _ body: ([UInt8]) throws -> Void) rethrows {
        // (bytes, offset in the segment)
        var pieces: [([UInt8], Int)] = segment.isEmpty ? [] : [(segment, 0)]
        for step in pipeline.preTokenizers {
            var next: [([UInt8], Int)] = []
            next.reserveCapacity(pieces.count * 2)
            for (bytes, offset) in pieces {
                bytes.withUnsafeBufferPointer { b in
                    let p = b.baseAddress!, n = b.count
                    let add = { (a: Int, e: Int) in next.append((Array(b[a..<e]), offset + a)) }
                    switch step {
                    case .whitespaceSplit: PreTokenizer.splitWhitespace(p, from: 0, to: n, punctuation: false, add)
                    case .bert: PreTokenizer.splitWhitespace(p, from: 0, to: n, punctuation: true, add)
                    case .digits(let individual): PreTokenizer.splitDigits(p, from: 0, to: n, individual: individual, add)
                    case .split(.gpt2), .byteLevel(useRegex: true): PreTokenizer.split(p, from: 0, to: n, limit: n, add)
                    case .split(let pattern): PreTokenizer.splitLlama3(p, from: 0, to: n, limit: n, maxDigits: pattern == .llama3 ? 3 : 1, add)
                    case .byteLevel(useRegex: false): add(0, n)
                    case .metaspace(let r, let scheme, let split):
                        for m in metaspace(b, replacement: Array(r.utf8), prepend: scheme == .always || (scheme == .first && atTextStart && offset == 0),
                                           split: split) {
                            next.append((m, offset))
                        }
                    }
                }
            }
            pieces = next
        }
        for (bytes, _) in pieces where !bytes.isEmpty { try body(bytes) }
    }

    /// `Metaspace` on one piece: spaces become the replacement, which is prepended unless the
    /// piece starts with it; with `split`, a new piece starts at each replacement.
    func metaspace(_ b: UnsafeBufferPointer<UInt8>, replacement r: [UInt8], prepend: Bool, split: Bool) -> [[UInt8]] {
        var t: [UInt8] = []
        t.reserveCapacity(b.count + r.count * 4)
        for c in b { if c == 0x20 { t.append(contentsOf: r) } else { t.append(c) } }
        if prepend && !t.starts(with: r) { t.insert(contentsOf: r, at: 0) }
        guard split else { return [t] }
        var out: [[UInt8]] = []
        var start = 0, i = 0
        while i < t.count {
            if i > start && t[i] == r[0] && i + r.count <= t.count && t[i..<(i + r.count)].elementsEqual(r) {
                out.append(Array(t[start..<i])); start = i; i += r.count
            } else {
                i += 1
            }
        }
        if t.count > start { out.append(Array(t[start...])) }
        return out
    }
}

extension TextPipeline {
    /// The text of a token list, as `tokenizers` decodes it: each decoder step rewrites the
    /// list in turn (`Fuse` joins it into one token; `ByteFallback` turns each run of `<0xXX>`
    /// tokens into its text, or into one U+FFFD per token if the bytes are not UTF-8; Metaspace
    /// and WordPiece treat the list's first token apart), then the tokens are joined.
    func decodeTokens(_ tokens: [String]) -> String {
        var list = tokens
        for step in decoders {
            switch step {
            case .fuse: list = [list.joined()]
            case .byteFallback:
                var out: [String] = [], run: [UInt8] = []
                func flush() {
                    guard !run.isEmpty else { return }
                    if let s = String(validating: run, as: UTF8.self) { out.append(s) } else { out += Array(repeating: "\u{FFFD}", count: run.count) }
                    run.removeAll()
                }
                for t in list {
                    if let b = Self.byteToken(t) { run.append(b) } else { flush(); out.append(t) }
                }
                flush()
                list = out
            case .byteLevel: break  // the reader allows ByteLevel only with BPE
            default:
                for k in list.indices { list[k] = String(decoding: decodeToken(list[k], first: k == 0, steps: [step]), as: UTF8.self) }
            }
        }
        return list.joined()
    }

    /// The byte of a `<0xXX>` token, as `tokenizers`' ByteFallback reads it (either case of hex digits).
    static func byteToken(_ t: String) -> UInt8? {
        let b = Array(t.utf8)
        guard b.count == 6, b[0] == 0x3C, b[1] == 0x30, b[2] == 0x78, b[5] == 0x3E else { return nil }
        return UInt8(String(decoding: b[3..<5], as: UTF8.self), radix: 16)
    }

    /// The bytes of one token through the decoder steps before the first `Fuse` (what a token
    /// contributes when streamed); `first`: the token starts the text (Metaspace drops its
    /// replacements, WordPiece adds no space). A `<0xXX>` token that `ByteFallback` made a byte
    /// is left alone by the later steps.
    func decodeToken(_ token: String, first: Bool) -> [UInt8] { decodeToken(token, first: first, steps: decoders) }

    func decodeToken(_ token: String, first: Bool, steps: [DecoderStep]) -> [UInt8] {
        var s = token
        for step in steps {
            switch step {
            case .fuse: return Array(s.utf8)
            case .replace(let a, let b): s = Normalization.replace(s, a, with: b)
            case .byteFallback: if let byte = Self.byteToken(s) { return [byte] }
            case .strip(let c, let start, let stop): s = Normalization.strip(s, c, start: start, stop: stop)
            case .metaspace(let r, let scheme): s = Normalization.replace(s, r, with: first && scheme != .never ? "" : " ")
            case .wordPiece(let prefix, let cleanup):
                if !first { s = s.utf8.starts(with: prefix.utf8) ? String(decoding: s.utf8.dropFirst(prefix.utf8.count), as: UTF8.self) : " " + s }
                if cleanup { s = Normalization.wordPieceCleanup(s) }
            case .byteLevel: break  // the reader allows ByteLevel only with BPE
            }
        }
        return Array(s.utf8)
    }
}

extension Normalization {
    /// `text` with every occurrence of `a` replaced by `b`, comparing bytes (as Rust's `str::replace`).
    static func replace(_ text: String, _ a: String, with b: String) -> String {
        let t = Array(text.utf8), x = Array(a.utf8)
        guard !x.isEmpty, t.count >= x.count else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(t.count)
        var i = 0, changed = false
        while i < t.count {
            if t[i] == x[0] && i + x.count <= t.count && t[i..<(i + x.count)].elementsEqual(x) {
                out.append(contentsOf: b.utf8); i += x.count; changed = true
            } else {
                out.append(t[i]); i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// Up to `start` leading and `stop` trailing `content` characters removed.
    static func strip(_ text: String, _ content: String, start: Int, stop: Int) -> String {
        guard let c = content.unicodeScalars.first else { return text }
        var scalars = Array(text.unicodeScalars)
        var cut = 0
        while cut < min(start, scalars.count) && scalars[cut] == c { cut += 1 }
        scalars.removeFirst(cut)
        var end = 0
        while end < min(stop, scalars.count) && scalars[scalars.count - 1 - end] == c { end += 1 }
        scalars.removeLast(end)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// The WordPiece decoder's cleanup: no space before . ? ! , and English contractions.
    static let wordPieceCleanups: [(String, String)] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ]

    static func wordPieceCleanup(_ text: String) -> String {
        wordPieceCleanups.reduce(text) { replace($0, $1.0, with: $1.1) }
    }
}
