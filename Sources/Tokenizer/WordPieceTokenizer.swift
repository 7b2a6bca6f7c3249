import Foundation
import Files

/// WordPiece (Schuster & Nakajima 2012; BERT, Devlin et al. 2019) as Hugging Face `tokenizers`
/// runs it: each pre-token is cut greedily into the longest vocabulary entry from its start,
/// pieces after the first carrying the `##` continuation prefix; a word that cannot be cut
/// that way (or is longer than `maxInputCharsPerWord` characters) becomes the unknown token whole.
public final class WordPieceTokenizer: Tokenizer, @unchecked Sendable {
    /// `model.vocab`: the string of each id (nil: an id the file leaves unused).
    public let vocab: [String?]
    /// `vocab` with the added tokens: what each id decodes from.
    let strings: TokenStrings
    /// `model.unk_token`.
    public let unknownToken: String
    /// `model.continuing_subword_prefix`.
    public let continuingSubwordPrefix: String
    /// `model.max_input_chars_per_word`.
    public let maxInputCharsPerWord: Int
    public let pipeline: TextPipeline
    public var specialTokens: [String: Int] { added.ids }
    public var vocabSize: Int { strings.tokens.count }
    public var prefixIds: [Int] { pipeline.prefix.flatMap(\.ids) }

    let added: AddedTokens
    /// Token bytes → id.
    let ids: ByteKeyMap
    let unknownId: Int32
    /// The longest vocabulary entry, in bytes.
    let longestToken: Int
    let splitter: PieceSplitter

    /// `vocab[i]` is the token of id i; added tokens must agree with it where both give an id.
    init(vocab: [String?], unknownToken: String, continuingSubwordPrefix: String = "##", maxInputCharsPerWord: Int = 100,
         pipeline: TextPipeline, added: AddedTokens) throws {
        strings = try TokenStrings(vocab: vocab, added: added, pipeline: pipeline)
        self.vocab = vocab
        self.unknownToken = unknownToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.pipeline = pipeline
        self.added = added
        var map = ByteKeyMap(capacity: max(16, vocab.count))
        for (id, s) in vocab.enumerated() {
            guard let s else { continue }
            let b = Array(s.utf8)
            b.withUnsafeBufferPointer { if let p = $0.baseAddress { map.set(p, $0.count, id) } }
        }
        ids = map
        longestToken = vocab.reduce(0) { max($0, $1?.utf8.count ?? 0) }
        let unk = Array(unknownToken.utf8)
        guard !unk.isEmpty, let u = unk.withUnsafeBufferPointer({ map.get($0.baseAddress!, $0.count) }) else {
            throw TokenizerError("model.unk_token \(JSONValue.quote(unknownToken)) is not in model.vocab")
        }
        unknownId = Int32(u)
        splitter = PieceSplitter(pipeline: pipeline, added: added)
    }

    // MARK: Encoding

    public func encode(_ text: String) throws -> [Int] {
        var out: [Int32] = []
        splitter.run(text, special: { out.append(Int32($0)) }) { wordPiece($0, &out) }
        return out.map { Int($0) }
    }

    /// Greedy longest-match-first over one pre-token, as `tokenizers`' WordPiece model.
    func wordPiece(_ word: [UInt8], _ out: inout [Int32]) {
        let n = word.count
        let characters = word.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        if characters > maxInputCharsPerWord { out.append(unknownId); return }
        let prefix = Array(continuingSubwordPrefix.utf8)
        let L = prefix.count
        // scratch = prefix + word; a lookup at `start` > 0 first writes the prefix just before
        // word[start] (over bytes already consumed), so each candidate is one contiguous key.
        var scratch = prefix + word
        let mark = out.count
        scratch.withUnsafeMutableBufferPointer { sb in
            let s = sb.baseAddress!
            var start = 0
            while start < n {
                if start > 0 { for k in 0..<L { s[start + k] = prefix[k] } }
                let keyStart = start > 0 ? start : L
                // No token is longer than the longest in the vocabulary: start there (same result).
                var end = min(n, start + longestToken)
                while end > start && end < n && word[end] & 0xC0 == 0x80 { end -= 1 }
                var found: Int? = nil
                while start < end {
                    if let id = ids.get(s + keyStart, L + end - keyStart) { found = id; break }
                    end -= 1
                    while end > start && word[end] & 0xC0 == 0x80 { end -= 1 }
                }
                guard let id = found else {
                    out.removeLast(out.count - mark)
                    out.append(unknownId)
                    return
                }
                out.append(Int32(id))
                start = end
            }
        }
    }

    // MARK: Decoding

    public func decodeBytes(_ ids: [Int]) -> [UInt8] { strings.decodeBytes(ids) }

    /// The text of the ids, through the decoder as `tokenizers` runs it (which may treat the
    /// first token apart); an unknown id decodes to U+FFFD.
    public func decode(_ ids: [Int]) -> String { strings.decode(ids, pipeline: pipeline) }

    // MARK: Saving

    public func jsonString() -> String {
        let model: JSONValue = ["type": "WordPiece", "unk_token": .string(unknownToken), "continuing_subword_prefix": .string(continuingSubwordPrefix),
                                "max_input_chars_per_word": .int(maxInputCharsPerWord), "vocab": TokenizerFile.vocab(vocab)]
        return TokenizerFile.document(added: added.entries, normalizer: pipeline.normalizerJSON, preTokenizer: pipeline.preTokenizerJSON,
                                      postProcessor: pipeline.postProcessorJSON, decoder: pipeline.decoderJSON, model: model)
    }
}
