import XCTest
import Kernels

/// The RoPE table the per-token path fills as positions are reached.
final class RotaryTableTests: XCTestCase {
    func testAGrowingTableHoldsTheWholeTablesBits() {
        let frequencies = rotaryInverseFrequencies(theta: 10_000, headSize: 8)
        let whole = rotaryTable(length: 300, offset: 0, inverseFrequencies: frequencies, scale: 1)
        let growing = GrowingRotaryTable(capacity: 300, inverseFrequencies: frequencies)
        // Reached unevenly: one position, a few, a long prompt, past the capacity's end.
        for reached in [1, 2, 5, 70, 71, 200, 300] {
            let table = growing.rows(reached)
            for i in 0..<(reached * 8) { XCTAssertEqual(table[i].bitPattern, whole[i].bitPattern, "reached \(reached), value \(i)") }
        }
        XCTAssertEqual(growing.capacity, 300)
    }
}
