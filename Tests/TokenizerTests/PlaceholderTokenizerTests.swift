import XCTest
import Tokenizer

final class PlaceholderTokenizerTests: XCTestCase {
    func testModuleLinks() {}
}
