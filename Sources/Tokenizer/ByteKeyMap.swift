import Foundation

/// An open-addressing hash map from byte strings to Int, keys copied into one arena.
/// Lookups take a pointer + length (no allocation per lookup): this is what makes the
/// pre-token cache and the training word count fast.
struct ByteKeyMap {
    private struct Entry { var hash: UInt64; var keyStart: Int32; var keyLen: Int32; var value: Int }
    private var slots: [Int32]          // index into entries, -1 = empty
    private var entries: [Entry] = []
    private(set) var arena: [UInt8] = []
    private var mask: Int

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        slots = Array(repeating: -1, count: c)
        mask = c - 1
        entries.reserveCapacity(capacity)
    }

    var count: Int { entries.count }
    var arenaBytes: Int { arena.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        // FNV-1a over 8-byte words, then a final mix; good enough for short byte keys.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(n)
        var i = 0
        while i + 8 <= n {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            h = (h ^ w) &* 0x100_0000_01b3
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return h
    }

    /// Inline comparison: keys are short, a memcmp call costs more than the compare.
    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) { return false }
            i += 8
        }
        while i < n { if a[i] != b[i] { return false }; i += 1 }
        return true
    }

    @inline(__always)
    private func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64) -> (slot: Int, entry: Int) {
        var s = Int(truncatingIfNeeded: h) & mask
        return arena.withUnsafeBufferPointer { ar in
            while true {
                let e = Int(slots[s])
                if e < 0 { return (s, -1) }
                let en = entries[e]
                if en.hash == h && Int(en.keyLen) == n && (n == 0 || ByteKeyMap.equal(ar.baseAddress! + Int(en.keyStart), p, n)) {
                    return (s, e)
                }
                s = (s + 1) & mask
            }
        }
    }

    @inline(__always)
    func get(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let (_, e) = find(p, n, ByteKeyMap.hash(p, n))
        return e < 0 ? nil : entries[e].value
    }

    /// Adds `delta` to the key's value (inserting 0 first if absent).
    @inline(__always)
    mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ delta: Int) {
        let h = ByteKeyMap.hash(p, n)
        let (s, e) = find(p, n, h)
        if e >= 0 { entries[e].value += delta; return }
        insertNew(p, n, h, s, delta)
    }

    @inline(__always)
    mutating func set(_ p: UnsafePointer<UInt8>, _ n: Int, _ value: Int) {
        let h = ByteKeyMap.hash(p, n)
        let (s, e) = find(p, n, h)
        if e >= 0 { entries[e].value = value; return }
        insertNew(p, n, h, s, value)
    }

    /// Sets the key's value unless the key is present.
    @inline(__always)
    mutating func setIfAbsent(_ p: UnsafePointer<UInt8>, _ n: Int, _ value: Int) {
        let h = ByteKeyMap.hash(p, n)
        let (s, e) = find(p, n, h)
        if e < 0 { insertNew(p, n, h, s, value) }
    }

    private mutating func insertNew(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64, _ slot: Int, _ value: Int) {
        let start = arena.count
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        slots[slot] = Int32(entries.count)
        entries.append(Entry(hash: h, keyStart: Int32(start), keyLen: Int32(n), value: value))
        if entries.count * 2 > slots.count { grow() }
    }

    private mutating func grow() {
        let c = slots.count * 2
        slots = Array(repeating: -1, count: c)
        mask = c - 1
        for (i, e) in entries.enumerated() {
            var s = Int(truncatingIfNeeded: e.hash) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = -1 }
    }

    /// Every (key bytes, value), in insertion order.
    func forEach(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        arena.withUnsafeBufferPointer { ar in
            for e in entries {
                body(UnsafeBufferPointer(start: ar.baseAddress.map { $0 + Int(e.keyStart) }, count: Int(e.keyLen)), e.value)
            }
        }
    }
}

/// Read-only open-addressing map from a token pair (left << 32 | right) to (rank << 32 | merged
/// id), in raw memory: lookups hash with one multiply and touch no reference counts, so
/// threads can share it. Built once; freed by its owner.
struct PairTable {
    private let keys: UnsafeMutablePointer<UInt64>
    private let values: UnsafeMutablePointer<UInt64>
    private let mask: Int
    private static let empty = UInt64.max  // (0xFFFFFFFF, 0xFFFFFFFF) is never a real pair

    /// An empty table with room for `capacity` pairs; fill it with `set` before sharing it.
    init(capacity: Int) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        keys = .allocate(capacity: c)
        keys.initialize(repeating: PairTable.empty, count: c)
        values = .allocate(capacity: c)
        values.initialize(repeating: 0, count: c)
        mask = c - 1
    }

    /// Sets a pair's value, replacing an earlier one. At most `capacity` distinct pairs.
    mutating func set(_ k: UInt64, _ v: UInt64) {
        var s = PairTable.slot(k, mask)
        while keys[s] != PairTable.empty && keys[s] != k { s = (s + 1) & mask }
        keys[s] = k
        values[s] = v
    }

    @inline(__always) private static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    @inline(__always) func get(_ k: UInt64) -> UInt64? {
        var s = PairTable.slot(k, mask)
        while true {
            let x = keys[s]
            if x == k { return values[s] }
            if x == PairTable.empty { return nil }
            s = (s + 1) & mask
        }
    }

    func deallocate() { keys.deallocate(); values.deallocate() }
}
