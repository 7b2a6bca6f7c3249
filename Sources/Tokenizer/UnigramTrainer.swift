import Foundation

extension UnigramTokenizer {
    /// The unknown piece of the Unigram tokenizers tinygpt trains (SentencePiece's).
    public static let trainedUnknownToken = "<unk>"

    /// Learns a Unigram vocabulary of `vocabSize` ids (`<unk>`, `specialTokens`, then pieces by
    /// score) as Kudo 2018 and SentencePiece do:
    /// 1. seed pieces: every character, and every substring of a word (up to 16 characters) that
    ///    the suffix array shows repeated, scored by occurrences × length, as log probabilities;
    /// 2. EM: two rounds of expected piece counts over all segmentations of each word
    ///    (forward–backward), then new log probabilities with the Bayesian (digamma) update,
    ///    dropping pieces expected less than half a time;
    /// 3. pruning: each piece's loss is how much the likelihood falls when its occurrences take
    ///    their next-best segmentation; the pieces losing least go, 25% per round, until 1.1 ×
    ///    `vocabSize` are left; then more EM;
    /// 4. the best-scored pieces fill the vocabulary, every character of the text kept.
    /// Words come from tinygpt's Metaspace layout (`TextPipeline.metaspaceLayout`). Deterministic.
    /// `progress(round, rounds)` counts the EM rounds.
    public static func train(text: String, vocabSize: Int, specialTokens: [String] = [],
                             progress: ((Int, Int) -> Void)? = nil) throws -> UnigramTokenizer {
        let specials = try SubwordTraining.specials(unknown: trainedUnknownToken, specialTokens)
        let pipeline = TextPipeline.metaspaceLayout(wordPiece: false)
        let words = try SubwordTraining.words(text, pipeline: pipeline, specials: specials)
        var trainer = UnigramTraining(words: words)
        let alphabet = trainer.characterCounts.count
        guard vocabSize >= alphabet + specials.count else {
            throw SubwordTraining.tooSmall(vocabSize, kind: "unigram", needed: alphabet + specials.count,
                                           parts: "\(specials.count) special token(s) with \(trainedUnknownToken), \(alphabet) characters")
        }
        let final = trainer.run(vocabSize: vocabSize, specials: specials.count, progress: progress)
        for s in specials where final.contains(where: { $0.bytes == Array(s.utf8) }) {
            throw TokenizerError("special token '\(s)' is also a learned piece; choose a special that cannot occur in text")
        }
        var added: [String: Int] = [:]
        for (k, s) in specials.enumerated() { added[s] = k }
        return try UnigramTokenizer(pieces: specials + final.map { String(decoding: $0.bytes, as: UTF8.self) },
                                    scores: specials.map { _ in 0 } + final.map(\.score), unknownId: 0, byteFallback: false,
                                    pipeline: pipeline, added: AddedTokens(specials: added))
    }
}

/// The state of Unigram training: the words, and the pieces with their scores. Piece 0 stands
/// for the unknown character and matches no text.
struct UnigramTraining {
    typealias Piece = (bytes: [UInt8], score: Double)

    /// The longest piece, in characters (SentencePiece's and `tokenizers`' default).
    static let maxPieceLength = 16
    static let seedSize = 1_000_000
    static let shrinkingFactor = 0.75
    static let emRounds = 2

    let words: [(bytes: [UInt8], count: Int)]
    /// Per word, the byte offset of each character and the end.
    let offsets: [[Int]]
    /// Every character (its UTF-8) with its count in the text.
    let characterCounts: [([UInt8], Int)]
    var pieces: [Piece] = []

    init(words: [(bytes: [UInt8], count: Int)]) {
        self.words = words
        var offsets: [[Int]] = []
        offsets.reserveCapacity(words.count)
        var counts: [[UInt8]: Int] = [:]
        for w in words {
            var o: [Int] = []
            o.reserveCapacity(w.bytes.count + 1)
            for (i, b) in w.bytes.enumerated() where b & 0xC0 != 0x80 { o.append(i) }
            o.append(w.bytes.count)
            for k in 0..<(o.count - 1) { counts[Array(w.bytes[o[k]..<o[k + 1]]), default: 0] += w.count }
            offsets.append(o)
        }
        self.offsets = offsets
        characterCounts = counts.map { ($0.key, $0.value) }
    }

    mutating func run(vocabSize: Int, specials: Int, progress: ((Int, Int) -> Void)?) -> [Piece] {
        pieces = [([], .nan)] + seeds()
        let desired = vocabSize * 11 / 10
        let rounds = Int(((log(Double(desired)) - log(Double(pieces.count))) / log(Self.shrinkingFactor)).rounded(.down)) + 1
        var round = 0
        while true {
            for _ in 0..<Self.emRounds {
                pieces = maximize(expectedCounts())
                round += 1
                progress?(min(round, Self.emRounds * max(rounds, 1)), Self.emRounds * max(rounds, 1))
            }
            if pieces.count <= desired { break }
            let before = pieces.count
            pieces = prune(desired: desired)
            if pieces.count == before { break }
        }
        progress?(Self.emRounds * max(rounds, 1), Self.emRounds * max(rounds, 1))
        return finalPieces(vocabSize - specials)
    }

    // MARK: Seeds

    /// Characters scored by count, then repeated substrings by occurrences (in the list of
    /// distinct words) × length, best first, as log probabilities.
    func seeds() -> [Piece] {
        let boundary: Int32 = 0x110000  // not a code point
        var flat: [Int32] = []
        var flatStart: [Int] = []  // byte offset in `bytes` of each symbol
        var bytes: [UInt8] = []
        var nextBoundary: [Int] = []
        for (w, o) in zip(words, offsets) {
            for k in 0..<(o.count - 1) {
                flat.append(Int32(bitPattern: UnicodeScalarDecoding.value(w.bytes, o[k])))
                flatStart.append(bytes.count + o[k])
            }
            flat.append(boundary)
            flatStart.append(bytes.count + w.bytes.count)
            bytes += w.bytes
        }
        flatStart.append(bytes.count)
        nextBoundary = [Int](repeating: flat.count, count: flat.count + 1)
        var nb = flat.count
        for i in stride(from: flat.count - 1, through: 0, by: -1) { if flat[i] == boundary { nb = i }; nextBoundary[i] = nb }

        var characters = characterCounts.map { (bytes: $0.0, score: Double($0.1)) }
        characters.sort { $0.score != $1.score ? $0.score > $1.score : $1.bytes.lexicographicallyPrecedes($0.bytes) }
        var substrings: [(start: Int, length: Int, score: Int)] = []
        SuffixArray.repeats(flat) { start, length, occurrences in
            guard length >= 2, length <= Self.maxPieceLength, nextBoundary[start] >= start + length else { return }
            substrings.append((start, length, occurrences * length))
        }
        substrings.sort { x, y in
            if x.score != y.score { return x.score > y.score }
            // Ties: the larger string first (by code points), as `tokenizers` orders them.
            return flat[y.start..<(y.start + y.length)].lexicographicallyPrecedes(flat[x.start..<(x.start + x.length)])
        }
        var seeds: [Piece] = characters
        for s in substrings where seeds.count < Self.seedSize {
            seeds.append((Array(bytes[flatStart[s.start]..<flatStart[s.start + s.length]]), Double(s.score)))
        }
        let logSum = log(seeds.reduce(0) { $0 + $1.score })
        return seeds.map { ($0.bytes, log($0.score) - logSum) }
    }

    // MARK: The lattice

    /// The pieces of a model (bytes → index) and the unknown score.
    struct Model {
        var index: ByteKeyMap
        var unknownScore: Double
        let scores: [Double]

        init(_ pieces: [Piece]) {
            var map = ByteKeyMap(capacity: max(16, pieces.count))
            var minimum = Double.infinity
            for (i, p) in pieces.enumerated() where i > 0 {
                p.bytes.withUnsafeBufferPointer { map.set($0.baseAddress!, $0.count, i) }
                minimum = min(minimum, p.score)
            }
            index = map
            unknownScore = (minimum.isFinite ? minimum : 0) - 10
            scores = pieces.map(\.score)
        }
    }

    /// A lattice node: characters start..<end, piece id.
    struct Node { var start: Int32; var end: Int32; var id: Int32; var score: Double }

    /// Every piece of the model in `bytes` (character offsets `o`), by start then length; an
    /// unknown node where no one-character piece exists. `skipWhole`: a piece id left out where
    /// it would span all of `bytes`.
    func lattice(_ bytes: [UInt8], _ o: [Int], _ model: Model, skipWhole: Int32 = -1) -> [Node] {
        let n = o.count - 1
        var nodes: [Node] = []
        bytes.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            for i in 0..<n {
                var single = false
                for j in (i + 1)...min(n, i + Self.maxPieceLength) {
                    guard let id = model.index.get(p + o[i], o[j] - o[i]) else { continue }
                    if j == i + 1 { single = true }
                    if i == 0 && j == n && Int32(id) == skipWhole { continue }
                    nodes.append(Node(start: Int32(i), end: Int32(j), id: Int32(id), score: model.scores[id]))
                }
                if !single { nodes.append(Node(start: Int32(i), end: Int32(i + 1), id: 0, score: model.unknownScore)) }
            }
        }
        return nodes
    }

    /// The best segmentation (node indices in order), ties to the earliest start; nil if none.
    func viterbi(_ nodes: [Node], characters n: Int) -> [Int]? {
        var best = [Double](repeating: -.infinity, count: n + 1)
        var back = [Int](repeating: -1, count: n + 1)
        best[0] = 0
        for (k, node) in nodes.enumerated() where best[Int(node.start)] > -.infinity {
            let candidate = best[Int(node.start)] + node.score
            if back[Int(node.end)] < 0 || candidate > best[Int(node.end)] { best[Int(node.end)] = candidate; back[Int(node.end)] = k }
        }
        guard n > 0, back[n] >= 0 else { return n == 0 ? [] : nil }
        var path: [Int] = []
        var end = n
        while end > 0 { let k = back[end]; path.append(k); end = Int(nodes[k].start) }
        return path.reversed()
    }

    // MARK: EM

    /// Expected count of each piece: Σ over words of count × the piece's marginal over all
    /// segmentations (forward–backward in log space).
    func expectedCounts() -> [Double] {
        let model = Model(pieces)
        var expected = [Double](repeating: 0, count: pieces.count)
        for (w, o) in zip(words, offsets) {
            let n = o.count - 1
            let nodes = lattice(w.bytes, o, model)
            var alpha = [Double](repeating: -.infinity, count: n + 1), beta = [Double](repeating: -.infinity, count: n + 1)
            alpha[0] = 0; beta[n] = 0
            for node in nodes { alpha[Int(node.end)] = logAdd(alpha[Int(node.end)], alpha[Int(node.start)] + node.score) }
            for node in nodes.reversed() { beta[Int(node.start)] = logAdd(beta[Int(node.start)], node.score + beta[Int(node.end)]) }
            let z = alpha[n]
            let f = Double(w.count)
            for node in nodes { expected[Int(node.id)] += f * exp(alpha[Int(node.start)] + node.score + beta[Int(node.end)] - z) }
        }
        return expected
    }

    /// New scores: digamma(expected) − digamma(total) over the pieces expected at least half a time.
    func maximize(_ expected: [Double]) -> [Piece] {
        var kept: [Piece] = [pieces[0]]
        var total = 0.0
        for i in 1..<pieces.count where expected[i] >= 0.5 {
            kept.append((pieces[i].bytes, expected[i]))
            total += expected[i]
        }
        let logTotal = digamma(total)
        return [kept[0]] + kept.dropFirst().map { ($0.bytes, digamma($0.score) - logTotal) }
    }

    // MARK: Pruning

    /// Keeps max(`desired`, 75%) of the pieces: those that are never their own best segmentation
    /// and unused go; those with no alternative stay; the others rank by the loss of likelihood
    /// if their occurrences took their next-best segmentation instead, highest kept.
    func prune(desired: Int) -> [Piece] {
        let model = Model(pieces)
        var alwaysKeep = [Bool](repeating: true, count: pieces.count)
        var alternatives = [[Int32]](repeating: [], count: pieces.count)
        for i in 1..<pieces.count {
            let b = pieces[i].bytes
            var o: [Int] = []
            for (k, x) in b.enumerated() where x & 0xC0 != 0x80 { o.append(k) }
            o.append(b.count)
            let nodes = lattice(b, o, model)
            guard let bestPath = viterbi(nodes, characters: o.count - 1) else { continue }
            if bestPath.count >= 2 { alwaysKeep[i] = false; continue }
            let others = lattice(b, o, model, skipWhole: Int32(i))
            if let second = viterbi(others, characters: o.count - 1), !second.isEmpty {
                alternatives[i] = second.map { others[$0].id }
            }
        }
        // Viterbi counts over the corpus, and which words use each piece.
        var freq = [Double](repeating: 0, count: pieces.count)
        var inverted = [[Int32]](repeating: [], count: pieces.count)
        var wordTotal = 0.0
        for (wi, w) in words.enumerated() {
            let o = offsets[wi]
            let nodes = lattice(w.bytes, o, model)
            wordTotal += Double(w.count)
            guard let path = viterbi(nodes, characters: o.count - 1) else { continue }
            for k in path {
                let id = Int(nodes[k].id)
                freq[id] += Double(w.count)
                inverted[id].append(Int32(wi))
            }
        }
        let sum = freq.reduce(0, +)
        let logSum = log(sum)
        var kept: [Piece] = [pieces[0]]
        var candidates: [(index: Int, loss: Double)] = []
        for i in 1..<pieces.count {
            if freq[i] == 0 && !alwaysKeep[i] { continue }
            if alternatives[i].isEmpty { kept.append(pieces[i]); continue }
            var f = 0.0
            for w in inverted[i] { f += Double(words[Int(w)].count) }
            if f == 0 { continue }
            f /= wordTotal
            let logProbability = log(freq[i]) - logSum
            let logSumAlternative = log(sum + freq[i] * Double(alternatives[i].count - 1))
            var logProbabilityAlternative = 0.0
            for a in alternatives[i] { logProbabilityAlternative += log(freq[Int(a)] + freq[i]) - logSumAlternative }
            candidates.append((i, f * (logProbability - logProbabilityAlternative)))
        }
        let target = max(desired, Int(Double(pieces.count) * Self.shrinkingFactor))
        candidates.sort { $0.loss != $1.loss ? $0.loss > $1.loss : $0.index < $1.index }
        for c in candidates where kept.count < target { kept.append(pieces[c.index]) }
        return kept
    }

    // MARK: Final vocabulary

    /// Every character of the text (one missing from the model scores just below the lowest,
    /// more frequent ones higher), then the best-scored pieces up to `size`; sorted by score
    /// (ties by bytes).
    func finalPieces(_ size: Int) -> [Piece] {
        let model = pieces.dropFirst()
        let minimum = model.map(\.score).min() ?? 0
        var scoreOf: [[UInt8]: Double] = [:]
        for p in model { scoreOf[p.bytes] = p.score }
        var final: [[UInt8]: Double] = [:]
        var penalty = 0.0
        let characters = characterCounts.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.lexicographicallyPrecedes($1.0) }
        for (c, _) in characters {
            if let s = scoreOf[c] { final[c] = s } else { final[c] = minimum + penalty; penalty += 0.0001 }
        }
        let byScore = model.sorted { $0.score != $1.score ? $0.score > $1.score : $0.bytes.lexicographicallyPrecedes($1.bytes) }
        for p in byScore where final.count < size && final[p.bytes] == nil { final[p.bytes] = p.score }
        return final.map { (bytes: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }
}

/// log(exp(a) + exp(b)), exact at −∞.
@inline(__always)
func logAdd(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    let (hi, lo) = a > b ? (a, b) : (b, a)
    return hi + log1p(exp(lo - hi))
}

/// ψ(x), the digamma function: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 7, then the
/// asymptotic series of ψ(x + ½) (what SentencePiece's Bayesian EM uses).
func digamma(_ x0: Double) -> Double {
    var x = x0, result = 0.0
    while x < 7 { result -= 1 / x; x += 1 }
    x -= 0.5
    let xx = 1 / x, xx2 = xx * xx, xx4 = xx2 * xx2
    result += log(x) + xx2 / 24 - 7 * xx4 / 960 + 31 * xx4 * xx2 / 8064 - 127 * xx4 * xx4 / 30720
    return result
}

enum UnicodeScalarDecoding {
    /// The code point of the valid UTF-8 character at byte `i`.
    static func value(_ b: [UInt8], _ i: Int) -> UInt32 {
        b.withUnsafeBufferPointer { PreTokenizer.scalar($0.baseAddress!, i).value }
    }
}
