import Dispatch
import Foundation
import Files

/// BPE as Hugging Face `tokenizers` runs it: byte-level (GPT-2, LLaMA-3, Qwen2, SmolLM: 256 byte
/// tokens, no unknown token) or SentencePiece-style (LLaMA-2, Mistral: characters, `<0xXX>`
/// byte fallback, `▁` for spaces), with the normalizers, pre-tokenizers, decoders and BOS of
/// `pipeline`. Merges are applied lowest rank first (leftmost first among equal ranks).
public final class BPETokenizer: Tokenizer, @unchecked Sendable {
    /// The bytes merges work on, per id: the raw bytes of a byte-level token, the UTF-8 of a
    /// SentencePiece-style token's vocabulary string (empty for an id a file leaves unused).
    public let tokenBytes: [[UInt8]]
    /// Merges in rank order (left id, right id).
    public let merges: [(Int, Int)]
    /// Every added token (content → id), special or not: matched in text before anything else.
    public let specialTokens: [String: Int]
    /// Added tokens whose `special` flag is false (tokenizer.json's `special`).
    public let nonSpecialTokens: Set<String>
    /// Added tokens matched in normalized text (`normalized` true); the others are cut out first.
    public let normalizedTokens: Set<String>
    /// Added tokens that take the whitespace before (`lstrip`) or after (`rstrip`) them.
    public let leftStrippingTokens: Set<String>, rightStrippingTokens: Set<String>
    public let pipeline: Pipeline
    /// `model.ignore_merges` of the file: a pre-token that is a whole vocabulary entry is taken as is.
    public var ignoreMerges: Bool { pipeline.ignoreMerges }
    public var vocabSize: Int { tokenBytes.count }
    public var prefixIds: [Int] { pipeline.prefix.flatMap(\.ids) }

    /// Ids of the 256 bytes (-1 if a file lacks one: such bytes are dropped, as `tokenizers` does).
    let byteToId: [Int32]
    /// (left << 32 | right) → (rank << 32 | merged id), in raw memory for the hot path.
    let pairTable: PairTable
    /// Added tokens cut out of the original text: all of them without normalizers, else those not normalized.
    let specialMatcher: SpecialMatcher
    /// Added tokens cut out of normalized text (their content normalized too).
    let normalizedMatcher: SpecialMatcher
    /// Vocabulary strings of ids that are not plain byte sequences (specials); used by save.
    let idStrings: [Int: String]
    /// Vocabulary by bytes, for `ignoreMerges`.
    let wholeVocab: [[UInt8]: Int32]
    /// The bytes each id decodes to (before the decoder's leading-space strip).
    let pieceBytes: [[UInt8]]
    /// SentencePiece-style only: ids of one-character tokens by their UTF-8, `<0xXX>` ids, the unknown id.
    let charIds: ByteKeyMap
    let byteTokenIds: [Int32]
    let unknownId: Int32
    let splitters: [PreTokenizerStep]
    let metaspace: (replacement: [UInt8], prependScheme: PrependScheme, split: Bool)?
    let leadingSpacesStripped: Int
    let isByteLevel: Bool
    /// The pattern when the split steps are just one regex (the common case, encoded without the general dispatch).
    let singlePattern: SplitPattern?

    /// A byte-level tokenizer (GPT-2's pipeline) from parts, as training makes it.
    convenience init(tokenBytes: [[UInt8]], merges: [(Int, Int)], specialTokens: [String: Int], ignoreMerges: Bool = false,
                     idStrings: [Int: String] = [:]) throws {
        var pipeline = Pipeline()
        pipeline.ignoreMerges = ignoreMerges
        try self.init(tokenBytes: tokenBytes, merges: merges, specialTokens: specialTokens, idStrings: idStrings, pipeline: pipeline)
    }

    /// Builds a tokenizer from parts. `tokenBytes[i]` are the bytes of id i, `merges` reference
    /// ids and each merged pair's bytes must be a vocabulary entry.
    init(tokenBytes: [[UInt8]], merges: [(Int, Int)], specialTokens: [String: Int], idStrings: [Int: String],
         pipeline: Pipeline, nonSpecialTokens: Set<String> = [], normalizedTokens: Set<String> = [],
         leftStrippingTokens: Set<String> = [], rightStrippingTokens: Set<String> = []) throws {
        self.tokenBytes = tokenBytes
        self.merges = merges
        self.specialTokens = specialTokens
        self.nonSpecialTokens = nonSpecialTokens
        self.normalizedTokens = pipeline.normalizers.isEmpty ? [] : normalizedTokens
        self.leftStrippingTokens = leftStrippingTokens
        self.rightStrippingTokens = rightStrippingTokens
        self.pipeline = pipeline
        self.idStrings = idStrings
        let byteLevel = pipeline.isByteLevel
        // Every id's bytes in one array (no reference counting per token in the loops below).
        var allBytes: [UInt8] = [], ends: [Int] = []
        allBytes.reserveCapacity(tokenBytes.reduce(0) { $0 + $1.count })
        ends.reserveCapacity(tokenBytes.count)
        for b in tokenBytes { allBytes += b; ends.append(allBytes.count) }
        var hasString = [Bool](repeating: false, count: byteLevel ? tokenBytes.count : 0)
        for id in idStrings.keys where id < hasString.count { hasString[id] = true }
        // Token bytes → the first id with them, keys in one arena (no array per entry).
        var byBytes = ByteKeyMap(capacity: tokenBytes.count)
        allBytes.withUnsafeBufferPointer { all in
            for id in 0..<ends.count where !(byteLevel && hasString[id]) {
                let start = id == 0 ? 0 : ends[id - 1]
                if start < ends[id] { byBytes.setIfAbsent(all.baseAddress! + start, ends[id] - start, id) }
            }
        }
        func idOf(_ b: [UInt8]) -> Int32? {
            b.isEmpty ? nil : b.withUnsafeBufferPointer { p in byBytes.get(p.baseAddress!, p.count).map(Int32.init) }
        }
        var b2i = [Int32](repeating: -1, count: 256)
        if byteLevel { for b in 0..<256 { b2i[b] = idOf([UInt8(b)]) ?? -1 } }
        byteToId = b2i
        var table = PairTable(capacity: merges.count)
        let longest = ends.indices.map { ends[$0] - ($0 == 0 ? 0 : ends[$0 - 1]) }.max() ?? 0
        try allBytes.withUnsafeBufferPointer { all in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(2 * longest, 1)) { pair in
                for (rank, (a, b)) in merges.enumerated() {
                    let aStart = a == 0 ? 0 : ends[a - 1], bStart = b == 0 ? 0 : ends[b - 1]
                    let aCount = ends[a] - aStart, bCount = ends[b] - bStart
                    (pair.baseAddress! + 0).update(from: all.baseAddress! + aStart, count: aCount)
                    (pair.baseAddress! + aCount).update(from: all.baseAddress! + bStart, count: bCount)
                    guard aCount + bCount > 0, let merged = byBytes.get(pair.baseAddress!, aCount + bCount) else {
                        let show = { (id: Int) in byteLevel ? ByteLevel.encode(tokenBytes[id]) : String(decoding: tokenBytes[id], as: UTF8.self) }
                        throw TokenizerError("merge \(rank) ('\(show(a))' '\(show(b))') makes a token that is not in the vocabulary")
                    }
                    // A repeated pair: the later rank wins, as in `tokenizers` (its map keeps the last).
                    table.set(UInt64(a) << 32 | UInt64(b), UInt64(rank) << 32 | UInt64(merged))
                }
            }
        }
        pairTable = table
        var whole: [[UInt8]: Int32] = [:]
        if pipeline.ignoreMerges { byBytes.forEach { key, id in whole[Array(key)] = Int32(id) } }
        wholeVocab = whole

        var raw = specialTokens, normalized: [String: Int] = [:]
        for t in self.normalizedTokens { if let id = raw.removeValue(forKey: t) { normalized[pipeline.normalize(t)] = id } }
        specialMatcher = SpecialMatcher(raw, lstrip: leftStrippingTokens, rstrip: rightStrippingTokens)
        let normalizedNames = self.normalizedTokens
        let normalizedStrips = { (names: Set<String>) in Set(names.filter { normalizedNames.contains($0) }.map(pipeline.normalize)) }
        normalizedMatcher = SpecialMatcher(normalized, lstrip: normalizedStrips(leftStrippingTokens), rstrip: normalizedStrips(rightStrippingTokens))

        // SentencePiece-style lookups.
        var chars = ByteKeyMap(capacity: byteLevel ? 16 : 1024)
        var byteTokens = [Int32](repeating: -1, count: 256)
        if !byteLevel {
            byBytes.forEach { key, id in
                let b = Array(key)
                if let scalars = String(validating: b, as: UTF8.self)?.unicodeScalars, scalars.count == 1 {
                    b.withUnsafeBufferPointer { chars.set($0.baseAddress!, $0.count, Int(id)) }
                } else if let byte = BPETokenizer.fallbackByte(b) {
                    byteTokens[Int(byte)] = Int32(id)
                }
            }
        }
        charIds = chars
        byteTokenIds = byteTokens
        if let unk = pipeline.unknownToken {
            guard let id = idOf(Array(unk.utf8)) ?? specialTokens[unk].map(Int32.init) else {
                throw TokenizerError("model.unk_token \(JSONValue.quote(unk)) is not in model.vocab")
            }
            unknownId = id
        } else {
            unknownId = -1
        }
        splitters = pipeline.splitters
        metaspace = pipeline.metaspace.map { (Array($0.replacement.utf8), $0.prependScheme, $0.split) }
        leadingSpacesStripped = pipeline.leadingSpacesStripped
        isByteLevel = byteLevel
        switch pipeline.metaspace == nil ? splitters : [] {
        case [.byteLevel(useRegex: true)]: singlePattern = .gpt2
        case let steps where steps.count == 1: if case .split(let pattern) = steps[0] { singlePattern = pattern } else { singlePattern = nil }
        default: singlePattern = nil
        }

        // What each id decodes to.
        if byteLevel {
            pieceBytes = tokenBytes
        } else {
            var pieces = tokenBytes
            let fallback = pipeline.decoders.contains(.byteFallback)
            var replacements: [(String, String)] = []
            for d in pipeline.decoders {
                if case .replace(let a, let b) = d { replacements.append((a, b)) }
                if case .metaspace(let r, _) = d { replacements.append((r, " ")) }
            }
            let specialIds = Set(specialTokens.values)
            for (id, b) in tokenBytes.enumerated() where !b.isEmpty && !specialIds.contains(id) {
                if fallback, let byte = BPETokenizer.fallbackByte(b) { pieces[id] = [byte]; continue }
                if replacements.isEmpty { continue }
                var text = String(decoding: b, as: UTF8.self)
                for (x, y) in replacements { text = text.replacingOccurrences(of: x, with: y) }
                pieces[id] = Array(text.utf8)
            }
            pieceBytes = pieces
        }
    }

    /// The byte of a `<0xXX>` token (two uppercase hex digits, as `tokenizers` spells them).
    static func fallbackByte(_ b: [UInt8]) -> UInt8? {
        guard b.count == 6, b[0] == 0x3C, b[1] == 0x30, b[2] == 0x78, b[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? { (0x30...0x39).contains(c) ? c - 0x30 : (0x41...0x46).contains(c) ? c - 0x41 + 10 : nil }
        guard let h = hex(b[3]), let l = hex(b[4]) else { return nil }
        return h << 4 | l
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
            return encodeText(base, buf.count, threads: threads).map { Int($0) }
        }
    }

    /// Added tokens that are not normalized are cut out of the original text; each segment
    /// between them is normalized, then the normalized ones are cut out of it.
    func encodeText(_ p: UnsafePointer<UInt8>, _ n: Int, threads: Int) -> [Int32] {
        if pipeline.normalizers.isEmpty { return encodeBytes(p, n, threads: threads, matcher: specialMatcher, atTextStart: true) }
        var out: [Int32] = []
        for s in specialMatcher.segments(p, n) {
            if s.special >= 0 { out.append(Int32(s.special)); continue }
            var segment = pipeline.normalize(String(decoding: UnsafeBufferPointer(start: p + s.start, count: s.end - s.start), as: UTF8.self))
            segment.withUTF8 { b in
                guard let base = b.baseAddress, b.count > 0 else { return }
                out.append(contentsOf: encodeBytes(base, b.count, threads: threads, matcher: normalizedMatcher, atTextStart: s.start == 0))
            }
        }
        return out
    }

    /// A unit of work: a range of a text segment, or one special token.
    private struct Item { var start: Int; var end: Int; var limit: Int; var special: Int; var atTextStart: Bool = false }

    /// `atTextStart`: the text begins at offset 0 of what the user gave (Metaspace's "first").
    func encodeBytes(_ p: UnsafePointer<UInt8>, _ n: Int, threads: Int, matcher: SpecialMatcher, atTextStart: Bool) -> [Int32] {
        let segments = matcher.segments(p, n)
        // Below ~256 KB threads cost more than they save.
        let nt = pipeline.cutsAtNewlines ? max(1, min(threads, n / (256 << 10))) : 1
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
                items.append(Item(start: a, end: c, limit: s.end, special: -1, atTextStart: atTextStart && a == 0))
                a = c
            }
            items.append(Item(start: a, end: s.end, limit: s.end, special: -1, atTextStart: atTextStart && a == 0))
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

    /// Encodes one pre-token, through the per-thread cache. Cache values pack (start in `store`
    /// << 24 | count); pre-tokens of 2^24+ tokens are not cached.
    @inline(__always)
    private func encodePiece(_ q: UnsafePointer<UInt8>, _ a: Int, _ b: Int, _ b2i: UnsafePointer<Int32>,
                             _ cache: inout ByteKeyMap, _ store: inout [Int32], _ out: inout [Int32]) {
        let len = b - a
        if len == 1 && isByteLevel {
            let id = b2i[Int(q[a])]
            if id >= 0 { out.append(id) }
            return
        }
        if let v = cache.get(q + a, len) {
            let start = v >> 24, count = v & 0xFF_FFFF
            store.withUnsafeBufferPointer { out.append(contentsOf: $0[start..<(start + count)]) }
            return
        }
        let before = out.count
        if isByteLevel { bpe(q + a, len, &out) } else { bpeChars(q + a, len, &out) }
        let count = out.count - before
        if count < 0xFF_FFFF {
            // Bound memory on huge inputs: start afresh rather than grow without limit.
            if store.count > 1 << 26 || cache.arenaBytes > 1 << 28 { cache.removeAll(); store.removeAll(keepingCapacity: true) }
            cache.set(q + a, len, store.count << 24 | count)
            store.append(contentsOf: out[before...])
        }
    }

    @inline(__always)
    private func encodeItem(_ p: UnsafePointer<UInt8>, _ it: Item, _ b2i: UnsafePointer<Int32>, _ cache: inout ByteKeyMap, _ store: inout [Int32], _ out: inout [Int32]) {
        if it.special >= 0 { out.append(Int32(it.special)); return }
        // The one-pattern pipelines call their split directly, so the piece code is inlined into it.
        switch singlePattern {
        case .gpt2?:
            PreTokenizer.split(p, from: it.start, to: it.end, limit: it.limit) { a, b in encodePiece(p, a, b, b2i, &cache, &store, &out) }
            return
        case let pattern?:
            PreTokenizer.splitLlama3(p, from: it.start, to: it.end, limit: it.limit, maxDigits: pattern == .llama3 ? 3 : 1) { a, b in
                encodePiece(p, a, b, b2i, &cache, &store, &out)
            }
            return
        case nil: break
        }
        @inline(__always) func model(_ q: UnsafePointer<UInt8>, _ a: Int, _ b: Int) { encodePiece(q, a, b, b2i, &cache, &store, &out) }
        if let ms = metaspace {
            // Spaces become the replacement, which is prepended per the scheme; then one piece
            // (or one per replacement, with `split`).
            let rep = ms.replacement
            var text: [UInt8] = []
            text.reserveCapacity(it.end - it.start + rep.count * 4)
            for i in it.start..<it.end { if p[i] == 0x20 { text.append(contentsOf: rep) } else { text.append(p[i]) } }
            let startsWithReplacement = text.starts(with: rep)
            if !startsWithReplacement && (ms.prependScheme == .always || (ms.prependScheme == .first && it.atTextStart)) {
                text.insert(contentsOf: rep, at: 0)
            }
            text.withUnsafeBufferPointer { buf in
                let q = buf.baseAddress!, n = buf.count
                guard ms.split else { model(q, 0, n); return }
                var pieceStart = 0, i = 0
                while i < n {
                    if i > pieceStart && q[i] == rep[0] && i + rep.count <= n && (1..<rep.count).allSatisfy({ q[i + $0] == rep[$0] }) {
                        model(q, pieceStart, i); pieceStart = i; i += rep.count
                    } else { i += 1 }
                }
                if n > pieceStart { model(q, pieceStart, n) }
            }
            return
        }
        preTokenize(p, it.start, it.end, it.limit, stage: 0) { a, b in model(p, a, b) }
    }

    /// Runs the split steps from `stage` on `from..<to` (`limit`: where the text really ends,
    /// for look-ahead at a thread cut) and calls `body` with each final piece.
    @inline(__always)
    private func preTokenize(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int, _ limit: Int, stage: Int, _ body: (Int, Int) -> Void) {
        if stage == splitters.count { if to > from { body(from, to) }; return }
        let last = stage == splitters.count - 1
        switch splitters[stage] {
        case .byteLevel(useRegex: true), .split(.gpt2):
            if last { PreTokenizer.split(p, from: from, to: to, limit: limit, body); return }
            PreTokenizer.split(p, from: from, to: to, limit: limit) { a, b in preTokenize(p, a, b, b, stage: stage + 1, body) }
        case .split(let pattern):
            let maxDigits = pattern == .llama3 ? 3 : 1
            if last { PreTokenizer.splitLlama3(p, from: from, to: to, limit: limit, maxDigits: maxDigits, body); return }
            PreTokenizer.splitLlama3(p, from: from, to: to, limit: limit, maxDigits: maxDigits) { a, b in preTokenize(p, a, b, b, stage: stage + 1, body) }
        case .digits(let individual):
            PreTokenizer.splitDigits(p, from: from, to: to, individual: individual) { a, b in
                // A piece cut at a thread boundary goes on past `to` unless a digit starts there.
                let pieceLimit = b == to && to < limit && !(0x30...0x39).contains(p[to]) ? limit : b
                preTokenize(p, a, b, pieceLimit, stage: stage + 1, body)
            }
        case .whitespaceSplit, .bert:
            let punctuation = splitters[stage] == .bert
            PreTokenizer.splitWhitespace(p, from: from, to: to, punctuation: punctuation) { a, b in preTokenize(p, a, b, b, stage: stage + 1, body) }
        case .byteLevel(useRegex: false), .metaspace:
            preTokenize(p, from, to, limit, stage: stage + 1, body)
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
                let syms = symBuf.baseAddress!
                var count = 0
                for i in 0..<n {
                    let id = byteToId[Int(p[i])]
                    if id >= 0 { syms[count] = id; count += 1 }
                }
                count = mergeShort(syms, rankBuf.baseAddress!, count)
                out.append(contentsOf: UnsafeBufferPointer(start: syms, count: count))
            }
        }
    }

    /// Merges `count` symbols in place (quadratic scan; for short pre-tokens); returns the new count.
    @inline(__always)
    func mergeShort(_ syms: UnsafeMutablePointer<Int32>, _ ranks: UnsafeMutablePointer<UInt64>, _ start: Int) -> Int {
        var count = start
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
        return count
    }

    /// SentencePiece-style BPE of one pre-token: each character is its token, else its
    /// `<0xXX>` byte tokens (byte fallback), else the unknown token (consecutive ones fused with
    /// `fuse_unk`; as in `tokenizers`, a pending unknown is written when the next character with
    /// an id comes, after any byte tokens between); then the merges.
    func bpeChars(_ p: UnsafePointer<UInt8>, _ n: Int, _ out: inout [Int32]) {
        if pipeline.ignoreMerges, let id = wholeVocab[Array(UnsafeBufferPointer(start: p, count: n))] {
            out.append(id); return
        }
        var syms: [Int32] = []
        syms.reserveCapacity(n)
        var pendingUnknown = false
        var i = 0
        while i < n {
            let b0 = p[i]
            let len = min(n - i, b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4)
            if let id = charIds.get(p + i, len) {
                if pendingUnknown { syms.append(unknownId); pendingUnknown = false }
                syms.append(Int32(id))
            } else if pipeline.byteFallback && (0..<len).allSatisfy({ byteTokenIds[Int(p[i + $0])] >= 0 }) {
                for k in 0..<len { syms.append(byteTokenIds[Int(p[i + k])]) }
            } else if unknownId >= 0 {
                if pendingUnknown && !pipeline.fuseUnknown { syms.append(unknownId) }
                pendingUnknown = true
            }
            i += len
        }
        if pendingUnknown { syms.append(unknownId) }
        if syms.count > 48 { bpeLong(syms, &out); return }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 48) { rankBuf in
            syms.withUnsafeMutableBufferPointer { buf in
                let count = mergeShort(buf.baseAddress!, rankBuf.baseAddress!, buf.count)
                out.append(contentsOf: buf[..<count])
            }
        }
    }

    /// The same merge order for long pre-tokens in O(n log n): a doubly linked list of symbols and
    /// a min-heap of (rank, position) candidates, stale ones skipped when popped. Lowest rank
    /// first and, for equal ranks, lowest position first, as the quadratic version.
    func bpeLong(_ start: [Int32], _ out: inout [Int32]) {
        var syms = start
        let n = syms.count
        if n < 2 { out.append(contentsOf: syms); return }
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
            if id >= 0 && id < pieceBytes.count && !pieceBytes[id].isEmpty {
                out.append(contentsOf: pieceBytes[id])
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD for an unknown id
            }
        }
        return out
    }

    /// The text of the ids; a decoder's `Strip` (or Metaspace's first-space rule) removes leading
    /// spaces of the whole text here, never in `decodeBytes`, which streams token by token.
    public func decode(_ ids: [Int]) -> String {
        let bytes = decodeBytes(ids)
        var start = 0
        while start < min(leadingSpacesStripped, bytes.count) && bytes[start] == 0x20 { start += 1 }
        return String(decoding: bytes[start...], as: UTF8.self)
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
