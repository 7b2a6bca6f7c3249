import Foundation
import Files
import Formats
import Kernels
import NN
import Tokenizer
import ChatTemplate

/// A conversation with a model through its own chat template.
///
/// Each turn renders the whole conversation as transformers'
/// `apply_chat_template(..., add_generation_prompt=True)` does, tokenizes it
/// (the template writes its own specials, so no BOS is added), and generates
/// until an end token (the model's end of turn). Where the logits source can
/// keep a cached prefix (the per-token path) the KV cache stays between turns:
/// only the tokens after the longest prefix already cached are fed, so earlier
/// turns are not recomputed. The batched path (models with `rope_scaling`)
/// reads the whole conversation again each turn.
public final class ChatSession {
    public let generator: Generator
    public let template: ChatTemplate
    /// The special tokens the template sees (`bos_token`, `eos_token`).
    public let specialTokens: [String: String]
    public private(set) var messages: [ChatMessage] = []
    /// The tokens whose keys and values are in the source's cache (row 0).
    private(set) var cached: [Int32] = []
    var turns = 0

    /// Why a reply ended.
    public enum Ending: Equatable {
        case endToken, stopString, maxNewTokens, contextFull, interrupted
    }

    public struct Reply {
        public var text: String
        public var tokens: [Int32]
        public var ending: Ending
        /// Tokens of the rendered conversation, and how many of them were already cached.
        public var promptTokens: Int
        public var reusedTokens: Int
        /// Oldest messages left out so the conversation fits the context window.
        public var droppedMessages: Int
    }

    /// Checks that the template accepts a conversation of this shape (an optional system
    /// message, then a user message) before any turn is taken.
    public init(generator: Generator, template: ChatTemplate, specialTokens: [String: String], system: String?) throws {
        self.generator = generator
        self.template = template
        self.specialTokens = specialTokens
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        _ = try template.render(messages + [ChatMessage(role: "user", content: "Hello")], addGenerationPrompt: true, specialTokens: specialTokens)
    }

    /// The special tokens a template is given: `bos_token` and `eos_token` as text, from the ids the model
    /// declares (the first end id is the end of text), else the tokenizer's specials found by name.
    public static func specialTokens(tokenizer: any Tokenizer, endTokenIds: [Int], beginTokenId: Int?) -> [String: String] {
        tokenizer.templateSpecialTokens(endTokenIds: endTokenIds, beginTokenId: beginTokenId)
    }

    /// Adds the user's message, generates the model's reply (streamed to `onText`), and adds it
    /// to the conversation. `interrupted` is asked before each token; when it says yes the reply
    /// ends there and what was generated is kept. If the template refuses the conversation or it
    /// cannot fit the context window, the conversation stays as it was and the error is thrown.
    public func reply(to message: String, maxNewTokens: Int, settings: DecodingSettings, seed: UInt64, stop: [String] = [],
                      interrupted: () -> Bool = { false }, onText: (String) -> Void = { _ in }) throws -> Reply {
        let before = messages
        messages.append(ChatMessage(role: "user", content: message))
        let prompt: [Int32], dropped: Int
        do { (prompt, dropped) = try fittedPrompt() } catch {
            messages = before
            throw error
        }
        let window = generator.contextWindow
        var random = RandomGenerator(seed: seed &+ UInt64(turns))
        turns += 1
        let reused = generator.source.reusesCache ? min(commonPrefixLength(cached, prompt), prompt.count - 1) : 0
        generator.source.promptLength = prompt.count  // the conversation so far: a prefix LM's prefix
        var logits = generator.source.extend(prompt, reusing: reused)
        cached = prompt
        let budget = min(maxNewTokens, window - prompt.count)
        var sequence = SampledSequence(prompt: prompt, endTokens: generator.endTokens, settings: settings, maxNewTokens: budget, stop: stop)
        while sequence.ending == nil && !interrupted() {
            let piece = sequence.choose(logits, u: random.uniformDouble(), tokenizer: generator.tokenizer)
            if !piece.isEmpty { onText(piece) }
            if sequence.ending == nil {
                cached = sequence.tokens
                logits = generator.source.advance([cached])[0]
            }
        }
        let rest = sequence.finish()
        if !rest.isEmpty { onText(rest) }
        let ending: Ending
        switch sequence.ending {
        case nil: ending = .interrupted
        case .endToken?: ending = .endToken
        case .stopString?: ending = .stopString
        case .maxNewTokens?: ending = budget < maxNewTokens ? .contextFull : .maxNewTokens
        }
        messages.append(ChatMessage(role: "assistant", content: sequence.text))
        return Reply(text: sequence.text, tokens: sequence.generated, ending: ending, promptTokens: prompt.count, reusedTokens: reused, droppedMessages: dropped)
    }

    /// The conversation rendered and tokenized, leaving out its oldest exchanges (after any system
    /// message) while it leaves no room to answer in the context window.
    func fittedPrompt() throws -> ([Int32], Int) {
        var dropped = 0
        while true {
            let text = try template.render(messages, addGenerationPrompt: true, specialTokens: specialTokens)
            let ids = try generator.tokenizer.encode(text).map { Int32($0) }
            guard !ids.isEmpty else { throw ChatError("the chat template renders this conversation as empty text; there is nothing to answer") }
            if ids.count < generator.contextWindow { return (ids, dropped) }
            let first = messages.first?.role == "system" ? 1 : 0
            guard messages.count - first > 1 else {
                throw ChatError("the conversation is \(ids.count) tokens with the chat template, but the context window holds \(generator.contextWindow) (with room for one reply token); send a shorter message")
            }
            messages.removeSubrange(first..<min(first + 2, messages.count - 1))
            dropped += 2
        }
    }
}

func commonPrefixLength(_ a: [Int32], _ b: [Int32]) -> Int {
    var n = 0
    while n < a.count && n < b.count && a[n] == b[n] { n += 1 }
    return n
}

/// A conversation that cannot go on, in one line.
public struct ChatError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ChatSession {
    /// The chat template of the checkpoint at `path` (a run directory resolves
    /// to its best/ or latest/), read and checked before any weight is.
    public static func template(ofCheckpoint path: String) throws -> (directory: URL, template: ChatTemplate) {
        let directory = try Checkpoint.resolve(path)
        guard let source = try Checkpoint.chatTemplate(in: directory) else {
            throw UsageError("\(directory.path) has no chat template (\(Checkpoint.chatTemplateFile)); to continue a text instead, use tinygpt sample --checkpoint \(path) --prompt TEXT")
        }
        do { return (directory, try ChatTemplate(source)) } catch let e as TemplateError {
            throw UsageError("\(directory.appendingPathComponent(Checkpoint.chatTemplateFile).path): \(e)")
        }
    }
}
