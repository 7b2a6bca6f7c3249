import Foundation
import Kernels
import Config
import Train

let trainBenchFlags = CommandFlags(
    command: "bench train", forms: ["[--config FILE] [--set section.field=value ...] [--data FILE] [--steps N] [--threads N] [--json] [--profile]"],
    about: """
        ms per training step (forward, backward, clip, optimizer) of a config's model and objective, and peak memory:
        train.objective lm, sft or dpo (--set train.objective=dpo), with LoRA when the config has a lora section.
        """,
    flags: [Flag("config", "FILE", default: "configs/shakespeare-char.json", "the run config"), .set,
            Flag("data", "FILE", "data to train on, read as train reads it (default: built-in random tokens that fill the context)"),
            Flag("steps", "N", default: 30, "timed steps after two warm-up steps, 2...100000; the median is reported"),
            .threads, Flag("profile", "wall time per op (forward and backward) and per training phase"), .json])

/// `tinygpt bench train`: the median ms of a training step and peak memory (`StepBenchmark`).
func runTrainBench(_ a: inout Arguments) throws {
    let config = try readConfig(&a, defaultPath: try a.value("config"))
    let dataPath = try a.option("data")
    let steps = try a.int("steps", in: 2...100_000)
    let threads = try a.threads() ?? Parallel.threads
    let json = a.flag("json")
    let profile = a.flag("profile")
    try a.finish()
    Parallel.threads = threads
    let measured = try StepBenchmark.run(config: config, dataPath: dataPath, steps: steps, profile: profile)
    print(json ? measured.json : measured.line)
    for line in measured.profile { print(line) }
}
