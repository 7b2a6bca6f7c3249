import Foundation

extension WordPieceTokenizer {
    /// The unknown token of the WordPiece tokenizers tinygpt trains (BERT's).
    public static let trainedUnknownToken = "[UNK]"
    /// Words split only at spaces can be long (a line of tabs, a paragraph of Chinese): no
    /// length turns one into `[UNK]` (BERT's 100 would).
    public static let trainedMaxInputCharsPerWord = Int(Int32.max)

    /// Learns a WordPiece vocabulary of `vocabSize` ids (the unknown token, `specialTokens`, the
    /// alphabet, then the learned tokens) by the WordPiece recipe (Schuster & Nakajima 2012, as
    /// BERT's vocabularies were made): each word starts as its characters, the first as is and the
    /// others with the `##` continuation prefix; each step merges the adjacent pair with the
    /// highest score count(ab) / (count(a) · count(b)) — the merge that raises the likelihood of
    /// the text under a unigram model the most — counts weighted by word frequency. Ties go to the
    /// smallest (left id, right id). Words are split by tinygpt's Metaspace layout
    /// (`TextPipeline.metaspaceLayout`) and may be of any length, so the tokenizer loses no text,
    /// only words with a character the training text lacks (such a word becomes `[UNK]`). Only the counts a merge touches are
    /// updated; stale scores are refreshed when they reach the top of a heap. Stops early when no
    /// pair is left. `progress(sizeSoFar, vocabSize)` is called now and then.
    public static func train(text: String, vocabSize: Int, specialTokens: [String] = [],
                             progress: ((Int, Int) -> Void)? = nil) throws -> WordPieceTokenizer {
        let specials = try SubwordTraining.specials(unknown: trainedUnknownToken, specialTokens)
        let pipeline = TextPipeline.metaspaceLayout(wordPiece: true)
        let words = try SubwordTraining.words(text, pipeline: pipeline, specials: specials)
        let prefix = Array("##".utf8)

        // 1. The alphabet: first characters as they are, the others with the prefix, each sorted
        // by code point (UTF-8 byte order), after the specials.
        var initial = Set<[UInt8]>(), continuation = Set<[UInt8]>()
        let characters = words.map { SubwordTraining.characters($0.bytes) }
        for cs in characters {
            initial.insert(Array(cs[0]))
            for c in cs.dropFirst() { continuation.insert(prefix + c) }
        }
        var tokenBytes: [[UInt8]] = specials.map { Array($0.utf8) }
        var byBytes: [[UInt8]: Int32] = [:]
        for (k, t) in tokenBytes.enumerated() { byBytes[t] = Int32(k) }
        for t in initial.sorted(by: { $0.lexicographicallyPrecedes($1) }) + continuation.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            if byBytes[t] != nil { throw TokenizerError("special token '\(String(decoding: t, as: UTF8.self))' is also a character of the training text; choose a special that cannot occur in text") }
            byBytes[t] = Int32(tokenBytes.count)
            tokenBytes.append(t)
        }
        guard vocabSize >= tokenBytes.count else {
            throw SubwordTraining.tooSmall(vocabSize, kind: "wordpiece", needed: tokenBytes.count,
                                           parts: "\(specials.count) special token(s) with \(trainedUnknownToken), \(initial.count) word-initial and \(continuation.count) continuation characters")
        }

        // 2. Words as ids, counts per token.
        var wordIds: [[Int32]] = characters.map { cs in cs.enumerated().map { k, c in byBytes[k == 0 ? Array(c) : prefix + c]! } }
        let freq = words.map { $0.count }
        var count = [Int](repeating: 0, count: tokenBytes.count)
        for (w, ids) in wordIds.enumerated() { for id in ids { count[Int(id)] += freq[w] } }

        // 3. Pair statistics, and the pairs each token is in (whose scores move with its count).
        var pairs = PairCounts(words: wordIds, freq: freq)
        var pairsOf = [[Int32]](repeating: [], count: tokenBytes.count)
        func notePairs(from first: Int) {
            for i in first..<pairs.keys.count {
                let a = Int(pairs.keys[i] >> 32), b = Int(pairs.keys[i] & 0xFFFF_FFFF)
                pairsOf[a].append(Int32(i))
                if a != b { pairsOf[b].append(Int32(i)) }
            }
        }
        notePairs(from: 0)
        func score(_ i: Int) -> Double {
            let k = pairs.keys[i]
            return Double(pairs.counts[i]) / (Double(count[Int(k >> 32)]) * Double(count[Int(k & 0xFFFF_FFFF)]))
        }
        var heap = BinaryHeap<ScoredPair>()
        func rebuildHeap() {
            heap.removeAll()
            for i in pairs.keys.indices where pairs.counts[i] > 0 { heap.push(ScoredPair(score: score(i), key: pairs.keys[i], index: Int32(i))) }
        }
        rebuildHeap()

        // 4. Merge loop.
        var lastTouch = [Int](repeating: -1, count: wordIds.count)
        var lastPush = [Int](repeating: -1, count: pairs.keys.count)
        var touched: [Int] = []
        var step = 0
        progress?(tokenBytes.count, vocabSize)
        while tokenBytes.count < vocabSize, let top = heap.pop() {
            let pi = Int(top.index)
            guard pairs.counts[pi] > 0 else { continue }
            let current = score(pi)
            if current != top.score { heap.push(ScoredPair(score: current, key: top.key, index: top.index)); continue }
            step += 1
            let a = Int32(top.key >> 32), b = Int32(top.key & 0xFFFF_FFFF)
            let merged = tokenBytes[Int(a)] + tokenBytes[Int(b)].dropFirst(tokenBytes[Int(b)].starts(with: prefix) ? prefix.count : 0)
            let z: Int32
            if let existing = byBytes[merged] {
                if Int(existing) < specials.count {
                    throw TokenizerError("special token '\(specials[Int(existing)])' is also a learned token; choose a special that cannot occur in text")
                }
                z = existing  // the same string by another path: one id
            } else {
                z = Int32(tokenBytes.count)
                tokenBytes.append(merged)
                byBytes[merged] = z
                count.append(0)
                pairsOf.append([])
            }
            touched.removeAll(keepingCapacity: true)
            let knownPairs = pairs.keys.count
            for w32 in pairs.words[pi] {
                let w = Int(w32)
                if lastTouch[w] == step { continue }
                lastTouch[w] = step
                let f = freq[w]
                let replaced = pairs.merge(a, b, into: z, in: &wordIds[w], word: w32, weight: f, touched: &touched)
                count[Int(a)] -= replaced * f; count[Int(b)] -= replaced * f; count[Int(z)] += replaced * f
            }
            notePairs(from: knownPairs)
            pairs.counts[pi] = 0
            pairs.words[pi] = []
            // New pairs, and every pair of a or b: fewer a and b raise their scores.
            if lastPush.count < pairs.keys.count { lastPush += [Int](repeating: -1, count: pairs.keys.count - lastPush.count) }
            for ni in touched + pairsOf[Int(a)].map(Int.init) + pairsOf[Int(b)].map(Int.init) where pairs.counts[ni] > 0 && lastPush[ni] != step {
                lastPush[ni] = step
                heap.push(ScoredPair(score: score(ni), key: pairs.keys[ni], index: Int32(ni)))
            }
            if heap.count > 4 * pairs.keys.count + 65_536 { rebuildHeap() }
            if step & 63 == 0 { progress?(tokenBytes.count, vocabSize) }
        }
        progress?(tokenBytes.count, vocabSize)

        var added: [String: Int] = [:]
        for (k, s) in specials.enumerated() { added[s] = k }
        return try WordPieceTokenizer(vocab: tokenBytes.map { String(decoding: $0, as: UTF8.self) }, unknownToken: trainedUnknownToken,
                                      maxInputCharsPerWord: trainedMaxInputCharsPerWord, pipeline: pipeline, added: AddedTokens(specials: added))
    }
}

/// A pair candidate of WordPiece training: highest score first, then smallest (left, right).
struct ScoredPair: HeapOrdered {
    var score: Double; var key: UInt64; var index: Int32
    @inline(__always) static func precedes(_ x: ScoredPair, _ y: ScoredPair) -> Bool {
        x.score != y.score ? x.score > y.score : x.key < y.key
    }
}
