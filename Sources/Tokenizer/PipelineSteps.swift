import Foundation
import Files

// The steps of a Hugging Face tokenizer.json around its model (normalizer, pre_tokenizer,
// decoder, post_processor), shared by every model type tinygpt reads: BPE, WordPiece, Unigram.

/// A normalizer step. Only steps tinygpt runs exactly are represented.
public enum NormalizerStep: Equatable, Sendable {
    case nfc, nfd, nfkc, nfkd
    /// `Lowercase`: each character's full lowercase mapping (no context rules).
    case lowercase
    case prepend(String)
    case replace(String, with: String)
    /// `Replace` with the regex ` {2,}` (SentencePiece's layout): each run of two or more spaces becomes `with`.
    case replaceSpaceRuns(with: String)
    /// `Nmt`: SentencePiece's nmt_nfkc control characters removed, its extra spaces made spaces.
    case nmt
    /// `BertNormalizer`; `stripAccents` nil means "as `lowercase`".
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool?, lowercase: Bool)
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
    /// `WhitespaceSplit`: pieces between whitespace, which is dropped.
    case whitespaceSplit
    /// `BertPreTokenizer`: as `whitespaceSplit`, then each punctuation character its own piece.
    case bert
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
    /// Removes up to `start` leading (and `stop` trailing) `content` characters of each token
    /// (of the whole text after a `Fuse`).
    case strip(content: String, start: Int, stop: Int)
    /// `replacement` becomes a space; the first token loses its replacements unless `prependScheme` is never.
    case metaspace(replacement: String, prependScheme: PrependScheme)
    /// `WordPiece`: a token after the first loses `prefix`, or else gets a space before it; with
    /// `cleanup`, the spaces before punctuation and English contractions go.
    case wordPiece(prefix: String, cleanup: Bool)
}

/// A special token of a post-processor template, with the ids it stands for.
public struct TemplateToken: Equatable, Sendable {
    public var name: String
    public var ids: [Int]
    public init(name: String, ids: [Int]) { self.name = name; self.ids = ids }
}

/// The steps around a model, as a tokenizer.json holds them.
public protocol PipelineSteps {
    /// Applied in order to each text segment between added tokens.
    var normalizers: [NormalizerStep] { get }
    /// Applied in order, each splitting every piece of the one before.
    var preTokenizers: [PreTokenizerStep] { get }
    /// Applied in order to the tokens' strings when decoding.
    var decoders: [DecoderStep] { get }
    /// The special tokens the post-processor puts before a text (`TemplateProcessing` single
    /// `[BOS, $A]`), as transformers' `tokenizer(text)` and llama.cpp add them.
    var prefix: [TemplateToken] { get }
}

extension PipelineSteps {
    /// The normalized text of one segment (between added tokens that are not normalized).
    func normalize(_ text: String) -> String {
        var t = text
        for n in normalizers {
            switch n {
            case .nfc: t = Normalization.nfc(t)
            case .nfd: t = t.decomposedStringWithCanonicalMapping
            case .nfkc: t = t.precomposedStringWithCompatibilityMapping
            case .nfkd: t = t.decomposedStringWithCompatibilityMapping
            case .lowercase: t = Normalization.lowercase(t)
            case .prepend(let s): if !t.isEmpty { t = s + t }
            case .replace(let a, let b): t = Normalization.replace(t, a, with: b)
            case .replaceSpaceRuns(let b): t = Normalization.replaceSpaceRuns(t, with: b)
            case .nmt: t = Normalization.nmt(t)
            case .bert(let clean, let chinese, let strip, let lower):
                t = Normalization.bert(t, cleanText: clean, handleChineseChars: chinese, stripAccents: strip ?? lower, lowercase: lower)
            }
        }
        return t
    }

    // MARK: tokenizer.json fragments

    var normalizerJSON: JSONValue {
        let steps: [JSONValue] = normalizers.map {
            switch $0 {
            case .nfc: return ["type": "NFC"]
            case .nfd: return ["type": "NFD"]
            case .nfkc: return ["type": "NFKC"]
            case .nfkd: return ["type": "NFKD"]
            case .lowercase: return ["type": "Lowercase"]
            case .prepend(let s): return ["type": "Prepend", "prepend": .string(s)]
            case .replace(let a, let b): return ["type": "Replace", "pattern": ["String": .string(a)], "content": .string(b)]
            case .replaceSpaceRuns(let b): return ["type": "Replace", "pattern": ["Regex": .string(Normalization.spaceRunsRegex)], "content": .string(b)]
            case .nmt: return ["type": "Nmt"]
            case .bert(let clean, let chinese, let strip, let lower):
                return ["type": "BertNormalizer", "clean_text": .bool(clean), "handle_chinese_chars": .bool(chinese),
                        "strip_accents": strip.map { .bool($0) } ?? .null, "lowercase": .bool(lower)]
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
            case .whitespaceSplit: return ["type": "WhitespaceSplit"]
            case .bert: return ["type": "BertPreTokenizer"]
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
            case .wordPiece(let prefix, let cleanup): return ["type": "WordPiece", "prefix": .string(prefix), "cleanup": .bool(cleanup)]
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
