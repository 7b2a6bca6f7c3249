import XCTest
import Foundation

/// `tinygpt chat` and end tokens at the command line: a small trained checkpoint given a
/// ChatML-style template (with specials the char tokenizer keeps whole), answering once,
/// from standard input, after fine-tuning and quantization; and the refusals.
final class ChatCommandTests: CommandLineTestCase {
    /// The template writes only specials and the messages (whose characters are in text.txt).
    let template = "{% for m in messages %}<|im_start|>{{ m['content'] }}<|endoftext|>{% endfor %}{% if add_generation_prompt %}<|im_start|>{% endif %}"
    let specials = ["--set", "tokenizer.special_tokens=[\"<|im_start|>\", \"<|endoftext|>\"]"]

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    func testChatAnswersAsSampleContinuesTheRenderedPrompt() throws {
        try trainTinyRun("run", extra: specials)
        try write(template, to: "run/best/chat_template.jinja")
        let chat = try tinygpt(["chat", "--checkpoint", "run", "--message", "a cat", "--strategy", "greedy", "--max-new-tokens", "8"])
        XCTAssertEqual(chat.status, 0, chat.stderr)
        let prompt = "<|im_start|>a cat<|endoftext|><|im_start|>"
        let sample = try tinygpt(["sample", "--checkpoint", "run", "--prompt", prompt, "--strategy", "greedy", "--max-new-tokens", "8"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertTrue(sample.stdout.hasPrefix(prompt), sample.stdout)
        XCTAssertEqual(chat.stdout, String(sample.stdout.dropFirst(prompt.count)), "the reply alone, ending where sample ends (<|endoftext|> by name)")
        XCTAssertEqual(chat.stderr, "")

        // Standard input that is not a terminal: one message per line, blank lines skipped.
        try write("a cat\n\nthe dog\n", to: "messages.txt")
        let piped = try tinygpt(["chat", "--checkpoint", "run", "--strategy", "greedy", "--max-new-tokens", "4"], stdoutRedirect: "< messages.txt")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stdout.split(separator: "\n", omittingEmptySubsequences: false).count, 3, "two replies: \(piped.stdout.debugDescription)")

        // A system message goes through the template like the others.
        let system = try tinygpt(["chat", "--checkpoint", "run", "--system", "dog", "--message", "a cat", "--strategy", "greedy", "--max-new-tokens", "8"])
        XCTAssertEqual(system.status, 0, system.stderr)
        let withSystem = try tinygpt(["sample", "--checkpoint", "run", "--prompt", "<|im_start|>dog<|endoftext|>" + prompt, "--strategy", "greedy", "--max-new-tokens", "8"])
        XCTAssertTrue(withSystem.stdout.hasSuffix(system.stdout), "\(withSystem.stdout) / \(system.stdout)")
    }

    /// Declared end ids stop sample and chat; fine-tuning (plain and LoRA) and quantizing keep them and the template.
    func testEndIdsAndTemplateAreCarriedForward() throws {
        // Id 0 is the space (the char vocabulary is sorted), so generation stops before the first space.
        try trainTinyRun("run", extra: specials + ["--set", "tokenizer.eos_token_ids=[0]"])
        let sample = try tinygpt(["sample", "--checkpoint", "run", "--prompt", "the", "--strategy", "greedy", "--max-new-tokens", "10"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertFalse(sample.stdout.dropFirst(3).dropLast().contains(" "), sample.stdout)
        try write(template, to: "run/best/chat_template.jinja")

        let lora = ["--set", "lora.rank=2", "--set", "lora.alpha=4", "--set", "lora.targets=q,v"]
        for (name, extra) in [("fine", [String]()), ("adapted", lora)] {
            let trained = try tinygpt(["train", "--init-from", "run", "--data", "text.txt", "--out", name] + tiny + extra)
            XCTAssertEqual(trained.status, 0, trained.stderr)
            for checkpoint in ["best", "latest"] {
                XCTAssertEqual(contents("\(name)/\(checkpoint)/chat_template.jinja"), Data(template.utf8), "\(name)/\(checkpoint)")
                let config = String(decoding: contents("\(name)/\(checkpoint)/config.json") ?? Data(), as: UTF8.self)
                XCTAssertTrue(config.contains("\"eos_token_ids\": [0]"), "\(name)/\(checkpoint)")
            }
            let chat = try tinygpt(["chat", "--checkpoint", name, "--message", "a cat", "--max-new-tokens", "6"])
            XCTAssertEqual(chat.status, 0, chat.stderr)
            XCTAssertFalse(chat.stdout.dropLast().contains(" "), "stops at the space: \(chat.stdout)")
        }

        let quantized = try tinygpt(["quantize", "--checkpoint", "fine", "--out", "q8", "--group-size", "8"])
        XCTAssertEqual(quantized.status, 0, quantized.stderr)
        XCTAssertEqual(contents("q8/chat_template.jinja"), Data(template.utf8))
        let chat = try tinygpt(["chat", "--checkpoint", "q8", "--message", "a cat", "--max-new-tokens", "6", "--seed", "3"])
        XCTAssertEqual(chat.status, 0, chat.stderr)
    }

    func testBadInputIsRefusedInOneLine() throws {
        try trainTinyRun("run", extra: specials)
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", "hi"]), mentioning: "tinygpt sample --checkpoint run --prompt TEXT")
        let noTemplate = try tinygpt(["chat", "--checkpoint", "run", "--message", "hi"])
        XCTAssertTrue(noTemplate.stderr.contains("has no chat template (chat_template.jinja)"), noTemplate.stderr)

        try write("<|im_start|>\n{% extends 'base' %}", to: "run/best/chat_template.jinja")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", "a cat"]), mentioning: "chat template line 2: unsupported Jinja construct '{% extends %}'")
        try write("{{ messages | wordwrap }}", to: "run/best/chat_template.jinja")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", "a cat"]), mentioning: "unsupported Jinja construct: filter 'wordwrap'")
        try write("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + template,
                  to: "run/best/chat_template.jinja")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--system", "be brief", "--message", "a cat"]), mentioning: "System role not supported")
        try write(template, to: "run/best/chat_template.jinja")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", "a cat", "--strategy", "beam"]), mentioning: "--strategy greedy or sample")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--set", "model.n_layer=2"]), mentioning: "chat takes sample.* settings only")
        assertRefused(try tinygpt(["chat", "--message", "a cat"]), mentioning: "--checkpoint DIR is required")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", "a cat", "--prompt", "x"]), mentioning: "unknown argument '--prompt'")
        assertRefused(try tinygpt(["chat", "--checkpoint", "run", "--message", String(repeating: "a cat ", count: 10)]), mentioning: "the context window holds 16")
        assertRefused(try tinygpt(["sample", "--checkpoint", "run", "--set", "tokenizer.eos_token_ids=[99]"]), mentioning: "sample takes sample.* settings only")
        let help = try tinygpt(["chat", "--help"])
        XCTAssertTrue(help.stdout.contains("usage: tinygpt chat --checkpoint DIR"), help.stdout)
    }
}
