import Foundation

extension BPETokenizer {
    /// Learns a byte-level BPE vocabulary of `vocabSize` ids (256 bytes + merges + specials).
    ///
    /// Pairs are counted within pre-tokens, weighted by how often each distinct pre-token occurs.
    /// Each step merges the most frequent pair; ties go to the smallest (left id, right id), ids
    /// being bytes 0...255 then merges in the order learned. Only counts a merge touches are
    /// updated (a max-heap with lazy invalidation), never a recount. Special tokens are cut out of
    /// the text first (nothing is learned across them) and take the last ids.
    /// If the corpus runs out of pairs first, training stops early: check `vocabSize`.
    /// `progress(learnedSoFar, vocabSize)` is called now and then.
    public static func train(text: String, vocabSize: Int, specialTokens: [String] = [],
                             progress: ((Int, Int) -> Void)? = nil) throws -> BPETokenizer {
        try checkSpecials(specialTokens)
        let minimum = 256 + specialTokens.count
        guard vocabSize >= minimum else {
            throw TokenizerError("vocab size must be at least 256 + \(specialTokens.count) special token(s) = \(minimum) for byte-level BPE, got \(vocabSize)")
        }
        var specialIds: [String: Int] = [:]
        for (k, s) in specialTokens.enumerated() { specialIds[s] = k }
        let matcher = SpecialMatcher(specialIds)

        // 1. Distinct pre-tokens and their counts.
        var counts = ByteKeyMap(capacity: 1 << 14)
        var t = text
        var textBytes = 0
        t.withUTF8 { buf in
            guard let p = buf.baseAddress else { return }
            for s in matcher.segments(p, buf.count) where s.special < 0 {
                textBytes += s.end - s.start
                PreTokenizer.split(p, from: s.start, to: s.end, limit: s.end) { a, b in counts.add(p + a, b - a, 1) }
            }
        }
        guard textBytes > 0 else { throw TokenizerError("the training text is empty (no text outside special tokens)") }

        // 2. Words as symbol arrays; sorted by bytes so that everything below is reproducible.
        var wordList: [([UInt8], Int)] = []
        wordList.reserveCapacity(counts.count)
        counts.forEach { k, v in wordList.append((Array(k), v)) }
        wordList.sort { $0.0.lexicographicallyPrecedes($1.0) }
        var words: [[Int32]] = wordList.map { $0.0.map { Int32($0) } }
        let freq: [Int] = wordList.map { $0.1 }

        // 3. Pair statistics.
        var pairs = PairCounts(words: words, freq: freq)
        var heap = BinaryHeap<PairCandidate>()
        for i in pairs.keys.indices where pairs.counts[i] > 0 { heap.push(.init(count: pairs.counts[i], key: pairs.keys[i], index: Int32(i))) }

        // 4. Merge loop.
        var tokenBytes: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var byBytes: [[UInt8]: Int32] = [:]
        for b in 0..<256 { byBytes[[UInt8(b)]] = Int32(b) }
        var merges: [(Int, Int)] = []
        var merged = Set<UInt64>()
        let target = vocabSize - specialTokens.count
        var lastTouch = [Int](repeating: -1, count: words.count)
        var touched: [Int] = []
        var step = 0
        progress?(tokenBytes.count + specialTokens.count, vocabSize)
        while tokenBytes.count < target, let top = heap.pop() {
            let pi = Int(top.index)
            let current = pairs.counts[pi]
            if current != top.count {
                // Stale entry: counts only fall for existing pairs, so re-queue at the true count.
                if current > 0 { heap.push(.init(count: current, key: top.key, index: top.index)) }
                continue
            }
            if merged.contains(top.key) { pairs.counts[pi] = 0; continue }  // see docs: never re-learn a merge
            merged.insert(top.key)
            step += 1
            let a = Int32(top.key >> 32), b = Int32(top.key & 0xFFFF_FFFF)
            let newBytes = tokenBytes[Int(a)] + tokenBytes[Int(b)]
            let z: Int32
            if let existing = byBytes[newBytes] {
                z = existing  // same bytes reached by another path: reuse the id, as `tokenizers` does
            } else {
                z = Int32(tokenBytes.count)
                tokenBytes.append(newBytes)
                byBytes[newBytes] = z
            }
            merges.append((Int(a), Int(b)))
            touched.removeAll(keepingCapacity: true)
            for w32 in pairs.words[pi] {
                let w = Int(w32)
                if lastTouch[w] == step { continue }
                lastTouch[w] = step
                pairs.merge(a, b, into: z, in: &words[w], word: w32, weight: freq[w], touched: &touched)
            }
            pairs.counts[pi] = 0
            pairs.words[pi] = []
            for ni in touched where pairs.counts[ni] > 0 {
                heap.push(.init(count: pairs.counts[ni], key: pairs.keys[ni], index: Int32(ni)))
            }
            if step & 63 == 0 { progress?(tokenBytes.count + specialTokens.count, vocabSize) }
        }
        progress?(tokenBytes.count + specialTokens.count, vocabSize)

        // 5. Specials take the last ids.
        var idStrings: [Int: String] = [:]
        for s in specialTokens {
            let id = tokenBytes.count
            if let asBytes = ByteLevel.decode(s), byBytes[asBytes] != nil {
                throw TokenizerError("special token '\(s)' is also a learned token; choose a special that cannot occur in text")
            }
            tokenBytes.append(Array(s.utf8))
            idStrings[id] = s
            specialIds[s] = id
        }
        return try BPETokenizer(tokenBytes: tokenBytes, merges: merges, specialTokens: specialIds, idStrings: idStrings)
    }

    static func checkSpecials(_ specials: [String]) throws {
        var seen = Set<String>()
        for s in specials {
            if s.isEmpty { throw TokenizerError("a special token must not be empty") }
            if !seen.insert(s).inserted { throw TokenizerError("special token '\(s)' is given twice") }
        }
    }
}

/// A pair candidate of BPE training: highest count first, then smallest (left, right).
struct PairCandidate: HeapOrdered {
    var count: Int; var key: UInt64; var index: Int32
    @inline(__always) static func precedes(_ x: PairCandidate, _ y: PairCandidate) -> Bool {
        x.count != y.count ? x.count > y.count : x.key < y.key
    }
}
