import Foundation
import Kernels
import Autograd
import NN

/// `bench memory`: a small two-block transformer trained on random tokens,
/// with the process's resident memory sampled every few steps. Flat numbers
/// show that the graph is released after each backward and buffers are reused.
public enum MemoryBenchmark {
    /// One sample: the step, its loss, resident MB and buffers allocated fresh so far.
    public struct Sample {
        public let step: Int
        public let loss: Float
        public let residentMegabytes: Double
        public let freshBuffers: Int
    }

    /// Trains `steps` steps; `report` receives step 1, every `every`-th step and the last.
    public static func run(steps: Int, every: Int, report: (Sample) -> Void) {
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
                report(Sample(step: step, loss: loss.item, residentMegabytes: ProcessMemory.residentMegabytes(), freshBuffers: freshBufferAllocations))
            }
        }
    }
}
