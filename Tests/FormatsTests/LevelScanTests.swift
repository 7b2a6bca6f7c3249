import XCTest
@testable import Formats
import Kernels

/// The load-time scan for levels a quantized checkpoint never holds: found
/// wherever they sit, in the 64-byte body or the ragged tail of a range.
final class LevelScanTests: XCTestCase {
    func testABadLevelIsFoundAtItsFirstPosition() {
        let count = 1_000
        for format in QuantizedFormat.allCases {
            let good: UInt8 = format == .int8 ? 0x7F : 0x99   // level 127; nibbles 9 and 9
            let bads: [UInt8] = format == .int8 ? [0x80] : [0x90, 0x09, 0x00]
            var bytes = [UInt8](repeating: good, count: count)
            XCTAssertNil(bytes.withUnsafeBufferPointer { firstOutOfRangeLevel($0, format: format) })
            for bad in bads {
                for at in [0, 1, 63, 64, 500, 959, 960, 999] {
                    bytes[at] = bad
                    if at > 3 { bytes[at - 3] = bad }  // an earlier one wins
                    let expected = at > 3 ? at - 3 : at
                    XCTAssertEqual(bytes.withUnsafeBufferPointer { firstOutOfRangeLevel($0, format: format) }, expected, "\(format) \(bad) at \(at)")
                    // A range that starts after it does not see it.
                    XCTAssertEqual(bytes.withUnsafeBufferPointer { firstOutOfRangeLevel($0, format: format, in: (at + 1)..<count) }, nil)
                    bytes[at] = good
                    if at > 3 { bytes[at - 3] = good }
                }
            }
            // Every good level passes: all of −127...127, or every nibble 1...15.
            let all: [UInt8] = format == .int8 ? (0...255).filter { $0 != 0x80 }.map(UInt8.init) : (0...255).filter { $0 & 15 != 0 && $0 >> 4 != 0 }.map(UInt8.init)
            XCTAssertNil((all + all + all).withUnsafeBufferPointer { firstOutOfRangeLevel($0, format: format) }, "\(format)")
        }
    }

    /// Scales: finite and ≥ 0 (−0 included); every other value is found at its first position.
    func testANegativeOrNonFiniteScaleIsFoundAtItsFirstPosition() {
        let count = 1_000
        let goods: [Float] = [0, -0.0, 1, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, 3.5e-20]
        let bads: [Float] = [-1, -.leastNonzeroMagnitude, -.leastNormalMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity,
                             .nan, -.nan, Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFF80_0001)]
        var values = (0..<count).map { goods[$0 % goods.count] }
        XCTAssertNil(values.withUnsafeBufferPointer { firstNegativeOrNonFinite($0) })
        for bad in bads {
            for at in [0, 1, 15, 16, 500, 983, 984, 999] {
                values[at] = bad
                if at > 3 { values[at - 3] = bad }
                let expected = at > 3 ? at - 3 : at
                XCTAssertEqual(values.withUnsafeBufferPointer { firstNegativeOrNonFinite($0) }, expected, "\(bad) at \(at)")
                XCTAssertNil(values.withUnsafeBufferPointer { firstNegativeOrNonFinite($0, in: (at + 1)..<count) })
                values[at] = goods[at % goods.count]
                if at > 3 { values[at - 3] = goods[(at - 3) % goods.count] }
            }
        }
        // firstNonFinite lets every finite value through, negatives included.
        XCTAssertNil(([-1, -0.0, 2, -.greatestFiniteMagnitude] as [Float]).withUnsafeBufferPointer { firstNonFinite($0) })
    }
}
