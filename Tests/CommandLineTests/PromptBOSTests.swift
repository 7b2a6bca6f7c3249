import XCTest
import Foundation

/// `sample` puts the tokenizer's BOS (a TemplateProcessing post-processor's `[BOS, $A]`) before
/// the prompt, as transformers' `tokenizer(text)` and llama.cpp do.
final class PromptBOSTests: CommandLineTestCase {
    func testSampleAddsTheTokenizersBOSToThePrompt() throws {
        try trainTinyRun("run", extra: ["--set", "tokenizer.type=bpe", "--set", "tokenizer.vocab_size=270", "--set", "tokenizer.special_tokens=<s>"])
        // 16 bytes the corpus never has: 16 tokens, exactly the context window.
        let prompt = String(repeating: "z", count: 16)
        let plain = try tinygpt(["sample", "--checkpoint", "run/best", "--prompt", prompt, "--max-new-tokens", "1", "--strategy", "greedy"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stderr.contains("the prompt has"), plain.stderr)

        let file = path("run/best/tokenizer.json")
        var json = try String(contentsOfFile: file, encoding: .utf8)
        let tok = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let bos = try XCTUnwrap(((tok["added_tokens"] as! [[String: Any]]).first { $0["content"] as? String == "<s>" })?["id"] as? Int)
        let template = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
            + "\"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [\(bos)], \"tokens\": [\"<s>\"]}}}"
        XCTAssertTrue(json.contains("\"post_processor\": null"))
        json = json.replacingOccurrences(of: "\"post_processor\": null", with: "\"post_processor\": " + template)
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let withBOS = try tinygpt(["sample", "--checkpoint", "run/best", "--prompt", prompt, "--max-new-tokens", "1", "--strategy", "greedy"])
        XCTAssertEqual(withBOS.status, 0, withBOS.stderr)
        XCTAssertTrue(withBOS.stderr.contains("the prompt has 17 tokens"), withBOS.stderr)
        // The tokenizer command itself adds nothing.
        let ids = try tinygpt(["tokenizer", "encode", "--tokenizer", file, "--text", prompt])
        XCTAssertEqual(ids.stdout.split(separator: " ").count, 16, ids.stdout)
    }
}
