import XCTest
import Dispatch
import Foundation
import Kernels

final class ParallelTests: XCTestCase {
    /// Visits of each index by one `forEach` (each index is written by one thread only).
    func visits(_ count: Int) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: max(count, 1))
        Parallel.forEach(count) { i in hits[i] += 1 }
        return Array(UnsafeBufferPointer(start: hits, count: count))
    }

    func testEveryIndexRunsOnceForAnyThreadCount() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        // Raising then lowering the count leaves spare pool threads that must stay out of the way.
        for threads in [1, 2, 3, 5, 2, 1, 4] {
            Parallel.threads = threads
            for count in [0, 1, 2, 3, 7, 100] {
                XCTAssertEqual(visits(count), [Int](repeating: 1, count: count), "threads \(threads), count \(count)")
            }
        }
    }

    func testWorkersWakeAfterSleeping() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        for _ in 0..<3 {
            XCTAssertEqual(visits(10), [Int](repeating: 1, count: 10))
            usleep(10_000)  // longer than the 1 ms workers poll before they sleep
        }
    }

    func testNestedCallsRunInsideTheOuterWorker() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 6 * 5)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: 30)
        Parallel.forEach(6) { i in Parallel.forEach(5) { j in hits[i * 5 + j] += 1 } }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: 30)), [Int](repeating: 1, count: 30))
    }

    func testConcurrentCallersBothComplete() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        // Two threads at once: one gets the pool, the other falls back to Dispatch.
        let results = UnsafeMutablePointer<Bool>.allocate(capacity: 2)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            var ok = true
            for _ in 0..<200 { ok = ok && visits(13) == [Int](repeating: 1, count: 13) }
            results[caller] = ok
        }
        XCTAssertTrue(results[0] && results[1])
    }

    /// Every item once, in non-empty ranges; above the grain, at least 8
    /// ranges (or one per item), so two threads get equal shares of 768 rows.
    func testForRangesCoversEachItemOnce() {
        for (n, grain) in [(0, 4), (1, 4), (5, 1), (9, 2), (10, 3), (17, 16), (64, 64), (65, 64), (1000, 7), (768, 256)] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1))
            defer { hits.deallocate() }
            hits.initialize(repeating: 0, count: max(n, 1))
            let lock = NSLock()
            var ranges = 0, empty = 0
            Parallel.forRanges(n, grain: grain) { r in
                for i in r { hits[i] += 1 }
                lock.lock(); ranges += 1; if r.isEmpty { empty += 1 }; lock.unlock()
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: n)), [Int](repeating: 1, count: n), "n \(n) grain \(grain)")
            XCTAssertEqual(empty, 0, "n \(n) grain \(grain)")
            if n > grain { XCTAssertGreaterThanOrEqual(ranges, min(n, 8), "n \(n) grain \(grain)") }
        }
    }

    /// Matrix–vector products in one region: every row equals `floatDot` of
    /// its weights (bit for bit) for any thread count, including splits that
    /// fall inside a job and jobs of different widths.
    func testMatVecRowsAreTheSameForAnyThreadCount() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        let shapes = [(1, 300), (37, 300), (300, 700), (5, 1)]  // (rows, cols): enough work to split 4 ways
        var g = RandomGenerator(seed: 5)
        let weights = shapes.map { (r, c) in (0..<(r * c)).map { _ in Float(g.uniformDouble() * 2 - 1) } }
        let inputs = shapes.map { (_, c) in (0..<c).map { _ in Float(g.uniformDouble() * 2 - 1) } }
        let bias = (0..<37).map { Float($0) / 7 }
        func run() -> [[Float]] {
            var outputs = shapes.map { [Float](repeating: .nan, count: $0.0) }
            let w = weights.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
            let x = inputs.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
            let o = outputs.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
            let b = UnsafeMutablePointer<Float>.allocate(capacity: bias.count)
            defer { (w + x + o + [b]).forEach { $0.deallocate() } }
            for i in shapes.indices { w[i].initialize(from: weights[i], count: weights[i].count); x[i].initialize(from: inputs[i], count: inputs[i].count) }
            b.initialize(from: bias, count: bias.count)
            matVec(shapes.indices.map { i in
                MatVecJob(weights: .float(w[i]), rows: shapes[i].0, cols: shapes[i].1, input: x[i], activations: nil,
                          bias: i == 1 ? UnsafePointer(b) : nil, output: o[i])
            })
            for i in shapes.indices { outputs[i] = Array(UnsafeBufferPointer(start: o[i], count: shapes[i].0)) }
            return outputs
        }
        Parallel.threads = 1
        let one = run()
        for (i, (rows, cols)) in shapes.enumerated() {
            for r in 0..<rows {
                let expected = weights[i].withUnsafeBufferPointer { w in inputs[i].withUnsafeBufferPointer { floatDot(w.baseAddress! + r * cols, $0.baseAddress!, cols) } }
                XCTAssertEqual(one[i][r], expected + (i == 1 ? bias[r] : 0), "job \(i) row \(r)")
            }
        }
        for threads in [2, 3, 4] {
            Parallel.threads = threads
            XCTAssertEqual(run(), one, "\(threads) threads")
        }
    }
}
