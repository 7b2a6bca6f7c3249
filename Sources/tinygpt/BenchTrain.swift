import Foundation
import Files
import Kernels
import Autograd
import NN
import Model
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

/// `tinygpt bench train`: the median of `Trainer.takeStep` (LoRA when the
/// config has a lora section) and peak resident memory. Without --data the
/// objective's built-in random tokens fill the context (`StepBenchmarkData`).
func runTrainBench(_ a: inout Arguments) throws {
    var config = try readConfig(&a, defaultPath: try a.value("config"))
    let dataPath = try a.option("data")
    let steps = try a.int("steps", in: 2...100_000)
    let threads = try a.threads() ?? Parallel.threads
    let json = a.flag("json")
    let profile = a.flag("profile")
    try a.finish()
    Parallel.threads = threads
    config.train.maxSteps = steps + 2
    let corpus = try StepBenchmarkData.corpus(config: config, dataPath: dataPath)
    let trainer = try Trainer.forBenchmark(config: config, corpus: corpus)
    var tokens = 0.0
    for step in 0..<(steps + 2) {  // two warm-up steps fill the buffer pool
        if profile && step == 2 { OpProfiler.isEnabled = true; OpProfiler.reset(); trainer.phases = PhaseTimes() }
        let report = try trainer.takeStep()
        if step >= 2 { tokens += report.tokens }
    }
    OpProfiler.isEnabled = false
    let measured = Array(trainer.stepMilliseconds.dropFirst(2)).sorted()
    let median = measured[measured.count / 2]
    let model = trainer.config.model, t = trainer.config.train
    let parameters = trainer.model.parameters.map(\.tensor.count).reduce(0, +)
    let trainable = trainer.optimizer.parameters.map(\.tensor.count).reduce(0, +)
    let tokensPerStep = tokens / Double(steps)
    let peak = ProcessMemory.peakResidentMegabytes()
    let objective = t.objective.rawValue + (trainer.config.peftMethod.map { "+" + $0.rawValue } ?? "")
    if json {
        print("{\"op\":\"train_step\",\"objective\":\"\(objective)\",\"batch\":\(t.batchSize),\"context\":\(model.contextLength),\"n_layer\":\(model.nLayer),\"d_model\":\(model.dModel),\"parameters\":\(parameters),\"trainable\":\(trainable),\"tokens_per_step\":\(Int(tokensPerStep.rounded())),\"threads\":\(threads),\"median_ms\":\(String(format: "%.2f", median)),\"min_ms\":\(String(format: "%.2f", measured[0])),\"peak_rss_mb\":\(String(format: "%.1f", peak))}")
    } else {
        let lora = trainable == parameters ? "" : " (\(grouped(trainable)) trainable)"
        print(String(format: "train step (%@): batch %d × context %d, %@ parameters%@, %.0f tokens per step, %d thread%@: median %.2f ms (min %.2f) over %d steps; peak RSS %.1f MB",
                     objective, t.batchSize, model.contextLength, grouped(parameters), lora, tokensPerStep, threads, threads == 1 ? "" : "s",
                     median, measured[0], steps, peak))
    }
    if profile, let phases = trainer.phases {
        for line in phases.profileLines(steps: steps, meanStep: measured.reduce(0, +) / Double(measured.count)) { print(line) }
    }
}
