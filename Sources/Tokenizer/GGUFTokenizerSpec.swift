import Foundation
import Files

/// A GGUF file's tokenizer, as its `tokenizer.ggml.*` metadata states it.
public struct GGUFTokenizerSpec: Equatable {
    public var model: String              // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece), ...
    public var pre: String?               // tokenizer.ggml.pre: "default", "gpt2", "llama-bpe", "smollm", "qwen2", ...
    public var tokens: [String]           // tokenizer.ggml.tokens
    public var scores: [Float]?           // tokenizer.ggml.scores
    public var tokenTypes: [Int32]?       // tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
    public var merges: [String]?          // tokenizer.ggml.merges, "left right"
    public var bosTokenId: Int?           // tokenizer.ggml.bos_token_id
    public var eosTokenId: Int?           // tokenizer.ggml.eos_token_id
    public var eotTokenId: Int?           // tokenizer.ggml.eot_token_id
    public var unknownTokenId: Int?       // tokenizer.ggml.unknown_token_id
    public var paddingTokenId: Int?       // tokenizer.ggml.padding_token_id
    public var addBosToken: Bool?         // tokenizer.ggml.add_bos_token
    public var addEosToken: Bool?         // tokenizer.ggml.add_eos_token
    public var addSpacePrefix: Bool?      // tokenizer.ggml.add_space_prefix
    public init(model: String, tokens: [String]) { self.model = model; self.tokens = tokens }   // every other field nil
}

/// GGUF token types (llama.cpp's `llama_token_type`).
enum GGUFTokenType {
    static let normal: Int32 = 1, unknown: Int32 = 2, control: Int32 = 3, userDefined: Int32 = 4, unused: Int32 = 5, byte: Int32 = 6
}

/// The GGUF `tokenizer.ggml.pre` names tinygpt maps to a pre-tokenizer, and the steps each stands for.
enum GGUFPreTokenizer {
    static let byName: [(names: [String], steps: [PreTokenizerStep])] = [
        // llama.cpp names GPT-2's pattern "gpt-2". A file without the key (or "default", llama.cpp's fallback
        // for unknown tokenizers, which splits differently) is read as transformers reads it: GPT-2's pattern.
        (["gpt-2", "gpt2", "default"], [.byteLevel(useRegex: true)]),
        (["llama-bpe", "llama3", "llama-v3"], [.split(.llama3), .byteLevel(useRegex: false)]),
        (["qwen2", "deepseek-r1-qwen"], [.split(.qwen2), .byteLevel(useRegex: false)]),
        // llama.cpp splits SmolLM's text at each digit, then by GPT-2's pattern, as SmolLM's tokenizer.json does.
        (["smollm"], [.digits(individual: true), .byteLevel(useRegex: true)]),
    ]
    static var supported: String { byName.flatMap(\.names).joined(separator: ", ") }

    static func steps(_ name: String?) -> [PreTokenizerStep]? {
        byName.first { $0.names.contains(name ?? "default") }?.steps
    }
}

extension TokenizerFile {
    /// The Hugging Face tokenizer.json equivalent of a GGUF tokenizer (what transformers' GGUF loader builds),
    /// which `TokenizerFile.load` reads with identical ids. Throws TokenizerError naming the field for a tokenizer
    /// it cannot represent (e.g. an unknown `pre`, with the supported list).
    public static func huggingFaceJSON(gguf spec: GGUFTokenizerSpec) throws -> Data {
        func fail(_ s: String) -> TokenizerError { TokenizerError("GGUF tokenizer: \(s)") }
        let n = spec.tokens.count
        guard n > 0 else { throw fail("tokenizer.ggml.tokens is empty") }
        if let s = spec.scores, s.count != n { throw fail("tokenizer.ggml.scores has \(s.count) entries for \(n) tokens") }
        if let t = spec.tokenTypes, t.count != n { throw fail("tokenizer.ggml.token_type has \(t.count) entries for \(n) tokens") }
        for (key, id) in [("bos_token_id", spec.bosTokenId), ("eos_token_id", spec.eosTokenId), ("eot_token_id", spec.eotTokenId),
                          ("unknown_token_id", spec.unknownTokenId), ("padding_token_id", spec.paddingTokenId)] {
            if let id, id < 0 || id >= n { throw fail("tokenizer.ggml.\(key) \(id) is outside the \(n) tokens") }
        }
        if spec.addEosToken == true {
            throw fail("tokenizer.ggml.add_eos_token true is not supported (tinygpt adds no end token to a text)")
        }
        let byteLevel: Bool
        switch spec.model {
        case "gpt2": byteLevel = true
        case "llama": byteLevel = false
        default: throw fail("unsupported tokenizer.ggml.model '\(spec.model)'; supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)")
        }

        // Vocabulary strings: byte-level tokens outside GPT-2's byte alphabet are respelled from
        // their UTF-8 bytes, as transformers does.
        var strings = spec.tokens
        if byteLevel {
            for (i, t) in strings.enumerated() where ByteLevel.decode(t) == nil { strings[i] = ByteLevel.encode(Array(t.utf8)) }
        }
        var ids: [[UInt8]: Int] = [:]  // by bytes: distinct tokens may be canonically equivalent strings
        ids.reserveCapacity(n)
        for (i, s) in strings.enumerated() {
            if let j = ids.updateValue(i, forKey: Array(s.utf8)) { throw fail("tokenizer.ggml.tokens has \(JSONValue.quote(s)) twice (ids \(j) and \(i))") }
        }

        var pl = BPETokenizer.Pipeline()
        if byteLevel {
            guard let steps = GGUFPreTokenizer.steps(spec.pre) else {
                throw fail("unsupported tokenizer.ggml.pre '\(spec.pre ?? "")'; supported: \(GGUFPreTokenizer.supported)")
            }
            pl.preTokenizers = steps
        } else {
            let prefix = spec.addSpacePrefix ?? true
            pl.preTokenizers = [.metaspace(replacement: "▁", prependScheme: prefix ? .first : .never, split: false)]
            pl.byteFallback = true
            pl.fuseUnknown = true
            pl.decoders = [.replace("▁", with: " "), .byteFallback, .fuse] + (prefix ? [.strip(content: " ", start: 1, stop: 0)] : [])
        }
        if spec.addBosToken ?? !byteLevel, let bos = spec.bosTokenId {
            pl.prefix = [TemplateToken(name: spec.tokens[bos], ids: [bos])]
        }

        // Added tokens: control ones and the named specials are special; user-defined ones are added,
        // not special. Each is matched by the text the file gives it (as llama.cpp does, also
        // where a byte-level vocabulary respells it).
        var added: [Int: AddedToken] = [:]
        let types = spec.tokenTypes ?? []
        for (i, t) in types.enumerated() where !spec.tokens[i].isEmpty {
            if t == GGUFTokenType.control { added[i] = AddedToken(id: i, content: spec.tokens[i]) }
            // (transformers adds a user-defined token only when the vocabulary spells it as the file does.)
            if t == GGUFTokenType.userDefined && spec.tokens[i] == strings[i] { added[i] = AddedToken(id: i, content: spec.tokens[i], special: false) }
        }
        for id in [spec.bosTokenId, spec.eosTokenId, spec.unknownTokenId, spec.paddingTokenId].compactMap({ $0 }) where !spec.tokens[id].isEmpty {
            added[id] = AddedToken(id: id, content: spec.tokens[id])
        }

        let merges: [(String, String)]
        if let m = spec.merges {
            merges = try m.enumerated().map { k, line in
                let parts = TokenizerFile.mergeParts(line)
                guard parts.count == 2 else { throw fail("tokenizer.ggml.merges[\(k)] \(JSONValue.quote(line)) is not \"left right\"") }
                return (parts[0], parts[1])
            }
        } else {
            merges = generateMerges(tokens: strings, ids: ids, scores: spec.scores)
        }
        let model: JSONValue = ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
                                "fuse_unk": .bool(pl.fuseUnknown), "byte_fallback": .bool(pl.byteFallback), "ignore_merges": false,
                                "vocab": vocab(strings), "merges": .array(merges.map { [.string($0.0), .string($0.1)] })]
        let text = document(added: Array(added.values), normalizer: pl.normalizerJSON, preTokenizer: pl.preTokenizerJSON,
                            postProcessor: pl.postProcessorJSON, decoder: pl.decoderJSON, model: model)
        return Data(text.utf8)
    }

    /// The merges a vocabulary implies when a file lists none, as transformers derives them: every
    /// split of a token into two tokens, ordered by the token's score (best first; without
    /// scores, by id), then by longer left piece, longer right piece, token order and piece ids.
    static func generateMerges(tokens: [String], ids: [[UInt8]: Int], scores: [Float]?) -> [(String, String)] {
        struct Candidate { var left: String; var right: String; var key: Float; var leftLength: Int; var rightLength: Int; var order: Int }
        var candidates: [Candidate] = []
        for (i, token) in tokens.enumerated() {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1 else { continue }
            var local: [(String, String, Int, Int)] = []
            for cut in 1..<scalars.count {
                var l = String.UnicodeScalarView(), r = String.UnicodeScalarView()
                l.append(contentsOf: scalars[..<cut]); r.append(contentsOf: scalars[cut...])
                let left = String(l), right = String(r)
                if let a = ids[Array(left.utf8)], let b = ids[Array(right.utf8)] { local.append((left, right, a, b)) }
            }
            local.sort { ($0.2, $0.3) < ($1.2, $1.3) }
            for m in local {
                // With scores, higher first; without, lower id first: one "descending" key for both.
                let key = scores.map { $0[i] } ?? -Float(i)
                candidates.append(Candidate(left: m.0, right: m.1, key: key, leftLength: m.0.unicodeScalars.count,
                                            rightLength: m.1.unicodeScalars.count, order: candidates.count))
            }
        }
        let descending = scores != nil
        candidates.sort { x, y in
            if x.key != y.key { return x.key > y.key }
            if x.leftLength != y.leftLength { return descending ? x.leftLength > y.leftLength : x.leftLength < y.leftLength }
            if x.rightLength != y.rightLength { return descending ? x.rightLength > y.rightLength : x.rightLength < y.rightLength }
            return x.order < y.order
        }
        return candidates.map { ($0.left, $0.right) }
    }

    /// The GGUF metadata for a tokenizer.json that tinygpt reads (the inverse, for `export --format gguf`);
    /// throws TokenizerError when GGUF cannot represent it (naming why).
    public static func ggufSpec(huggingFaceJSON data: Data) throws -> GGUFTokenizerSpec {
        func fail(_ s: String) -> TokenizerError { TokenizerError("tokenizer.json cannot be written as GGUF: \(s)") }
        guard let bpe = try load(data: data) as? BPETokenizer else {
            throw fail("tinygpt writes GGUF tokenizers for BPE models only, not for char (WordLevel), WordPiece or Unigram ones")
        }
        let p = bpe.pipeline
        let n = bpe.vocabSize
        var tokens: [String] = [], types: [Int32] = []
        tokens.reserveCapacity(n); types.reserveCapacity(n)
        let specialIds = Dictionary(bpe.specialTokens.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        for id in 0..<n {
            if let s = specialIds[id] {
                tokens.append(s); types.append(bpe.nonSpecialTokens.contains(s) ? GGUFTokenType.userDefined : GGUFTokenType.control)
            } else if let s = bpe.vocabString(id) {
                tokens.append(s)
                let isByte = !bpe.isByteLevel && BPETokenizer.fallbackByte(bpe.tokenBytes[id]) != nil
                types.append(isByte ? GGUFTokenType.byte : id == Int(bpe.unknownId) ? GGUFTokenType.unknown : GGUFTokenType.normal)
            } else {
                tokens.append("[PAD\(id)]"); types.append(GGUFTokenType.unused)  // llama.cpp's name for an unused id
            }
        }
        var spec = GGUFTokenizerSpec(model: bpe.isByteLevel ? "gpt2" : "llama", tokens: tokens)
        spec.tokenTypes = types
        spec.merges = bpe.merges.map { "\(tokens[$0.0]) \(tokens[$0.1])" }
        if let bad = spec.merges?.firstIndex(where: { mergeParts($0).count != 2 }) {
            throw fail("merge \(bad) has a token with a space, which GGUF's \"left right\" merges cannot hold")
        }

        if bpe.isByteLevel {
            var steps = p.preTokenizers
            if steps == [.split(.gpt2), .byteLevel(useRegex: false)] { steps = [.byteLevel(useRegex: true)] }
            // NFC is dropped for qwen2, as llama.cpp's own conversion does (it does not normalize).
            let normalizersOK = p.normalizers.isEmpty || (p.normalizers == [.nfc] && steps == GGUFPreTokenizer.steps("qwen2"))
            guard normalizersOK, let entry = GGUFPreTokenizer.byName.first(where: { $0.steps == steps }) else {
                throw fail("its normalizer and pre_tokenizer match no tokenizer.ggml.pre that tinygpt knows (\(GGUFPreTokenizer.supported); see docs/tokenizer.md)")
            }
            spec.pre = entry.names[0]
        } else {
            // llama.cpp's SentencePiece tokenizer: characters, byte fallback, "▁" for spaces, an optional space prefix.
            guard p.byteFallback else { throw fail("model.byte_fallback is false, and GGUF's llama tokenizer always falls back to bytes") }
            let ms = { (scheme: PrependScheme) in [PreTokenizerStep.metaspace(replacement: "▁", prependScheme: scheme, split: false)] }
            let prepend: [NormalizerStep] = [.prepend("▁"), .replace(" ", with: "▁")]
            if p.preTokenizers.isEmpty && (p.normalizers == prepend || p.normalizers == prepend.reversed()) {
                spec.addSpacePrefix = true
            } else if p.preTokenizers.isEmpty && p.normalizers == [.replace(" ", with: "▁")] {
                spec.addSpacePrefix = false
            } else if p.normalizers.isEmpty && (p.preTokenizers == ms(.first) || p.preTokenizers == ms(.always)) {
                spec.addSpacePrefix = true
            } else if p.normalizers.isEmpty && p.preTokenizers == ms(.never) {
                spec.addSpacePrefix = false
            } else {
                throw fail("its normalizer and pre_tokenizer are not SentencePiece's (Prepend + Replace with ▁, or Metaspace without split)")
            }
            spec.pre = "default"
            // llama.cpp merges by score: a merged token scores minus the rank of its first merge.
            var scores = [Float](repeating: -1e9, count: n)
            for (rank, (a, b)) in bpe.merges.enumerated() {
                if let id = bpe.pairTableMergedId(a, b), scores[id] == -1e9 { scores[id] = -Float(rank) }
            }
            for id in 0..<n where types[id] != GGUFTokenType.normal { scores[id] = 0 }
            spec.scores = scores
            if bpe.unknownId >= 0 { spec.unknownTokenId = Int(bpe.unknownId) }
        }
        let prefix = bpe.prefixIds
        if prefix.count > 1 { throw fail("its post_processor adds \(prefix.count) tokens before a text; GGUF can add one (BOS)") }
        spec.addBosToken = !prefix.isEmpty
        spec.bosTokenId = prefix.first ?? SpecialTokenNames.beginning.lazy.compactMap { bpe.specialTokens[$0] }.first
        spec.eosTokenId = SpecialTokenNames.endOfText.lazy.compactMap { bpe.specialTokens[$0] }.first
        return spec
    }
}

extension BPETokenizer {
    /// The id a merge of (a, b) makes, if the pair is a merge.
    func pairTableMergedId(_ a: Int, _ b: Int) -> Int? {
        pairTable.get(UInt64(a) << 32 | UInt64(b)).map { Int($0 & 0xFFFF_FFFF) }
    }
}
