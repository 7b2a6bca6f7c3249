import Foundation

/// `bench matmul`: GFLOP/s of the matmul kernel on transformer shapes. Each
/// case (a shape and a layout: ab, abt, atb) gets one warm-up call, then timed
/// calls until both `repeats` runs and 0.2 s are done; the best time counts
/// (least disturbed by other load). GFLOP/s = 2·m·n·k / time.
public enum MatmulBenchmark {
    public struct Shape {
        public let m: Int, k: Int, n: Int
        public init(m: Int, k: Int, n: Int) { (self.m, self.k, self.n) = (m, k, n) }
    }

    /// Square products, then a small GPT's projections and attention.
    public static let defaultShapes = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (768, 128, 512), (768, 512, 128),
                                       (768, 128, 65), (128, 768, 128)].map { Shape(m: $0.0, k: $0.1, n: $0.2) }

    /// One case timed.
    public struct Result {
        public let variant: String
        public let shape: Shape
        public let gflops: Double

        public func json(threads: Int) -> String {
            "{\"op\":\"matmul\",\"kernel\":\"\(MatmulKernel.current.rawValue)\",\"variant\":\"\(variant)\",\"m\":\(shape.m),\"k\":\(shape.k),\"n\":\(shape.n),\"threads\":\(threads),\"gflops\":\((gflops * 10).rounded() / 10)}"
        }

        /// A row of the table under `header`.
        public var row: String {
            variant.padding(toLength: 8, withPad: " ", startingAt: 0) + pad("\(shape.m)", 6) + pad("\(shape.k)", 6) + pad("\(shape.n)", 6)
                + pad(String(format: "%.1f", gflops), 10)
        }
    }

    /// The table's title, kernel line and column names.
    public static func header(threads: Int, repeats: Int, cold: Bool) -> [String] {
        ["tinygpt matmul, threads=\(threads), best of >= \(repeats) runs and >= 0.2 s\(cold ? ", caches evicted before each run" : "")",
         "kernel: \(kernelLine)",
         "variant".padding(toLength: 8, withPad: " ", startingAt: 0) + pad("m", 6) + pad("k", 6) + pad("n", 6) + pad("GFLOP/s", 10)]
    }

    /// The matmul kernel this process runs, and why.
    public static var kernelLine: String {
        let kernel = MatmulKernel.current
        let why = MatmulKernel.isForced ? "forced by \(MatmulKernel.environmentVariable)" : "detected"
        return "\(kernel.rawValue) (\(kernel.blockDescription), \(why))"
    }

    /// Times every layout of every shape on `Parallel.threads` threads, handing
    /// each result over as it is measured. `cold`: before each timed run, 64 MB
    /// elsewhere are written so the operands start outside the caches.
    public static func run(shapes: [Shape], repeats: Int, cold: Bool, each: (Result) -> Void) {
        let variants: [(name: String, transposeA: Bool, transposeB: Bool)] = [("ab", false, false), ("abt", false, true), ("atb", true, false)]
        var rng = RandomGenerator(seed: 1)
        for shape in shapes {
            let (m, k, n) = (shape.m, shape.k, shape.n)
            // Same element counts for every variant; only the stored layout differs.
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            for i in 0..<(m * k) { a[i] = rng.uniform() }
            for i in 0..<(k * n) { b[i] = rng.uniform() }
            for variant in variants {
                func call() { matmul(a, b, c, m: m, n: n, k: k, transposeA: variant.transposeA, transposeB: variant.transposeB) }
                call()  // warm-up: pack buffers, threads, caches
                var best = Double.infinity
                var runs = 0
                let start = DispatchTime.now().uptimeNanoseconds
                while runs < repeats || DispatchTime.now().uptimeNanoseconds - start < 200_000_000 {
                    if cold { evictCaches() }
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    call()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                    runs += 1
                }
                let flops: Double = 2.0 * Double(m) * Double(n) * Double(k)
                each(Result(variant: variant.name, shape: shape, gflops: flops / best / 1e9))
            }
        }
    }
}

/// Right-aligns `text` in a field of `width` characters.
private func pad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

/// 64 MB, twice the L3 here: writing one float per cache line of it pushes
/// everything else out of the caches.
private let evictionBuffer: UnsafeMutablePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 16 << 20)
    p.initialize(repeating: 0, count: 16 << 20)
    return p
}()

private func evictCaches() {
    for i in stride(from: 0, to: 16 << 20, by: 16) { evictionBuffer[i] += 1 }
}
