import Foundation
import Tokenizer
import XCTest

/// The tokenizer configurations real models ship (LLaMA-2/3, Mistral, Qwen2.5, SmolLM2), on tiny
/// vocabularies made by Tests/TokenizerTests/Fixtures/make_real_fixtures.py with `tokenizers`, `sentencepiece` and
/// transformers' GGUF loader; the tests never run Python.
final class RealTokenizerTests: XCTestCase {
    struct Expected {
        var texts: [String]
        /// Per file: the BOS prefix, the ids per text (nil: the reference gave an id outside the vocabulary), decodes that differ.
        var files: [String: (prefix: [Int], ids: [[Int]?], decoded: [Int: String])]
    }

    func expected(_ name: String) throws -> Expected {
        let root = try JSONSerialization.jsonObject(with: realFixture(name)) as! [String: Any]
        /// Per file: the BOS prefix, the ids per text (nil: the reference gave an id outside the vocabulary), decodes that differ.
        var files: [String: (prefix: [Int], ids: [[Int]?], decoded: [Int: String])] = [:]
        for (file, value) in root["files"] as! [String: [String: Any]] {
            let decoded = (value["decoded"] as? [String: String] ?? [:]).reduce(into: [Int: String]()) { $0[Int($1.key)!] = $1.value }
            files[file] = (value["prefix"] as! [Int], (value["ids"] as! [Any]).map { $0 as? [Int] }, decoded)
        }
        return Expected(texts: root["texts"] as! [String], files: files)
    }

    func realFixture(_ name: String) throws -> Data {
        let url = try XCTUnwrap(Bundle.module.url(forResource: String(name.dropLast(5)), withExtension: "json", subdirectory: "Fixtures/real"), name)
        return try Data(contentsOf: url)
    }

    /// A GGUF tokenizer's metadata as the fixtures store it (the `tokenizer.ggml.*` keys).
    func spec(_ name: String) throws -> GGUFTokenizerSpec {
        let d = try JSONSerialization.jsonObject(with: realFixture(name)) as! [String: Any]
        func key(_ k: String) -> Any? { d["tokenizer.ggml." + k] }
        var s = GGUFTokenizerSpec(model: key("model") as! String, tokens: key("tokens") as! [String])
        s.pre = key("pre") as? String
        s.scores = (key("scores") as? [NSNumber])?.map { $0.floatValue }
        s.tokenTypes = (key("token_type") as? [NSNumber])?.map { $0.int32Value }
        s.merges = key("merges") as? [String]
        s.bosTokenId = key("bos_token_id") as? Int
        s.eosTokenId = key("eos_token_id") as? Int
        s.unknownTokenId = key("unknown_token_id") as? Int
        s.paddingTokenId = key("padding_token_id") as? Int
        s.addBosToken = key("add_bos_token") as? Bool
        s.addSpacePrefix = key("add_space_prefix") as? Bool
        return s
    }

    /// Every configuration encodes every hard text (Chinese, emoji, digits, whitespace runs,
    /// invalid-looking bytes, specials) to `tokenizers`' ids, adds the same BOS, and decodes to
    /// the same text.
    func testRealConfigurationsEncodeLikeHuggingFace() throws {
        let e = try expected("expected.json")
        XCTAssertEqual(e.files.count, 12)
        for (file, want) in e.files.sorted(by: { $0.key < $1.key }) {
            let tok = try TokenizerFile.load(data: realFixture(file), name: file)
            XCTAssertEqual(tok.prefixIds, want.prefix, file)
            for (k, text) in e.texts.enumerated() {
                let wanted = try XCTUnwrap(want.ids[k])
                XCTAssertEqual(try tok.encode(text), wanted, "\(file): \(text.debugDescription.prefix(80))")
                XCTAssertEqual(try tok.encode(text, addingSpecialTokens: true), want.prefix + wanted, file)
                XCTAssertEqual(tok.decode(wanted), want.decoded[k] ?? text, "\(file) decode: \(text.debugDescription.prefix(80))")
            }
        }
    }

    /// A loaded configuration saves to a file that loads with the same ids and BOS.
    func testRealConfigurationsSaveAndReload() throws {
        let e = try expected("expected.json")
        for file in e.files.keys.sorted() {
            let tok = try TokenizerFile.load(data: realFixture(file), name: file)
            let back = try TokenizerFile.load(data: Data(tok.jsonString().utf8), name: "saved " + file)
            XCTAssertEqual(back.jsonString(), tok.jsonString(), file)
            XCTAssertEqual(back.prefixIds, tok.prefixIds, file)
            for text in e.texts { XCTAssertEqual(try back.encode(text), try tok.encode(text), "\(file): \(text.debugDescription.prefix(60))") }
        }
    }

    /// Multi-threaded encoding cuts the text at newlines for the split patterns too.
    func testThreadedEncodingMatchesSingleThreadForEveryPattern() throws {
        var big = ""
        let corpus = try fixtureText("corpus.txt")
        while big.utf8.count < 1_200_000 { big += corpus + "<|endoftext|>\n\n 12 \n" }
        for file in ["gpt2_split.json", "llama3.json", "qwen2.json", "smollm.json", "digits_runs.json"] {
            let tok = try TokenizerFile.load(data: realFixture(file)) as! BPETokenizer
            let one = tok.encode(big, threads: 1)
            XCTAssertEqual(tok.encode(big, threads: 3), one, file)
            XCTAssertEqual(tok.decode(one), big, file)
        }
    }

    /// GGUF metadata → tokenizer.json → the ids transformers' GGUF loader gives on the same metadata.
    func testGGUFSpecsBuildWhatTransformersBuilds() throws {
        let e = try expected("gguf_expected.json")
        XCTAssertEqual(e.files.count, 5)
        for (file, want) in e.files.sorted(by: { $0.key < $1.key }) {
            let json = try TokenizerFile.huggingFaceJSON(gguf: spec(file))
            let tok = try TokenizerFile.load(data: json, name: file)
            XCTAssertEqual(tok.prefixIds, want.prefix, file)
            for (k, text) in e.texts.enumerated() {
                guard let wanted = want.ids[k] else { continue }
                XCTAssertEqual(try tok.encode(text), wanted, "\(file): \(text.debugDescription.prefix(80))")
            }
            XCTAssertLessThan(want.ids.filter { $0 == nil }.count, 5, file)
            // And back: the spec of that tokenizer.json builds the same tokenizer.
            let again = try TokenizerFile.load(data: TokenizerFile.huggingFaceJSON(gguf: TokenizerFile.ggufSpec(huggingFaceJSON: json)))
            XCTAssertEqual(again.prefixIds, tok.prefixIds, file)
            for text in e.texts { XCTAssertEqual(try again.encode(text), try tok.encode(text), "\(file) round trip: \(text.debugDescription.prefix(60))") }
        }
    }

    /// tokenizer.json → GGUF metadata → tokenizer.json keeps the ids, except where GGUF has no
    /// field for a difference (documented): Qwen2's NFC, and legacy SentencePiece's prefix on a
    /// text starting with a space or following an added token.
    func testTokenizerJSONToGGUFAndBack() throws {
        let e = try expected("expected.json")
        let expectations: [String: (model: String, pre: String, bos: Bool)] = [
            "gpt2_split.json": ("gpt2", "gpt-2", false), "llama3.json": ("gpt2", "llama-bpe", true), "qwen2.json": ("gpt2", "qwen2", false),
            "smollm.json": ("gpt2", "smollm", false), "llama2.json": ("llama", "default", true), "mistral.json": ("llama", "default", true),
        ]
        for (file, want) in expectations.sorted(by: { $0.key < $1.key }) {
            let original = try TokenizerFile.load(data: realFixture(file), name: file)
            let spec = try TokenizerFile.ggufSpec(huggingFaceJSON: realFixture(file))
            XCTAssertEqual(spec.model, want.model, file)
            XCTAssertEqual(spec.pre, want.pre, file)
            XCTAssertEqual(spec.addBosToken, want.bos, file)
            XCTAssertEqual(spec.tokens.count, original.vocabSize, file)
            let back = try TokenizerFile.load(data: TokenizerFile.huggingFaceJSON(gguf: spec), name: "back " + file)
            XCTAssertEqual(back.prefixIds, original.prefixIds, file)
            for text in e.texts {
                // (Swift's String == is canonical equivalence: compare the scalars.)
                if file == "qwen2.json" && Array(text.precomposedStringWithCanonicalMapping.unicodeScalars) != Array(text.unicodeScalars) { continue }
                if file == "llama2.json" && (text.first?.isWhitespace == true || ["<s>", "</s>", "<unk>"].contains(where: text.contains)) { continue }
                XCTAssertEqual(try back.encode(text), try original.encode(text), "\(file): \(text.debugDescription.prefix(60))")
            }
        }
        // SentencePiece: byte tokens are typed as bytes, control tokens as control, scores follow merge order.
        let sp = try TokenizerFile.ggufSpec(huggingFaceJSON: realFixture("mistral.json"))
        XCTAssertEqual(sp.tokenTypes?[0...2], [3, 3, 3])
        XCTAssertEqual(sp.tokens[3 + 0x41], "<0x41>")
        XCTAssertEqual(sp.tokenTypes?[3 + 0x41], 6)
        XCTAssertEqual(sp.addSpacePrefix, true)
        XCTAssertEqual(sp.bosTokenId, 1)
        XCTAssertEqual(sp.eosTokenId, 2)
    }

    /// "é" and "e" + U+0301 are equal Swift strings (canonical equivalence) but distinct tokens.
    func testCanonicallyEquivalentTokensStayDistinct() throws {
        var tokens = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) }
        tokens += ["▁", "e", "\u{301}", "\u{E9}", "e\u{301}"]
        var spec = GGUFTokenizerSpec(model: "llama", tokens: tokens)
        spec.scores = tokens.indices.map { -Float($0) }
        spec.tokenTypes = tokens.indices.map { $0 < 3 ? 3 : $0 < 259 ? 6 : 1 }
        spec.bosTokenId = 1; spec.eosTokenId = 2; spec.unknownTokenId = 0
        let tok = try TokenizerFile.load(data: TokenizerFile.huggingFaceJSON(gguf: spec))
        XCTAssertEqual(tok.vocabSize, 264)
        XCTAssertEqual(try tok.encode("\u{E9}"), [259, 262])    // ▁, é
        XCTAssertEqual(try tok.encode("e\u{301}"), [259, 263])  // ▁, e + U+0301 (merged)
        XCTAssertEqual(tok.decodeBytes([263]), Array("e\u{301}".utf8))
    }

    // MARK: Bad input

    func testUnrepresentableTokenizersAreRefusedNamingTheField() throws {
        let good = String(decoding: try realFixture("llama3.json"), as: UTF8.self)
        func expectError(_ json: String, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try TokenizerFile.load(data: Data(json.utf8)), file: file, line: line) { e in
                for needle in needles { XCTAssertTrue("\(e)".contains(needle), "'\(e)' should mention \(needle)", file: file, line: line) }
                XCTAssertFalse("\(e)".contains("\n"), "one line", file: file, line: line)
            }
        }
        func edit(_ change: (inout [String: Any]) -> Void) -> String {
            var obj = try! JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
            change(&obj)
            return String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self)
        }
        func editModel(_ change: @escaping (inout [String: Any]) -> Void) -> String {
            edit { o in var m = o["model"] as! [String: Any]; change(&m); o["model"] = m }
        }
        expectError(editModel { $0["type"] = "SentencePiece" }, ["model.type 'SentencePiece'", "supported: BPE", "WordPiece, Unigram"])
        expectError(editModel { $0["continuing_subword_prefix"] = "##" }, ["model.continuing_subword_prefix"])
        expectError(editModel { $0["end_of_word_suffix"] = "</w>" }, ["model.end_of_word_suffix"])
        expectError(edit { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "\\w+|\\s+"], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]] }, ["pre_tokenizer.pretokenizers[0].pattern.Regex", "\\\\w+", "gpt2, llama3, qwen2"])
        expectError(edit { $0["pre_tokenizer"] = ["type": "Whitespace"] }, ["pre_tokenizer.type 'Whitespace'", "supported"])
        expectError(edit { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "ByteLevel", "add_prefix_space": false], ["type": "Digits"]]] },
                    ["ByteLevel must come last"])
        expectError(edit { $0["normalizer"] = ["type": "StripAccents"] }, ["normalizer.type 'StripAccents'", "NFC"])
        expectError(edit { $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": " +"], "content": " "] }, ["normalizer.pattern"])
        expectError(edit { $0["post_processor"] = ["type": "TemplateProcessing",
                                                   "single": [["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "<|end_of_text|>", "type_id": 0]]],
                                                   "special_tokens": ["<|end_of_text|>": ["id": "<|end_of_text|>", "ids": [1], "tokens": ["<|end_of_text|>"]]]] },
                    ["post_processor.single[1]", "after the text"])
        expectError(edit { $0["post_processor"] = ["type": "BertProcessing"] }, ["post_processor.type 'BertProcessing'"])
        expectError(edit { $0["decoder"] = ["type": "WordPiece"] }, ["decoder.type 'WordPiece'"])
        expectError(editModel { $0["byte_fallback"] = true }, ["model.byte_fallback"])
        let sp = String(decoding: try realFixture("mistral.json"), as: UTF8.self)
        expectError(sp.replacingOccurrences(of: "\"prepend_scheme\": \"first\"", with: "\"prepend_scheme\": \"sometimes\""), ["prepend_scheme", "first, always, never"])
        expectError(sp.replacingOccurrences(of: "\"unk_token\": \"<unk>\"", with: "\"unk_token\": \"<nope>\""), ["model.unk_token", "<nope>"])
    }

    func testUnrepresentableGGUFTokenizersAreRefused() throws {
        func expectError(_ s: GGUFTokenizerSpec, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try TokenizerFile.huggingFaceJSON(gguf: s), file: file, line: line) { e in
                for needle in needles { XCTAssertTrue("\(e)".contains(needle), "'\(e)' should mention \(needle)", file: file, line: line) }
            }
        }
        var s = try spec("gguf_gpt2_smollm.json")
        XCTAssertNoThrow(try TokenizerFile.huggingFaceJSON(gguf: s))
        s.pre = "deepseek-coder"
        expectError(s, ["tokenizer.ggml.pre 'deepseek-coder'", "gpt-2, gpt2, default, llama-bpe", "smollm"])
        s = try spec("gguf_gpt2_smollm.json"); s.model = "bert"
        expectError(s, ["tokenizer.ggml.model 'bert'", "gpt2", "llama"])
        s = try spec("gguf_gpt2_smollm.json"); s.model = "t5"
        expectError(s, ["tokenizer.ggml.model 't5'"])
        s = try spec("gguf_gpt2_smollm.json"); s.eosTokenId = s.tokens.count
        expectError(s, ["tokenizer.ggml.eos_token_id"])
        s = try spec("gguf_gpt2_smollm.json"); s.tokenTypes = [1]
        expectError(s, ["tokenizer.ggml.token_type"])
        s = try spec("gguf_gpt2_smollm.json"); s.addEosToken = true
        expectError(s, ["tokenizer.ggml.add_eos_token"])
        s = try spec("gguf_gpt2_smollm.json"); s.merges = ["a b c"]
        expectError(s, ["tokenizer.ggml.merges[0]"])
        // The inverse: what GGUF has no name for.
        XCTAssertThrowsError(try TokenizerFile.ggufSpec(huggingFaceJSON: realFixture("bytelevel_noregex.json"))) { e in
            XCTAssertTrue("\(e)".contains("tokenizer.ggml.pre"), "\(e)")
        }
        XCTAssertThrowsError(try TokenizerFile.ggufSpec(huggingFaceJSON: realFixture("sp_unknown.json"))) { e in
            XCTAssertTrue("\(e)".contains("byte_fallback"), "\(e)")
        }
        XCTAssertThrowsError(try TokenizerFile.ggufSpec(huggingFaceJSON: Data(fixtureText("tinygpt_char.json").utf8))) { e in
            XCTAssertTrue("\(e)".contains("WordLevel"), "\(e)")
        }
    }

    /// A real GGUF's tokenizer against transformers' GGUF loader, when bench/parity/tokenizer_gguf_check.py
    /// has written its metadata and expected ids to $TINYGPT_GGUF_TOKENIZER_CHECK (the model
    /// itself is not committed); also reports how long the tokenizer takes to build and load.
    func testRealGGUFTokenizerWhenProvided() throws {
        guard let dir = ProcessInfo.processInfo.environment["TINYGPT_GGUF_TOKENIZER_CHECK"] else {
            throw XCTSkip("set TINYGPT_GGUF_TOKENIZER_CHECK to a directory written by bench/parity/tokenizer_gguf_check.py")
        }
        let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/spec.json"))) as! [String: Any]
        func key(_ k: String) -> Any? { d["tokenizer.ggml." + k] }
        var s = GGUFTokenizerSpec(model: key("model") as! String, tokens: key("tokens") as! [String])
        s.pre = key("pre") as? String
        s.scores = (key("scores") as? [NSNumber])?.map { $0.floatValue }
        s.tokenTypes = (key("token_type") as? [NSNumber])?.map { $0.int32Value }
        s.merges = key("merges") as? [String]
        s.bosTokenId = key("bos_token_id") as? Int
        s.eosTokenId = key("eos_token_id") as? Int
        s.unknownTokenId = key("unknown_token_id") as? Int
        s.paddingTokenId = key("padding_token_id") as? Int
        s.addBosToken = key("add_bos_token") as? Bool
        s.addSpacePrefix = key("add_space_prefix") as? Bool
        var t0 = Date()
        let json = try TokenizerFile.huggingFaceJSON(gguf: s)
        let built = Date().timeIntervalSince(t0)
        t0 = Date()
        let tok = try TokenizerFile.load(data: json)
        let loaded = Date().timeIntervalSince(t0)
        print(String(format: "GGUF tokenizer of %d tokens: tokenizer.json built in %.3f s, loaded in %.3f s", s.tokens.count, built, loaded))
        let e = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))) as! [String: Any]
        let texts = e["texts"] as! [String], ids = e["ids"] as! [[Int]]
        XCTAssertEqual(tok.prefixIds, e["prefix"] as! [Int])
        for (k, text) in texts.enumerated() { XCTAssertEqual(try tok.encode(text), ids[k], text.debugDescription) }
        if let hf = e["hf_tokenizer_json"] as? String {
            let real = try TokenizerFile.load(from: URL(fileURLWithPath: hf))
            for (k, text) in texts.enumerated() { XCTAssertEqual(try real.encode(text), ids[k], "\(hf): \(text.debugDescription)") }
        }
    }
}
