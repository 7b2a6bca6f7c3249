import Foundation
import Kernels
import Train

let memoryBenchFlags = CommandFlags(
    command: "bench memory", forms: ["[--steps N] [--every K] [--threads N] [--json]"],
    about: """
        resident memory of a small two-block transformer trained on random tokens, every K steps: flat numbers show
        that the graph is released after each backward and that buffers are reused.
        """,
    flags: [Flag("steps", "N", default: 2000, "training steps, 1...1000000"), Flag("every", "K", default: 250, "print every K steps, 1...1000000"),
            .threads, Flag("json", "one JSON object per line")])

/// `tinygpt bench memory`.
func runMemoryBench(_ a: inout Arguments) throws {
    let steps = try a.int("steps", in: 1...1_000_000)
    let every = try a.int("every", in: 1...1_000_000)
    let threads = try a.threads() ?? Parallel.threads
    let json = a.flag("json")
    try a.finish()
    Parallel.threads = threads

    if !json { print("step  loss     rss_mb  fresh_buffers") }
    let start = Date()
    MemoryBenchmark.run(steps: steps, every: every) { s in
        if json {
            print("{\"op\":\"memory\",\"step\":\(s.step),\"loss\":\(s.loss),\"rss_mb\":\(s.residentMegabytes),\"fresh_buffers\":\(s.freshBuffers)}")
        } else {
            print(String(format: "%-5d %-8.4f %-7.1f %d", s.step, s.loss, s.residentMegabytes, s.freshBuffers))
        }
    }
    if !json { printError(String(format: "%d steps in %.1f s", steps, Date().timeIntervalSince(start))) }
}
