import Dispatch
import Foundation

/// Byte-level BPE, as in GPT-2: 256 byte tokens (no unknown token), GPT-2 pre-tokenization,
/// merges applied lowest rank first (leftmost first among equal ranks), as `tokenizers` does.
public final class BPETokenizer: Tokenizer, @unchecked Sendable {
    /// Bytes of each id (empty for an id that an imported file leaves unused).
    public let tokenBytes: [[UInt8]]
    /// Merges in rank order (left id, right id).
    public let merges: [(Int, Int)]
    public let specialTokens: [String: Int]
    /// `model.ignore_merges` of the file: a pre-token that is a whole vocabulary entry is taken as is.
    public let ignoreMerges: Bool
    public var vocabSize: Int { tokenBytes.count }

    /// Ids of the 256 bytes (-1 if a file lacks one: such bytes are dropped, as `tokenizers` does).
    let byteToId: [Int32]
    /// (left << 32 | right) → (rank << 32 | merged id).
    let mergeTable: [UInt64: UInt64]
    /// The same as a raw-memory table for the hot path.
    let pairTable: PairTable
    let specialMatcher: SpecialMatcher
    /// Vocabulary strings of ids that are not plain byte sequences (specials); used by save.
    let idStrings: [Int: String]
    /// Vocabulary by bytes, for `ignoreMerges`.
    let wholeVocab: [[UInt8]: Int32]

    /// Builds a tokenizer from parts. `tokenBytes[i]` are the bytes of id i, `merges` reference
    /// ids and each merged pair's bytes must be a vocabulary entry.
    init(tokenBytes: [[UInt8]], merges: [(Int, Int)], specialTokens: [String: Int], ignoreMerges: Bool = false,
         idStrings: [Int: String] = [:]) throws {
        self.tokenBytes = tokenBytes
        self.merges = merges
        self.specialTokens = specialTokens
        self.ignoreMerges = ignoreMerges
        self.idStrings = idStrings
        var byBytes: [[UInt8]: Int32] = [:]
        for (id, b) in tokenBytes.enumerated() where !b.isEmpty && idStrings[id] == nil {
            if byBytes[b] == nil { byBytes[b] = Int32(id) }
        }
        var b2i = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { b2i[b] = byBytes[[UInt8(b)]] ?? -1 }
        byteToId = b2i
        var table: [UInt64: UInt64] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let merged = byBytes[tokenBytes[a] + tokenBytes[b]] else {
                throw TokenizerError("merge \(rank) ('\(ByteLevel.encode(tokenBytes[a]))' '\(ByteLevel.encode(tokenBytes[b]))') makes a token that is not in the vocabulary")
            }
            // A repeated pair: the later rank wins, as in `tokenizers` (its map keeps the last).
            table[UInt64(a) << 32 | UInt64(b)] = UInt64(rank) << 32 | UInt64(merged)
        }
        mergeTable = table
        pairTable = PairTable(table)
        wholeVocab = ignoreMerges ? byBytes : [:]
        specialMatcher = SpecialMatcher(specialTokens)
    }

    deinit { pairTable.deallocate() }

    // MARK: Encoding

    /// Ids for `text` using up to `threads` threads (default: all cores). Never throws for a
    /// byte-level tokenizer (every byte has an id); the signature matches the protocol.
    public func encode(_ text: String) throws -> [Int] {
        encode(text, threads: ProcessInfo.processInfo.activeProcessorCount)
    }

    public func encode(_ text: String, threads: Int) -> [Int] {
        var t = text
        return t.withUTF8 { buf in
            guard let base = buf.baseAddress, buf.count > 0 else { return [] }
            return encodeBytes(base, buf.count, threads: threads).map { Int($0) }
        }
    }

    /// A unit of work: a range of a text segment, or one special token.
    private struct Item { var start: Int; var end: Int; var limit: Int; var special: Int }

    func encodeBytes(_ p: UnsafePointer<UInt8>, _ n: Int, threads: Int) -> [Int32] {
        let segments = specialMatcher.segments(p, n)
        // Below ~256 KB threads cost more than they save.
        let nt = max(1, min(threads, n / (256 << 10)))
        var items: [Item] = []
        let piece = max(1 << 16, n / (nt * 8))
        for s in segments {
            if s.special >= 0 { items.append(Item(start: s.start, end: s.end, limit: s.end, special: s.special)); continue }
            var a = s.start
            // Cut long segments at certain piece boundaries so threads can share them.
            while s.end - a > piece * 2 && nt > 1 {
                var c = a + piece
                while c < s.end && !PreTokenizer.isSafeSplit(p, c) { c += 1 }
                if c >= s.end { break }
                items.append(Item(start: a, end: c, limit: s.end, special: -1))
                a = c
            }
            items.append(Item(start: a, end: s.end, limit: s.end, special: -1))
        }
        if nt == 1 { return encodeItems(p, items[...], sizeHint: n / 3) }
        // Contiguous groups of items of about equal bytes; one thread (and one cache) per group.
        var groups: [Range<Int>] = []
        let perGroup = (n + nt - 1) / nt
        var gStart = 0, acc = 0
        for (k, it) in items.enumerated() {
            acc += it.end - it.start
            if acc >= perGroup && groups.count < nt - 1 { groups.append(gStart..<(k + 1)); gStart = k + 1; acc = 0 }
        }
        if gStart < items.count { groups.append(gStart..<items.count) }
        var results = [[Int32]](repeating: [], count: groups.count)
        results.withUnsafeMutableBufferPointer { res in
            let resBase = res.baseAddress!
            DispatchQueue.concurrentPerform(iterations: groups.count) { g in
                resBase[g] = self.encodeItems(p, items[groups[g]], sizeHint: n / 3 / groups.count)  // distinct slots
            }
        }
        var all: [Int32] = []
        all.reserveCapacity(results.reduce(0) { $0 + $1.count })
        for r in results { all.append(contentsOf: r) }
        return all
    }

    /// Encodes some items with a cache of its own (one call per thread).
    @inline(never)
    private func encodeItems(_ p: UnsafePointer<UInt8>, _ slice: ArraySlice<Item>, sizeHint: Int) -> [Int32] {
        var cache = ByteKeyMap(capacity: 4096)
        var store: [Int32] = []
        var out: [Int32] = []
        out.reserveCapacity(sizeHint)
        // Thread-local copies: shared arrays read in the hot loop would bounce their reference
        // counts between cores.
        let mine = Array(slice)
        let b2i = UnsafeMutablePointer<Int32>.allocate(capacity: 256)
        defer { b2i.deallocate() }
        for b in 0..<256 { b2i[b] = byteToId[b] }
        for it in mine { encodeItem(p, it, b2i, &cache, &store, &out) }
        return out
    }

    /// Cache values pack (start in `store` << 24 | count); pre-tokens of 2^24+ tokens are not cached.
    @inline(__always)
    private func encodeItem(_ p: UnsafePointer<UInt8>, _ it: Item, _ b2i: UnsafePointer<Int32>, _ cache: inout ByteKeyMap, _ store: inout [Int32], _ out: inout [Int32]) {
        if it.special >= 0 { out.append(Int32(it.special)); return }
        PreTokenizer.split(p, from: it.start, to: it.end, limit: it.limit) { a, b in
            let len = b - a
            if len == 1 {
                let id = b2i[Int(p[a])]
                if id >= 0 { out.append(id) }
                return
            }
            if let v = cache.get(p + a, len) {
                let start = v >> 24, count = v & 0xFF_FFFF
                store.withUnsafeBufferPointer { out.append(contentsOf: $0[start..<(start + count)]) }
                return
            }
            let before = out.count
            bpe(p + a, len, &out)
            let count = out.count - before
            if count < 0xFF_FFFF {
                // Bound memory on huge inputs: start afresh rather than grow without limit.
                if store.count > 1 << 26 || cache.arenaBytes > 1 << 28 { cache.removeAll(); store.removeAll(keepingCapacity: true) }
                cache.set(p + a, len, store.count << 24 | count)
                store.append(contentsOf: out[before...])
            }
        }
    }

    /// Applies merges to one pre-token: repeatedly the lowest-rank adjacent pair, leftmost first.
    func bpe(_ p: UnsafePointer<UInt8>, _ n: Int, _ out: inout [Int32]) {
        if ignoreMerges, let id = wholeVocab[Array(UnsafeBufferPointer(start: p, count: n))] {
            out.append(id); return
        }
        if n > 48 {  // the quadratic scan below would be too slow
            var syms: [Int32] = []
            syms.reserveCapacity(n)
            for i in 0..<n { let id = byteToId[Int(p[i])]; if id >= 0 { syms.append(id) } }
            if syms.count > 1 { bpeLong(syms, &out) } else { out.append(contentsOf: syms) }
            return
        }
        // Short pre-tokens (nearly all): stack buffers, no allocation.
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 48) { symBuf in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 48) { rankBuf in
                let syms = symBuf.baseAddress!, ranks = rankBuf.baseAddress!
                var count = 0
                for i in 0..<n {
                    let id = byteToId[Int(p[i])]
                    if id >= 0 { syms[count] = id; count += 1 }
                }
                // ranks[i]: (rank << 32 | merged id) of the pair (i, i+1); UInt64.max = none.
                @inline(__always) func look(_ a: Int32, _ b: Int32) -> UInt64 {
                    pairTable.get(UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))) ?? .max
                }
                for i in 0..<max(count - 1, 0) { ranks[i] = look(syms[i], syms[i + 1]) }
                while count > 1 {
                    var best = 0
                    var bestRank = ranks[0]
                    for i in 1..<(count - 1) where ranks[i] >> 32 < bestRank >> 32 { best = i; bestRank = ranks[i] }
                    if bestRank == .max { break }
                    syms[best] = Int32(truncatingIfNeeded: bestRank & 0xFFFF_FFFF)
                    // Close the gap at best+1.
                    for i in (best + 1)..<(count - 1) { syms[i] = syms[i + 1] }
                    for i in best..<(count - 2) where i + 1 < count - 1 { ranks[i] = ranks[i + 1] }
                    count -= 1
                    if best > 0 { ranks[best - 1] = look(syms[best - 1], syms[best]) }
                    if best < count - 1 { ranks[best] = look(syms[best], syms[best + 1]) }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: syms, count: count))
            }
        }
    }

    /// The same merge order for long pre-tokens in O(n log n): a doubly linked list of symbols and
    /// a min-heap of (rank, position) candidates, stale ones skipped when popped. Lowest rank
    /// first and, for equal ranks, lowest position first, as the quadratic version.
    func bpeLong(_ start: [Int32], _ out: inout [Int32]) {
        var syms = start
        let n = syms.count
        var next = Array(1...n), prev = Array(-1..<(n - 1))  // next[n-1] == n: end
        var heap = BinaryHeap<MergeCandidate>()
        func push(_ e: (rank: UInt32, pos: Int32)) { heap.push(MergeCandidate(rank: e.rank, pos: e.pos)) }
        func pop() -> (rank: UInt32, pos: Int32)? { heap.pop().map { ($0.rank, $0.pos) } }
        @inline(__always) func look(_ a: Int32, _ b: Int32) -> UInt64? { pairTable.get(UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))) }
        for i in 0..<(n - 1) { if let m = look(syms[i], syms[i + 1]) { push((UInt32(m >> 32), Int32(i))) } }
        var alive = [Bool](repeating: true, count: n)
        while let e = pop() {
            let i = Int(e.pos)
            guard alive[i], next[i] < n else { continue }
            let j = next[i]
            // Valid only if this pair still has that rank (the symbols may have changed).
            guard let m = look(syms[i], syms[j]), UInt32(m >> 32) == e.rank else { continue }
            syms[i] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0, let m2 = look(syms[prev[i]], syms[i]) { push((UInt32(m2 >> 32), Int32(prev[i]))) }
            if next[i] < n, let m2 = look(syms[i], syms[next[i]]) { push((UInt32(m2 >> 32), Int32(i))) }
        }
        var i = 0
        while i < n { out.append(syms[i]); i = next[i] }
    }

    // MARK: Decoding

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            if id >= 0 && id < tokenBytes.count && !tokenBytes[id].isEmpty {
                out.append(contentsOf: tokenBytes[id])
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD for an unknown id
            }
        }
        return out
    }
}

extension BPETokenizer {
    /// GPT-2's pre-tokenization of `text` (no special-token handling): the pieces BPE works on.
    public static func preTokenize(_ text: String) -> [String] {
        var t = text
        return t.withUTF8 { buf in
            guard let p = buf.baseAddress else { return [] }
            var out: [String] = []
            PreTokenizer.split(p, from: 0, to: buf.count, limit: buf.count) { a, b in
                out.append(String(decoding: UnsafeBufferPointer(start: p + a, count: b - a), as: UTF8.self))
            }
            return out
        }
    }
}

/// A merge candidate of BPE encoding: lowest rank first, then lowest position.
struct MergeCandidate: HeapOrdered {
    var rank: UInt32; var pos: Int32
    @inline(__always) static func precedes(_ x: MergeCandidate, _ y: MergeCandidate) -> Bool {
        x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos
    }
}
