import Foundation
import Files

/// `tokenizer train`: one of the trainable tokenizer kinds fitted to a text,
/// with each kind's rules for the vocabulary size.
public enum TokenizerTraining {
    public static let kinds = ["bpe", "wordpiece", "unigram", "char"]

    /// Trains a `kind` tokenizer on `text` (read from `dataPath`, named in
    /// errors). `progress` receives the unit ("vocab" or "EM round"), done
    /// and total; the note says why the vocabulary came out smaller than asked.
    public static func train(kind: String, text: String, dataPath: String, vocabSize: Int?, specialTokens specials: [String],
                             progress: @escaping (String, Int, Int) -> Void) throws -> (tokenizer: any Tokenizer, note: String?) {
        switch kind {
        case "bpe":
            guard let vocabSize else { throw UsageError("--vocab-size N is required for BPE (at least 256 + number of specials)") }
            let minimum = 256 + specials.count
            guard vocabSize >= minimum else {
                throw UsageError("--vocab-size must be at least \(minimum) (256 bytes + \(specials.count) special token(s)), got \(vocabSize)")
            }
            let bpe = try BPETokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials) { done, total in progress("vocab", done, total) }
            let note = bpe.vocabSize < vocabSize
                ? "the corpus has no more pairs to merge; stopped at vocab \(bpe.vocabSize) (\(bpe.merges.count) merges) instead of \(vocabSize)" : nil
            return (bpe, note)
        case "wordpiece", "unigram":
            guard let vocabSize else { throw UsageError("--vocab-size N is required for \(kind)") }
            let unit = kind == "unigram" ? "EM round" : "vocab"
            let tokenizer: any Tokenizer
            do {
                tokenizer = kind == "wordpiece"
                    ? try WordPieceTokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials, progress: { progress(unit, $0, $1) })
                    : try UnigramTokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials, progress: { progress(unit, $0, $1) })
            } catch let e as TokenizerError {
                guard let needed = e.neededVocabulary else { throw e }
                throw UsageError("--vocab-size \(vocabSize) is too small for \(kind) on '\(dataPath)'; allowed: at least \(needed) (\(e.description))")
            }
            let note = tokenizer.vocabSize < vocabSize
                ? "the corpus gives no more \(kind == "wordpiece" ? "pairs to merge" : "pieces"); stopped at vocab \(tokenizer.vocabSize) instead of \(vocabSize)" : nil
            return (tokenizer, note)
        case "char":
            let ct = try CharTokenizer(trainingText: text, specialTokens: specials)
            if let vocabSize, vocabSize < ct.vocabSize {
                throw UsageError("--vocab-size \(vocabSize) is below the char vocabulary of \(ct.vocabSize) (distinct characters + specials)")
            }
            return (ct, nil)
        default:
            throw UsageError("--type must be \(kinds.joined(separator: ", ")), got '\(kind)'")
        }
    }
}
