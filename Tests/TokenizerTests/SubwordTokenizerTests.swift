import Foundation
@testable import Tokenizer
import XCTest

/// WordPiece and Unigram: fixtures from Tests/TokenizerTests/Fixtures/make_subword_fixtures.py (Hugging Face
/// `tokenizers`, `sentencepiece` and tinygpt's own training); the tests never run Python.
final class SubwordTokenizerTests: XCTestCase {
    struct Expected {
        var texts: [String]
        var files: [String: (prefix: [Int], ids: [[Int]?], decoded: [Int: String])]
    }

    func subwordFixture(_ name: String) throws -> Data {
        let parts = name.split(separator: ".")
        let url = try XCTUnwrap(Bundle.module.url(forResource: String(parts[0]), withExtension: String(parts[1]), subdirectory: "Fixtures/subword"), name)
        return try Data(contentsOf: url)
    }

    func expected() throws -> Expected {
        let root = try JSONSerialization.jsonObject(with: subwordFixture("expected.json")) as! [String: Any]
        var files: [String: (prefix: [Int], ids: [[Int]?], decoded: [Int: String])] = [:]
        for (file, value) in root["files"] as! [String: [String: Any]] {
            let decoded = (value["decoded"] as? [String: String] ?? [:]).reduce(into: [Int: String]()) { $0[Int($1.key)!] = $1.value }
            files[file] = (value["prefix"] as! [Int], (value["ids"] as! [Any]).map { $0 as? [Int] }, decoded)
        }
        return Expected(texts: root["texts"] as! [String], files: files)
    }

    var corpus: String { get throws { try fixtureText("corpus.txt") } }

    // MARK: Compatibility with `tokenizers`

    /// Every layout encodes every hard text to `tokenizers`' ids (or refuses it where
    /// `tokenizers` does), adds the same prefix, and decodes to the same text.
    func testSubwordLayoutsEncodeLikeHuggingFace() throws {
        let e = try expected()
        XCTAssertEqual(e.files.count, 11)
        for (file, want) in e.files.sorted(by: { $0.key < $1.key }) {
            let tok = try TokenizerFile.load(data: subwordFixture(file), name: file)
            XCTAssertTrue(tok is WordPieceTokenizer || tok is UnigramTokenizer, file)
            XCTAssertEqual(tok.prefixIds, want.prefix, file)
            for (k, text) in e.texts.enumerated() {
                guard let wanted = want.ids[k] else {
                    XCTAssertThrowsError(try tok.encode(text), "\(file): \(text.debugDescription.prefix(60)) should be refused")
                    continue
                }
                XCTAssertEqual(try tok.encode(text), wanted, "\(file): \(text.debugDescription.prefix(80))")
                XCTAssertEqual(tok.decode(wanted), want.decoded[k] ?? text, "\(file) decode: \(text.debugDescription.prefix(80))")
            }
        }
    }

    /// A loaded file saves to one that loads with the same ids, prefix and bytes.
    func testSubwordLayoutsSaveAndReload() throws {
        let e = try expected()
        for file in e.files.keys.sorted() {
            let tok = try TokenizerFile.load(data: subwordFixture(file), name: file)
            let back = try TokenizerFile.load(data: Data(tok.jsonString().utf8), name: "saved " + file)
            XCTAssertEqual(back.jsonString(), tok.jsonString(), file)
            XCTAssertEqual(back.prefixIds, tok.prefixIds, file)
            XCTAssertEqual(back.vocabSize, tok.vocabSize, file)
            for text in e.texts { XCTAssertEqual(try? back.encode(text), try? tok.encode(text), "\(file): \(text.debugDescription.prefix(60))") }
        }
    }

    /// BERT's character classes agree with `tokenizers` on every code point: punctuation,
    /// control and whitespace (Unicode 8.0 categories, as its `unicode_categories` tables) and
    /// the characters strip_accents removes.
    func testBertCharacterClassesMatchTokenizersOverAllOfUnicode() throws {
        let root = try JSONSerialization.jsonObject(with: subwordFixture("bert_classes.json")) as! [String: [[Int]]]
        func set(_ name: String) -> Set<UInt32> {
            var s = Set<UInt32>()
            for r in root[name]! { for v in r[0]...r[1] { s.insert(UInt32(v)) } }
            return s
        }
        let punctuation = set("punctuation"), control = set("control"), whitespace = set("whitespace"), stripped = set("stripped")
        var mismatches: [String] = []
        for v in UInt32(0)..<0x110000 {
            guard let u = Unicode.Scalar(v) else { continue }
            let c = BertCharacters.classes(v)
            if (c & BertCharacters.punctuation != 0) != punctuation.contains(v) { mismatches.append("punctuation U+\(String(v, radix: 16))") }
            let cleaned = Normalization.bert(String(u), cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false)
            if (cleaned == "") != control.contains(v) { mismatches.append("control U+\(String(v, radix: 16))") }
            if (cleaned == " " && v != 0x20) != whitespace.contains(v) { mismatches.append("whitespace U+\(String(v, radix: 16))") }
            let strippedText = Normalization.bert(String(u), cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false)
            if (strippedText == "") != stripped.contains(v) { mismatches.append("stripped U+\(String(v, radix: 16))") }
        }
        XCTAssertEqual(mismatches.count, 0, "\(mismatches.prefix(20))")
    }

    // MARK: Training

    /// The same corpus and size give the committed files byte for byte (which `tokenizers`
    /// checked above), and the trained tokenizers lose no text of their corpus.
    func testTrainingIsDeterministicAndLossless() throws {
        let text = try corpus
        let wp = try WordPieceTokenizer.train(text: text, vocabSize: 400, specialTokens: ["<|endoftext|>"])
        XCTAssertEqual(wp.jsonString(), String(decoding: try subwordFixture("tinygpt_wordpiece.json"), as: UTF8.self))
        let ug = try UnigramTokenizer.train(text: text, vocabSize: 400, specialTokens: ["<|endoftext|>"])
        XCTAssertEqual(ug.jsonString(), String(decoding: try subwordFixture("tinygpt_unigram.json"), as: UTF8.self))
        for tok in [wp, ug] as [any Tokenizer] {
            XCTAssertEqual(tok.vocabSize, 400)
            let ids = try tok.encode(text)
            XCTAssertFalse(ids.contains(0), "no unknown token on the training text")
            XCTAssertEqual(tok.decode(ids), text)
            let special = try tok.encode("a<|endoftext|>b")
            XCTAssertTrue(special.contains(1), "\(special)")
        }
        // Unigram: every character of the text is a piece; pieces are at most 16 characters.
        XCTAssertTrue(Set(text.unicodeScalars.map { String($0) == " " ? "▁" : String($0) }).isSubset(of: Set(ug.pieces)))
        XCTAssertTrue(ug.pieces.allSatisfy { $0.unicodeScalars.count <= 16 })
        XCTAssertEqual(Array(ug.scores[2...]), ug.scores[2...].sorted(by: >))
    }

    /// "ab ab ab cd" → words ▁ab ×3, ▁cd: ▁ (4), ##a (3), ##b (3), ##c (1), ##d (1).
    /// Scores: (##c,##d) 1/(1·1) = 1 beats (##a,##b) 3/(3·3) — the rare pair first, where BPE
    /// would take the frequent one; then ##ab (1/3); then (▁,##cd) and (▁,##ab) tie at 1/4 and
    /// the smaller ids go first.
    func testHandWorkedWordPieceMerges() throws {
        let t = try WordPieceTokenizer.train(text: "ab ab ab cd", vocabSize: 10)
        XCTAssertEqual(t.vocab.compactMap { $0 }, ["[UNK]", "▁", "##a", "##b", "##c", "##d", "##cd", "##ab", "▁cd", "▁ab"])
        XCTAssertEqual(try t.encode("ab cd"), [9, 8])
        XCTAssertEqual(try t.encode("cab"), [1, 4, 7])       // ▁, ##c, ##ab: greedy longest first
        XCTAssertEqual(try t.encode("abx ab"), [0, 9])       // a word with an unknown character is [UNK] whole
        XCTAssertEqual(t.decode([9, 8]), "ab cd")
        // Stops early when no pair is left.
        XCTAssertEqual(try WordPieceTokenizer.train(text: "ab ab ab cd", vocabSize: 50).vocabSize, 10)
    }

    func testProgressIsReported() throws {
        var calls: [(Int, Int)] = []
        _ = try WordPieceTokenizer.train(text: try corpus, vocabSize: 500) { calls.append(($0, $1)) }
        XCTAssertEqual(calls.last?.0, 500)
        var rounds: [(Int, Int)] = []
        _ = try UnigramTokenizer.train(text: try corpus, vocabSize: 500) { rounds.append(($0, $1)) }
        XCTAssertEqual(rounds.last.map { $0.0 == $0.1 }, true)
    }

    // MARK: Parts of Unigram training

    func testSuffixArrayAndRepeatsAgainstNaive() {
        var rng = SplitMix(seed: 3)
        for _ in 0..<50 {
            let n = Int(rng.next() % 40)
            let s = (0..<n).map { _ in Int32(rng.next() % 3) }
            let naive = (0..<n).sorted { s[$0...].lexicographicallyPrecedes(s[$1...]) }.map { Int32($0) }
            XCTAssertEqual(SuffixArray.sorted(s), naive, "\(s)")
            // Repeats: substrings occurring twice or more that are followed by two different symbols (or the end).
            var got = Set<[Int32]>()
            var counts: [[Int32]: Int] = [:]
            SuffixArray.repeats(s) { start, length, occurrences in
                got.insert(Array(s[start..<(start + length)]))
                counts[Array(s[start..<(start + length)])] = occurrences
            }
            var want = Set<[Int32]>()
            for i in 0..<n { for j in (i + 1)...n {
                let sub = Array(s[i..<j])
                let starts = (0...(n - sub.count)).filter { Array(s[$0..<($0 + sub.count)]) == sub }
                let next = Set(starts.map { $0 + sub.count < n ? s[$0 + sub.count] : -1 })
                if starts.count >= 2 && (next.count >= 2 || next.contains(-1)) {
                    want.insert(sub)
                    XCTAssertEqual(counts[sub], starts.count, "\(sub) in \(s)")
                }
            } }
            XCTAssertEqual(got, want, "\(s)")
        }
    }

    func testDigamma() {
        let gamma = 0.57721566490153286
        // The series stops at x⁻⁸ from x ≥ 7: accurate to about 1e-10.
        XCTAssertEqual(digamma(1), -gamma, accuracy: 1e-9)
        XCTAssertEqual(digamma(0.5), -gamma - 2 * log(2), accuracy: 1e-9)
        XCTAssertEqual(digamma(10), digamma(9) + 1.0 / 9, accuracy: 1e-9)
        XCTAssertEqual(digamma(1000), log(1000) - 1.0 / 2000 - 1.0 / 12_000_000, accuracy: 1e-12)
    }

    // MARK: Bad input

    func testVocabularyTooSmallForTheAlphabetIsRefused() {
        XCTAssertThrowsError(try WordPieceTokenizer.train(text: "abc abd", vocabSize: 5)) { e in
            let err = e as! TokenizerError
            XCTAssertEqual(err.neededVocabulary, 6)  // [UNK], ▁, ##a ##b ##c ##d
            XCTAssertTrue(err.description.contains("vocab size 5 is too small"), err.description)
            XCTAssertFalse(err.description.contains("\n"))
        }
        XCTAssertThrowsError(try UnigramTokenizer.train(text: "abc abd", vocabSize: 6, specialTokens: ["<s>"])) { e in
            XCTAssertEqual((e as! TokenizerError).neededVocabulary, 7)  // <unk>, <s>, ▁ a b c d
        }
        XCTAssertThrowsError(try WordPieceTokenizer.train(text: "", vocabSize: 100))
        XCTAssertThrowsError(try UnigramTokenizer.train(text: "<s>", vocabSize: 100, specialTokens: ["<s>"]))
        XCTAssertThrowsError(try UnigramTokenizer.train(text: "abc", vocabSize: 100, specialTokens: ["<s>", "<s>"]))
    }

    func testUnsupportedVariantsAreRefusedNamingTheField() throws {
        func expectError(_ file: String, _ change: (inout [String: Any]) -> Void, _ needles: [String],
                         fileName: StaticString = #filePath, line: UInt = #line) throws {
            var obj = try JSONSerialization.jsonObject(with: subwordFixture(file)) as! [String: Any]
            change(&obj)
            let data = try JSONSerialization.data(withJSONObject: obj)
            XCTAssertThrowsError(try TokenizerFile.load(data: data), file: fileName, line: line) { e in
                for needle in needles { XCTAssertTrue("\(e)".contains(needle), "'\(e)' should mention \(needle)", file: fileName, line: line) }
                XCTAssertFalse("\(e)".contains("\n"), "one line", file: fileName, line: line)
            }
        }
        func model(_ change: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { o in var m = o["model"] as! [String: Any]; change(&m); o["model"] = m }
        }
        try expectError("unigram_sp.json", { $0["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": "AAAA"] },
                        ["normalizer.type 'Precompiled'", "supported: NFC"])
        try expectError("unigram_sp.json", { $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": "\\s+"], "content": " "] },
                        ["normalizer.pattern", " {2,}"])
        try expectError("unigram_sp.json", { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false] }, ["ByteLevel", "Unigram"])
        try expectError("unigram_sp.json", { $0["pre_tokenizer"] = ["type": "UnicodeScripts"] }, ["pre_tokenizer.type 'UnicodeScripts'", "BertPreTokenizer"])
        try expectError("unigram_sp.json", model { $0["unk_id"] = 100_000 }, ["model.unk_id 100000", "outside"])
        try expectError("unigram_sp.json", model { $0["vocab"] = [["a", "x"]] }, ["model.vocab[0]", "[piece, score]"])
        try expectError("unigram_sp.json", model { $0["vocab"] = nil }, ["model.vocab"])
        try expectError("unigram_sp.json", model { $0["alpha"] = 0.1 }, ["unsupported field 'model.alpha'"])
        try expectError("bert_uncased.json", model { $0["unk_token"] = "[NOPE]" }, ["model.unk_token", "[NOPE]"])
        try expectError("bert_uncased.json", model { $0["max_input_chars_per_word"] = -1 }, ["model.max_input_chars_per_word"])
        try expectError("bert_uncased.json", { $0["decoder"] = ["type": "CTC"] }, ["decoder.type 'CTC'", "WordPiece"])
        try expectError("bert_uncased.json", { $0["decoder"] = nil }, ["'decoder'"])
        try expectError("bert_uncased.json", { $0["post_processor"] = ["type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]] },
                        ["post_processor.type 'BertProcessing'"])
        try expectError("bert_uncased.json", { $0["normalizer"] = ["type": "BertNormalizer", "lowercase": "yes"] }, ["normalizer.lowercase"])
        try expectError("bert_uncased.json", model { $0["type"] = "WordPieceX" }, ["model.type 'WordPieceX'", "WordPiece, Unigram"])
        // WordPiece's pieces belong to WordPiece and Unigram models, not to BPE.
        let bpe = try fixture("hf_bpe.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: bpe)) as! [String: Any]
        obj["pre_tokenizer"] = ["type": "BertPreTokenizer"]
        XCTAssertThrowsError(try TokenizerFile.load(data: JSONSerialization.data(withJSONObject: obj))) { e in
            XCTAssertTrue("\(e)".contains("BertPreTokenizer with a BPE model"), "\(e)")
        }
    }
}
