import Foundation
import Files

extension BPETokenizer {
    /// Everything of a Hugging Face tokenizer around the BPE vocabulary and merges that decides
    /// ids or text: normalizers, pre-tokenizers, the model's options, decoders and the BOS the
    /// post-processor adds. `Pipeline()` is GPT-2's byte-level BPE, which tinygpt trains.
    public struct Pipeline: PipelineSteps, Equatable, Sendable {
        /// Applied in order to each text segment between added tokens.
        public var normalizers: [NormalizerStep] = []
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
}

extension BPETokenizer.Pipeline {
    /// The Metaspace step, if it is the first pre-tokenizer (the only place tinygpt allows it).
    var metaspace: (replacement: String, prependScheme: PrependScheme, split: Bool)? {
        if case .metaspace(let r, let s, let split)? = preTokenizers.first { return (r, s, split) }
        return nil
    }

    /// The steps that only split (everything but Metaspace and a ByteLevel without regex).
    var splitters: [PreTokenizerStep] {
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
}
