import Foundation
import TestSupport
import Tokenizer
import XCTest

/// Fixtures come from Tests/TokenizerTests/Fixtures/make_tokenizer_fixtures.py (Hugging Face `tokenizers`); the tests never run Python.
func fixture(_ name: String) throws -> URL {
    let parts = name.split(separator: ".")
    return try XCTUnwrap(Bundle.module.url(forResource: String(parts[0]), withExtension: String(parts[1]), subdirectory: "Fixtures"))
}

func fixtureText(_ name: String) throws -> String {
    String(decoding: try Data(contentsOf: fixture(name)), as: UTF8.self)
}

final class TokenizerTests: XCTestCase {
    lazy var corpus: String = try! fixtureText("corpus.txt")

    // MARK: Compatibility with `tokenizers`

    /// Every fixture file (trained by `tokenizers` or by tinygpt) encodes each sample to the ids
    /// `tokenizers` produced, and BPE decodes them back to the sample.
    func testFixturesEncodeLikeHuggingFace() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("expected.json"))) as! [String: [[String: Any]]]
        XCTAssertEqual(expected.count, 5)
        for (file, rows) in expected.sorted(by: { $0.key < $1.key }) {
            let tok = try TokenizerFile.load(from: fixture(file))
            XCTAssertGreaterThan(rows.count, 15, file)
            for row in rows {
                let text = row["text"] as! String
                let ids = (row["ids"] as! [NSNumber]).map { $0.intValue }
                XCTAssertEqual(try tok.encode(text), ids, "\(file): \(text.debugDescription.prefix(80))")
                XCTAssertEqual(tok.decode(ids), text, "\(file) round trip")
            }
        }
    }

    /// Training is deterministic: the same corpus and size give the committed file byte for byte
    /// (that file was checked against `tokenizers` above).
    func testTrainingIsDeterministicAndMatchesFixture() throws {
        let a = try BPETokenizer.train(text: corpus, vocabSize: 600, specialTokens: ["<|endoftext|>", "<pad>"])
        let b = try BPETokenizer.train(text: corpus, vocabSize: 600, specialTokens: ["<|endoftext|>", "<pad>"])
        XCTAssertEqual(a.jsonString(), b.jsonString())
        XCTAssertEqual(a.jsonString(), try fixtureText("tinygpt_bpe.json"))
        XCTAssertEqual(try CharTokenizer(trainingText: corpus, specialTokens: ["<|endoftext|>"]).jsonString(), try fixtureText("tinygpt_char.json"))
    }

    func testLegacyAndNewMergeFormatsLoadTheSame() throws {
        let new = try TokenizerFile.load(from: fixture("hf_bpe.json")) as! BPETokenizer
        let old = try TokenizerFile.load(from: fixture("hf_bpe_legacy.json")) as! BPETokenizer
        XCTAssertEqual(new.merges.map { [$0.0, $0.1] }, old.merges.map { [$0.0, $0.1] })
        XCTAssertEqual(new.vocabSize, 500)
        XCTAssertEqual(new.id(ofSpecial: "<|endoftext|>"), 0)
        XCTAssertEqual(new.id(ofSpecial: "<pad>"), 1)
        XCTAssertNil(new.id(ofSpecial: "the"))
    }

    func testSaveLoadRoundTrip() throws {
        let dir = try Scratch.directory("tok")
        defer { Scratch.remove(dir) }
        let bpe = try BPETokenizer.train(text: corpus, vocabSize: 400, specialTokens: ["<s>"])
        let char = try CharTokenizer(trainingText: corpus, specialTokens: ["<s>"])
        for tok in [bpe, char] as [any Tokenizer] {
            let url = dir.appendingPathComponent("tokenizer.json")
            try tok.save(to: url)
            try tok.save(to: url)  // overwrite in place
            let back = try TokenizerFile.load(from: url)
            XCTAssertEqual(type(of: back) == type(of: tok), true)
            XCTAssertEqual(back.jsonString(), tok.jsonString())
            XCTAssertEqual(try back.encode(corpus), try tok.encode(corpus))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["tokenizer.json"], "no temp file left")
        }
        // A save that cannot happen leaves nothing behind.
        XCTAssertThrowsError(try bpe.save(to: dir.appendingPathComponent("missing/dir/t.json")))
    }

    // MARK: Hand-worked training

    /// "ab ab ab abc" → pre-tokens "ab"×1, " ab"×2, " abc"×1. Pair counts: (a,b)=4, (␠,a)=3,
    /// (b,c)=1 → merge a+b (256); then (␠,ab)=3 → " ab" (257); then (" ab",c)=1 → " abc" (258);
    /// then no pair is left, so training stops at vocab 259 although 300 was asked.
    func testHandWorkedMergesAndEarlyStop() throws {
        let t = try BPETokenizer.train(text: "ab ab ab abc", vocabSize: 300)
        XCTAssertEqual(t.merges.map { [$0.0, $0.1] }, [[97, 98], [32, 256], [257, 99]])
        XCTAssertEqual(t.vocabSize, 259)
        XCTAssertEqual(t.tokenBytes[258], Array(" abc".utf8))
        XCTAssertEqual(try t.encode("ab abc ab"), [256, 258, 257])
    }

    /// Ties go to the smallest (left id, right id): "xy yz" has (x,y), (␠,y), (y,z) once each,
    /// so " y" (32,121) first; then (x,y)=(120,121) beats (" y",z)=(256,122); then " yz".
    func testTieBreakIsSmallestPair() throws {
        let t = try BPETokenizer.train(text: "xy yz", vocabSize: 259)
        XCTAssertEqual(t.merges.map { [$0.0, $0.1] }, [[32, 121], [120, 121], [256, 122]])
    }

    /// Overlapping pairs merge left to right: "aaaaa" has (a,a)=4 → [aa, aa, a]; then
    /// (aa,aa)=1 and (aa,a)=1 tie, and (256,97) < (256,256) → [aa, aaa]; then (256,257).
    func testOverlappingPairs() throws {
        let t = try BPETokenizer.train(text: "aaaaa", vocabSize: 259)
        XCTAssertEqual(t.merges.map { [$0.0, $0.1] }, [[97, 97], [256, 97], [256, 257]])
        XCTAssertEqual(try t.encode("aaaaa"), [258])
        XCTAssertEqual(try t.encode("aaa"), [257])  // a+a (rank 0), then aa+a (rank 1)
        XCTAssertEqual(try t.encode("aa"), [256])
    }

    /// Progress reports (learned so far including specials, target), ending at the final size.
    func testProgressIsReported() throws {
        var calls: [(Int, Int)] = []
        let t = try BPETokenizer.train(text: corpus, vocabSize: 500, specialTokens: ["<s>"]) { calls.append(($0, $1)) }
        XCTAssertEqual(calls.first?.0, 257)
        XCTAssertEqual(calls.last?.0, t.vocabSize)
        XCTAssertTrue(calls.allSatisfy { $0.1 == 500 })
        XCTAssertEqual(zip(calls, calls.dropFirst()).allSatisfy { $0.0 <= $1.0 }, true)
    }

    func testCompressionImprovesWithVocabulary() throws {
        var previous = Int.max
        for size in [256, 300, 400, 600, 900] {
            let n = try BPETokenizer.train(text: corpus, vocabSize: size).encode(corpus).count
            XCTAssertLessThan(n, previous, "vocab \(size)")
            previous = n
        }
        XCTAssertEqual(try BPETokenizer.train(text: corpus, vocabSize: 256).encode(corpus).count, corpus.utf8.count)
    }

    // MARK: Pre-tokenization

    func testPreTokenizationFollowsGPT2Pattern() {
        XCTAssertEqual(BPETokenizer.preTokenize("Hello world's 123 ok!!"), ["Hello", " world", "'s", " 123", " ok", "!!"])
        XCTAssertEqual(BPETokenizer.preTokenize("a   b"), ["a", "  ", " b"])  // \s+(?!\S) leaves one space
        XCTAssertEqual(BPETokenizer.preTokenize("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(BPETokenizer.preTokenize("x  "), ["x", "  "])  // trailing run stays whole
        XCTAssertEqual(BPETokenizer.preTokenize("I'M they're"), ["I", "'", "M", " they", "'re"])  // case-sensitive
        XCTAssertEqual(BPETokenizer.preTokenize("日本 語3"), ["日本", " 語", "3"])
        XCTAssertEqual(BPETokenizer.preTokenize("\r\n\tx"), ["\r\n", "\t", "x"])
        XCTAssertEqual(BPETokenizer.preTokenize(" \u{3000}x"), [" ", "\u{3000}", "x"])
        XCTAssertEqual(BPETokenizer.preTokenize(""), [])
    }

    // MARK: Round trips

    /// decode(encode(s)) == s on random strings drawn from many scripts, emoji, ZWJ sequences,
    /// combining marks and whitespace kinds (fixed seed, so failures reproduce).
    func testRoundTripOnRandomUnicode() throws {
        let bpe = try BPETokenizer.train(text: corpus, vocabSize: 600, specialTokens: ["<|endoftext|>"])
        var pool: [String] = ["\r\n", "\t", "  ", " ", "\n", "'s", "'ll", "👨‍👩‍👧‍👦", "👍🏽", "🇫🇷", "e\u{301}", "\u{200D}", "\u{FE0F}", "\u{00A0}", "\u{3000}", "\u{2028}", "\u{85}", "<|endoftext|>", "<|endo"]
        let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x300...0x36F, 0x370...0x3FF, 0x400...0x4FF, 0x590...0x6FF,
                                             0x900...0x97F, 0x3040...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3, 0x1F300...0x1FAFF, 0x10000...0x1000F]
        var rng = SplitMix(seed: 42)
        for r in ranges { for _ in 0..<20 { pool.append(String(Unicode.Scalar(r.lowerBound + UInt32(rng.next() % UInt64(r.count)))!)) } }
        for _ in 0..<300 {
            let n = Int(rng.next() % 60)
            let s = (0..<n).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }.joined()
            let ids = try bpe.encode(s)
            XCTAssertEqual(bpe.decode(ids), s)
            XCTAssertEqual(bpe.decodeBytes(ids), Array(s.utf8))
        }
        for s in ["", " ", "   ", "\n\n", " lead", "trail ", "\r\n\r\n", "\t\t x \t"] {
            XCTAssertEqual(bpe.decode(try bpe.encode(s)), s)
        }
    }

    /// Multi-threaded encoding cuts the text at newlines; the ids must equal the 1-thread ids.
    func testThreadedEncodingMatchesSingleThread() throws {
        let bpe = try BPETokenizer.train(text: corpus, vocabSize: 500, specialTokens: ["<|endoftext|>"])
        var big = ""
        while big.utf8.count < 2_000_000 { big += corpus + "<|endoftext|>\n\n  \n" }
        let one = bpe.encode(big, threads: 1)
        XCTAssertEqual(bpe.encode(big, threads: 2), one)
        XCTAssertEqual(bpe.encode(big, threads: 5), one)
        XCTAssertEqual(bpe.decode(one), big)
    }

    // MARK: Special tokens

    func testSpecialTokensNeverSplit() throws {
        let eot = "<|endoftext|>"
        let text = corpus.replacingOccurrences(of: "the", with: eot)  // specials inside training text
        let bpe = try BPETokenizer.train(text: text, vocabSize: 500, specialTokens: [eot, "<pad>"])
        let id = try XCTUnwrap(bpe.id(ofSpecial: eot))
        XCTAssertEqual(id, 498)
        XCTAssertEqual(bpe.id(ofSpecial: "<pad>"), 499)
        for s in [eot, "a" + eot + "b", " " + eot + " ", eot + eot, "\n" + eot + "\n", "日" + eot + "👍"] {
            let ids = try bpe.encode(s)
            XCTAssertEqual(ids.filter { $0 == id }.count, s.components(separatedBy: eot).count - 1, s)
            XCTAssertEqual(bpe.decode(ids), s)
        }
        XCTAssertFalse(try bpe.encode("<|endoftext").contains(id))
        // No learned token contains a piece of text that was only ever inside a special.
        XCTAssertFalse((256..<498).contains { String(decoding: bpe.tokenBytes[$0], as: UTF8.self).contains("|>") })
        let ct = try CharTokenizer(trainingText: "ab", specialTokens: [eot])
        XCTAssertEqual(try ct.encode("a" + eot + "b"), [0, 2, 1])
    }

    // MARK: Char tokenizer

    func testCharTokenizer() throws {
        let ct = try CharTokenizer(trainingText: "hello world\n", specialTokens: [])
        XCTAssertEqual(ct.chars.map { String($0) }, ["\n", " ", "d", "e", "h", "l", "o", "r", "w"])
        XCTAssertEqual(ct.vocabSize, 9)
        XCTAssertEqual(try ct.encode("hold"), [4, 6, 5, 2])
        XCTAssertEqual(ct.decode([4, 3, 5, 5, 6]), "hello")
        XCTAssertThrowsError(try ct.encode("he\nllo?")) { e in
            XCTAssertEqual("\(e)", "character '?' (U+003F) at character offset 6 (line 2, column 4) is not in the vocabulary of 9 characters")
        }
        // Code points, not grapheme clusters: "é" as e + U+0301 is two tokens.
        let c2 = try CharTokenizer(trainingText: "e\u{301}")
        XCTAssertEqual(try c2.encode("e\u{301}"), [0, 1])
        XCTAssertThrowsError(try CharTokenizer(trainingText: ""))
    }

    // MARK: Invalid UTF-8 in decoding

    /// A cut multi-byte character decodes to U+FFFD (one per maximal invalid subsequence) in
    /// text, while decodeBytes returns the raw bytes for a streaming printer.
    func testDecodingIncompleteUTF8() throws {
        let bpe = try BPETokenizer.train(text: "abc", vocabSize: 256)  // ids are bytes
        XCTAssertEqual(bpe.decodeBytes([0xE6, 0x97]), [0xE6, 0x97])
        XCTAssertEqual(bpe.decode([0xE6, 0x97]), "\u{FFFD}")
        XCTAssertEqual(bpe.decode([0xE6, 0x97, 0x41]), "\u{FFFD}A")
        XCTAssertEqual(bpe.decode([0xE6, 0x97, 0xA5]), "日")
        XCTAssertEqual(bpe.decode([0xFF, 0x41]), "\u{FFFD}A")
        XCTAssertEqual(bpe.decode([9999]), "\u{FFFD}")  // unknown id
        XCTAssertThrowsError(try bpe.validate(ids: [1, 256]))
    }

    /// Streaming: a character split across tokens appears once complete; any split of the
    /// bytes gives the same text as decoding them at once.
    func testStreamingDecoder() throws {
        var d = StreamingDecoder()
        XCTAssertEqual(d.push([0x41, 0xE6]), "A")
        XCTAssertEqual(d.push([0x97]), "")
        XCTAssertEqual(d.push([0xA5, 0xF0, 0x9F]), "日")
        XCTAssertEqual(d.push([0x91, 0x8D]), "👍")
        XCTAssertEqual(d.push([0xE6]), "")
        XCTAssertEqual(d.flush(), "\u{FFFD}")
        var rng = SplitMix(seed: 7)
        let samples: [[UInt8]] = [Array("añ日👍🏽\r\n e\u{301}".utf8), [0xE6, 0x97, 0x41, 0xFF, 0xC3], [0xF0, 0x9F, 0x91], Array("x👨‍👩‍👧".utf8) + [0xE0, 0x80]]
        for bytes in samples {
            for _ in 0..<50 {
                var d = StreamingDecoder(), out = "", i = 0
                while i < bytes.count {
                    let n = 1 + Int(rng.next() % 3)
                    out += d.push(Array(bytes[i..<min(i + n, bytes.count)])); i += n
                }
                out += d.flush()
                XCTAssertEqual(out, String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    // MARK: Bad input

    func testTrainingErrors() {
        XCTAssertThrowsError(try BPETokenizer.train(text: "abc", vocabSize: 255)) { e in
            XCTAssertTrue("\(e)".contains("at least 256"), "\(e)")
        }
        XCTAssertThrowsError(try BPETokenizer.train(text: "abc", vocabSize: 256, specialTokens: ["<s>"]))
        XCTAssertThrowsError(try BPETokenizer.train(text: "", vocabSize: 300))
        XCTAssertThrowsError(try BPETokenizer.train(text: "<s><s>", vocabSize: 300, specialTokens: ["<s>"]))
        XCTAssertThrowsError(try BPETokenizer.train(text: "abc", vocabSize: 300, specialTokens: ["<s>", "<s>"]))
        XCTAssertThrowsError(try BPETokenizer.train(text: "abc", vocabSize: 300, specialTokens: ["a"])) { e in
            XCTAssertTrue("\(e)".contains("also a learned token"), "\(e)")
        }
    }

    func testMalformedFilesAreRefusedNamingTheProblem() throws {
        let good = try fixtureText("hf_bpe.json")
        func expectError(_ json: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try TokenizerFile.load(data: Data(json.utf8)), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(needle), "'\(e)' should mention \(needle)", file: file, line: line)
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
        expectError(String(good.prefix(good.count / 2)), "not valid JSON")
        expectError("", "not valid JSON")
        expectError("[1, 2]", "top level")
        expectError(edit { $0["model"] = nil }, "'model'")
        expectError(editModel { $0["type"] = "SentencePiece" }, "model.type 'SentencePiece'")
        expectError(editModel { $0["merges"] = nil }, "model.merges")
        expectError(editModel { $0["vocab"] = nil }, "model.vocab")
        expectError(editModel { $0["merges"] = ["a b c"] }, "model.merges[0]")
        expectError(editModel { $0["merges"] = [["Ġ", "zzz"]] }, "not in model.vocab")
        expectError(editModel { $0["dropout"] = 0.1 }, "model.dropout")
        expectError(editModel { $0["byte_fallback"] = true }, "model.byte_fallback")
        expectError(editModel { $0["vocab"] = ["a": "x"] }, "model.vocab")
        expectError(edit { $0["normalizer"] = ["type": "Precompiled"] }, "normalizer.type 'Precompiled'")
        expectError(edit { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true] }, "add_prefix_space")
        expectError(edit { $0["pre_tokenizer"] = ["type": "Whitespace"] }, "pre_tokenizer.type 'Whitespace'")
        expectError(edit { $0["decoder"] = nil }, "'decoder'")
        expectError(edit { $0["surprise"] = 1 }, "unsupported field 'surprise'")
        expectError(edit { $0["added_tokens"] = [["id": 0, "content": "<|endoftext|>", "single_word": true]] }, "added_tokens[0].single_word")
        // The char layout: only tinygpt's WordLevel form is accepted.
        let char = try fixtureText("tinygpt_char.json")
        expectError(char.replacingOccurrences(of: "\"Isolated\"", with: "\"Removed\""), "pre_tokenizer")
        expectError(char.replacingOccurrences(of: "\"Fuse\"", with: "\"ByteLevel\""), "decoder.type 'ByteLevel'")
        XCTAssertThrowsError(try TokenizerFile.load(from: URL(fileURLWithPath: "/nonexistent/tokenizer.json"))) { e in
            XCTAssertTrue("\(e)".contains("cannot read"))
        }
    }
}

/// Small deterministic generator (SplitMix64) for reproducible random tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
