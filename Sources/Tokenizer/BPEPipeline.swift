import Foundation
import Files

extension BPETokenizer {
    /// Everything of a Hugging Face tokenizer around the BPE vocabulary and merges that decides
    /// ids or text: normalizers, pre-tokenizers, the model's options, decoders and the BOS the
    /// post-processor adds. `Pipeline()` is GPT-2's byte-level BPE, which tinygpt trains.
    public struct Pipeline: Equatable, Sendable {
        /// Applied in order to each text segment between added tokens.
        public var normalizers: [Normalizer] = []
        /// Applied in order, each splitting every piece of the one before.
        public var preTokenizers: [PreTokenizerStep] = [.byteLevel(useRegex: true)]
        /// `model.byte_fallback`: a character missing from the vocabulary becomes its `<0xXX>` byte tokens.
        public var byteFallback = false
        /// `model.unk_token`: the token for a character that has no id (nil: the character is dropped).
        public var unknownToken: String? = nil
        /// `model.fuse_unk`: consecutive unknown characters become one unknown token.
        public var fuseUnknown = false
        /// `model.ignore_merges`: a pre-token that is a whole vocabulary entry is taken as is.
        public var ignoreMerges = false
        /// Applied in order to the tokens' strings when decoding.
        public var decoders: [DecoderStep] = [.byteLevel]
        /// The special tokens the post-processor puts before a text (`TemplateProcessing` single
        /// `[BOS, $A]`), as transformers' `tokenizer(text)` and llama.cpp add them.
        public var prefix: [TemplateToken] = []

        public init() {}

        /// Symbols are bytes (a `ByteLevel` pre-tokenizer, GPT-2's byte-to-unicode spelling);
        /// otherwise they are characters, as in SentencePiece-style BPE.
        public var isByteLevel: Bool { preTokenizers.contains { if case .byteLevel = $0 { return true } else { return false } } }
    }

    /// A normalizer step. Only steps that rewrite text literally (or NFC) are represented.
    public enum Normalizer: Equatable, Sendable {
        case nfc
        case prepend(String)
        case replace(String, with: String)
    }

    /// A pre-tokenizer step.
    public enum PreTokenizerStep: Equatable, Sendable {
        /// GPT-2's byte-to-unicode mapping; with `useRegex`, split by GPT-2's pattern first.
        case byteLevel(useRegex: Bool)
        /// `Split` by a known regex, behaviour `Isolated`.
        case split(SplitPattern)
        /// `Digits`: isolate each number character, or each run of them.
        case digits(individual: Bool)
        /// `Metaspace`: spaces become `replacement`, which is prepended per `prependScheme`;
        /// with `split`, each piece starts at a `replacement`.
        case metaspace(replacement: String, prependScheme: PrependScheme, split: Bool)
    }

    /// The regexes of `Split` pre-tokenizers that tinygpt implements (by hand, exactly).
    public enum SplitPattern: String, CaseIterable, Sendable {
        case gpt2, llama3, qwen2

        public var regex: String {
            switch self {
            case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
            case .llama3: return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
            case .qwen2: return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
            }
        }

        public init?(regex: String) {
            guard let p = SplitPattern.allCases.first(where: { $0.regex == regex }) else { return nil }
            self = p
        }
    }

    public enum PrependScheme: String, Equatable, Sendable, CaseIterable { case first, always, never }

    /// A decoder step.
    public enum DecoderStep: Equatable, Sendable {
        case byteLevel
        /// A literal `Replace` (e.g. "▁" → " ").
        case replace(String, with: String)
        /// `<0xXX>` tokens become their byte.
        case byteFallback
        case fuse
        /// Removes up to `start` leading (and `stop` trailing) `content` characters of the text.
        case strip(content: String, start: Int, stop: Int)
        /// `replacement` becomes a space; the first one of the text goes unless `prependScheme` is never.
        case metaspace(replacement: String, prependScheme: PrependScheme)
    }

    /// A special token of a post-processor template, with the ids it stands for.
    public struct TemplateToken: Equatable, Sendable {
        public var name: String
        public var ids: [Int]
        public init(name: String, ids: [Int]) { self.name = name; self.ids = ids }
    }
}

extension BPETokenizer.Pipeline {
    /// The normalized text of one segment (between added tokens that are not normalized).
    func normalize(_ text: String) -> String {
        var t = text
        for n in normalizers {
            switch n {
            case .nfc: t = Self.nfc(t)
            case .prepend(let s): if !t.isEmpty { t = s + t }
            case .replace(let a, let b): t = t.replacingOccurrences(of: a, with: b)
            }
        }
        return t
    }

    /// NFC; text below U+0300 (no combining marks, no Hangul jamo) is already NFC.
    static func nfc(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0xCC }) { return text }
        return text.precomposedStringWithCanonicalMapping
    }

    /// The Metaspace step, if it is the first pre-tokenizer (the only place tinygpt allows it).
    var metaspace: (replacement: String, prependScheme: BPETokenizer.PrependScheme, split: Bool)? {
        if case .metaspace(let r, let s, let split)? = preTokenizers.first { return (r, s, split) }
        return nil
    }

    /// The steps that only split (everything but Metaspace and a ByteLevel without regex).
    var splitters: [BPETokenizer.PreTokenizerStep] {
        preTokenizers.filter {
            switch $0 {
            case .metaspace, .byteLevel(useRegex: false): return false
            default: return true
            }
        }
    }

    /// True when a piece boundary after a newline before ASCII non-whitespace is certain, so a
    /// large text can be cut there for threads: the split patterns are local, and one of them
    /// breaks at whitespace.
    var cutsAtNewlines: Bool {
        metaspace == nil && splitters.contains {
            switch $0 {
            case .byteLevel(useRegex: true), .split: return true
            default: return false
            }
        }
    }

    /// The number of leading spaces `decode` removes from the whole text (Strip, Metaspace).
    var leadingSpacesStripped: Int {
        var n = 0
        for d in decoders {
            switch d {
            case .strip(let c, let start, _) where c == " ": n += start
            case .metaspace(_, let scheme) where scheme != .never: n += 1
            default: break
            }
        }
        return n
    }

    // MARK: tokenizer.json fragments

    var normalizerJSON: JSONValue {
        let steps: [JSONValue] = normalizers.map {
            switch $0 {
            case .nfc: return ["type": "NFC"]
            case .prepend(let s): return ["type": "Prepend", "prepend": .string(s)]
            case .replace(let a, let b): return ["type": "Replace", "pattern": ["String": .string(a)], "content": .string(b)]
            }
        }
        if steps.isEmpty { return .null }
        return steps.count == 1 ? steps[0] : ["type": "Sequence", "normalizers": .array(steps)]
    }

    var preTokenizerJSON: JSONValue {
        let steps: [JSONValue] = preTokenizers.map {
            switch $0 {
            case .byteLevel(let useRegex):
                return ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": .bool(useRegex)]
            case .split(let pattern):
                return ["type": "Split", "pattern": ["Regex": .string(pattern.regex)], "behavior": "Isolated", "invert": false]
            case .digits(let individual):
                return ["type": "Digits", "individual_digits": .bool(individual)]
            case .metaspace(let r, let scheme, let split):
                return ["type": "Metaspace", "replacement": .string(r), "prepend_scheme": .string(scheme.rawValue), "split": .bool(split)]
            }
        }
        if steps.isEmpty { return .null }
        return steps.count == 1 ? steps[0] : ["type": "Sequence", "pretokenizers": .array(steps)]
    }

    var decoderJSON: JSONValue {
        let steps: [JSONValue] = decoders.map {
            switch $0 {
            case .byteLevel: return ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
            case .replace(let a, let b): return ["type": "Replace", "pattern": ["String": .string(a)], "content": .string(b)]
            case .byteFallback: return ["type": "ByteFallback"]
            case .fuse: return ["type": "Fuse"]
            case .strip(let c, let start, let stop): return ["type": "Strip", "content": .string(c), "start": .int(start), "stop": .int(stop)]
            case .metaspace(let r, let scheme): return ["type": "Metaspace", "replacement": .string(r), "prepend_scheme": .string(scheme.rawValue), "split": true]
            }
        }
        return steps.count == 1 ? steps[0] : ["type": "Sequence", "decoders": .array(steps)]
    }

    var postProcessorJSON: JSONValue {
        if prefix.isEmpty { return .null }
        var single: [JSONValue] = prefix.map { ["SpecialToken": ["id": .string($0.name), "type_id": 0]] }
        single.append(["Sequence": ["id": "A", "type_id": 0]])
        var pair = single
        pair.append(contentsOf: prefix.map { ["SpecialToken": ["id": .string($0.name), "type_id": 1]] })
        pair.append(["Sequence": ["id": "B", "type_id": 1]])
        var specials: [(key: String, value: JSONValue)] = []
        for t in prefix where !specials.contains(where: { $0.key == t.name }) {
            specials.append((t.name, ["id": .string(t.name), "ids": .array(t.ids.map { .int($0) }), "tokens": .array(t.ids.map { _ in .string(t.name) })]))
        }
        return ["type": "TemplateProcessing", "single": .array(single), "pair": .array(pair), "special_tokens": .object(specials)]
    }
}
