import XCTest
import Kernels
import Autograd

/// The fused distillation loss α·T²·KL(p_T ‖ q_T) + (1 − α)·CE: its backward
/// against finite differences, its value and gradient against the readable
/// composition of ops, and its behaviour at the ends of α and at large logits.
final class DistillationLossTests: XCTestCase {
    /// (rows, vocabulary, T, α, ignored rows): odd vocabularies, T ≠ 1, α at 0 and 1, ignored rows.
    let shapes: [(Int, Int, Float, Float, [Int])] = [
        (3, 7, 2, 0.5, []), (4, 37, 0.5, 0.3, [1]), (2, 17, 4, 1, [0]), (5, 5, 1.5, 0, [2, 4]), (2, 70, 3, 0.9, []),
    ]

    func targets(rows: Int, vocabulary: Int, ignored: [Int], seed: UInt64) -> [Int32] {
        var g = RandomGenerator(seed: seed)
        return (0..<rows).map { ignored.contains($0) ? -100 : Int32(g.int(below: vocabulary)) }
    }

    func testGradientMatchesFiniteDifferences() {
        for (i, (rows, vocabulary, temperature, alpha, ignored)) in shapes.enumerated() {
            let student = randomTensor([rows, vocabulary], seed: 10 + UInt64(i), scale: 2)
            let teacher = randomTensor([rows, vocabulary], seed: 20 + UInt64(i), scale: 2)
            let t = targets(rows: rows, vocabulary: vocabulary, ignored: ignored, seed: 30 + UInt64(i))
            assertGradients("distillation \(rows)×\(vocabulary) T \(temperature) α \(alpha)", [student]) {
                distillationLoss(student, teacher: teacher, targets: t, temperature: temperature, alpha: alpha).loss
            }
        }
    }

    func testFusedMatchesReference() {
        for (i, (rows, vocabulary, temperature, alpha, ignored)) in shapes.enumerated() {
            // (B, T, V) logits: the op reads the last dimension as classes.
            let fused = randomTensor([1, rows, vocabulary], seed: 40 + UInt64(i), scale: 3)
            let plain = Tensor(fused.toArray(), shape: fused.shape)
            fused.requiresGrad = true; plain.requiresGrad = true
            let teacher = randomTensor([1, rows, vocabulary], seed: 50 + UInt64(i), scale: 3)
            let t = targets(rows: rows, vocabulary: vocabulary, ignored: ignored, seed: 60 + UInt64(i))
            let a = distillationLoss(fused, teacher: teacher, targets: t, temperature: temperature, alpha: alpha).loss
            let b = referenceDistillationLoss(plain, teacher: teacher, targets: t, temperature: temperature, alpha: alpha)
            a.backward(); b.backward()
            let name = "\(rows)×\(vocabulary) T \(temperature) α \(alpha)"
            XCTAssertEqual(a.item, b.item, accuracy: 1e-5 * max(1, abs(b.item)), name)
            assertClose(fused.grad!.toArray(), plain.grad!.toArray(), tolerance: 1e-5, name)
        }
    }

    /// The parts: CE and KL are each means over counted rows; α = 0 is the
    /// cross-entropy alone, and a student equal to its teacher has KL 0.
    func testPartsAndEnds() {
        let student = randomTensor([4, 11], seed: 1, scale: 2), teacher = randomTensor([4, 11], seed: 2, scale: 2)
        let t: [Int32] = [3, -100, 0, 10]
        let part = distillationLoss(student, teacher: teacher, targets: t, temperature: 2, alpha: 0.25)
        let ce = crossEntropy(student, targets: t).item
        XCTAssertEqual(Float(part.crossEntropy), ce, accuracy: 1e-6)
        XCTAssertEqual(part.loss.item, Float(0.25 * 4 * part.kl + 0.75 * part.crossEntropy), accuracy: 1e-5)
        XCTAssertGreaterThan(part.kl, 0)
        XCTAssertEqual(distillationLoss(student, teacher: teacher, targets: t, temperature: 2, alpha: 0).loss.item, ce, accuracy: 1e-6)
        let same = distillationLoss(student, teacher: Tensor(student.toArray(), shape: student.shape), targets: t, temperature: 3, alpha: 1)
        XCTAssertEqual(same.kl, 0, accuracy: 1e-6)
        XCTAssertEqual(same.loss.item, 0, accuracy: 1e-5)
        // Every row ignored: 0, not NaN, and no gradient.
        let x = randomTensor([2, 5], seed: 3)
        x.requiresGrad = true
        let none = distillationLoss(x, teacher: randomTensor([2, 5], seed: 4), targets: [-100, -100], temperature: 2, alpha: 0.5)
        none.loss.backward()
        XCTAssertEqual(none.loss.item, 0)
        XCTAssertEqual(x.grad?.toArray() ?? [Float](repeating: 0, count: 10), [Float](repeating: 0, count: 10))
    }

    /// Logits of ±1e4 on both sides: finite loss, parts and gradient, and the
    /// value of the one-hot limit (each distribution puts all its mass on its
    /// largest logit).
    func testLargeLogitsStayFinite() {
        let v = 19
        var s = [Float](repeating: -1e4, count: 2 * v), tt = [Float](repeating: -1e4, count: 2 * v)
        s[3] = 1e4; tt[5] = 1e4           // row 0: student and teacher disagree
        s[v + 7] = 1e4; tt[v + 7] = 1e4   // row 1: they agree
        let student = Tensor(s, shape: [2, v], requiresGrad: true), teacher = Tensor(tt, shape: [2, v])
        let part = distillationLoss(student, teacher: teacher, targets: [3, 7], temperature: 2, alpha: 0.5)
        part.loss.backward()
        XCTAssertTrue(part.loss.item.isFinite && part.kl.isFinite && part.crossEntropy.isFinite)
        XCTAssertTrue(student.grad!.toArray().allSatisfy(\.isFinite))
        // Row 0: KL = log p_5 − log q_5 = 0 − (−2e4 / T) = 1e4; row 1: 0. Mean 5e3.
        XCTAssertEqual(part.kl, 5e3, accuracy: 1)
        XCTAssertEqual(part.crossEntropy, 0, accuracy: 1e-3)
        // Row 0's gradient at T: α·T·(q − p)/N = 0.5·2·(1 − 0)/2 at class 3, −0.5 at class 5.
        XCTAssertEqual(student.grad!.data[3], 0.5, accuracy: 1e-5)
        XCTAssertEqual(student.grad!.data[5], -0.5, accuracy: 1e-5)
    }
}
