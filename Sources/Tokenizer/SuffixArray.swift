/// Suffix arrays and the repeated substrings they reveal (Unigram training's seed pieces).
enum SuffixArray {
    /// The suffixes of `s` in sorted order, by prefix doubling over cyclic shifts with a unique
    /// smallest sentinel appended (so shifts sort as suffixes); each round is a counting sort.
    /// O(n log n).
    static func sorted(_ s: [Int32]) -> [Int32] {
        let n = s.count + 1
        if n == 1 { return [] }
        // Dense symbol ranks, 0 for the sentinel.
        let symbols = Array(Set(s)).sorted()
        var rankOf: [Int32: Int] = [:]
        for (k, v) in symbols.enumerated() { rankOf[v] = k + 1 }
        var c = s.map { rankOf[$0]! } + [0]
        var classes = symbols.count + 1
        var p = [Int](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: max(classes, n))
        for x in c { counts[x] += 1 }
        for i in 1..<classes { counts[i] += counts[i - 1] }
        for i in stride(from: n - 1, through: 0, by: -1) { counts[c[i]] -= 1; p[counts[c[i]]] = i }
        var pn = [Int](repeating: 0, count: n), cn = [Int](repeating: 0, count: n)
        var h = 1
        while h < n && classes < n {
            // Sorted by the second half already: shift each start back by h, then sort stably by the first half.
            for i in 0..<n { pn[i] = p[i] - h < 0 ? p[i] - h + n : p[i] - h }
            for i in 0..<classes { counts[i] = 0 }
            for x in pn { counts[c[x]] += 1 }
            for i in 1..<classes { counts[i] += counts[i - 1] }
            for i in stride(from: n - 1, through: 0, by: -1) { counts[c[pn[i]]] -= 1; p[counts[c[pn[i]]]] = pn[i] }
            cn[p[0]] = 0
            classes = 1
            for i in 1..<n {
                let a = p[i], b = p[i - 1]
                let a2 = a + h < n ? a + h : a + h - n, b2 = b + h < n ? b + h : b + h - n
                if c[a] != c[b] || c[a2] != c[b2] { classes += 1 }
                cn[a] = classes - 1
            }
            swap(&c, &cn)
            h <<= 1
        }
        return p.dropFirst().map { Int32($0) }  // p[0] is the sentinel
    }

    /// lcp[i] = the longest common prefix of suffixes sa[i-1] and sa[i] (lcp[0] = 0), Kasai et al. 2001.
    static func longestCommonPrefixes(_ s: [Int32], _ sa: [Int32]) -> [Int32] {
        let n = s.count
        var rank = [Int](repeating: 0, count: n)
        for (i, p) in sa.enumerated() { rank[Int(p)] = i }
        var lcp = [Int32](repeating: 0, count: n)
        var h = 0
        for i in 0..<n {
            if rank[i] > 0 {
                let j = Int(sa[rank[i] - 1])
                while i + h < n && j + h < n && s[i + h] == s[j + h] { h += 1 }
                lcp[rank[i]] = Int32(h)
                if h > 0 { h -= 1 }
            } else {
                h = 0
            }
        }
        return lcp
    }

    /// Every substring that occurs at least twice and is followed by two different symbols (or
    /// the end) somewhere: the internal nodes of the suffix tree. Calls `body(start, length,
    /// occurrences)` with one occurrence's start.
    static func repeats(_ s: [Int32], _ body: (Int, Int, Int) -> Void) {
        let sa = sorted(s)
        let lcp = longestCommonPrefixes(s, sa)
        let n = s.count
        var stack: [(lcp: Int, lb: Int)] = [(0, 0)]
        for i in 1...max(n, 1) {
            let current = i < n ? Int(lcp[i]) : 0
            var lb = i - 1
            while current < stack[stack.count - 1].lcp {
                let top = stack.removeLast()
                body(Int(sa[top.lb]), top.lcp, i - top.lb)
                lb = top.lb
            }
            if current > stack[stack.count - 1].lcp { stack.append((current, lb)) }
        }
    }
}
