import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Tokenizer
import Train
import Files

final class TrainTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try Scratch.directory("train")
    }

    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = String(repeating: "the quick brown fox jumps over the lazy dog. a small cat sat on a warm mat, and then it slept.\n", count: 40)

    func tinyConfig(_ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 16; c.model.nLayer = 2; c.model.dModel = 24; c.model.nHead = 3; c.model.dFF = 40
        c.model.dropout = 0.1  // exercises the dropout generator in checkpoints
        c.train.batchSize = 4; c.train.maxSteps = 12; c.train.warmupSteps = 2; c.train.evalInterval = 4
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 3e-3
        change(&c)
        return c
    }

    func makeTrainer(_ config: RunConfig, resume: Bool = false, stopAfter: Int? = nil, run: URL? = nil) throws -> Trainer {
        let corpus = try Corpus.build(text: text, config: config)
        var options = TrainerOptions(runDirectory: run ?? directory)
        options.resume = resume
        options.stopAfterStep = stopAfter
        options.log = { _ in }
        return try Trainer(config: config, corpus: corpus, options: options)
    }

    func testResumeReproducesTheUninterruptedRunBitForBit() throws {
        try checkResumeReproducesTheUninterruptedRun(tinyConfig(), name: "adamw")
    }

    /// Muon's momentum buffers (and AdamW's moments for the rest) survive a resume, with the speed-run's model options.
    func testMuonResumeReproducesTheUninterruptedRun() throws {
        try checkResumeReproducesTheUninterruptedRun(tinyConfig {
            $0.train.optimizer = .muon; $0.model.position = .rope; $0.model.qkNorm = true; $0.model.activation = .relu2
            $0.model.logitSoftcap = 15; $0.model.tieEmbeddings = false; $0.model.zeroInitHead = true
        }, name: "muon")
    }

    /// Sequence-length warm-up is a function of the step, and value residual's λ and the value embeddings are
    /// checkpointed parameters: a resume in the middle of the warm-up trains the same numbers.
    func testSequenceLengthWarmupAndValueOptionsResumeReproducesTheUninterruptedRun() throws {
        try checkResumeReproducesTheUninterruptedRun(tinyConfig {
            $0.train.optimizer = .muon; $0.model.valueResidual = true; $0.model.valueEmbeddings = 1
            $0.train.seqLenWarmupSteps = 9; $0.train.seqLenWarmupStart = 4
        }, name: "warm-up")
        let trainer = try makeTrainer(tinyConfig { $0.train.seqLenWarmupSteps = 9; $0.train.seqLenWarmupStart = 4 },
                                      run: directory.appendingPathComponent("lengths"))
        let tokens = try (0..<12).map { _ in try trainer.takeStep().tokens }
        XCTAssertEqual(tokens.map { Int($0) / 4 }, [4, 4, 4, 8, 8, 8, 8, 8, 8, 16, 16, 16], "windows of 4, 8, then the full 16 tokens (batch 4)")
    }

    func checkResumeReproducesTheUninterruptedRun(_ config: RunConfig, name: String) throws {
        let whole = try makeTrainer(config, run: directory.appendingPathComponent("whole-\(name)"))
        try whole.run()

        let split = directory.appendingPathComponent("split-\(name)")
        let first = try makeTrainer(config, stopAfter: 6, run: split)
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        // Evaluating at other steps on the way must not change the training numbers.
        var evaluatingOften = config
        evaluatingOften.train.evalInterval = 5
        let second = try makeTrainer(evaluatingOften, resume: true, run: split)
        XCTAssertEqual(second.step, 6)
        try second.run()

        XCTAssertEqual(whole.stepLosses.count, 12)
        XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses, "\(name): every loss after the resume point is identical")
        XCTAssertEqual(whole.model.parameters.map { $0.tensor.toArray() }, second.model.parameters.map { $0.tensor.toArray() }, name)
        // The metrics of the resumed run read as one run.
        let lines = try String(contentsOf: split.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let steps = lines.compactMap { line -> Int? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["loss"] != nil else { return nil }
            return o["step"] as? Int
        }
        XCTAssertEqual(steps, Array(1...12))
        XCTAssertTrue(FileManager.default.fileExists(atPath: split.appendingPathComponent("loss.svg").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: split.appendingPathComponent("best/model.safetensors").path))
    }

    /// best/ holds the evaluation with the lowest validation loss, and both
    /// checkpoints record that loss (latest is written after best, so its
    /// record is never older than best/). The untrained model's loss counts
    /// as the first best but is not saved.
    func testBestCheckpointHoldsTheLowestValidationLoss() throws {
        let trainer = try makeTrainer(tinyConfig())
        try trainer.run()
        let evaluations = try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { line -> (step: Int, loss: Double)? in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let loss = o["val_loss"] as? Double, let step = o["step"] as? Int else { return nil }
                return (step, loss)
            }
        XCTAssertEqual(evaluations.map(\.step), [0, 4, 8, 12])
        let lowest = evaluations.min { $0.loss < $1.loss }!
        XCTAssertGreaterThan(lowest.step, 0, "training should beat the untrained model here")
        for name in ["best", "latest"] {
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("\(name)/trainer_state.json"))) as! [String: Any]
            // metrics.jsonl prints six significant digits.
            XCTAssertEqual(state["best_val_loss"] as! Double, lowest.loss, accuracy: 1e-5 * lowest.loss, name)
        }
        let bestState = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("best/trainer_state.json"))) as! [String: Any]
        XCTAssertEqual(bestState["step"] as? Int, lowest.step)
    }

    /// A run that never improves on step 0 writes no best/: with lr 1e-30
    /// every update rounds away, so each evaluation equals the first.
    func testNoBestCheckpointWhenTrainingNeverBeatsStepZero() throws {
        let trainer = try makeTrainer(tinyConfig { $0.model.bias = false; $0.train.lr = 1e-30; $0.train.minLR = 0 })
        try trainer.run()
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("latest/model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("best").path))
    }

    func testResumeRefusesADifferentConfig() throws {
        let config = tinyConfig()
        let first = try makeTrainer(config, stopAfter: 2)
        XCTAssertThrowsError(try first.run())
        XCTAssertThrowsError(try makeTrainer(tinyConfig { $0.train.lr = 1e-2; $0.model.nLayer = 3 }, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("model.n_layer: checkpoint 2, now 3"), "\(error)")
            XCTAssertTrue("\(error)".contains("train.lr"), "\(error)")
        }
        XCTAssertNoThrow(try makeTrainer(tinyConfig { $0.train.threads = 1 }, resume: true), "threads do not change the numbers")
        XCTAssertNoThrow(try makeTrainer(tinyConfig { $0.train.evalInterval = 3 }, resume: true),
                         "evaluations do not change the training numbers")
        XCTAssertThrowsError(try makeTrainer(tinyConfig { $0.train.evalSteps = 1 }, resume: true), "the best loss so far would not compare")
    }

    /// Sizes that cannot fit are refused with a message, before any allocation.
    func testSizesBeyondMemoryAreRefusedBeforeAllocating() throws {
        let config = tinyConfig { $0.model.dModel = 1_048_575; $0.model.dFF = 40 }  // 8·10¹² weights per layer
        let corpus = try Corpus.build(text: text, config: config)
        XCTAssertThrowsError(try Trainer.checked(config, for: corpus)) { error in
            XCTAssertTrue("\(error)".hasPrefix("this run needs at least"), "\(error)")
            XCTAssertTrue("\(error)".contains("lower train.batch_size"), "\(error)")
        }
        XCTAssertNoThrow(try Trainer.checked(tinyConfig(), for: corpus))
    }

    /// The advice names only what would lower the estimate: with --init-from
    /// the model's size is fixed (LoRA is offered instead), and a learned
    /// position table fixes the context.
    func testMemoryAdviceNamesOnlySettingsThatApply() throws {
        let huge = tinyConfig { $0.model.contextLength = 1_048_576; $0.model.vocabSize = 1000; $0.model.position = .rope; $0.train.batchSize = 4096 }
        func message(_ config: RunConfig, initialized: Bool) -> String {
            do { try Trainer.requireTrainingMemory(config, initialized: initialized); return "" } catch { return "\(error)" }
        }
        let fresh = message(huge, initialized: false)
        XCTAssertTrue(fresh.hasSuffix("lower train.batch_size, model.context_length, model.d_model or model.n_layer"), fresh)
        XCTAssertTrue(fresh.contains("activations of 4096 sequences of 1048576 tokens"), fresh)
        let tuned = message(huge, initialized: true)
        XCTAssertTrue(tuned.hasSuffix("lower train.batch_size or model.context_length, or train LoRA adapters instead of every weight (a lora section, e.g. --config configs/lora.json)"), tuned)
        let learned = message(tinyConfig { $0.model.contextLength = 1_048_576; $0.model.vocabSize = 1000; $0.train.batchSize = 4096 }, initialized: true)
        XCTAssertFalse(learned.contains("model.context_length"), learned)
        var adapters = huge
        adapters.lora = LoRAConfig()
        XCTAssertTrue(message(adapters, initialized: true).hasSuffix("lower train.batch_size or model.context_length"))
    }

    /// sft and dpo batches are padded to their longest example, not to the context.
    func testMemoryEstimateUsesTheLongestExample() throws {
        var config = tinyConfig { $0.model.contextLength = 1_048_576; $0.model.vocabSize = 1000; $0.train.batchSize = 4096 }
        let tokenizer = try CharTokenizer(trainingText: "abc ?.")
        let pairs = (0..<10).map { TextExample(prompt: "abc\($0 % 2 == 0 ? "" : "abc")?", chosen: " a.", rejected: " b c.") }
        let preference = try ExampleSet(format: .preference, examples: pairs, tokenizer: tokenizer, contextLength: config.model.contextLength,
                                        valFraction: 0.1, path: "p.jsonl")
        XCTAssertEqual(Trainer.microBatchShape(config, examples: preference).rows, 8192)
        XCTAssertEqual(Trainer.microBatchShape(config, examples: preference).length, 11)  // "abcabc?" + " b c." less the last token
        XCTAssertNoThrow(try Trainer.requireTrainingMemory(config, examples: preference, initialized: true))
        XCTAssertThrowsError(try Trainer.requireTrainingMemory(config, initialized: true))
        config.model.contextLength = 5
        XCTAssertEqual(Trainer.microBatchShape(config, examples: preference).length, 5, "capped by the context")
    }

    func testGradientAccumulationEqualsOneLargerBatch() throws {
        var config = tinyConfig { $0.model.dropout = 0 }.model
        config.vocabSize = 20
        let model = GPT(config: config, seed: 2)
        var g = RandomGenerator(seed: 3)
        let ids = (0..<(4 * 17)).map { _ in Int32(g.int(below: 20)) }
        var inputs: [Int32] = [], targets: [Int32] = []
        for b in 0..<4 { inputs += ids[(b * 17)..<(b * 17 + 16)]; targets += ids[(b * 17 + 1)..<(b * 17 + 17)] }
        model.loss(inputs, targets: targets, batch: 4, length: 16).backward()
        let whole = model.parameters.map { $0.tensor.grad!.toArray() }
        for p in model.parameters { p.tensor.zeroGrad() }
        for half in 0..<2 {
            let r = (half * 32)..<(half * 32 + 32)
            scale(model.loss(Array(inputs[r]), targets: Array(targets[r]), batch: 2, length: 16), 0.5).backward()
        }
        let accumulated = model.parameters.map { $0.tensor.grad!.toArray() }
        for (a, b) in zip(whole, accumulated) {
            for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-6 + 1e-4 * abs(a[i])) }  // float32 summation order differs
        }
    }

    func testUniformModelHasPerplexityEqualToVocabularySize() throws {
        var config = tinyConfig().model
        config.vocabSize = 37; config.tieEmbeddings = false
        let model = GPT(config: config, seed: 1)
        model.parameters.first { $0.name == "lm_head.weight" }!.tensor.fill(0)  // every logit 0
        var g = RandomGenerator(seed: 4)
        let ids = (0..<100).map { _ in Int32(g.int(below: 37)) }
        let result = Train.evaluate(model: model, ids: ids, textBytes: 100, stride: 8)
        XCTAssertEqual(result.tokens, 99)
        XCTAssertEqual(result.perplexity, 37, accuracy: 1e-3)
        XCTAssertEqual(result.bitsPerByte, 99 * log2(37.0) / 100, accuracy: 1e-4)
    }

    func testSlidingWindowsScoreEachTokenOnceWithTheRightContext() throws {
        var config = tinyConfig().model
        config.vocabSize = 11
        let model = GPT(config: config, seed: 5)
        var g = RandomGenerator(seed: 6)
        let ids = (0..<45).map { _ in Int32(g.int(below: 11)) }
        for stride in [1, 5, 8, 16] {
            XCTAssertEqual(Train.evaluate(model: model, ids: ids, textBytes: 45, stride: stride).tokens, 44, "stride \(stride)")
        }
        // With stride = context, windows do not overlap: the same as scoring each chunk on its own.
        let short = Array(ids.prefix(17))  // exactly one window of 16 predictions
        let direct = Autograd.noGrad { crossEntropy(model(Array(short.dropLast()), batch: 1, length: 16), targets: Array(short.dropFirst())) }.item
        XCTAssertEqual(Train.evaluate(model: model, ids: short, textBytes: 17, stride: 16).loss, Double(direct), accuracy: 1e-6)
    }

    func testTokenCacheRoundTripAndKey() throws {
        let config = tinyConfig()
        let url = directory.appendingPathComponent("tokens.bin")
        let key = TokenCache.key(text: text, config: config)
        try TokenCache.write(train: [1, 2, 3], validation: [4, 5], vocabSize: 100, key: key, to: url)
        XCTAssertEqual(TokenCache.read(from: url, key: key)?.train, [1, 2, 3])
        XCTAssertEqual(TokenCache.read(from: url, key: key)?.validation, [4, 5])
        XCTAssertNil(TokenCache.read(from: url, key: key &+ 1), "another text or tokenizer: not reused")
        XCTAssertNotEqual(TokenCache.key(text: text, config: tinyConfig { $0.data.valFraction = 0.2 }), key)
        try TokenCache.write(train: [70_000], validation: [1], vocabSize: 80_000, key: key, to: url)
        XCTAssertEqual(TokenCache.read(from: url, key: key)?.train, [70_000], "ids above 65,535 use 4-byte width")
    }

    func testBadInputIsReported() throws {
        XCTAssertThrowsError(try Corpus.build(text: "", config: tinyConfig()))
        let small = try Corpus.build(text: "abcdefghij", config: tinyConfig())
        XCTAssertThrowsError(try small.check(contextLength: 16)) { error in
            XCTAssertTrue("\(error)".contains("fewer than context_length + 1 = 17"), "\(error)")
        }
        XCTAssertThrowsError(try makeTrainer(tinyConfig { $0.model.vocabSize = 5 })) { error in
            XCTAssertTrue("\(error)".contains("model.vocab_size is 5 but the tokenizer has"), "\(error)")
        }
    }

    func testTrainingLowersValidationLossOnTheShippedCorpus() throws {
        let corpusURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/corpus.txt")
        let full = try TextFile.read(corpusURL.path, what: "corpus")
        let sample = String(full.unicodeScalars.prefix(40_000))
        var config = tinyConfig { $0.model.dropout = 0; $0.model.dModel = 48; $0.model.nHead = 4; $0.model.contextLength = 32 }
        config.train.maxSteps = 60; config.train.evalInterval = 60; config.train.evalSteps = 8; config.train.batchSize = 8
        let corpus = try Corpus.build(text: sample, config: config)
        var options = TrainerOptions(runDirectory: directory)
        options.log = { _ in }
        let trainer = try Trainer(config: config, corpus: corpus, options: options)
        let before = trainer.meanLoss(corpus.validation, seed: 1)
        try trainer.run()
        let after = trainer.meanLoss(corpus.validation, seed: 1)
        XCTAssertLessThan(after, before - 0.5, "60 steps must lower the validation loss clearly (from \(before) to \(after))")
    }
}
