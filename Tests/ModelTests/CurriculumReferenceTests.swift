import XCTest
import Foundation
import Kernels
import Autograd
import NN

/// Label smoothing against PyTorch and T5's buckets against transformers, on
/// values made by Fixtures/make_curriculum_references.py.
final class CurriculumReferenceTests: XCTestCase {
    func references() throws -> [String: Any] {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("curriculum-references.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// CrossEntropyLoss(label_smoothing=ε, ignore_index=-100): loss and gradient, within 1e-5 relative
    /// (PyTorch computed in float64 from the same float32 logits).
    func testLabelSmoothingMatchesPyTorch() throws {
        for case let c as [String: Any] in try references()["label_smoothing"] as! [Any] {
            let (rows, cols) = (c["rows"] as! Int, c["cols"] as! Int)
            let epsilon = Float(c["epsilon"] as! Double)
            let logits = Tensor((c["logits"] as! [Double]).map(Float.init), shape: [rows, cols], requiresGrad: true)
            let targets = (c["targets"] as! [Int]).map(Int32.init)
            let loss = crossEntropy(logits, targets: targets, labelSmoothing: epsilon)
            loss.backward()
            let expected = c["loss"] as! Double
            let name = "\(rows)×\(cols), ε \(epsilon)"
            XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-5 * max(1, abs(expected)), name)
            let gradient = logits.grad?.toArray() ?? [Float](repeating: 0, count: rows * cols)
            for (i, (a, b)) in zip(gradient, c["grad"] as! [Double]).enumerated() {
                XCTAssertEqual(Double(a), b, accuracy: 1e-6, "\(name): gradient \(i)")
            }
        }
    }

    /// T5Attention._relative_position_bucket(bidirectional=False) for distances 0..<400.
    func testT5BucketsMatchTransformers() throws {
        for case let c as [String: Any] in try references()["t5_buckets"] as! [Any] {
            let (buckets, maxDistance) = (c["buckets"] as! Int, c["max_distance"] as! Int)
            let ours = (0..<400).map { Positions.t5Bucket(distance: $0, buckets: buckets, maxDistance: maxDistance) }
            XCTAssertEqual(ours, c["ids"] as! [Int], "\(buckets) buckets, max distance \(maxDistance)")
        }
    }
}
