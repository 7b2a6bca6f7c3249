import XCTest
import Foundation
import Kernels
import Autograd

/// The distillation loss against PyTorch (F.kl_div with log_target=True and
/// reduction="batchmean" on the counted rows, × T², mixed with
/// F.cross_entropy by α), on values made by Fixtures/make_distillation_references.py.
final class DistillationReferenceTests: XCTestCase {
    func testDistillationLossMatchesPyTorch() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("distillation-references.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = root["distillation"] as! [Any]
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for case let c as [String: Any] in cases {
            let (rows, cols) = (c["rows"] as! Int, c["cols"] as! Int)
            let (temperature, alpha) = (Float(c["temperature"] as! Double), Float(c["alpha"] as! Double))
            let student = Tensor((c["student"] as! [Double]).map(Float.init), shape: [rows, cols], requiresGrad: true)
            let teacher = Tensor((c["teacher"] as! [Double]).map(Float.init), shape: [rows, cols])
            let targets = (c["targets"] as! [Int]).map(Int32.init)
            let result = distillationLoss(student, teacher: teacher, targets: targets, temperature: temperature, alpha: alpha)
            result.loss.backward()
            let name = "\(rows)×\(cols), T \(temperature), α \(alpha)"
            for (ours, key) in [(Double(result.loss.item), "loss"), (result.kl, "kl"), (result.crossEntropy, "ce")] {
                let expected = c[key] as! Double
                XCTAssertEqual(ours, expected, accuracy: 1e-5 * max(1, abs(expected)), "\(name): \(key)")
            }
            let gradient = student.grad?.toArray() ?? [Float](repeating: 0, count: rows * cols)
            for (i, (a, b)) in zip(gradient, c["grad"] as! [Double]).enumerated() {
                XCTAssertEqual(Double(a), b, accuracy: 1e-6, "\(name): gradient \(i)")
            }
        }
    }
}
