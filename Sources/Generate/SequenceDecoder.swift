import Foundation
import Kernels
import Tokenizer

/// One sequence decoded a token at a time on a logits source of its own (one
/// row): the steps of `Generator.sample` for one sample, with the same random
/// draws, so the same seed gives the same tokens. A caller can interleave the
/// steps of several sequences (the server's slots) and drop one between steps.
public final class SequenceDecoder {
    /// Why a sequence ended.
    public enum Ending: Equatable, Sendable {
        case endToken, stopString, maxNewTokens
    }

    public let source: any LogitsSource
    public let prompt: [Int32]
    let tokenizer: any Tokenizer
    let endTokens: Set<Int32>
    let settings: DecodingSettings
    let maxNewTokens: Int
    var random: RandomGenerator
    var scanner: StopScanner
    var sequence: [Int32]
    var started = false
    public private(set) var generated: [Int32] = []
    /// Set once the sequence has ended; `step` then does nothing.
    public private(set) var ending: Ending?

    /// `maxNewTokens` ≥ 1; `source` is reset by the first step (its prefill).
    public init(source: any LogitsSource, prompt: [Int32], tokenizer: any Tokenizer, endTokens: Set<Int32>,
                settings: DecodingSettings, maxNewTokens: Int, seed: UInt64, stop: [String] = []) {
        self.source = source
        self.prompt = prompt
        self.tokenizer = tokenizer
        self.endTokens = endTokens
        self.settings = settings
        self.maxNewTokens = max(1, maxNewTokens)
        random = RandomGenerator(seed: seed)
        scanner = StopScanner(stop: stop)
        sequence = prompt
    }

    /// The text decoded so far (up to a stop string).
    public var text: String { scanner.text }

    /// Whether the prompt is still to be read (the first step).
    public var needsPrefill: Bool { !started }
    /// The prompt and the tokens generated so far.
    public var tokens: [Int32] { sequence }

    /// Reads the prompt (first step) or the newest token, and chooses the next token.
    /// Returns the text that became printable (complete characters, held back while
    /// they could begin a stop string; the rest once the sequence ends).
    public func step() -> String {
        guard ending == nil else { return "" }
        if started { return step(logits: source.advance([sequence])[0]) }
        started = true
        source.promptLength = prompt.count
        return step(logits: source.prefill([sequence])[0])
    }

    /// Chooses the next token from `logits`, the source's logits after `tokens`
    /// (computed by the caller: several sequences advanced in one batch).
    public func step(logits: [Float]) -> String {
        guard ending == nil else { return "" }
        started = true
        var l = logits
        let u = random.uniformDouble()
        banEndTokens(&l, endTokens: endTokens, generated: generated.count, minimum: settings.minNewTokens)
        let token = Int32(chooseToken(l, history: sequence, settings: settings, u: u))
        if endTokens.contains(token) {
            ending = .endToken
            return scanner.finish()
        }
        generated.append(token)
        sequence.append(token)
        var text = scanner.push(tokenizer.decodeBytes([Int(token)]))
        if scanner.stopped {
            ending = .stopString
        } else if generated.count >= maxNewTokens {
            ending = .maxNewTokens
        }
        if ending != nil { text += scanner.finish() }
        return text
    }
}
