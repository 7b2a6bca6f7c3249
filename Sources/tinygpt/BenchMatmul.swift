import Foundation
import Kernels

let matmulBenchFlags = CommandFlags(
    command: "bench matmul", forms: ["[--threads N] [--json] [--repeat R] [--cold] [--shape MxKxN ...]"],
    about: """
        GFLOP/s of the matmul kernel on transformer shapes. Each case: one warm-up call, then timed calls until both
        --repeat runs and 0.2 s are done; the best time is reported (least disturbed by other load). GFLOP/s = 2·m·n·k / time.
        """,
    flags: [.threads, .repeatable("shape", "MxKxN", "only this product, e.g. --shape 128x768x128"),
            Flag("json", "one JSON object per line instead of a table"),
            Flag("repeat", "R", default: 5, "minimum timed runs per case, 1...1000; each case also runs >= 0.2 s"),
            Flag("cold", "before each timed run, write 64 MB elsewhere so the operands start outside the caches")])

/// `tinygpt bench matmul`: GFLOP/s of the matmul kernels.
func runMatmulBench(_ parsed: inout Arguments) throws {
    let threads = try parsed.threads() ?? ProcessInfo.processInfo.activeProcessorCount
    let repeats = try parsed.int("repeat", in: 1...1000)
    let json = parsed.flag("json")
    let cold = parsed.flag("cold")
    let chosen = try parsed.options("shape").map { text -> (m: Int, k: Int, n: Int) in
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ (1...16384).contains($0) }) else {
            throw CLIError("--shape must be MxKxN with sizes in 1...16384, got '\(text)'")
        }
        return (parts[0], parts[1], parts[2])
    }
    try parsed.finish()

    Parallel.threads = threads
    let shapes: [(m: Int, k: Int, n: Int)] = !chosen.isEmpty ? chosen : [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
                                              (768, 128, 512), (768, 512, 128), (768, 128, 65), (128, 768, 128)]
    let variants: [(name: String, transposeA: Bool, transposeB: Bool)] = [("ab", false, false), ("abt", false, true), ("atb", true, false)]
    if !json {
        print("tinygpt matmul, threads=\(threads), best of >= \(repeats) runs and >= 0.2 s\(cold ? ", caches evicted before each run" : "")")
        print("kernel: \(kernelLine())")
        print("variant".padding(toLength: 8, withPad: " ", startingAt: 0) + pad("m", 6) + pad("k", 6) + pad("n", 6) + pad("GFLOP/s", 10))
    }
    var rng = RandomGenerator(seed: 1)
    for shape in shapes {
        let (m, k, n) = shape
        // Same element counts for every variant; only the stored layout differs.
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = rng.uniform() }
        for i in 0..<(k * n) { b[i] = rng.uniform() }
        for variant in variants {
            func run() {
                matmul(a, b, c, m: m, n: n, k: k, transposeA: variant.transposeA, transposeB: variant.transposeB)
            }
            run()  // warm-up: pack buffers, threads, caches
            var best = Double.infinity
            var runs = 0
            let start = DispatchTime.now().uptimeNanoseconds
            while runs < repeats || DispatchTime.now().uptimeNanoseconds - start < 200_000_000 {
                if cold { evictCaches() }
                let t0 = DispatchTime.now().uptimeNanoseconds
                run()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                runs += 1
            }
            let gflops = 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
            let rounded = (gflops * 10).rounded() / 10
            if json {
                print("{\"op\":\"matmul\",\"kernel\":\"\(MatmulKernel.current.rawValue)\",\"variant\":\"\(variant.name)\",\"m\":\(m),\"k\":\(k),\"n\":\(n),\"threads\":\(threads),\"gflops\":\(rounded)}")
            } else {
                print(variant.name.padding(toLength: 8, withPad: " ", startingAt: 0) + pad("\(m)", 6) + pad("\(k)", 6) + pad("\(n)", 6)
                      + pad(String(format: "%.1f", gflops), 10))
            }
        }
    }
}

/// The matmul kernel this process runs, and why.
func kernelLine() -> String {
    let kernel = MatmulKernel.current
    let why = MatmulKernel.isForced ? "forced by \(MatmulKernel.environmentVariable)" : "detected"
    return "\(kernel.rawValue) (\(kernel.blockDescription), \(why))"
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
