import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Train

/// Pruning: the magnitude and head masks prune exactly what they promise,
/// head importance is the gradient it is defined as (checked against finite
/// differences), and training keeps pruned weights at exactly zero.
final class PruningTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try Scratch.directory("pruning") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    func model(nHead: Int = 4, kvHeads: Int? = nil, bias: Bool = true, seed: UInt64 = 7) -> GPT {
        var m = ModelConfig()
        m.contextLength = 8; m.nLayer = 2; m.dModel = 16; m.nHead = nHead; m.nKVHead = kvHeads; m.dFF = 24
        m.vocabSize = 11; m.bias = bias; m.dropout = 0
        return GPT(config: m, seed: seed)
    }

    func values(_ p: Parameter) -> [Float] { p.tensor.toArray() }

    func prunable(_ g: GPT) -> [Parameter] {
        g.parameters.filter { PruningMask.isPrunable(ParameterShape(name: $0.name, shape: $0.tensor.shape)) }
    }

    func testMagnitudeMaskPrunesExactlyTheSmallestShare() throws {
        let g = model()
        let weights = prunable(g)
        XCTAssertEqual(Set(weights.map(\.name)).count, 2 * 6, "q, k, v, out and the feed-forward's two matrices of each layer")
        // Global: one threshold for all; every pruned |w| ≤ every kept |w|.
        let total = weights.reduce(0) { $0 + $1.tensor.count }
        let global = Pruning.magnitudeMask(g, sparsity: 0.4, scope: .global)
        XCTAssertEqual(global.count, total)
        XCTAssertEqual(global.prunedCount, Int((0.4 * Double(total)).rounded()))
        var largestPruned: Float = 0, smallestKept = Float.infinity
        for p in weights {
            let kept = try XCTUnwrap(global.kept[p.name])
            for (w, k) in zip(values(p), kept) {
                if k == 0 { largestPruned = max(largestPruned, abs(w)) } else { smallestKept = min(smallestKept, abs(w)) }
            }
        }
        XCTAssertLessThanOrEqual(largestPruned, smallestKept)
        XCTAssertNil(global.kept["token_embedding.weight"], "embeddings, norms and biases are not pruned")
        // Per layer: each matrix loses the same share, with its own threshold.
        let layer = Pruning.magnitudeMask(g, sparsity: 0.4, scope: .layer)
        for p in weights {
            let kept = try XCTUnwrap(layer.kept[p.name])
            XCTAssertEqual(kept.filter { $0 == 0 }.count, Int((0.4 * Double(p.tensor.count)).rounded()), p.name)
            let w = values(p)
            let pruned = w.indices.filter { kept[$0] == 0 }.map { abs(w[$0]) }.max() ?? 0
            let smallest = w.indices.filter { kept[$0] == 1 }.map { abs(w[$0]) }.min() ?? .infinity
            XCTAssertLessThanOrEqual(pruned, smallest, p.name)
        }
        XCTAssertEqual(Pruning.magnitudeMask(g, sparsity: 0, scope: .global).prunedCount, 0)
        // Applying it zeroes exactly the pruned weights and nothing else.
        let before = g.parameters.map(values)
        global.apply(to: g.parameters)
        for (p, old) in zip(g.parameters, before) {
            let now = values(p), kept = global.kept[p.name]
            for i in now.indices { XCTAssertEqual(now[i], kept.map { $0[i] == 0 } ?? false ? 0 : old[i]) }
        }
    }

    func testSparsityAndHeadCountsAreChecked() throws {
        for bad in [-0.1, 1, 1.5, .nan, .infinity] {
            XCTAssertThrowsError(try PruningRequest.checkSparsity(bad)) { XCTAssertTrue("\($0)".contains("outside [0, 1)"), "\($0)") }
        }
        XCTAssertNoThrow(try PruningRequest.checkSparsity(0))
        XCTAssertNoThrow(try PruningRequest.checkSparsity(0.999))
        let m = model().config  // 2 layers × 4 heads
        // Per layer: round(0.75 × 4) = 3 leaves one head; round(0.9 × 4) = 4 leaves none.
        XCTAssertNoThrow(try PruningRequest(method: .heads, scope: .layer, sparsity: 0.75).check(m))
        XCTAssertThrowsError(try PruningRequest(method: .heads, scope: .layer, sparsity: 0.9).check(m)) {
            XCTAssertTrue("\($0)".contains("prunes 4 of the 4 heads in every layer"), "\($0)")
        }
        // Global: at most 2 × 3 = 6 of 8.
        XCTAssertNoThrow(try PruningRequest(method: .heads, scope: .global, sparsity: 0.75).check(m))
        XCTAssertThrowsError(try PruningRequest(method: .heads, scope: .global, sparsity: 0.85).check(m)) {
            XCTAssertTrue("\($0)".contains("prunes 7 of the 8 heads"), "\($0)")
        }
        XCTAssertNoThrow(try PruningRequest(method: .magnitude, scope: .layer, sparsity: 0.9).check(m), "heads' limits are not magnitude's")
    }

    /// I_h = |∂L/∂ξ_h| with ξ_h gating head h's output, at ξ = 1: scaling head
    /// h's columns of the output projection by ξ is that gate, so a central
    /// difference over ξ must match the score.
    func testHeadImportanceIsTheGateGradient() throws {
        let g = model(seed: 3)
        // Larger weights than the initialisation's, so that every head matters to the loss.
        for p in g.parameters { for i in 0..<p.tensor.count { p.tensor.data[i] *= 8 } }
        let window: [Int32] = [1, 5, 2, 9, 3, 3, 7, 0, 4]
        let importance = Pruning.headImportance(g, windows: [window])
        let c = g.config, d = c.headSize, width = c.dModel
        func loss() -> Double {
            Double(Autograd.noGrad { g.loss(Array(window.dropLast()), targets: Array(window.dropFirst()), batch: 1, length: 8).item })
        }
        let eps: Float = 1e-2
        var largest = 0.0
        for l in 0..<c.nLayer {
            let out = try XCTUnwrap(g.parameters.first { $0.name == "blocks.\(l).attn.out.weight" }).tensor
            for h in 0..<c.nHead {
                let original = out.toArray()
                func gate(_ xi: Float) {
                    for row in 0..<width { for j in (h * d)..<((h + 1) * d) { out.data[row * width + j] = xi * original[row * width + j] } }
                }
                gate(1 + eps); let up = loss()
                gate(1 - eps); let down = loss()
                gate(1)
                let numeric = abs(up - down) / (2 * Double(eps))
                XCTAssertEqual(importance[l][h], numeric, accuracy: 2e-3 + 2e-2 * numeric, "layer \(l) head \(h)")
                largest = max(largest, numeric)
            }
        }
        XCTAssertGreaterThan(largest, 1e-2, "the check is not trivial")
        XCTAssertTrue(g.parameters.allSatisfy { $0.tensor.grad == nil }, "no gradient left behind")
        // Averaged over windows.
        let two = Pruning.headImportance(g, windows: [window, window])
        for (a, b) in zip(two.joined(), importance.joined()) { XCTAssertEqual(a, b, accuracy: 1e-9 + 1e-6 * b) }
    }

    func testHeadsToPruneNormalisesPerLayerAndKeepsAHead() {
        // Layer 1's scores are ten times layer 0's: normalised (Michel et al.), the two rank alike.
        let importance = [[1.0, 2, 3], [10, 20, 30]]
        XCTAssertEqual(Pruning.headsToPrune(importance: importance, sparsity: 0.5, scope: .global), [[0, 1], [0]])
        XCTAssertEqual(Pruning.headsToPrune(importance: importance, sparsity: 0.34, scope: .layer), [[0], [0]])
        XCTAssertEqual(Pruning.headsToPrune(importance: [[5, 1, 3], [2, 9, 4]], sparsity: 0.67, scope: .layer), [[1, 2], [0, 2]])
        // Global never takes a layer's last head, even where the scores would.
        XCTAssertEqual(Pruning.headsToPrune(importance: [[1, 1.1, 1.2], [100, 0.1, 200]], sparsity: 0.67, scope: .global).map(\.count).max(), 2)
        XCTAssertEqual(Pruning.headsToPrune(importance: importance, sparsity: 0, scope: .global), [[], []])
    }

    /// A pruned head contributes nothing: the model computes what it computes
    /// with only that head's output-projection columns at zero (ξ_h = 0); a
    /// key/value head goes when every query head reading it does (GQA).
    func testHeadMaskRemovesExactlyTheHeads() throws {
        let ids: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        func logits(_ g: GPT) -> [Float] { Autograd.noGrad { g(ids, batch: 1, length: 8).toArray() } }
        let pruned = model(kvHeads: 2), gated = model(kvHeads: 2), whole = model(kvHeads: 2)
        let heads = [[0, 1], [3]]
        let mask = Pruning.headMask(pruned.config, heads: heads)
        mask.apply(to: pruned.parameters)
        let d = pruned.config.headSize, width = pruned.config.dModel
        for (l, hs) in heads.enumerated() {
            let out = try XCTUnwrap(gated.parameters.first { $0.name == "blocks.\(l).attn.out.weight" }).tensor
            for h in hs { for row in 0..<width { for j in (h * d)..<((h + 1) * d) { out.data[row * width + j] = 0 } } }
        }
        let (a, b, c) = (logits(pruned), logits(gated), logits(whole))
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        XCTAssertGreaterThan(zip(a, c).map { abs($0 - $1) }.max()!, 1e-4, "pruning changed the model")
        // Layer 0 lost both query heads of key/value head 0: its rows go. Layer 1 keeps both key/value heads.
        let k0 = try XCTUnwrap(mask.kept["blocks.0.attn.k.weight"])
        XCTAssertTrue(k0[0..<(d * width)].allSatisfy { $0 == 0 } && k0[(d * width)...].allSatisfy { $0 == 1 })
        XCTAssertNil(mask.kept["blocks.1.attn.k.weight"])
        let q1 = try XCTUnwrap(mask.kept["blocks.1.attn.q.weight"])
        XCTAssertEqual(q1.filter { $0 == 0 }.count, d * width)
        XCTAssertTrue(q1[(3 * d * width)...].allSatisfy { $0 == 0 })
        XCTAssertEqual(try XCTUnwrap(mask.kept["blocks.1.attn.q.bias"]).filter { $0 == 0 }.count, d)
    }

    /// Fine-tuning a pruned model with each optimizer (weight decay on): the
    /// pruned weights stay exactly zero, the others train, every checkpoint
    /// carries the mask, and a resumed run keeps it.
    func testTrainingKeepsPrunedWeightsAtZero() throws {
        let text = String(repeating: "the quick brown fox jumps over the lazy dog. a small cat sat on a warm mat.\n", count: 30)
        for optimizer in [OptimizerKind.adamw, .adam, .sgd] {
            var config = RunConfig()
            config.model.contextLength = 16; config.model.nLayer = 2; config.model.dModel = 16; config.model.nHead = 2; config.model.dFF = 24
            config.train.batchSize = 2; config.train.maxSteps = 6; config.train.warmupSteps = 1; config.train.evalInterval = 3
            config.train.evalSteps = 1; config.train.logInterval = 3; config.train.lr = 1e-2; config.train.weightDecay = 0.5
            config.train.optimizer = optimizer
            let corpus = try Corpus.build(text: text, config: config)
            let checked = try Trainer.checked(config, for: corpus)
            let start = GPT(config: checked.model, seed: 1)
            let mask = Pruning.magnitudeMask(start, sparsity: 0.5, scope: .global)
                .combined(with: Pruning.headMask(checked.model, heads: [[1], []]))
            mask.apply(to: start.parameters)
            let before = start.parameters.map(values)
            let run = directory.appendingPathComponent(optimizer.rawValue)
            var options = TrainerOptions(runDirectory: run)
            options.log = { _ in }
            options.stopAfterStep = 3
            let trainer = try Trainer(config: config, corpus: corpus, options: options, initialModel: start, mask: mask)
            XCTAssertThrowsError(try trainer.run())  // interrupted at step 3, latest saved
            options.stopAfterStep = nil
            options.resume = true
            let resumed = try Trainer(config: config, corpus: corpus, options: options)
            XCTAssertEqual(resumed.mask, mask, "the resumed run reads the mask from its checkpoint")
            try resumed.run()
            var changed = 0
            for (p, old) in zip(resumed.model.parameters, before) {
                let now = values(p)
                if let kept = mask.kept[p.name] {
                    for i in now.indices where kept[i] == 0 { XCTAssertEqual(now[i].bitPattern, 0, "\(optimizer) \(p.name)[\(i)]") }
                }
                changed += zip(now, old).filter { $0 != $1 }.count
            }
            XCTAssertGreaterThan(changed, mask.count / 3, "\(optimizer): the kept weights train")
            let saved = try Checkpoint.load(from: RunDirectory(run).latest)
            XCTAssertEqual(saved.mask?.kept, mask.kept)
        }
        // LoRA adapters merged would fill the pruned weights in: refused.
        XCTAssertThrowsError(try Trainer.checkMask(PruningMask(kept: ["w": [0, 1]], metadata: [:]), lora: LoRAConfig())) {
            XCTAssertTrue("\($0)".contains("lora"), "\($0)")
        }
    }

    /// Without the mask, the same steps move pruned weights away from zero: the test above is not vacuous.
    func testWithoutTheMaskPrunedWeightsMove() throws {
        let g = model()
        let mask = Pruning.magnitudeMask(g, sparsity: 0.5, scope: .global)
        mask.apply(to: g.parameters)
        let optimizer = Optimizer(parameters: g.parameters, settings: OptimizerSettings(TrainConfig()))
        let ids: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8], targets: [Int32] = [2, 3, 4, 5, 6, 7, 8, 9]
        optimizer.zeroGrad()
        g.loss(ids, targets: targets, batch: 1, length: 8).backward()
        optimizer.step(lr: 1e-2, gradientScale: 1)
        let moved = g.parameters.reduce(0) { n, p in
            n + (mask.kept[p.name].map { kept in kept.indices.filter { kept[$0] == 0 && p.tensor.data[$0] != 0 }.count } ?? 0)
        }
        XCTAssertGreaterThan(moved, 0)
    }
}
