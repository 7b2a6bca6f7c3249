import XCTest
import Kernels

final class PlaceholderKernelsTests: XCTestCase {
    func testModuleLinks() {}
}
