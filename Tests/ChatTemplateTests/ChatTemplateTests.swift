import XCTest
import Foundation
import Files
import ChatTemplate

/// The renderer against transformers: real models' chat templates (Fixtures/templates) over
/// several conversations, and one small template per Jinja construct, with the expected text
/// (or refusal) from Fixtures/make_expected.py. The tests never run Python.
final class ChatTemplateTests: XCTestCase {
    func fixtureURL(_ path: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent(path)
    }

    func expected() throws -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = try JSONParser.parse(Array(try Data(contentsOf: fixtureURL("expected.json")))) else {
            throw XCTSkip("expected.json is not an object")
        }
        return members
    }

    func cases(_ section: String) throws -> [[String: JSONValue]] {
        guard case .array(let items)? = try expected().first(where: { $0.key == section })?.value else { return [] }
        return items.compactMap { item in
            guard case .object(let members) = item else { return nil }
            return Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        }
    }

    func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s }; return nil }

    func testSevenModelsTemplatesRenderAsTransformers() throws {
        let all = try cases("chat")
        XCTAssertGreaterThan(all.count, 50)
        var models = Set<String>()
        for c in all {
            let model = string(c["model"])!, conversation = string(c["conversation"])!
            models.insert(model)
            let source = try String(contentsOf: fixtureURL("templates/\(model).jinja"), encoding: .utf8)
            let template = try ChatTemplate(source)
            guard case .array(let rawMessages)? = c["messages"], case .bool(let generationPrompt)? = c["add_generation_prompt"],
                  case .object(let rawSpecials)? = c["special_tokens"] else { return XCTFail("malformed case") }
            let messages = rawMessages.map { m -> ChatMessage in
                guard case .object(let fields) = m else { return ChatMessage(role: "", content: "") }
                let f = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                return ChatMessage(role: string(f["role"])!, content: string(f["content"])!)
            }
            let specials = Dictionary(rawSpecials.compactMap { m in string(m.value).map { (m.key, $0) } }, uniquingKeysWith: { a, _ in a })
            let label = "\(model) / \(conversation) / add_generation_prompt=\(generationPrompt)"
            if let text = string(c["text"]) {
                XCTAssertEqual(try template.render(messages, addGenerationPrompt: generationPrompt, specialTokens: specials), text, label)
            } else {
                XCTAssertThrowsError(try template.render(messages, addGenerationPrompt: generationPrompt, specialTokens: specials), label) { error in
                    let e = error as? TemplateError
                    XCTAssertEqual(e?.raisedByTemplate, true, "\(label): \(error)")
                    XCTAssertEqual(e?.message, string(c["error"]), label)
                }
            }
        }
        XCTAssertEqual(models, ["smollm2", "qwen2.5", "llama-2", "llama-3.1", "mistral", "mistral-nemo", "phi-3.5", "gemma"])
    }

    func testEachConstructRendersAsJinja2() throws {
        let all = try cases("jinja")
        XCTAssertGreaterThan(all.count, 40)
        for c in all {
            let name = string(c["name"])!, source = string(c["template"])!
            var variables: [String: TemplateValue] = [:]
            if case .object(let members)? = c["variables"] { for m in members { variables[m.key] = TemplateValue(json: m.value) } }
            do {
                let rendered = try Template(source).render(variables)
                if let text = string(c["text"]) {
                    XCTAssertEqual(rendered, text, name)
                } else {
                    XCTFail("\(name): jinja2 refuses (\(string(c["error"]) ?? "")), but this renders \(rendered.debugDescription)")
                }
            } catch let error as TemplateError {
                XCTAssertNil(string(c["text"]), "\(name): \(error)")
                if string(c["error"])?.hasPrefix("TemplateError: ") == true {
                    XCTAssertEqual("TemplateError: " + error.message, string(c["error"]), name)
                }
            }
        }
    }

    /// A template outside the subset is refused when it is read, naming the construct and its line.
    func testUnsupportedConstructsAreNamedWithTheirLine() {
        func refusal(_ source: String) -> String {
            do { _ = try Template(source); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal("{% extends 'base.html' %}"), "chat template line 1: unsupported Jinja construct '{% extends %}'")
        XCTAssertEqual(refusal("a\nb\n{{ x | wordwrap(3) }}"), "chat template line 3: unsupported Jinja construct: filter 'wordwrap'")
        XCTAssertEqual(refusal("\n{% if x is prime %}{% endif %}"), "chat template line 2: unsupported Jinja construct: test 'prime'")
        XCTAssertEqual(refusal("{% for m in messages recursive %}{% endfor %}"), "chat template line 1: unsupported Jinja construct 'recursive' loops")
        XCTAssertEqual(refusal("x\n\n{% include 'other' %}"), "chat template line 3: unsupported Jinja construct '{% include %}'")
        XCTAssertEqual(refusal("{% with a = 1 %}{% endwith %}"), "chat template line 1: unsupported Jinja construct '{% with %}'")
        XCTAssertEqual(refusal("{{ f(*args) }}"), "chat template line 1: unsupported Jinja construct '*args' in a call")
        XCTAssertEqual(refusal("\n{% frobnicate %}"), "chat template line 2: unknown tag '{% frobnicate %}'")
    }

    func testSyntaxErrorsNameTheirLine() {
        func refusal(_ source: String) -> String {
            do { _ = try Template(source); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal("{% for m in messages %}\n{{ m }}"), "chat template line 1: '{% for %}' is never closed (expected {% else %} or {% endfor %})")
        XCTAssertEqual(refusal("ok\n{% endif %}"), "chat template line 2: unexpected '{% endif %}'")
        XCTAssertEqual(refusal("a\n{{ 'open }}"), "chat template line 2: unterminated string literal")
        XCTAssertEqual(refusal("{{ x"), "chat template line 1: unexpected end of template: '}}' is missing")
        XCTAssertEqual(refusal("\n\n{# note"), "chat template line 3: missing end of comment tag '#}'")
        XCTAssertEqual(refusal("{{ (1 }}"), "chat template line 1: unexpected '}', expected ')'")
        XCTAssertEqual(refusal("{{ 1 + }}"), "chat template line 1: expected an expression before the end of the tag")
        XCTAssertEqual(refusal("{% if %}{% endif %}"), "chat template line 1: expected an expression before the end of the tag")
        XCTAssertEqual(refusal("{% break %}"), "chat template line 1: '{% break %}' and '{% continue %}' belong inside a for loop")
        XCTAssertEqual(refusal("{{ a ? b }}"), "chat template line 1: unexpected character '?' in a tag")
    }

    func testRenderErrorsNameTheirLine() throws {
        func failure(_ source: String, _ variables: [String: TemplateValue] = [:]) -> String {
            do { return "rendered " + (try Template(source).render(variables)) } catch { return "\(error)" }
        }
        XCTAssertEqual(failure("line one\n{{ missing.role }}"), "chat template line 2: 'missing' is undefined")
        XCTAssertEqual(failure("{% set m = {'a': 1} %}\n\n{{ m.b.c }}"), "chat template line 3: 'dict object' has no attribute 'b'")
        XCTAssertEqual(failure("{{ 1 + 'a' }}"), "chat template line 1: unsupported operand types for +: 'int' and 'str'")
        XCTAssertEqual(failure("\n{{ raise_exception('no system role') }}"), "the chat template refuses this conversation (line 2): no system role")
        XCTAssertEqual(failure("{% for a, b in [1] %}{% endfor %}"), "chat template line 1: 'int' object is not iterable")
        XCTAssertEqual(failure("{{ 1 // 0 }}"), "chat template line 1: integer division or modulo by zero")
        XCTAssertEqual(failure("{% set xs = [1] %}{{ xs.append(2) }}"),
                       "chat template line 1: list.append() is not available in a chat template (lists cannot be changed; use namespace())")
    }

    func testChatTemplateSeesHuggingFaceVariables() throws {
        let t = try ChatTemplate("{{ bos_token }}|{{ eos_token }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ unk_token is defined }}|{{ messages | length }}")
        XCTAssertEqual(try t.render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true, specialTokens: ["bos_token": "<s>", "eos_token": "</s>"]),
                       "<s>|</s>|True|True|True|False|1")
        XCTAssertEqual(try t.render([], addGenerationPrompt: false), "||True|True|False|False|0")
    }
}
