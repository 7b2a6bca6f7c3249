import XCTest
import Foundation

/// SFT on conversations: rendered with the --init-from model's chat template, refused without one.
final class ConversationCommandTests: CommandLineTestCase {
    func testConversationsFineTuneThroughTheTemplateAndAreRefusedWithoutOne() throws {
        try trainTinyRun("base")
        let chat = (0..<12).map { i in
            "{\"messages\": [{\"role\": \"user\", \"content\": \"the \(["cat", "dog", "mat"][i % 3])\"}, {\"role\": \"assistant\", \"content\": \"sat on the mat.\"}]}"
        }.joined(separator: "\n")
        try chat.write(to: scratch.appendingPathComponent("chat.jsonl"), atomically: true, encoding: .utf8)
        let sft = ["--set", "train.objective=sft", "--set", "train.max_steps=2", "--set", "train.warmup_steps=1", "--set", "train.eval_interval=2", "--set", "train.eval_steps=1"]
        assertRefused(try tinygpt(["train", "--init-from", "base", "--data", "chat.jsonl", "--out", "refused"] + sft),
                      mentioning: "which are rendered with the model's chat template")
        XCTAssertFalse(exists("refused/latest"))
        // With a template in the base checkpoint (as import keeps one), the run trains and eval scores the replies.
        // (Written in the characters of the tiny run's char tokenizer.)
        let template = "{%- for m in messages %}{%- if m['role'] == 'assistant' %}{{ 'and ' }}{%- endif %}{{ m['content'] + ' ' }}{%- endfor %}"
            + "{%- if add_generation_prompt %}{{ 'and ' }}{%- endif %}"
        try template.write(to: scratch.appendingPathComponent("base/best/chat_template.jinja"), atomically: true, encoding: .utf8)
        let trained = try tinygpt(["train", "--init-from", "base/best", "--data", "chat.jsonl", "--out", "tuned"] + sft)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let scored = try tinygpt(["eval", "--checkpoint", "tuned", "--data", "chat.jsonl"])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        XCTAssertTrue(scored.stdout.contains("examples 12"), scored.stdout)
    }
}
