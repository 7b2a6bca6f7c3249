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
}
