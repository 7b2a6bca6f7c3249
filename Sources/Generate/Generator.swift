import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Tokenizer

/// Text generation with a KV cache: every new token costs one position's
/// work. The sequences of a batch (several samples, or the beams) advance
/// together through one `LogitsSource` (per-token or batched; see there for
/// how the window slides at the context length).
///
/// A prefix LM (model.attention = prefix_lm) reads the prompt as its prefix,
/// bidirectionally; each generated token is causal (the batched path serves it).
public final class Generator {
    public let source: any LogitsSource
    public var contextWindow: Int { source.contextWindow }
    public let tokenizer: any Tokenizer
    /// The ids that end a sequence when generated (`endTokens(declared:tokenizer:)`).
    public let endTokens: Set<Int32>
    /// The id a sequence begins with, if the model has one (`beginToken(declared:tokenizer:)`).
    public let beginToken: Int32?
    /// false: each new token recomputes the window (`LogitsSource.usesKeyValueCache`).
    public var usesKeyValueCache: Bool {
        get { source.usesKeyValueCache }
        set { source.usesKeyValueCache = newValue }
    }

    /// `endTokenIds` and `beginTokenId` are the ids the model declares (config
    /// tokenizer.eos_token_ids and tokenizer.bos_token_id); without them the
    /// tokenizer's specials are found by name.
    public init(source: any LogitsSource, tokenizer: any Tokenizer, endTokenIds: [Int] = [], beginTokenId: Int? = nil) {
        self.source = source
        self.tokenizer = tokenizer
        endTokens = Generator.endTokens(declared: endTokenIds, tokenizer: tokenizer)
        beginToken = Generator.beginToken(declared: beginTokenId, tokenizer: tokenizer)
    }

    /// The ids that end generation: every id the model declares (its end of text and end of
    /// turn), else the tokenizer's end-of-text special found by name, else none.
    public static func endTokens(declared: [Int], tokenizer: any Tokenizer) -> Set<Int32> {
        tokenizer.endTokens(declared: declared)
    }

    /// The id a sequence begins with: the one the model declares, else a beginning special found by name.
    public static func beginToken(declared: Int?, tokenizer: any Tokenizer) -> Int32? {
        tokenizer.beginToken(declared: declared)
    }

    /// The token an empty prompt starts from: the beginning token if there is one, else a newline.
    public func startToken() -> Int32 {
        if let beginToken { return beginToken }
        if let newline = try? tokenizer.encode("\n"), newline.count == 1 { return Int32(newline[0]) }
        return 0
    }

    /// A finished sequence: its generated tokens and text (stop string and end token removed).
    public struct Output {
        public var tokens: [Int32]
        public var text: String
        /// Beam search only: log p / length^length_penalty.
        public var score: Double?
        /// Sampling: the end token that ended the sequence (not in `tokens`), if one did.
        public var endToken: Int32? = nil
    }

    // MARK: sampling (greedy or random), batched over samples

    /// Generates `count` continuations of `prompt` (token ids), each up to
    /// `maxNewTokens`, stopping at `stop` strings or an end token. `onText`
    /// receives printable text as it is produced (sample 0 only): complete
    /// UTF-8 characters, held back while they could still begin a stop string.
    public func sample(prompt: [Int32], count: Int, maxNewTokens: Int, settings: DecodingSettings, seed: UInt64,
                       stop: [String] = [], onText: ((String) -> Void)? = nil) -> [Output] {
        var random = RandomGenerator(seed: seed)
        var rows = (0..<count).map { _ in
            SampledSequence(prompt: prompt, endTokens: endTokens, settings: settings, maxNewTokens: maxNewTokens, stop: stop)
        }
        // What the source reads: every row one token longer each step; a finished row repeats its last token.
        var fed = [[Int32]](repeating: prompt, count: count)
        source.promptLength = prompt.count
        var logits = source.prefill(fed)
        while rows.contains(where: { $0.ending == nil }) {
            for row in 0..<count {
                let u = random.uniformDouble()  // drawn for every row: the numbers do not depend on which rows finished
                let text = rows[row].choose(logits[row], u: u, tokenizer: tokenizer)
                if row == 0, !text.isEmpty { onText?(text) }
                fed[row].append(rows[row].endToken ?? rows[row].tokens.last ?? 0)
            }
            if rows.contains(where: { $0.ending == nil }) { logits = source.advance(fed) }
        }
        return rows.map { Output(tokens: $0.generated, text: $0.text, score: nil, endToken: $0.endToken) }
    }

    // MARK: beam search

    /// Beam search over this model, with its KV cache reordered as beams are
    /// chosen. Width 1 is greedy decoding, as transformers' `generate` does
    /// with num_beams = 1 (the penalties then apply to the logits, and the
    /// first end token ends the text).
    public func beamSearch(prompt: [Int32], width: Int, count: Int, maxNewTokens: Int, lengthPenalty: Double,
                           earlyStopping: EarlyStopping = .never, settings: DecodingSettings, stop: [String] = []) -> [Output] {
        if width == 1 {
            var greedy = settings
            greedy.greedy = true
            return sample(prompt: prompt, count: 1, maxNewTokens: maxNewTokens, settings: greedy, seed: 0, stop: stop)
        }
        var stepper = CachedModelStepper(source: source)
        return Generate.beamSearch(&stepper, prompt: prompt, width: width, count: count, maxNewTokens: maxNewTokens,
                                   lengthPenalty: lengthPenalty, earlyStopping: earlyStopping, settings: settings, endTokens: endTokens,
                                   decode: { self.tokenizer.decodeBytes($0.map(Int.init)) }, stop: stop)
    }
}

/// Turns generated bytes into printable text: complete UTF-8 characters only,
/// cut at the first stop string (which is not printed), and holding back any
/// tail that could still be the start of a stop string.
public struct StopScanner {
    let stop: [String]
    var decoder = StreamingDecoder()
    /// Everything decoded so far (up to the stop string, once stopped).
    public private(set) var text = ""
    var emitted = 0  // characters of `text` already handed out
    public private(set) var stopped = false

    public init(stop: [String]) { self.stop = stop.filter { !$0.isEmpty } }

    /// Adds bytes; returns the text that is now safe to print.
    public mutating func push(_ bytes: [UInt8]) -> String {
        guard !stopped else { return "" }
        text += decoder.push(bytes)
        if let cut = stop.compactMap({ text.range(of: $0)?.lowerBound }).min() {
            text = String(text[..<cut])
            stopped = true
            return release(upTo: text.count)
        }
        // Hold back the longest tail that is a prefix of some stop string.
        var hold = 0
        for s in stop {
            for n in stride(from: min(s.count - 1, text.count), to: 0, by: -1) where text.hasSuffix(String(s.prefix(n))) {
                hold = max(hold, n)
                break
            }
        }
        return release(upTo: text.count - hold)
    }

    /// Ends the sequence: flushes an incomplete character (as U+FFFD) and the held-back tail.
    public mutating func finish() -> String {
        if !stopped { text += decoder.flush() }
        return release(upTo: text.count)
    }

    mutating func release(upTo end: Int) -> String {
        guard end > emitted else { return "" }
        let piece = String(text.dropFirst(emitted).prefix(end - emitted))
        emitted = end
        return piece
    }
}

/// What beam search needs from a model: next-token logits for a batch of
/// sequences, told which earlier rows each new row continues.
public protocol NextTokenModel {
    /// Logits after the prompt (one row).
    mutating func start(prompt: [Int32]) -> [Float]
    /// Logits after each sequence, where sequence i continues row `parents[i]`
    /// of the previous call and ends with its newest token.
    mutating func advance(_ sequences: [[Int32]], parents: [Int]) -> [[Float]]
}

/// A logits source as beam search sees it: rows reordered by parent, then fed one token.
struct CachedModelStepper: NextTokenModel {
    let source: any LogitsSource
    mutating func start(prompt: [Int32]) -> [Float] {
        source.promptLength = prompt.count
        return source.prefill([prompt])[0]
    }
    mutating func advance(_ sequences: [[Int32]], parents: [Int]) -> [[Float]] {
        source.reorder(parents)
        return source.advance(sequences)
    }
}

/// Beam search as transformers' `generate` does it (num_beams, length_penalty,
/// early_stopping), so an exported model gives the same beams there:
///
/// - each step, every open hypothesis's next-token log-probabilities
///   (log-softmax of the logits) get the repetition penalty (a log-probability
///   is negative, so it is multiplied by the penalty) and the n-gram bans,
///   without renormalising; temperature and the sampling filters do not apply;
/// - of all continuations, the best 2·width by total log-probability are kept;
///   those that end (an end token, a stop string, or max_new_tokens) are
///   finished, scored log p / length^lengthPenalty (length counts the end
///   token), but only if they rank among the first `width`; the first `width`
///   that do not end go on;
/// - once `width` hypotheses have finished, the search stops: at once
///   (`earlyStopping` true); when no open hypothesis can beat the worst of
///   them judged at its current length (false); or at the most favourable
///   length, max_new_tokens when length_penalty > 0 (never).
/// Returns the best `count` finished hypotheses, best first.
public func beamSearch(_ model: inout some NextTokenModel, prompt: [Int32], width: Int, count: Int, maxNewTokens: Int,
                       lengthPenalty: Double, earlyStopping: EarlyStopping = .never, settings: DecodingSettings, endTokens: Set<Int32>,
                       decode: ([Int32]) -> [UInt8], stop: [String] = []) -> [Generator.Output] {
    var beams = [BeamHypothesis(tokens: [], logProb: 0, scanner: StopScanner(stop: stop))]
    var finished: [Generator.Output] = []
    func score(_ logProb: Double, _ length: Int) -> Double { logProb / pow(Double(max(length, 1)), lengthPenalty) }
    guard maxNewTokens > 0 else { return [] }
    let kept = 2 * width
    var logits = [model.start(prompt: prompt)]
    var step = 0
    while true {
        var candidates: [(beam: Int, token: Int32, logProb: Double)] = []
        for (b, beam) in beams.enumerated() {
            let l = logits[b]
            let m = l.max()!
            var sum = 0.0
            for x in l { sum += exp(Double(x - m)) }
            let lse = Double(m) + log(sum)
            var scores = l.map { Float(Double($0) - lse) }
            let history = prompt + beam.tokens
            applyRepetitionPenalty(&scores, history: history, penalty: settings.repetitionPenalty)
            banEndTokens(&scores, endTokens: endTokens, generated: beam.tokens.count, minimum: settings.minNewTokens)
            for t in bannedTokens(history: history, n: settings.noRepeatNgram) { scores[Int(t)] = -.infinity }
            let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            for t in order.prefix(kept) where scores[t] > -.infinity {
                candidates.append((b, Int32(t), beam.logProb + Double(scores[t])))
            }
        }
        candidates.sort { $0.logProb != $1.logProb ? $0.logProb > $1.logProb : ($0.beam, $0.token) < ($1.beam, $1.token) }
        var next: [BeamHypothesis] = [], parents: [Int] = []
        for (rank, c) in candidates.prefix(kept).enumerated() {
            var beam = beams[c.beam]
            let length = beam.tokens.count + 1
            let ends: Bool
            if endTokens.contains(c.token) {
                ends = true
            } else {
                beam.tokens.append(c.token)
                beam.logProb = c.logProb
                _ = beam.scanner.push(decode([c.token]))
                ends = beam.scanner.stopped || length == maxNewTokens
            }
            if ends {
                if rank < width {
                    _ = beam.scanner.finish()
                    finished.append(.init(tokens: beam.tokens, text: beam.scanner.text, score: score(c.logProb, length)))
                }
            } else if next.count < width {
                next.append(beam)
                parents.append(c.beam)
            }
        }
        finished.sort { $0.score! > $1.score! }
        if finished.count > width { finished.removeLast(finished.count - width) }
        beams = next
        step += 1
        if beams.isEmpty || step >= maxNewTokens { break }
        // With `width` finished: done at once (true), or when the best open beam
        // cannot beat the worst kept finished one. log p only falls, so its
        // best final score is at the most favourable length (never), or, as
        // transformers' heuristic has it, judged at its current length (false).
        if finished.count >= width, let best = beams.map({ $0.logProb }).max() {
            if earlyStopping == .onceWidthFinished { break }
            let bestLength = earlyStopping == .never && lengthPenalty > 0 ? maxNewTokens : step
            if score(best, bestLength) <= finished.last!.score! { break }
        }
        logits = model.advance(beams.map { prompt + $0.tokens }, parents: parents)
    }
    finished.sort { $0.score! > $1.score! }
    return Array(finished.prefix(count))
}

struct BeamHypothesis {
    var tokens: [Int32]
    var logProb: Double
    var scanner: StopScanner
}
