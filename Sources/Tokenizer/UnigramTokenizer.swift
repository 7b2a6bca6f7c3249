import Foundation
import Files

/// The Unigram language model of subword regularization (Kudo 2018), as SentencePiece and
/// Hugging Face `tokenizers` encode with it: each piece has a score (its log probability), and
/// each pre-token is cut into the pieces whose scores sum highest (Viterbi). A character no
/// piece covers is the unknown piece, scored 10 below the lowest score; consecutive unknowns
/// fuse into one, which `byteFallback` turns into `<0xXX>` byte tokens when the vocabulary has them.
public final class UnigramTokenizer: Tokenizer, @unchecked Sendable {
    /// `model.vocab`: each id's piece and score.
    public let pieces: [String]
    public let scores: [Double]
    /// `model.unk_id` (nil: a character no piece covers is an error, as in `tokenizers`).
    public let unknownId: Int?
    /// `model.byte_fallback`.
    public let byteFallback: Bool
    public let pipeline: TextPipeline
    public var specialTokens: [String: Int] { added.ids }
    public var vocabSize: Int { strings.tokens.count }
    public var prefixIds: [Int] { pipeline.prefix.flatMap(\.ids) }

    let added: AddedTokens
    /// `pieces` with the added tokens beyond them: what each id decodes from.
    let strings: TokenStrings
    let trie: ByteTrie
    /// The score of an unknown character: the lowest score − 10 (SentencePiece's kUnkPenalty).
    let unknownScore: Double
    /// Ids of the `<0xXX>` pieces (-1: missing).
    let byteIds: [Int32]
    let splitter: PieceSplitter

    init(pieces: [String], scores: [Double], unknownId: Int?, byteFallback: Bool, pipeline: TextPipeline, added: AddedTokens) throws {
        guard pieces.count == scores.count else { throw TokenizerError("model.vocab has \(pieces.count) pieces but \(scores.count) scores") }
        if let unknownId, unknownId >= pieces.count {
            throw TokenizerError("model.unk_id \(unknownId) is outside model.vocab (\(pieces.count) pieces)")
        }
        self.pieces = pieces
        self.scores = scores
        self.unknownId = unknownId
        self.byteFallback = byteFallback
        self.pipeline = pipeline
        self.added = added
        strings = try TokenStrings(vocab: pieces, added: added, pipeline: pipeline)
        trie = ByteTrie(pieces.map { Array($0.utf8) })
        unknownScore = (scores.min() ?? 0) - 10
        var bytes = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { if let id = trie.id(Array(String(format: "<0x%02X>", b).utf8)) { bytes[b] = id } }
        byteIds = bytes
        splitter = PieceSplitter(pipeline: pipeline, added: added)
    }

    // MARK: Encoding

    public func encode(_ text: String) throws -> [Int] {
        var out: [Int32] = []
        try splitter.run(text, special: { out.append(Int32($0)) }) { try encodePiece($0, &out) }
        return out.map { Int($0) }
    }

    /// Viterbi over one pre-token, as `tokenizers`' Unigram: positions left to right, each
    /// piece starting there (shortest first) offered to the position it ends at, which keeps a
    /// strictly better sum; so on a tie the earliest start, i.e. the longest last piece, wins.
    func encodePiece(_ word: [UInt8], _ out: inout [Int32]) throws {
        let n = word.count
        var best = [Double](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var idAt = [Int32](repeating: -1, count: n + 1)
        try word.withUnsafeBufferPointer { wb in
            let p = wb.baseAddress!
            var pos = 0
            while pos < n {
                let here = best[pos]
                let b0 = p[pos]
                let charLength = min(n - pos, b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4)
                var single = false
                trie.prefixes(p + pos, n - pos) { length, id in
                    let end = pos + length
                    let candidate = scores[Int(id)] + here
                    if from[end] < 0 || candidate > best[end] { best[end] = candidate; from[end] = pos; idAt[end] = id }
                    if length == charLength { single = true }
                }
                if !single {
                    guard let unk = unknownId else {
                        let ch = String(decoding: wb[pos..<(pos + charLength)], as: UTF8.self)
                        throw TokenizerError("\(JSONValue.quote(ch)) is not in the vocabulary, and model.unk_id is null")
                    }
                    let end = pos + charLength
                    let candidate = unknownScore + here
                    if from[end] < 0 || candidate > best[end] { best[end] = candidate; from[end] = pos; idAt[end] = Int32(unk) }
                }
                pos += charLength
            }
        }
        // Back from the end; runs of unknowns fuse into one piece.
        var path: [(start: Int, end: Int, id: Int32)] = []
        var end = n
        while end > 0 {
            let start = from[end], id = idAt[end]
            if let unk = unknownId, id == Int32(unk), let last = path.last, last.id == id {
                path[path.count - 1].start = start
            } else {
                path.append((start, end, id))
            }
            end = start
        }
        for piece in path.reversed() {
            guard let unk = unknownId, piece.id == Int32(unk) else { out.append(piece.id); continue }
            // An unknown run: its text if that is a piece, else its bytes, else the unknown id.
            let text = Array(word[piece.start..<piece.end])
            if let id = trie.id(text) {
                out.append(id)
            } else if byteFallback && text.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                for b in text { out.append(byteIds[Int(b)]) }
            } else {
                out.append(Int32(unk))
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
        let vocab: [JSONValue] = zip(pieces, scores).map { [.string($0), .double($1)] }
        let model: JSONValue = ["type": "Unigram", "unk_id": unknownId.map { .int($0) } ?? .null, "vocab": .array(vocab),
                                "byte_fallback": .bool(byteFallback)]
        return TokenizerFile.document(added: added.entries, normalizer: pipeline.normalizerJSON, preTokenizer: pipeline.preTokenizerJSON,
                                      postProcessor: pipeline.postProcessorJSON, decoder: pipeline.decoderJSON, model: model)
    }
}
