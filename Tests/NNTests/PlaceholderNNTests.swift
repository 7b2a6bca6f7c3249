import XCTest
import NN

final class PlaceholderNNTests: XCTestCase {
    func testModuleLinks() {}
}
