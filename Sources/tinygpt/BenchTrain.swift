import Foundation
import Kernels
import Autograd
import NN
import Model

/// `tinygpt bench train [--config C] [--set k=v ...] [--steps N] [--threads T] [--json]`:
/// median milliseconds per training step (forward, backward, clip, AdamW) of
/// a config's model on random tokens, and peak resident memory. The data does
/// not change the arithmetic, so no corpus is needed.
func runTrainBench(_ args: [String]) throws {
    var a = Arguments(args)
    var config = try readConfig(&a, defaultPath: "configs/shakespeare-char.json")
    let steps = try a.int("steps", default: 30, in: 2...100_000)
    let threads = try a.int("threads", default: Parallel.threads, in: 1...256)
    let json = a.flag("json")
    try a.finish()
    Parallel.threads = threads
    if config.model.vocabSize == nil { config.model.vocabSize = config.tokenizer.type == .bpe ? config.tokenizer.vocabSize : 65 }
    let model = GPT(config: config.model, seed: 1)
    let t = config.train
    var settings = OptimizerSettings()
    settings.beta1 = Float(t.beta1); settings.beta2 = Float(t.beta2); settings.weightDecay = Float(t.weightDecay)
    let optimizer = Optimizer(parameters: model.parameters, settings: settings)
    let dropout = config.model.dropout > 0 ? Dropout(probability: Float(config.model.dropout), generator: RandomGenerator(seed: 2)) : nil
    var generator = RandomGenerator(seed: 3)
    let (batch, length, vocab) = (t.batchSize, config.model.contextLength, config.model.vocabSize!)
    var times: [Double] = []
    for _ in 0..<(steps + 2) {  // two warm-up steps fill the buffer pool
        let ids = (0..<(batch * length)).map { _ in Int32(generator.int(below: vocab)) }
        let targets = (0..<(batch * length)).map { _ in Int32(generator.int(below: vocab)) }
        let start = DispatchTime.now().uptimeNanoseconds
        optimizer.zeroGrad()
        for _ in 0..<t.gradAccumSteps {
            scale(model.loss(ids, targets: targets, batch: batch, length: length, dropout: dropout), 1 / Float(t.gradAccumSteps)).backward()
        }
        clipGradientNorm(optimizer.parameters, maxNorm: Float(t.gradClip))
        optimizer.step(lr: 1e-4)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let measured = Array(times.dropFirst(2)).sorted()
    let median = measured[measured.count / 2]
    let parameters = model.parameters.map(\.tensor.count).reduce(0, +)
    let peak = peakResidentMegabytes()
    if json {
        print("{\"op\":\"train_step\",\"batch\":\(batch),\"context\":\(length),\"n_layer\":\(config.model.nLayer),\"d_model\":\(config.model.dModel),\"parameters\":\(parameters),\"threads\":\(threads),\"median_ms\":\(String(format: "%.2f", median)),\"min_ms\":\(String(format: "%.2f", measured[0])),\"peak_rss_mb\":\(String(format: "%.1f", peak))}")
    } else {
        print(String(format: "train step: batch %d × context %d, %@ parameters, %d threads: median %.2f ms (min %.2f) over %d steps; peak RSS %.1f MB",
                     batch, length, grouped(parameters), threads, median, measured[0], steps, peak))
    }
}

/// Peak resident set size (VmHWM) in MB.
func peakResidentMegabytes() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
