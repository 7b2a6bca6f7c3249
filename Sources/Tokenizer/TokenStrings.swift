import Foundation
import Files

/// The string of every id of a tokenizer read from a vocabulary (WordPiece, Unigram):
/// `model.vocab` with the added tokens on or beyond it, and what each id decodes to.
struct TokenStrings: Sendable {
    /// By id; nil: an id that neither the vocabulary nor an added token gives.
    let tokens: [String?]
    /// What each id decodes to inside a text (not as its first token).
    let pieceBytes: [[UInt8]]

    /// Added tokens must agree with `vocab` where both give an id.
    init(vocab: [String?], added: AddedTokens, pipeline: TextPipeline) throws {
        var all = vocab
        for (s, id) in added.ids {
            if id >= all.count { all += [String?](repeating: nil, count: id + 1 - all.count) }
            if let v = all[id], Array(v.utf8) != Array(s.utf8) {
                throw TokenizerError("added token \(JSONValue.quote(s)) has id \(id), which model.vocab gives to \(JSONValue.quote(v))")
            }
            all[id] = s
        }
        tokens = all
        pieceBytes = all.map { $0.map { pipeline.decodeToken($0, first: false) } ?? [] }
    }

    /// The bytes of the ids, one after another; an unknown id gives U+FFFD.
    func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            if id >= 0 && id < pieceBytes.count && tokens[id] != nil { out.append(contentsOf: pieceBytes[id]) } else { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
        }
        return out
    }

    /// The text of the ids, through `pipeline`'s decoder as `tokenizers` runs it (which may treat
    /// the first token apart); an unknown id decodes to U+FFFD.
    func decode(_ ids: [Int], pipeline: TextPipeline) -> String {
        pipeline.decodeTokens(ids.map { $0 >= 0 && $0 < tokens.count ? tokens[$0] ?? "\u{FFFD}" : "\u{FFFD}" })
    }
}
