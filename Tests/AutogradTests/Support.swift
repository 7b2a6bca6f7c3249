import XCTest
import Kernels
import Autograd

/// Finite-difference tolerances for every gradient check in this target.
///
/// The checked scalar is L = Σ w·f with w ~ N(0, 1), summed in Double. Float32
/// rounding inside f (≈ 6e-8 relative per element, a few hundred elements)
/// puts ≈ 1e-5 of noise in L; divided by 2h = 0.02 that is ≈ 1e-3 at worst
/// in a numeric gradient. Truncation error is h²/6·|f'''| ≈ 2e-5·|f'''|.
/// So |analytic − numeric| ≤ 3e-3 + 1e-2·|numeric| leaves margin for noise
/// while a real bug (a missing term, wrong index or factor) is off by O(1).
let gradientStep: Float = 1e-2
let gradientAbsolute: Float = 3e-3
let gradientRelative: Float = 1e-2

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: scale, generator: &g)
}

func assertGradients(_ name: String, _ inputs: [Tensor], step: Float = gradientStep,
                     file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor) {
    let c = compareGradients(of: inputs, step: step, f)
    let w = c.worst(absolute: gradientAbsolute, relative: gradientRelative)
    XCTAssertLessThanOrEqual(w.ratio, 1, "\(name): input \(w.input) element \(w.index): analytic \(w.analytic) vs numeric \(w.numeric)", file: file, line: line)
}

func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(message): sizes differ", file: file, line: line)
    var worst: Float = 0, at = -1
    for i in 0..<min(a.count, b.count) {
        let e = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(message): element \(at): \(at >= 0 ? a[at] : 0) vs \(at >= 0 ? b[at] : 0)", file: file, line: line)
}
