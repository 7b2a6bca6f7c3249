import XCTest
import Foundation

/// WordPiece and Unigram from the command line: `tokenizer train --type`, `tokenizer.type` in a
/// run, and the refusals that come before anything is written.
final class SubwordCommandTests: CommandLineTestCase {
    func testTokenizerTrainWordPieceAndUnigramRoundTrip() throws {
        for type in ["wordpiece", "unigram"] {
            let trained = try tinygpt(["tokenizer", "train", "--type", type, "--data", "text.txt", "--vocab-size", "40",
                                       "--special", "<|endoftext|>", "--out", "\(type).json"])
            XCTAssertEqual(trained.status, 0, trained.stderr)
            XCTAssertTrue(trained.stderr.contains("trained \(type) tokenizer"), trained.stderr)
            let json = String(decoding: contents("\(type).json") ?? Data(), as: UTF8.self)
            XCTAssertTrue(json.contains(type == "wordpiece" ? "\"type\": \"WordPiece\"" : "\"type\": \"Unigram\""))
            let ids = try tinygpt(["tokenizer", "encode", "--tokenizer", "\(type).json", "--file", "text.txt"])
            XCTAssertEqual(ids.status, 0, ids.stderr)
            try ids.stdout.write(toFile: path("ids.txt"), atomically: true, encoding: .utf8)
            let text = try tinygpt(["tokenizer", "decode", "--tokenizer", "\(type).json", "--file", "ids.txt"])
            XCTAssertEqual(text.status, 0, text.stderr)
            XCTAssertEqual(Data(text.stdout.utf8), contents("text.txt"), "\(type) loses no text")
        }
    }

    func testTooSmallVocabularyAndUnknownTypeAreRefusedBeforeWriting() throws {
        for type in ["wordpiece", "unigram"] {
            let r = try tinygpt(["tokenizer", "train", "--type", type, "--data", "text.txt", "--vocab-size", "10", "--out", "t.json"])
            assertRefused(r, mentioning: "--vocab-size 10 is too small for \(type)")
            XCTAssertTrue(r.stderr.contains("allowed: at least"), r.stderr)
            XCTAssertFalse(exists("t.json"))
        }
        assertRefused(try tinygpt(["tokenizer", "train", "--type", "sentencepiece", "--data", "text.txt", "--vocab-size", "300", "--out", "t.json"]),
                      mentioning: "--type must be bpe, wordpiece, unigram or char, got 'sentencepiece'")
        assertRefused(try tinygpt(["tokenizer", "train", "--type", "unigram", "--data", "text.txt", "--out", "t.json"]), mentioning: "--vocab-size")
        XCTAssertFalse(exists("t.json"))

        let run = try tinygpt(["train", "--data", "text.txt", "--out", "run", "--set", "tokenizer.type=wordpiece", "--set", "tokenizer.vocab_size=10"] + tiny)
        assertRefused(run, mentioning: "tokenizer.vocab_size 10 is too small for wordpiece")
        XCTAssertFalse(exists("run"))
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "run", "--set", "tokenizer.type=sentencepiece"] + tiny),
                      mentioning: "tokenizer.type")
    }

    func testTrainingARunWithEachSubwordTokenizer() throws {
        for type in ["wordpiece", "unigram"] {
            try trainTinyRun(type, extra: ["--set", "tokenizer.type=\(type)", "--set", "tokenizer.vocab_size=40"])
            let json = String(decoding: contents("\(type)/tokenizer.json") ?? Data(), as: UTF8.self)
            XCTAssertTrue(json.contains(type == "wordpiece" ? "\"WordPiece\"" : "\"Unigram\""), type)
            let sample = try tinygpt(["sample", "--checkpoint", type, "--prompt", "the cat", "--max-new-tokens", "5", "--seed", "1"])
            XCTAssertEqual(sample.status, 0, sample.stderr)
            XCTAssertTrue(sample.stdout.hasPrefix("the cat"), sample.stdout)
        }
    }

    func testUnsupportedTokenizerFileIsRefusedNamingTheField() throws {
        let json = """
            {"version": "1.0", "added_tokens": [], "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AA=="},
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
             "post_processor": null, "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
             "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["▁a", -1.0]], "byte_fallback": false}}
            """
        try json.write(toFile: path("t5.json"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["tokenizer", "encode", "--tokenizer", "t5.json", "--text", "a"]),
                      mentioning: "unsupported normalizer.type 'Precompiled'; supported: NFC")
    }
}
