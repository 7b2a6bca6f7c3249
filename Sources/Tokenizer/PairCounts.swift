import Foundation

/// The adjacent pairs of the words a merge-trained vocabulary learns from (BPE, WordPiece):
/// each distinct pair of symbol ids, its count weighted by word frequency, and the words it was
/// seen in. A merge moves only the counts it touches, never a recount.
struct PairCounts {
    /// Pair key (left << 32 | right) → pair index.
    private var indexOfKey: [UInt64: Int32] = [:]
    /// By pair index: the key, the count, and the words the pair was seen in (a word may be
    /// listed again, or have lost the pair since).
    private(set) var keys: [UInt64] = []
    var counts: [Int] = []
    var words: [[Int32]] = []

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// Counts the adjacent pairs of `words`, word `w` weighing `freq[w]`; pairs take indices in
    /// the order they are first seen.
    init(words: [[Int32]], freq: [Int]) {
        for (w, syms) in words.enumerated() where syms.count > 1 {
            for i in 0..<(syms.count - 1) {
                let pi = index(syms[i], syms[i + 1])
                counts[pi] += freq[w]
                if self.words[pi].last != Int32(w) { self.words[pi].append(Int32(w)) }
            }
        }
    }

    /// The index of pair (a, b); a new pair gets the next index with count 0.
    @inline(__always)
    mutating func index(_ a: Int32, _ b: Int32) -> Int {
        let k = Self.key(a, b)
        if let i = indexOfKey[k] { return Int(i) }
        let i = keys.count
        indexOfKey[k] = Int32(i)
        keys.append(k); counts.append(0); words.append([])
        return i
    }

    /// Replaces each (a, b) in `syms`, word `word` of weight `weight`, by `z`, left to right, and
    /// moves the counts of the neighbouring pairs; the index of every pair counted up is appended
    /// to `touched`. Returns how many times the pair was replaced. The count of (a, b) itself is
    /// left to the caller.
    @inline(__always) @discardableResult
    mutating func merge(_ a: Int32, _ b: Int32, into z: Int32, in syms: inout [Int32], word: Int32, weight f: Int,
                        touched: inout [Int]) -> Int {
        // One left-to-right pass compacting in place (linear, even for very long words):
        // syms[..<o] is the merged prefix, syms[r...] the rest.
        let len = syms.count
        var o = 0, r = 0, replaced = 0
        while r < len {
            if r + 1 < len && syms[r] == a && syms[r + 1] == b {
                if o > 0 {
                    counts[index(syms[o - 1], a)] -= f
                    let ni = index(syms[o - 1], z)
                    counts[ni] += f
                    if words[ni].last != word { words[ni].append(word) }
                    touched.append(ni)
                }
                if r + 2 < len {
                    counts[index(b, syms[r + 2])] -= f
                    let ni = index(z, syms[r + 2])
                    counts[ni] += f
                    if words[ni].last != word { words[ni].append(word) }
                    touched.append(ni)
                }
                syms[o] = z
                o += 1; r += 2
                replaced += 1
            } else {
                syms[o] = syms[r]
                o += 1; r += 1
            }
        }
        syms.removeLast(len - o)
        return replaced
    }
}
