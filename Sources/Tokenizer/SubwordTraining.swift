import Foundation

/// What WordPiece and Unigram training share: the words of the text, and the size check.
enum SubwordTraining {
    /// The distinct pre-tokens of `text` under `pipeline` and their counts, sorted by bytes (so
    /// that training is reproducible). Special tokens are cut out first: nothing is learned
    /// across or inside them.
    static func words(_ text: String, pipeline: TextPipeline, specials: [String]) throws -> [(bytes: [UInt8], count: Int)] {
        var ids: [String: Int] = [:]
        for (k, s) in specials.enumerated() { ids[s] = k }
        let splitter = PieceSplitter(pipeline: pipeline, added: AddedTokens(specials: ids))
        var counts = ByteKeyMap(capacity: 1 << 14)
        splitter.run(text, special: { _ in }) { w in w.withUnsafeBufferPointer { counts.add($0.baseAddress!, $0.count, 1) } }
        var words: [(bytes: [UInt8], count: Int)] = []
        words.reserveCapacity(counts.count)
        counts.forEach { k, v in words.append((Array(k), v)) }
        guard !words.isEmpty else { throw TokenizerError("the training text is empty (no text outside special tokens)") }
        words.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        return words
    }

    /// The refusal of a vocabulary size below what the text's alphabet needs.
    static func tooSmall(_ vocabSize: Int, kind: String, needed: Int, parts: String) -> TokenizerError {
        TokenizerError("vocab size \(vocabSize) is too small for a \(kind) vocabulary of this text: it needs at least \(needed) (\(parts))",
                       neededVocabulary: needed)
    }

    /// The special tokens of a trained model: the unknown token first, then the others in order.
    static func specials(unknown: String, _ others: [String]) throws -> [String] {
        try BPETokenizer.checkSpecials(others)
        return [unknown] + others.filter { $0 != unknown }
    }

    /// The characters (Unicode scalars) of UTF-8 bytes, each as its bytes.
    static func characters(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < bytes.count {
            var j = i + 1
            while j < bytes.count && bytes[j] & 0xC0 == 0x80 { j += 1 }
            out.append(bytes[i..<j])
            i = j
        }
        return out
    }
}
