import XCTest
import Foundation
import Model
import Config
import Tokenizer
import Generate
import ChatTemplate

/// A conversation through a chat template: each reply equals generating from the whole
/// rendered conversation, while the per-token path re-reads only what changed.
final class ChatSessionTests: XCTestCase {
    let chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    func tokenizer() throws -> CharTokenizer {
        try CharTokenizer(trainingText: "abcdefghijklmnopqrstuvwxyz ?!.\n", specialTokens: ["<|im_start|>", "<|im_end|>"])
    }

    func model(_ vocab: Int, context: Int = 96) -> GPT {
        var c = ModelConfig()
        c.vocabSize = vocab; c.contextLength = context; c.nLayer = 2; c.dModel = 16; c.nHead = 4; c.dFF = 32
        c.position = .rope; c.norm = .rmsNorm; c.activation = .swiglu
        return GPT(config: c, seed: 3)
    }

    var greedy: DecodingSettings { var g = DecodingSettings(); g.greedy = true; return g }

    func testRepliesEqualGenerationFromTheWholeConversation() throws {
        let tok = try tokenizer()
        let gpt = model(tok.vocabSize, context: 256)
        let template = try ChatTemplate(chatML)
        let perToken = try ChatSession(generator: Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tok),
                                       template: template, specialTokens: [:], system: "be brief.")
        let batched = try ChatSession(generator: Generator(source: BatchedModel(gpt), tokenizer: tok), template: template, specialTokens: [:], system: "be brief.")
        for (turn, message) in ["hi there", "who are you?", "bye."].enumerated() {
            let a = try perToken.reply(to: message, maxNewTokens: 6, settings: greedy, seed: 1)
            let b = try batched.reply(to: message, maxNewTokens: 6, settings: greedy, seed: 1)
            XCTAssertEqual(a.tokens, b.tokens, "turn \(turn): both paths")
            XCTAssertEqual(a.ending, .maxNewTokens)
            // The same prompt, generated from scratch.
            let history = Array(perToken.messages.dropLast())
            let prompt = try tok.encode(try template.render(history, addGenerationPrompt: true)).map { Int32($0) }
            XCTAssertEqual(a.promptTokens, prompt.count)
            let fresh = Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tok)
            XCTAssertEqual(fresh.sample(prompt: prompt, count: 1, maxNewTokens: 6, settings: greedy, seed: 1)[0].tokens, a.tokens, "turn \(turn)")
            if turn > 0 {
                XCTAssertGreaterThan(a.reusedTokens, 20, "turn \(turn): the earlier turns stay in the cache")
                XCTAssertEqual(b.reusedTokens, 0, "the batched path reads the conversation again")
            }
            XCTAssertEqual(perToken.messages.last, ChatMessage(role: "assistant", content: a.text))
        }
        XCTAssertEqual(perToken.messages.map(\.role), ["system", "user", "assistant", "user", "assistant", "user", "assistant"])
    }

    func testEndTokensInterruptionAndStopStrings() throws {
        let tok = try tokenizer()
        let gpt = model(tok.vocabSize)
        let template = try ChatTemplate(chatML)
        let free = try ChatSession(generator: Generator(source: BatchedModel(gpt), tokenizer: tok), template: template, specialTokens: [:], system: nil)
            .reply(to: "hi", maxNewTokens: 8, settings: greedy, seed: 1)
        let end = free.tokens[0]
        let ended = try ChatSession(generator: Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tok, endTokenIds: [Int(end)]),
                                    template: template, specialTokens: [:], system: nil).reply(to: "hi", maxNewTokens: 8, settings: greedy, seed: 1)
        XCTAssertEqual(ended.ending, .endToken)
        XCTAssertEqual(ended.tokens, [])

        let session = try ChatSession(generator: Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tok),
                                      template: template, specialTokens: [:], system: nil)
        var asked = 0
        var streamed = ""
        let cut = try session.reply(to: "hi", maxNewTokens: 8, settings: greedy, seed: 1, interrupted: { asked += 1; return asked > 3 },
                                    onText: { streamed += $0 })
        XCTAssertEqual(cut.ending, .interrupted)
        XCTAssertEqual(cut.tokens, Array(free.tokens.prefix(3)))
        XCTAssertEqual(streamed, cut.text)
        XCTAssertEqual(session.messages.last?.content, cut.text, "what was said stays in the conversation")

        let stop = String(free.text.dropFirst(2))
        let stopped = try ChatSession(generator: Generator(source: BatchedModel(gpt), tokenizer: tok), template: template, specialTokens: [:], system: nil)
            .reply(to: "hi", maxNewTokens: 8, settings: greedy, seed: 1, stop: [stop])
        XCTAssertEqual(stopped.ending, .stopString)
        XCTAssertEqual(stopped.text, String(free.text[..<free.text.range(of: stop)!.lowerBound]), "cut where the stop string begins")
    }

    func testConversationsAreFittedToTheContextWindow() throws {
        let tok = try tokenizer()
        let gpt = model(tok.vocabSize, context: 64)
        let session = try ChatSession(generator: Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tok),
                                      template: try ChatTemplate(chatML), specialTokens: [:], system: "hi")
        var dropped = 0
        for _ in 0..<4 {
            let r = try session.reply(to: "a longer question here", maxNewTokens: 4, settings: greedy, seed: 1)
            dropped += r.droppedMessages
            XCTAssertLessThan(r.promptTokens, 64)
        }
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertEqual(session.messages.first?.role, "system", "the system message stays")
        XCTAssertThrowsError(try session.reply(to: String(repeating: "too long ", count: 10), maxNewTokens: 4, settings: greedy, seed: 1)) {
            XCTAssertTrue("\($0)".contains("the context window holds 64"), "\($0)")
        }
        let before = session.messages
        XCTAssertThrowsError(try session.reply(to: String(repeating: "too long ", count: 10), maxNewTokens: 4, settings: greedy, seed: 1))
        XCTAssertEqual(session.messages, before, "a refused message leaves the conversation as it was")
    }

    func testTemplatesThatRefuseAreCaughtBeforeTheFirstTurn() throws {
        let tok = try tokenizer()
        let noSystem = try ChatTemplate("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}x")
        let generator = Generator(source: BatchedModel(model(tok.vocabSize)), tokenizer: tok)
        XCTAssertThrowsError(try ChatSession(generator: generator, template: noSystem, specialTokens: [:], system: "be brief")) {
            XCTAssertEqual(($0 as? TemplateError)?.message, "System role not supported")
        }
        XCTAssertNoThrow(try ChatSession(generator: generator, template: noSystem, specialTokens: [:], system: nil))
    }

    func testSpecialTokensGivenToTheTemplate() throws {
        let tok = try CharTokenizer(trainingText: "abc", specialTokens: ["<s>", "</s>", "<|eot|>"])
        XCTAssertEqual(ChatSession.specialTokens(tokenizer: tok, endTokenIds: [], beginTokenId: nil), ["bos_token": "<s>", "eos_token": "</s>"])
        let eot = tok.id(ofSpecial: "<|eot|>")!, a = try tok.encode("a")[0]
        XCTAssertEqual(ChatSession.specialTokens(tokenizer: tok, endTokenIds: [eot, tok.id(ofSpecial: "</s>")!], beginTokenId: a),
                       ["bos_token": "a", "eos_token": "<|eot|>"])
    }
}
