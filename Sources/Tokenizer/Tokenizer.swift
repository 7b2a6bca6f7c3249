import Foundation
import Files

/// Tokenizers: BPE (byte-level or SentencePiece-style), WordPiece, Unigram and character-level.
/// This module imports no other tinygpt module.
///
/// All kinds share one interface and one file format (Hugging Face `tokenizer.json`);
/// `TokenizerFile.load(from:)` detects which kind a file holds.
public protocol Tokenizer {
    /// Number of ids: every id in `0..<vocabSize` may appear in `encode` output (ids of an
    /// imported file may have gaps; `decode` maps a gap to U+FFFD).
    var vocabSize: Int { get }
    /// Special tokens (content → id). They are matched in text before any other splitting.
    var specialTokens: [String: Int] { get }
    /// Ids for `text`. Special tokens in the text become their single ids. Nothing is added
    /// (see `prefixIds`).
    func encode(_ text: String) throws -> [Int]
    /// The ids the tokenizer's post-processor puts before a text (a BOS), as transformers'
    /// `tokenizer(text)` and llama.cpp add them to a prompt; [] for most tokenizers.
    var prefixIds: [Int] { get }
    /// The raw bytes the ids stand for; may end inside a multi-byte character (for streaming).
    func decodeBytes(_ ids: [Int]) -> [UInt8]
    /// The text the ids stand for. Invalid UTF-8 (e.g. a cut multi-byte character) becomes
    /// U+FFFD per maximal invalid subsequence (Unicode's recommended practice); unknown ids
    /// decode to U+FFFD.
    func decode(_ ids: [Int]) -> String
    /// The whole tokenizer as `tokenizer.json` text (deterministic: same tokenizer, same bytes).
    func jsonString() -> String
}

extension Tokenizer {
    public var prefixIds: [Int] { [] }

    /// Ids for `text`, after `prefixIds` when `addingSpecialTokens` (what a prompt gets; training
    /// text and chat templates, which write their own BOS, do not).
    public func encode(_ text: String, addingSpecialTokens: Bool) throws -> [Int] {
        addingSpecialTokens ? prefixIds + (try encode(text)) : try encode(text)
    }

    /// The id of a special token, or nil if it is not one.
    public func id(ofSpecial token: String) -> Int? { specialTokens[token] }

    public func decode(_ ids: [Int]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// Writes `tokenizer.json` atomically: a temporary file in the same directory, then rename(2),
    /// so the destination is either the old file or the complete new one.
    public func save(to url: URL) throws {
        try AtomicFile.write(Data(jsonString().utf8), to: url)
    }

    /// Throws if any id is outside `0..<vocabSize` (decode itself never fails).
    public func validate(ids: [Int]) throws {
        if let (i, bad) = ids.enumerated().first(where: { $0.element < 0 || $0.element >= vocabSize }) {
            throw TokenizerError("token id \(bad) at position \(i) is out of range; allowed 0...\(vocabSize - 1)")
        }
    }
}

/// A tokenizer problem, with a one-line description naming what is wrong and what is allowed.
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// Set when training refused a vocabulary size: the least the text needs.
    public let neededVocabulary: Int?
    public init(_ description: String, neededVocabulary: Int? = nil) {
        self.description = description
        self.neededVocabulary = neededVocabulary
    }
}
