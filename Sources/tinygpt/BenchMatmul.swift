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

/// `tinygpt bench matmul`: GFLOP/s of the matmul kernels (`MatmulBenchmark`).
func runMatmulBench(_ parsed: inout Arguments) throws {
    let threads = try parsed.threads() ?? ProcessInfo.processInfo.activeProcessorCount
    let repeats = try parsed.int("repeat", in: 1...1000)
    let json = parsed.flag("json")
    let cold = parsed.flag("cold")
    let chosen = try parsed.options("shape").map { text -> MatmulBenchmark.Shape in
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ (1...16384).contains($0) }) else {
            throw CLIError("--shape must be MxKxN with sizes in 1...16384, got '\(text)'")
        }
        return MatmulBenchmark.Shape(m: parts[0], k: parts[1], n: parts[2])
    }
    try parsed.finish()
    Parallel.threads = threads
    if !json { MatmulBenchmark.header(threads: threads, repeats: repeats, cold: cold).forEach { print($0) } }
    MatmulBenchmark.run(shapes: chosen.isEmpty ? MatmulBenchmark.defaultShapes : chosen, repeats: repeats, cold: cold) { result in
        print(json ? result.json(threads: threads) : result.row)
    }
}
