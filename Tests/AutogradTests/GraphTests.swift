import XCTest
import Foundation
import Kernels
import Autograd

final class GraphTests: XCTestCase {
    func testTensorUsedTwiceSumsBothPaths() {
        let x = Tensor([1, -2, 3], shape: [3], requiresGrad: true)
        sum(add(mul(x, x), x)).backward()  // d/dx (x² + x) = 2x + 1
        XCTAssertEqual(x.grad!.toArray(), [3, -3, 7])
        // A second backward accumulates until zeroGrad.
        sum(x).backward()
        XCTAssertEqual(x.grad!.toArray(), [4, -2, 8])
        x.zeroGrad()
        XCTAssertEqual(x.grad!.toArray(), [0, 0, 0])
    }

    /// The first op to send back a gradient writes (or adopts) the buffer
    /// without zero-filling it; the second adds to it. Every pair, both orders.
    func testEveryOpWritesThenAccumulatesGradientsCorrectly() {
        let x = randomTensor([3, 2, 5], seed: 21), w = randomTensor([5, 5], seed: 22), gain = randomTensor([5], seed: 23)
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("linear", { linear($0, weight: w) }),
            ("linear adding a residual", { linear($0, weight: w, adding: $0) }),
            ("matmul", { matmul($0, w) }),
            ("transposed", { $0.transposed(0, 1).transposed(1, 0) }),
            ("reshaped", { $0.reshaped([6, 5]).reshaped([3, 2, 5]) }),
            ("gelu", { gelu($0) }),
            ("layerNorm", { layerNorm($0, gain: gain) }),
            ("rmsNorm", { rmsNorm($0, gain: gain) }),
            ("scale", { scale($0, 0.7) }),
            ("add", { add($0, $0) }),
            ("mul", { mul($0, gain) }),
            ("attention", { x in
                // heads is also added to the output, so its gradient exists before attention's backward.
                let heads = x.reshaped([1, 3, 2, 5])
                return add(attention(heads, scale(heads, 0.5), heads), heads).reshaped([3, 2, 5])
            }),
        ]
        for (name1, f1) in ops {
            for (name2, f2) in ops {
                assertGradients("\(name1) and \(name2)", [x, w, gain]) {
                    let h = scale(x, 1.3)  // an intermediate, whose gradient starts empty
                    return add(f1(h), f2(h))
                }
            }
        }
    }

    func testProfilerCountsEachOpForwardAndBackward() {
        OpProfiler.reset()
        OpProfiler.isEnabled = true
        defer { OpProfiler.isEnabled = false; OpProfiler.reset() }
        let w = randomTensor([4, 3], seed: 3), x = randomTensor([2, 3], seed: 4)
        w.requiresGrad = true
        OpProfiler.mark()
        sum(gelu(linear(x, weight: w))).backward()
        let linearEntry = OpProfiler.entries["linear(_:weight:bias:adding:)"], geluEntry = OpProfiler.entries["activate(_:_:)"]
        XCTAssertEqual(linearEntry?.forwardCalls, 1)
        XCTAssertEqual(linearEntry?.backwardCalls, 1)
        XCTAssertEqual(geluEntry?.forwardCalls, 1)
        XCTAssertEqual(geluEntry?.backwardCalls, 1)
        XCTAssertEqual(OpProfiler.entries["sum(_:)"]?.forwardCalls, 1)
    }

    func testNoGradRecordsNothing() {
        let w = randomTensor([3, 4], seed: 1)
        w.requiresGrad = true
        let y = Autograd.noGrad { sum(matmul(w, randomTensor([4, 2], seed: 2))) }
        XCTAssertFalse(Autograd.isRecording == false, "noGrad restores recording afterwards")
        y.backward()  // a constant: nothing reaches w
        XCTAssertNil(w.grad)
    }

    /// noGrad on one thread leaves other threads recording (a generation beside training).
    func testNoGradIsPerThread() {
        let inside = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Autograd.noGrad {
                inside.signal()
                release.wait()
            }
            done.signal()
        }
        inside.wait()
        XCTAssertTrue(Autograd.isRecording, "another thread's noGrad does not stop this one")
        let w = randomTensor([3, 4], seed: 1)
        w.requiresGrad = true
        sum(matmul(w, randomTensor([4, 2], seed: 2))).backward()
        XCTAssertNotNil(w.grad)
        release.signal()
        done.wait()
        final class Seen: @unchecked Sendable { var recording = false }
        let seen = Seen()
        Thread.detachNewThread { seen.recording = Autograd.isRecording; done.signal() }
        done.wait()
        XCTAssertTrue(seen.recording, "a new thread starts recording")
    }

    func testInputsWithoutGradientGetNone() {
        let x = randomTensor([2, 3], seed: 3), w = randomTensor([3, 3], seed: 4)
        w.requiresGrad = true
        sum(matmul(x, w)).backward()
        XCTAssertNil(x.grad)
        XCTAssertNotNil(w.grad)
    }

    /// A small two-layer network's step, used for the memory and thread tests.
    func step(_ w1: Tensor, _ w2: Tensor, _ x: Tensor) -> Float {
        w1.zeroGrad(); w2.zeroGrad()
        let h = gelu(linear(x, weight: w1))
        let loss = crossEntropy(linear(layerNorm(h, gain: Tensor([Float](repeating: 1, count: 24), shape: [24])), weight: w2),
                                targets: (0..<40).map { Int32($0 % 10) })
        loss.backward()
        return loss.item
    }

    func testMemoryStaysFlatAcrossSteps() {
        let w1 = randomTensor([24, 16], seed: 5), w2 = randomTensor([10, 24], seed: 6), x = randomTensor([40, 16], seed: 7)
        w1.requiresGrad = true; w2.requiresGrad = true
        _ = step(w1, w2, x); _ = step(w1, w2, x)
        let warm = freshBufferAllocations
        for _ in 0..<50 { _ = step(w1, w2, x) }
        XCTAssertEqual(freshBufferAllocations, warm, "after warm-up every buffer comes from the pool")
    }

    func testReleasedPoolBuffersAreTakenFreshAndGiveTheSameNumbers() {
        let w1 = randomTensor([24, 16], seed: 5), w2 = randomTensor([10, 24], seed: 6), x = randomTensor([40, 16], seed: 7)
        w1.requiresGrad = true; w2.requiresGrad = true
        let before = step(w1, w2, x)
        releasePooledBuffers()  // what the trainer does when a warm-up's window grows
        let warm = freshBufferAllocations
        XCTAssertEqual(step(w1, w2, x), before)
        XCTAssertGreaterThan(freshBufferAllocations, warm, "the pool was empty, so the step took buffers from the system")
        let again = freshBufferAllocations
        _ = step(w1, w2, x)
        XCTAssertEqual(freshBufferAllocations, again, "and then from the pool again")
    }

    func testSameNumbersForAnyThreadCount() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.threads = threads
            let w1 = randomTensor([24, 16], seed: 5), w2 = randomTensor([10, 24], seed: 6), x = randomTensor([40, 16], seed: 7)
            w1.requiresGrad = true; w2.requiresGrad = true
            let loss = step(w1, w2, x)
            results.append([loss] + w1.grad!.toArray() + w2.grad!.toArray())
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    func testRandomGeneratorIsReproducible() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        let xs = (0..<100).map { _ in a.normal() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.normal() })
        var c = RandomGenerator(stateWords: a.stateWords)
        XCTAssertEqual(a.next(), c.next(), "state words restore the generator")
        var u = RandomGenerator(seed: 1)
        let draws = (0..<20_000).map { _ in u.uniform() }
        XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(draws.reduce(0, +)) / 20_000, 0.5, accuracy: 0.01)  // σ ≈ 0.002
        let normals = (0..<20_000).map { _ in Double(u.normal()) }
        let mean = normals.reduce(0, +) / 20_000
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    /// Packing moves values, not meaning: the same values, one block, and
    /// gradients and updates work on the packed tensors as before.
    func testPackedTensorsKeepTheirValuesAndGradients() {
        let w = randomTensor([5, 7], seed: 31), b = randomTensor([7], seed: 32), x = randomTensor([3, 5], seed: 33)
        w.requiresGrad = true; b.requiresGrad = true
        func gradients() -> [[Float]] {
            w.zeroGrad(); b.zeroGrad()
            sum(mul(add(matmul(x, w), b), add(matmul(x, w), b))).backward()
            return [w.grad!.toArray(), b.grad!.toArray()]
        }
        let before = [w.toArray(), b.toArray()], gradsBefore = gradients()
        XCTAssertFalse(Tensor.arePacked([w, b]))
        Tensor.pack([w, b, w])  // a repeated tensor is packed once
        XCTAssertTrue(Tensor.arePacked([w, b]))
        XCTAssertEqual([w.toArray(), b.toArray()], before)
        XCTAssertEqual(gradients(), gradsBefore)
        XCTAssertEqual(Int(bitPattern: w.data) % 64, 0)
        XCTAssertEqual(Int(bitPattern: b.data) % 64, 0)
        XCTAssertEqual(b.data - w.data, 48, "back to back, each start rounded up to 16 floats")
        w.data[0] = 42  // writable in place
        XCTAssertEqual(w.toArray()[0], 42)
    }
}
