/// A trie over the UTF-8 of a vocabulary: every token that is a prefix of a text position, in
/// one walk (Unigram's lattice). A later token with the same bytes replaces an earlier one.
struct ByteTrie {
    /// (node << 8 | byte) → child node.
    private var edges: [UInt64: Int32] = [:]
    /// The token id ending at each node, or -1.
    private var ids: [Int32] = [-1]
    /// The longest token, in bytes.
    private(set) var maxLength = 0

    init(_ tokens: [[UInt8]]) {
        for (id, t) in tokens.enumerated() where !t.isEmpty {
            var node: Int32 = 0
            for b in t {
                let key = UInt64(node) << 8 | UInt64(b)
                if let child = edges[key] {
                    node = child
                } else {
                    let child = Int32(ids.count)
                    ids.append(-1)
                    edges[key] = child
                    node = child
                }
            }
            ids[Int(node)] = Int32(id)
            maxLength = max(maxLength, t.count)
        }
    }

    /// Calls `body(length, id)` for each token that starts `p[0..<n]`, shortest first.
    @inline(__always)
    func prefixes(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int32) -> Void) {
        var node: Int32 = 0
        var i = 0
        while i < n, let child = edges[UInt64(node) << 8 | UInt64(p[i])] {
            node = child
            i += 1
            let id = ids[Int(node)]
            if id >= 0 { body(i, id) }
        }
    }

    /// The id of exactly these bytes, if a token.
    func id(_ bytes: [UInt8]) -> Int32? {
        var node: Int32 = 0
        for b in bytes {
            guard let child = edges[UInt64(node) << 8 | UInt64(b)] else { return nil }
            node = child
        }
        let id = ids[Int(node)]
        return id >= 0 ? id : nil
    }
}
