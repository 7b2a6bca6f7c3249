import XCTest
import Foundation
import TestSupport
import Files
import Config
import Formats

/// The ids that end and begin generation and the chat template, through
/// `import --format hf` and back out through `export --format hf`, on a tiny
/// chat model as transformers saves it (Fixtures/make_hf_chat.py).
final class ChatInteropTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("chat-interop") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    var fixture: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("hf-chat") }
    let specials = ["<|endoftext|>": 30, "<|im_start|>": 31, "<|im_end|>": 32]

    func json(_ url: URL) throws -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = try JSONParser.parse(Array(try Data(contentsOf: url))) else { throw XCTSkip("not an object") }
        return members
    }

    func value(_ url: URL, _ key: String) throws -> JSONValue? { try json(url).first { $0.key == key }?.value }

    /// A copy of the fixture with `edit` applied to its files.
    func variant(_ name: String, _ edit: (URL) throws -> Void) throws -> URL {
        let copy = directory.appendingPathComponent(name)
        try FileManager.default.copyItem(at: fixture, to: copy)
        try edit(copy)
        return copy
    }

    func setMember(_ file: URL, _ key: String, _ value: JSONValue) throws {
        var object = JSONValue.object(try json(file))
        object.set(key, value)
        try object.fileData.write(to: file)
    }

    func testSpecialIdsAndTemplateSurviveImportAndExport() throws {
        let template = try String(contentsOf: fixture.appendingPathComponent("chat_template.jinja"), encoding: .utf8)
        let checkpoint = directory.appendingPathComponent("ckpt")
        let imported = try HuggingFace.importCheckpoint(from: fixture, to: checkpoint)
        XCTAssertEqual(imported.notes, [])
        var config = try Checkpoint.loadConfig(from: checkpoint)
        // generation_config.json's end of turn, then tokenizer_config.json's end of text.
        XCTAssertEqual(config.tokenizer.eosTokenIds, [32, 30])
        XCTAssertEqual(config.tokenizer.bosTokenId, 31)
        XCTAssertEqual(try Checkpoint.chatTemplate(in: checkpoint), template)

        let loaded = try Checkpoint.load(from: checkpoint)
        let exported = directory.appendingPathComponent("hf")
        try HuggingFace.export(model: loaded.model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON, specialTokens: specials,
                               chatTemplate: try Checkpoint.chatTemplate(in: checkpoint), to: exported)
        for file in ["generation_config.json", "config.json"] {
            XCTAssertEqual(try value(exported.appendingPathComponent(file), "eos_token_id")?.serialized(), "[32,30]", file)
            XCTAssertEqual(try value(exported.appendingPathComponent(file), "bos_token_id")?.serialized(), "31", file)
        }
        let tokenizerConfig = exported.appendingPathComponent("tokenizer_config.json")
        XCTAssertEqual(try value(tokenizerConfig, "eos_token")?.serialized(), "\"<|im_end|>\"")
        XCTAssertEqual(try value(tokenizerConfig, "bos_token")?.serialized(), "\"<|im_start|>\"")
        XCTAssertEqual(try value(tokenizerConfig, "chat_template")?.serialized(), JSONValue.string(template).serialized())
        XCTAssertEqual(try String(contentsOf: exported.appendingPathComponent("chat_template.jinja"), encoding: .utf8), template)

        let again = directory.appendingPathComponent("again")
        _ = try HuggingFace.importCheckpoint(from: exported, to: again)
        config = try Checkpoint.loadConfig(from: again)
        XCTAssertEqual(config.tokenizer.eosTokenIds, [32, 30])
        XCTAssertEqual(config.tokenizer.bosTokenId, 31)
        XCTAssertEqual(try Checkpoint.chatTemplate(in: again), template)
    }

    /// tokenizer_config.json's other forms: the template as a string or a list of named
    /// templates, the end token as an AddedToken object; no generation_config.json.
    func testTokenizerConfigForms() throws {
        let template = try String(contentsOf: fixture.appendingPathComponent("chat_template.jinja"), encoding: .utf8)
        let inConfig = try variant("in-config") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("chat_template.jinja"))
            try FileManager.default.removeItem(at: dir.appendingPathComponent("generation_config.json"))
            let file = dir.appendingPathComponent("tokenizer_config.json")
            try setMember(file, "chat_template", .string(template))
            try setMember(file, "eos_token", ["content": "<|im_end|>", "special": true])
        }
        XCTAssertEqual(try HuggingFace.chatTemplate(in: inConfig).template, template)
        _ = try HuggingFace.importCheckpoint(from: inConfig, to: directory.appendingPathComponent("a"))
        let config = try Checkpoint.loadConfig(from: directory.appendingPathComponent("a"))
        XCTAssertEqual(config.tokenizer.eosTokenIds, [32], "config.json's id; the tokenizer's names the same token")
        XCTAssertEqual(config.tokenizer.bosTokenId, 31)

        let listed = try variant("listed") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("chat_template.jinja"))
            try setMember(dir.appendingPathComponent("tokenizer_config.json"), "chat_template",
                          [["name": "tool_use", "template": "{{ tools }}"], ["name": "default", "template": .string(template)]])
        }
        XCTAssertEqual(try HuggingFace.chatTemplate(in: listed).template, template)

        let noDefault = try variant("no-default") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("chat_template.jinja"))
            try setMember(dir.appendingPathComponent("tokenizer_config.json"), "chat_template", [["name": "tool_use", "template": "x"]])
        }
        let out = directory.appendingPathComponent("b")
        let result = try HuggingFace.importCheckpoint(from: noDefault, to: out)
        XCTAssertEqual(result.notes, ["tokenizer_config.json has chat templates named 'tool_use' but none named 'default', so the checkpoint has no chat template"])
        XCTAssertNil(try Checkpoint.chatTemplate(in: out))
    }

    func testBadDeclarationsAreRefusedBeforeAnythingIsWritten() throws {
        func refusal(_ name: String, _ edit: (URL) throws -> Void) throws -> String {
            let source = try variant(name, edit)
            let out = directory.appendingPathComponent("out-\(name)")
            defer { XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(name): nothing written") }
            do { _ = try HuggingFace.importCheckpoint(from: source, to: out); return "imported" } catch { return "\(error)" }
        }
        XCTAssertTrue(try refusal("big-id") { try setMember($0.appendingPathComponent("generation_config.json"), "eos_token_id", [32, 99]) }
            .hasSuffix("special token id 99 (generation_config.json or config.json) is not a token of this model, whose vocab_size is 33"))
        XCTAssertTrue(try refusal("text-id") { try setMember($0.appendingPathComponent("generation_config.json"), "eos_token_id", "2") }
            .hasSuffix("generation_config.json: eos_token_id must be an id or a list of ids, got \"2\""))
        XCTAssertTrue(try refusal("unknown-name") { try setMember($0.appendingPathComponent("tokenizer_config.json"), "eos_token", "<|nope|>") }
            .hasSuffix("tokenizer_config.json: eos_token '<|nope|>' is not a single token of tokenizer.json"))
        XCTAssertTrue(try refusal("bad-template") { try setMember($0.appendingPathComponent("tokenizer_config.json"), "chat_template", 3); try FileManager.default.removeItem(at: $0.appendingPathComponent("chat_template.jinja")) }
            .hasSuffix("tokenizer_config.json: chat_template must be a string or a list of named templates, got 3"))
        XCTAssertTrue(try refusal("broken-json") { try Data("{".utf8).write(to: $0.appendingPathComponent("generation_config.json")) }
            .contains("generation_config.json is not valid JSON"))
    }
}
