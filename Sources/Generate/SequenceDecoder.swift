import Foundation
import Kernels
import Tokenizer

/// One sequence's token choices while sampling: end tokens banned before
/// min_new_tokens, the next token chosen from the logits with a random number
/// passed in, and the end at an end token, a stop string or max_new_tokens.
/// `Generator.sample` (a batch of rows), `SequenceDecoder` (the server's
/// slots) and `ChatSession` all choose through `choose`, so the same logits
/// and numbers give the same tokens and text everywhere.
public struct SampledSequence {
    /// Why a sequence ended.
    public enum Ending: Equatable, Sendable {
        case endToken, stopString, maxNewTokens
    }

    let endTokens: Set<Int32>
    let settings: DecodingSettings
    let maxNewTokens: Int
    var scanner: StopScanner
    /// The prompt and the tokens generated so far.
    public private(set) var tokens: [Int32]
    public private(set) var generated: [Int32] = []
    /// Set once the sequence has ended; `choose` then does nothing.
    public private(set) var ending: Ending?
    /// The end token that ended the sequence (not in `tokens`), if one did.
    public private(set) var endToken: Int32?

    /// With `maxNewTokens` ≤ 0 the sequence has ended before it starts.
    public init(prompt: [Int32], endTokens: Set<Int32>, settings: DecodingSettings, maxNewTokens: Int, stop: [String] = []) {
        tokens = prompt
        self.endTokens = endTokens
        self.settings = settings
        self.maxNewTokens = maxNewTokens
        scanner = StopScanner(stop: stop)
        if maxNewTokens <= 0 { ending = .maxNewTokens }
    }

    /// The text decoded so far (up to a stop string).
    public var text: String { scanner.text }

    /// Chooses the next token from `logits` (the logits after `tokens`) with the
    /// uniform random number `u`. Returns the text that became printable:
    /// complete characters, held back while they could begin a stop string, and
    /// the rest once the sequence ends.
    public mutating func choose(_ logits: [Float], u: Double, tokenizer: any Tokenizer) -> String {
        guard ending == nil else { return "" }
        var l = logits
        banEndTokens(&l, endTokens: endTokens, generated: generated.count, minimum: settings.minNewTokens)
        let token = Int32(chooseToken(l, history: tokens, settings: settings, u: u))
        if endTokens.contains(token) {
            ending = .endToken
            endToken = token
            return scanner.finish()
        }
        generated.append(token)
        tokens.append(token)
        var text = scanner.push(tokenizer.decodeBytes([Int(token)]))
        if scanner.stopped {
            ending = .stopString
        } else if generated.count >= maxNewTokens {
            ending = .maxNewTokens
        }
        if ending != nil { text += scanner.finish() }
        return text
    }

    /// The text still held back (an incomplete character, a possible stop
    /// string's start), for a sequence cut short; nothing once it has ended.
    public mutating func finish() -> String { scanner.finish() }
}

/// One sequence decoded a token at a time on a logits source of its own (one
/// row), with a random generator of its own: `Generator.sample`'s choices for
/// one sample, so the same seed gives the same tokens. A caller can interleave
/// the steps of several sequences (the server's slots) and drop one between steps.
public final class SequenceDecoder {
    public typealias Ending = SampledSequence.Ending

    public let source: any LogitsSource
    public let prompt: [Int32]
    let tokenizer: any Tokenizer
    var random: RandomGenerator
    var sequence: SampledSequence
    var started = false

    /// `maxNewTokens` ≥ 1; `source` is reset by the first step (its prefill).
    public init(source: any LogitsSource, prompt: [Int32], tokenizer: any Tokenizer, endTokens: Set<Int32>,
                settings: DecodingSettings, maxNewTokens: Int, seed: UInt64, stop: [String] = []) {
        self.source = source
        self.prompt = prompt
        self.tokenizer = tokenizer
        random = RandomGenerator(seed: seed)
        sequence = SampledSequence(prompt: prompt, endTokens: endTokens, settings: settings, maxNewTokens: max(1, maxNewTokens), stop: stop)
    }

    /// The text decoded so far (up to a stop string).
    public var text: String { sequence.text }
    /// Whether the prompt is still to be read (the first step).
    public var needsPrefill: Bool { !started }
    /// The prompt and the tokens generated so far.
    public var tokens: [Int32] { sequence.tokens }
    public var generated: [Int32] { sequence.generated }
    /// Set once the sequence has ended; `step` then does nothing.
    public var ending: Ending? { sequence.ending }

    /// Reads the prompt (first step) or the newest token, and chooses the next token.
    /// Returns the text that became printable (`SampledSequence.choose`).
    public func step() -> String {
        guard ending == nil else { return "" }
        if started { return step(logits: source.advance([tokens])[0]) }
        started = true
        source.promptLength = prompt.count
        return step(logits: source.prefill([tokens])[0])
    }

    /// Chooses the next token from `logits`, the source's logits after `tokens`
    /// (computed by the caller: several sequences advanced in one batch).
    public func step(logits: [Float]) -> String {
        guard ending == nil else { return "" }
        started = true
        return sequence.choose(logits, u: random.uniformDouble(), tokenizer: tokenizer)
    }
}
