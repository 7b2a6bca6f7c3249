import XCTest
import Train

final class AxisTicksTests: XCTestCase {
    func testTicksAreRoundAndCoverTheData() {
        let loss = AxisTicks(1.18, 4.46)
        XCTAssertEqual(loss.step, 1)
        XCTAssertEqual(loss.values, [1, 2, 3, 4, 5])
        XCTAssertEqual(loss.label(2), "2")
        XCTAssertEqual(AxisTicks(1.62, 2.31).values, [1.6, 1.8, 2.0, 2.2, 2.4].map { $0 })
        let steps = AxisTicks(0, 2500)
        XCTAssertEqual(steps.values, [0, 500, 1000, 1500, 2000, 2500])
        XCTAssertEqual(steps.label(500), "500")
        let flat = AxisTicks(2, 2)  // one value still gets a range
        XCTAssertLessThanOrEqual(flat.values.first!, 2)
        XCTAssertGreaterThanOrEqual(flat.values.last!, 2)
        XCTAssertEqual(AxisTicks(0.0012, 0.0049).label(0.002), "0.002")
    }
}
