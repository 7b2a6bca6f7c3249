import XCTest
import Foundation
import Tokenizer
import Train

/// Conversations ({"messages": …}, TRL's conversational format) as SFT examples: the reply is the
/// completion, the messages before it (with the generation prompt) the prompt, both rendered
/// through the model's chat template.
final class ConversationDataTests: XCTestCase {
    let chatML = """
        {%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}
        {%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
        """

    func line(_ messages: [(String, String)]) -> String {
        let items = messages.map { "{\"role\": \"\($0.0)\", \"content\": \"\($0.1)\"}" }
        return "{\"messages\": [" + items.joined(separator: ", ") + "]}"
    }

    func testConversationsRenderAsPromptAndReply() throws {
        let text = [line([("system", "Be brief."), ("user", "Hi?"), ("assistant", "Hello.")]),
                    line([("user", "Where?"), ("assistant", "Here.")])].joined(separator: "\n")
        var (format, examples) = try ExampleFile.read(path: "chat.txt", text: text)  // found by content, not extension
        XCTAssertEqual(format, .promptCompletion)
        XCTAssertEqual(examples.count, 2)
        try ExampleFile.renderConversations(&examples, template: chatML, templateOrigin: "model", specialTokens: [:], path: "chat.txt")
        XCTAssertEqual(examples[0].prompt, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(examples[0].chosen, "Hello.<|im_end|>\n")
        XCTAssertEqual(examples[1].prompt, "<|im_start|>user\nWhere?<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(examples[1].chosen, "Here.<|im_end|>\n")
    }

    /// The template's end of turn ends a conversation's completion: no end-of-text token is added,
    /// where a prompt-completion example gets one.
    func testConversationCompletionGetsNoEndOfTextToken() throws {
        let tokenizer = try CharTokenizer(chars: Array("abcdefghijklmnopqrstuvwxyz<>|_\n.?!H ".unicodeScalars), specialTokens: ["<|endoftext|>": 36])
        var (_, examples) = try ExampleFile.read(path: "c.jsonl", text: line([("user", "hi"), ("assistant", "hello.")]))
        try ExampleFile.renderConversations(&examples, template: chatML.replacingOccurrences(of: "im_", with: "i"), templateOrigin: "model",
                                            specialTokens: [:], path: "c.jsonl")
        examples.append(TextExample(prompt: "q", completion: "a"))
        let set = try ExampleSet(format: .promptCompletion, examples: examples, tokenizer: tokenizer, contextLength: 200, valFraction: nil, path: "c.jsonl")
        let conversation = set.train[0].chosen, plain = set.train[1].chosen
        XCTAssertEqual(conversation.tokens.count, conversation.promptLength + examples[0].chosen.unicodeScalars.count)
        XCTAssertEqual(plain.tokens.last, 36)
    }

    func testBadConversationsAreRefusedNamingTheLine() {
        let cases: [(String, String)] = [
            (line([("user", "Hi?")]), "at least two messages"),
            (line([("user", "Hi?"), ("user", "Again?")]), "\"assistant\""),
            ("{\"messages\": [{\"role\": \"user\"}]}", "message 1 must be"),
            ("{\"messages\": [], \"prompt\": \"x\"}", "unknown key 'prompt'"),
            (line([("user", "a"), ("assistant", "b")]) + "\n{\"prompt\": \"q\", \"completion\": \"a\"}", "line 2"),
        ]
        for (text, mention) in cases {
            XCTAssertThrowsError(try ExampleFile.read(path: "c.jsonl", text: text), mention) { error in
                XCTAssertTrue("\(error)".contains(mention), "\(mention) in: \(error)")
            }
        }
    }

    func testWithoutATemplateConversationsAreRefused() throws {
        var (_, examples) = try ExampleFile.read(path: "c.jsonl", text: line([("user", "a"), ("assistant", "b")]))
        XCTAssertThrowsError(try ExampleFile.renderConversations(&examples, template: nil, templateOrigin: "runs/base", specialTokens: [:],
                                                                 path: "c.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("runs/base has none"), "\(error)")
        }
        // A template whose full rendering does not continue the prompt cannot mark the reply.
        let reordering = "{%- if add_generation_prompt %}A:{%- endif %}{%- for m in messages %}{{ m['content'] }}{%- endfor %}"
        XCTAssertThrowsError(try ExampleFile.renderConversations(&examples, template: reordering, templateOrigin: "runs/base",
                                                                 specialTokens: [:], path: "c.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("does not continue its prompt"), "\(error)")
        }
    }
}
