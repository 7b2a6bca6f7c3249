import XCTest
@testable import Tokenizer

/// The split patterns' class table of the Basic Multilingual Plane: the
/// ranges filled in bulk must give what `classify` gives scalar by scalar.
final class PreTokenizerTableTests: XCTestCase {
    func testTheTableAgreesWithClassifyOnEveryScalar() {
        let table = PreTokenizer.bmpClass
        var differing: [Int] = []
        for v in 0..<0x10000 where table[v] != PreTokenizer.classify(UInt32(v)) { differing.append(v) }
        XCTAssertEqual(differing.count, 0, "first: \(differing.prefix(5).map { String($0, radix: 16) })")
        for run in PreTokenizer.uniformRuns { XCTAssertTrue(run.range.lowerBound >= 0 && run.range.upperBound <= 0x10000) }
    }
}
