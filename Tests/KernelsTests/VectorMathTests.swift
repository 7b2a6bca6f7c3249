import XCTest
import Foundation
import Kernels

/// The vectorised exp/erf/tanh/sigmoid against Double on dense grids and at
/// extremes. The bounds asserted here are the ones quoted in VectorMath.swift.
final class VectorMathTests: XCTestCase {
    /// Evaluates `f` lane-wise over `xs` and returns the worst error against
    /// `reference`, relative (|Δ|/|ref|) or absolute.
    func worstError(_ xs: [Float], relative: Bool, _ f: (Float16Lanes) -> Float16Lanes, _ reference: (Double) -> Double) -> (error: Double, at: Float) {
        var worst = 0.0, at: Float = 0
        var i = 0
        while i < xs.count {
            var v = Float16Lanes()
            let n = min(16, xs.count - i)
            for l in 0..<n { v[l] = xs[i + l] }
            let y = f(v)
            for l in 0..<n {
                let ref = reference(Double(xs[i + l]))
                let e = abs(Double(y[l]) - ref) / (relative ? max(abs(ref), Double(Float.leastNormalMagnitude)) : 1)
                if !(e <= worst) { worst = e.isNaN ? .infinity : e; at = xs[i + l] }
            }
            i += 16
        }
        return (worst, at)
    }

    func grid(_ lo: Float, _ hi: Float, _ count: Int) -> [Float] {
        (0...count).map { lo + (hi - lo) * Float($0) / Float(count) }
    }

    func testExp() {
        let e = worstError(grid(-87, 88, 400_000), relative: true, vexp, Foundation.exp)
        print("vexp max relative error \(e.error) at \(e.at)")
        XCTAssertLessThanOrEqual(e.error, 2.5e-7, "at \(e.at)")
        let small = worstError(grid(-1, 1, 100_000), relative: true, vexp, Foundation.exp)
        XCTAssertLessThanOrEqual(small.error, 2.5e-7, "at \(small.at)")
        var v = Float16Lanes(repeating: 0)
        v[0] = -1e4; v[1] = -88; v[2] = -1e30; v[3] = 1e4; v[4] = 0; v[5] = -.infinity
        let y = vexp(v)
        XCTAssertEqual(y[0], 0); XCTAssertEqual(y[1], 0); XCTAssertEqual(y[2], 0); XCTAssertEqual(y[5], 0)
        XCTAssertTrue(y[3].isFinite && y[3] > 1e38)
        XCTAssertEqual(y[4], 1)
    }

    func testErf() {
        let e = worstError(grid(-10, 10, 400_000), relative: false, verf, Foundation.erf)
        print("verf max absolute error \(e.error) at \(e.at)")
        XCTAssertLessThanOrEqual(e.error, 1.5e-7, "at \(e.at)")
        // erfc keeps relative accuracy in the tail (GELU's left side depends on it).
        let tail = worstError(grid(0, 9, 200_000), relative: true,
                              { verfc(nonNegative: $0, gaussian: vexp(-($0 * $0))) }, Foundation.erfc)
        print("verfc max relative error \(tail.error) at \(tail.at)")
        XCTAssertLessThanOrEqual(tail.error, 1e-5, "at \(tail.at)")
        var v = Float16Lanes(repeating: 0)
        v[0] = 1e4; v[1] = -1e4; v[2] = 1e30
        let y = verf(v)
        XCTAssertEqual(y[0], 1); XCTAssertEqual(y[1], -1); XCTAssertEqual(y[2], 1); XCTAssertEqual(y[3], 0)
    }

    func testTanhAndSigmoid() {
        let t = worstError(grid(-20, 20, 400_000), relative: false, vtanh, Foundation.tanh)
        print("vtanh max absolute error \(t.error) at \(t.at)")
        XCTAssertLessThanOrEqual(t.error, 2e-7, "at \(t.at)")
        let s = worstError(grid(-30, 30, 400_000), relative: false, vsigmoid, { 1 / (1 + Foundation.exp(-$0)) })
        print("vsigmoid max absolute error \(s.error) at \(s.at)")
        XCTAssertLessThanOrEqual(s.error, 1.5e-7, "at \(s.at)")
        var v = Float16Lanes(repeating: 0)
        v[0] = 1e4; v[1] = -1e4; v[2] = 100; v[3] = -100
        let y = vtanh(v), z = vsigmoid(v)
        XCTAssertEqual(y[0], 1); XCTAssertEqual(y[1], -1); XCTAssertEqual(y[4], 0)
        XCTAssertEqual(z[0], 1); XCTAssertEqual(z[1], 0); XCTAssertEqual(z[4], 0.5)
        XCTAssertTrue((0..<16).allSatisfy { y[$0].isFinite && z[$0].isFinite })
    }

    func testExpShiftedSumAndMax() {
        var x: [Float] = (0..<37).map { Float($0) * 0.25 - 4 }
        let m = x.withUnsafeBufferPointer { vectorMax($0.baseAddress!, 37) }
        XCTAssertEqual(m, x.max()!)
        let reference = x.map { Foundation.exp(Double($0 - m)) }
        let sum = x.withUnsafeMutableBufferPointer { sumExpShifted($0.baseAddress!, 37, shift: m, storingTo: $0.baseAddress!) }
        XCTAssertEqual(Double(sum), reference.reduce(0, +), accuracy: 1e-5)
        for i in 0..<37 { XCTAssertEqual(Double(x[i]), reference[i], accuracy: 1e-7) }
    }
}
