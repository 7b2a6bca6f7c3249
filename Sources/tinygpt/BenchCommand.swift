/// `tinygpt bench <what>`: benchmarks. Build with `-c release` before trusting a figure.
func runBenchCommand(_ args: [String]) throws {
    guard let what = args.first else {
        throw CLIError("bench needs a benchmark name: matmul, memory, train or sample")
    }
    let rest = Array(args.dropFirst())
    switch what {
    case "--help", "-h", "help":
        print("""
            usage: tinygpt bench matmul|memory|train|sample [options]   (each takes --help)
              matmul   GFLOP/s of the matmul kernel on transformer shapes
              memory   resident memory over training steps
              train    ms per training step of a config's model, optionally profiled per op
              sample   tokens/s of generation with the KV cache
            """)
    case "matmul": try runMatmulBench(rest)
    case "memory": try runMemoryBench(rest)
    case "train": try runTrainBench(rest)
    case "sample": try runSampleBench(rest)
    default: throw CLIError("unknown benchmark '\(what)'; expected one of: matmul, memory, train, sample")
    }
}
