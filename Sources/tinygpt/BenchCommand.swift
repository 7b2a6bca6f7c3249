/// `tinygpt bench <what>`: benchmarks. Build with `-c release` before trusting a figure.
func runBenchCommand(_ args: [String]) throws {
    let benchmarks: [(name: String, summary: String, flags: CommandFlags, run: (inout Arguments) throws -> Void)] = [
        ("matmul", "GFLOP/s of the matmul kernel on transformer shapes", matmulBenchFlags, runMatmulBench),
        ("memory", "resident memory over training steps", memoryBenchFlags, runMemoryBench),
        ("train", "ms per training step of a config's model, optionally profiled per op", trainBenchFlags, runTrainBench),
        ("sample", "tokens/s of generation with the KV cache", sampleBenchFlags, runSampleBench)]
    guard let what = args.first else {
        throw CLIError("bench needs a benchmark name: matmul, memory, train or sample")
    }
    if ["--help", "-h", "help"].contains(what) {
        print("usage: tinygpt bench matmul|memory|train|sample [options]   (each takes --help)\n"
              + benchmarks.map { "  \($0.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \($0.summary)" }.joined(separator: "\n"))
        return
    }
    guard let benchmark = benchmarks.first(where: { $0.name == what }) else {
        throw CLIError("unknown benchmark '\(what)'; expected one of: matmul, memory, train, sample")
    }
    guard var a = benchmark.flags.parse(Array(args.dropFirst())) else { return }
    try benchmark.run(&a)
}
