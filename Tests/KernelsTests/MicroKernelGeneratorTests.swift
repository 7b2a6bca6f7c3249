import Foundation
import XCTest

/// The checked-in microkernels are exactly what the generator writes.
final class MicroKernelGeneratorTests: XCTestCase {
    func testGeneratedFileMatchesGenerator() throws {
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Kernels/MatmulMicroKernel.swift")
        let generated = MicroKernelGenerator.source()
        if ProcessInfo.processInfo.environment["TINYGPT_WRITE_KERNELS"] == "1" {
            try generated.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let checkedIn = try String(contentsOf: file, encoding: .utf8)
        XCTAssert(checkedIn == generated,
                  "\(file.path) differs from MicroKernelGenerator's output; regenerate with "
                  + "TINYGPT_WRITE_KERNELS=1 swift test --filter MicroKernelGeneratorTests")
    }
}
