import Foundation
import Config

// Decoding rules as pure functions of the logits (and, for a draw, of a
// uniform random number passed in), so each is easy to read and to test.
// The order, as documented in docs/sampling.md: repetition penalty and
// n-gram bans on the logits; then temperature; top-k; top-p over the
// renormalised distribution; min-p; then a draw.

/// CTRL's repetition penalty (Keskar et al. 2019): for every token already
/// in the sequence, divide its logit by `penalty` if positive, multiply if negative.
public func applyRepetitionPenalty(_ logits: inout [Float], history: [Int32], penalty: Float) {
    guard penalty != 1 else { return }
    var seen = Set<Int32>()
    for t in history where seen.insert(t).inserted {
        let i = Int(t)
        logits[i] = logits[i] > 0 ? logits[i] / penalty : logits[i] * penalty
    }
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
public func filteredProbabilities(_ logits: [Float], temperature: Double, topK: Int, topP: Double, minP: Double) -> [Double] {
    let scaled = logits.map { Double($0) / temperature }
    let m = scaled.max() ?? 0
    var p = scaled.map { $0 == -.infinity ? 0 : exp($0 - m) }
    normalize(&p)
    // Most likely first; ties keep the lower id first, so cuts are deterministic.
    let order = p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
    var keep = order.count
    if topK > 0 { keep = min(keep, topK) }
    if topP < 1 {
        let kept = order.prefix(keep)
        let mass = kept.reduce(0.0) { $0 + p[$1] }
        var cumulative = 0.0, n = 0
        for i in kept {
            cumulative += p[i] / mass
            n += 1
            if cumulative >= topP { break }
        }
        keep = max(1, n)
    }
    for i in order[keep...] { p[i] = 0 }
    normalize(&p)
    if minP > 0, let top = order.first {
        let threshold = minP * p[top]
        for i in order.prefix(keep) where p[i] < threshold { p[i] = 0 }
        normalize(&p)
    }
    return p
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
    /// Greedy: strategy greedy, or temperature 0.
    public var greedy = false
    public init() {}

    /// The decoding rules of a run config's sample section.
    public init(_ s: SampleConfig) {
        temperature = s.temperature
        topK = s.topK; topP = s.topP; minP = s.minP
        repetitionPenalty = Float(s.repetitionPenalty); noRepeatNgram = s.noRepeatNgram
        greedy = s.isGreedy
    }
}
