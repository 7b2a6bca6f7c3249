import Foundation
import Kernels
import Autograd
import NN

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

    let (vocab, width, heads, length, batch) = (96, 64, 4, 32, 8)
    var generator = RandomGenerator(seed: 1)
    let initializer = WeightInit.normal(std: 0.02)
    let tokens = Embedding(vocab, width, generator: &generator)
    let blocks = (0..<2).map { _ in
        (Norm(.layerNorm, width, bias: true, eps: 1e-5),
         SelfAttention(modelSize: width, heads: heads, kvHeads: heads, bias: true, positions: .rotary(theta: 10_000),
                       initializer: initializer, outputInitializer: initializer, generator: &generator),
         Norm(.layerNorm, width, bias: true, eps: 1e-5),
         FeedForward(modelSize: width, hiddenSize: 4 * width, activation: .gelu, gated: false, bias: true,
                     initializer: initializer, outputInitializer: initializer, generator: &generator))
    }
    var parameters = tokens.parameters(prefixed: "tok")
    for (i, b) in blocks.enumerated() {
        parameters += b.0.parameters(prefixed: "\(i).n1") + b.1.parameters(prefixed: "\(i).attn")
        parameters += b.2.parameters(prefixed: "\(i).n2") + b.3.parameters(prefixed: "\(i).ffn")
    }
    let optimizer = Optimizer(parameters: parameters, settings: OptimizerSettings())

    if !json { print("step  loss     rss_mb  fresh_buffers") }
    let start = Date()
    for step in 1...steps {
        let ids = (0..<(batch * (length + 1))).map { _ in Int32(generator.int(below: vocab)) }
        var inputs: [Int32] = [], targets: [Int32] = []
        for b in 0..<batch {
            inputs += ids[(b * (length + 1))..<(b * (length + 1) + length)]
            targets += ids[(b * (length + 1) + 1)..<((b + 1) * (length + 1))]
        }
        var x = tokens(inputs, shape: [batch, length])
        for (n1, attn, n2, ffn) in blocks {
            x = x + attn(n1(x))
            x = x + ffn(n2(x))
        }
        let logits = linear(x, weight: tokens.weight)  // tied output
        let loss = crossEntropy(logits, targets: targets)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step(lr: 1e-3)
        if step == 1 || step % every == 0 || step == steps {
            let rss = residentMegabytes()
            if json {
                print("{\"op\":\"memory\",\"step\":\(step),\"loss\":\(loss.item),\"rss_mb\":\(rss),\"fresh_buffers\":\(freshBufferAllocations)}")
            } else {
                print(String(format: "%-5d %-8.4f %-7.1f %d", step, loss.item, rss, freshBufferAllocations))
            }
        }
    }
    if !json { printError(String(format: "%d steps in %.1f s", steps, Date().timeIntervalSince(start))) }
}

/// Resident set size of this process in MB: Linux's /proc/self/statm, the Mach task's on macOS.
func residentMegabytes() -> Double {
    #if os(macOS)
    var info = mach_task_basic_info()
    var count = mach_msg_type_number_t(MemoryLayout<mach_task_basic_info>.size / MemoryLayout<natural_t>.size)
    let result = withUnsafeMutablePointer(to: &info) {
        $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
            task_info(mach_task_self_, task_flavor_t(MACH_TASK_BASIC_INFO), $0, &count)
        }
    }
    return result == KERN_SUCCESS ? Double(info.resident_size) / 1_048_576 : 0
    #else
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    #endif
}
