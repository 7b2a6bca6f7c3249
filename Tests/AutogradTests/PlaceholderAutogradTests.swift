import XCTest
import Autograd

final class PlaceholderAutogradTests: XCTestCase {
    func testModuleLinks() {}
}
