import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Train

/// `tinygpt bench train [--config C] [--set k=v ...] [--steps N] [--threads T] [--json] [--profile]`:
/// median milliseconds per training step (forward, backward, clip, AdamW) of
/// a config's model on random tokens, and peak resident memory. The data does
/// not change the arithmetic, so no corpus is needed. `--profile` adds a table
/// of wall time per op (forward and backward) and per training phase.
func runTrainBench(_ args: [String]) throws {
    var a = Arguments(args)
    var config = try readConfig(&a, defaultPath: "configs/shakespeare-char.json")
    let steps = try a.int("steps", default: 30, in: 2...100_000)
    let threads = try a.threads() ?? Parallel.threads
    let json = a.flag("json")
    let profile = a.flag("profile")
    try a.finish()
    Parallel.threads = threads
    config.model.vocabSize = config.expectedVocabularySize
    try Trainer.requireTrainingMemory(config)
    let model = GPT(config: config.model, seed: 1)
    let t = config.train
    let optimizer = Optimizer(parameters: model.parameters, settings: OptimizerSettings(t))  // the trainer's mapping
    let dropout = config.model.dropout > 0 ? Dropout(probability: Float(config.model.dropout), generator: RandomGenerator(seed: 2)) : nil
    var generator = RandomGenerator(seed: 3)
    let (batch, length, vocab) = (t.batchSize, config.model.contextLength, config.model.vocabSize!)
    var times: [Double] = []
    var phases = PhaseTimes()
    for step in 0..<(steps + 2) {  // two warm-up steps fill the buffer pool
        let ids = (0..<(batch * length)).map { _ in Int32(generator.int(below: vocab)) }
        let targets = (0..<(batch * length)).map { _ in Int32(generator.int(below: vocab)) }
        if profile && step == 2 { OpProfiler.isEnabled = true; OpProfiler.reset(); phases = PhaseTimes() }
        let start = DispatchTime.now().uptimeNanoseconds
        phases.time("zero gradients") { optimizer.zeroGrad() }
        for _ in 0..<t.gradAccumSteps {
            OpProfiler.mark()
            let loss = scale(model.loss(ids, targets: targets, batch: batch, length: length, dropout: dropout,
                                        labelSmoothing: Float(t.labelSmoothing)), 1 / Float(t.gradAccumSteps))
            phases.time("backward (all ops)") { loss.backward() }
        }
        var factor: Float = 1
        phases.time("gradient norm") { factor = clipFactor(norm: gradientNorm(optimizer.parameters), maxNorm: Float(t.gradClip)) }
        phases.time("optimizer step") { optimizer.step(lr: 1e-4, gradientScale: factor) }
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    OpProfiler.isEnabled = false
    let measured = Array(times.dropFirst(2)).sorted()
    let median = measured[measured.count / 2]
    let parameters = model.parameters.map(\.tensor.count).reduce(0, +)
    let peak = peakResidentMegabytes()
    if json {
        print("{\"op\":\"train_step\",\"batch\":\(batch),\"context\":\(length),\"n_layer\":\(config.model.nLayer),\"d_model\":\(config.model.dModel),\"parameters\":\(parameters),\"threads\":\(threads),\"median_ms\":\(String(format: "%.2f", median)),\"min_ms\":\(String(format: "%.2f", measured[0])),\"peak_rss_mb\":\(String(format: "%.1f", peak))}")
    } else {
        print(String(format: "train step: batch %d × context %d, %@ parameters, %d thread%@: median %.2f ms (min %.2f) over %d steps; peak RSS %.1f MB",
                     batch, length, grouped(parameters), threads, threads == 1 ? "" : "s", median, measured[0], steps, peak))
    }
    if profile { printProfile(steps: steps, meanStep: measured.reduce(0, +) / Double(measured.count), phases: phases) }
}

/// Wall time of the phases of a step outside the ops' own forward/backward.
struct PhaseTimes {
    var nanoseconds: [(String, UInt64)] = []

    mutating func time(_ name: String, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        if let i = nanoseconds.firstIndex(where: { $0.0 == name }) { nanoseconds[i].1 += elapsed } else { nanoseconds.append((name, elapsed)) }
    }
}

/// Per-op table: milliseconds per step forward and backward, calls per step, share of the step.
func printProfile(steps: Int, meanStep: Double, phases: PhaseTimes) {
    let perStep = { (ns: UInt64) in Double(ns) / 1e6 / Double(steps) }
    let rows = OpProfiler.entries.map { (name: String($0.key.prefix { $0 != "(" }), entry: $0.value) }
        .sorted { $0.entry.forwardNanoseconds + $0.entry.backwardNanoseconds > $1.entry.forwardNanoseconds + $1.entry.backwardNanoseconds }
    print("\nprofile (wall ms per step, mean over \(steps) steps of \(String(format: "%.2f", meanStep)) ms):")
    print("  " + "op".padding(toLength: 24, withPad: " ", startingAt: 0) + "  calls   forward  backward   share")
    var opsBackward = 0.0
    for (name, e) in rows {
        let f = perStep(e.forwardNanoseconds), b = perStep(e.backwardNanoseconds)
        opsBackward += b
        print("  " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
              + String(format: " %6d %9.2f %9.2f %6.1f%%", e.forwardCalls / steps, f, b, 100 * (f + b) / meanStep))
    }
    for (name, ns) in phases.nanoseconds {
        // The backward phase's own share is what the ops' backward functions do not account for (graph walk, release).
        let ms = name == "backward (all ops)" ? perStep(ns) - opsBackward : perStep(ns)
        let label = name == "backward (all ops)" ? "backward bookkeeping" : name
        print("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "        %9.2f           %6.1f%%", ms, 100 * ms / meanStep))
    }
}

/// Peak resident set size in MB: Linux's VmHWM, getrusage's maximum on macOS.
func peakResidentMegabytes() -> Double {
    #if os(macOS)
    var usage = rusage()
    guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
    return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
    #else
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
    #endif
}
