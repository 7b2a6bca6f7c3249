/// `tinygpt bench <what>`: benchmarks. Build with `-c release` before trusting a figure.
func runBenchCommand(_ args: [String]) throws {
    guard let what = args.first else {
        throw CLIError("bench needs a benchmark name: matmul, memory, train or sample")
    }
    let rest = Array(args.dropFirst())
    if what != "matmul", rest.contains(where: { ["--help", "-h"].contains($0) }), let usage = benchUsage[what] {
        print(usage)
        return
    }
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

private let benchUsage = [
    "train": """
        usage: tinygpt bench train [--config FILE] [--set section.field=value ...] [--steps N] [--threads N] [--json] [--profile]
          ms per training step (forward, backward, clip, optimizer) of a config's model on random tokens, and peak memory
          --config FILE  the run config (default configs/shakespeare-char.json); --set changes any field
          --steps N      timed steps after two warm-up steps, 2...100000 (default 30); the median is reported
          --threads N    worker threads, 1...1024, 0 for all (default: all cores)
          --profile      wall time per op (forward and backward) and per training phase
          --json         one JSON object instead of text
        """,
    "memory": """
        usage: tinygpt bench memory [--steps N] [--every K] [--threads N] [--json]
          resident memory of a small two-block transformer every K steps (flat numbers: no leak)
          --steps N      training steps, 1...1000000 (default 2000)
          --every K      print every K steps, 1...1000000 (default 250)
          --threads N    worker threads, 1...1024, 0 for all (default: all cores)
          --json         one JSON object per line
        """,
    "sample": """
        usage: tinygpt bench sample [--checkpoint DIR] [--tokens N] [--prompt-tokens N] [--threads N] [--strategy greedy|top-p]
                                    [--weights float32|int8|int4] [--group-size G] [--path token|batched] [--no-kv-cache] [--json] [--set model.field=value ...]
          prefill and decode tokens/s: a prompt of N token ids fed at once, then N tokens generated with the KV cache, from
          a random-weight model of llama2.c's stories15M shape (6 layers, d_model 288, 6 heads, SwiGLU 768, vocab 512;
          --set model.vocab_size=32000 for the full vocabulary), or from a checkpoint (float32 or quantized, read as sample reads it)
          --checkpoint DIR  a checkpoint or run directory instead of the random model (no --weights, --group-size, --set)
          --tokens N        tokens to generate, 1...100000 (default 256)
          --prompt-tokens N prompt length, 1...100000 (default 1); prefill tokens/s is N over the time to the first new token
          --threads N       worker threads, 1...1024, 0 for all (default: all cores)
          --strategy S      greedy (default) or top-p sampling
          --weights W       float32 (default), or the random model quantized to int8 or int4 in groups of G (default as quantize)
          --path P          token (default: the per-token path) or batched (the autograd model; float32 only)
          --no-kv-cache     recompute the whole window for every token (what the cache saves)
          --json            one JSON object instead of text
        """,
]
