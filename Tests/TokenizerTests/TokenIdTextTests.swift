import XCTest
@testable import Tokenizer

/// Ids as `tokenizer encode` prints them and `decode` and `logits` read them.
final class TokenIdTextTests: XCTestCase {
    func testPrintedIdsReadBack() throws {
        let ids = [0, 7, 42, 65535, 123456]
        for json in [false, true] {
            let text = String(decoding: TokenIdText.format(ids, json: json), as: UTF8.self)
            XCTAssertEqual(try TokenIdText.parse(text, vocabSize: 200_000), ids)
        }
        XCTAssertEqual(String(decoding: TokenIdText.format([1, 2], json: true), as: UTF8.self), "[1, 2]\n")
        XCTAssertEqual(try TokenIdText.parse(" 1,2 , 3\n", vocabSize: 10), [1, 2, 3])
    }

    func testMalformedIdsAreRefused() {
        for bad in ["[1, 2", "1,,2", "1, 2,", "[1] 2]", "x"] {
            XCTAssertThrowsError(try TokenIdText.parse(bad, vocabSize: 10), bad)
        }
    }
}
