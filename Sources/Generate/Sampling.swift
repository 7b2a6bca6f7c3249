import Foundation
import Config

// Decoding rules as pure functions of the logits (and, for a draw, of a
// uniform random number passed in), so each is easy to read and to test.
// The order, as documented in docs/sampling.md: repetition penalty,
// n-gram bans and the minimum length's end-token ban on the logits; then
// temperature; top-k; top-p over the renormalised distribution; min-p; then a draw.

/// The repetition penalty as transformers' RepetitionPenaltyLogitsProcessor
/// applies it: for every token already in the sequence, divide its logit by
/// `penalty` if positive, multiply if negative. (CTRL, Keskar et al. 2019,
/// divides the logits of generated tokens whatever their sign.)
public func applyRepetitionPenalty(_ logits: inout [Float], history: [Int32], penalty: Float) {
    guard penalty != 1 else { return }
    var seen = Set<Int32>()
    for t in history where seen.insert(t).inserted {
        let i = Int(t)
        logits[i] = logits[i] > 0 ? logits[i] / penalty : logits[i] * penalty
    }
}

/// transformers' MinNewTokensLengthLogitsProcessor: while fewer than
/// `minimum` tokens have been generated, no end token can be chosen (their
/// logits become −∞). Stop strings are not affected.
public func banEndTokens(_ logits: inout [Float], endTokens: Set<Int32>, generated: Int, minimum: Int) {
    guard generated < minimum else { return }
    for t in endTokens where t >= 0 && Int(t) < logits.count { logits[Int(t)] = -.infinity }
}

/// Tokens that would repeat an n-gram already in `history` (no-repeat-ngram):
/// every token that followed an earlier occurrence of the last n − 1 tokens.
public func bannedTokens(history: [Int32], n: Int) -> Set<Int32> {
    guard n >= 1, history.count >= n - 1 else { return [] }
    if n == 1 { return Set(history) }
    let prefix = Array(history.suffix(n - 1))
    var banned = Set<Int32>()
    var start = 0
    while start + n <= history.count {
        if Array(history[start..<(start + n - 1)]) == prefix { banned.insert(history[start + n - 1]) }
        start += 1
    }
    return banned
}

/// The index of the largest logit (the lowest index among ties).
public func argmax(_ logits: [Float]) -> Int {
    var best = 0
    for i in logits.indices where logits[i] > logits[best] { best = i }
    return best
}

/// The distribution to draw from: softmax(logits / temperature), then the k
/// most likely (top_k > 0), then the smallest set, most likely first, whose
/// mass reaches top_p (always at least one token), then tokens with at least
/// min_p × the top probability, renormalised after each cut. Probabilities
/// of removed tokens are 0. temperature must be > 0 (0 means greedy: see `chooseToken`).
///
/// Only the tokens a cut can keep are sorted: sorting a whole 32000-token
/// vocabulary costs more than the forward pass of the stories15M shape
/// (docs/benchmarks.md, "Kernel constants and their measurements").
public func filteredProbabilities(_ logits: [Float], temperature: Double, topK: Int, topP: Double, minP: Double) -> [Double] {
    let scaled = logits.map { Double($0) / temperature }
    let m = scaled.max() ?? 0
    var p = scaled.map { $0 == -.infinity ? 0 : exp($0 - m) }
    normalize(&p)
    let n = p.count
    let cutsK = topK > 0 && topK < n
    if cutsK || topP < 1 {
        let keep = mostLikely(p, topK: cutsK ? topK : n, topP: topP)
        var kept = [Double](repeating: 0, count: n)
        for i in keep { kept[i] = p[i] }
        p = kept
    }
    normalize(&p)
    if minP > 0 {
        let threshold = minP * (p.max() ?? 0)
        for i in p.indices where p[i] < threshold { p[i] = 0 }
        normalize(&p)
    }
    return p
}

/// The tokens top-k then top-p keep, most likely first (ties: lower id
/// first, so cuts are deterministic). Equal to cutting the fully sorted
/// vocabulary, but sorts only the candidates: for top-k, the tokens at or
/// above the k-th largest probability; for top-p alone, those at or above
/// half of (1 − top_p) / n, since the tokens below that hold less than
/// 1 − top_p together and so the cut always falls among the candidates
/// (if rounding ever says otherwise, the whole vocabulary is sorted).
func mostLikely(_ p: [Double], topK k: Int, topP: Double) -> ArraySlice<Int> {
    let n = p.count
    let floor = k < n ? kthLargest(p, k) : (topP < 1 ? (1 - topP) / Double(n) / 2 : 0)
    for attempt in 0..<2 {
        // (probability, id) pairs sort faster than ids compared through the array.
        var candidates: [(p: Double, id: Int)] = []
        for (i, pi) in p.enumerated() where attempt == 1 || pi >= floor { candidates.append((pi, i)) }
        candidates.sort { $0.p != $1.p ? $0.p > $1.p : $0.id < $1.id }
        let kept = candidates.prefix(k).map(\.id)[...]
        guard topP < 1 else { return kept }
        // The mass of the k most likely: all of it without top-k (the candidates may not hold it all).
        let mass = k < n ? kept.reduce(0.0) { $0 + p[$1] } : p.reduce(0, +)
        var cumulative = 0.0, count = 0
        for i in kept {
            cumulative += p[i] / mass
            count += 1
            if cumulative >= topP { return kept.prefix(count) }
        }
        if k < n || attempt == 1 { return kept }  // top-k's set holds the whole mass it is cut against
    }
    return []
}

/// The k-th largest value (k in 1...count), by quickselect on a copy.
func kthLargest(_ values: [Double], _ k: Int) -> Double {
    var v = values
    var lo = 0, hi = v.count - 1
    let target = k - 1  // index in descending order
    while lo < hi {
        let pivot = v[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while v[i] > pivot { i += 1 }
            while v[j] < pivot { j -= 1 }
            if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
        }
        // Now v[lo...j] >= pivot >= v[i...hi], and v[j+1..<i] == pivot.
        if target <= j { hi = j } else if target >= i { lo = i } else { return pivot }
    }
    return v[target]
}

func normalize(_ p: inout [Double]) {
    let s = p.reduce(0, +)
    if s > 0 { for i in p.indices { p[i] /= s } }
}

/// Inverse-CDF draw: the first token whose cumulative probability exceeds
/// u ∈ [0, 1) (never a token of probability 0).
public func drawToken(_ probabilities: [Double], u: Double) -> Int {
    var cumulative = 0.0, last = 0
    for (i, p) in probabilities.enumerated() where p > 0 {
        cumulative += p
        last = i
        if u < cumulative { return i }
    }
    return last  // rounding left u just above the total
}

/// One decoding step for a sequence: penalties, then greedy or a filtered draw.
public func chooseToken(_ logits: [Float], history: [Int32], settings: DecodingSettings, u: Double) -> Int {
    var l = logits
    applyRepetitionPenalty(&l, history: history, penalty: settings.repetitionPenalty)
    for t in bannedTokens(history: history, n: settings.noRepeatNgram) { l[Int(t)] = -.infinity }
    if settings.greedy || l.allSatisfy({ $0 == -.infinity }) { return argmax(l) }
    return drawToken(filteredProbabilities(l, temperature: settings.temperature, topK: settings.topK,
                                           topP: settings.topP, minP: settings.minP), u: u)
}

/// The decoding settings that act per step (from the config's sample section).
public struct DecodingSettings: Equatable, Sendable {
    public var temperature: Double = 1
    public var topK = 0
    public var topP: Double = 1
    public var minP: Double = 0
    public var repetitionPenalty: Float = 1
    public var noRepeatNgram = 0
    /// End tokens are banned until this many tokens are generated (`banEndTokens`).
    public var minNewTokens = 0
    /// Greedy: strategy greedy, or temperature 0.
    public var greedy = false
    public init() {}

    /// The decoding rules of a run config's sample section.
    public init(_ s: SampleConfig) {
        temperature = s.temperature
        topK = s.topK; topP = s.topP; minP = s.minP
        repetitionPenalty = Float(s.repetitionPenalty); noRepeatNgram = s.noRepeatNgram
        minNewTokens = s.minNewTokens
        greedy = s.isGreedy
    }
}
