import XCTest
import Model

final class PlaceholderModelTests: XCTestCase {
    func testModuleLinks() {}
}
