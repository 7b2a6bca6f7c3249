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

/// Training with label smoothing and as a prefix LM.
final class CurriculumTrainTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("curriculum-train") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = String(repeating: "the quick brown fox jumps over the lazy dog. a small cat sat on a warm mat.\n", count: 40)
    let alphabet = "abcdefghijklmnopqrstuvwxyz .,?:!\n"

    func options(_ run: String) -> TrainerOptions {
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.log = { _ in }
        return options
    }

    func textConfig(_ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 16; c.model.nLayer = 1; c.model.dModel = 16; c.model.nHead = 2; c.model.dFF = 24; c.model.dropout = 0
        c.train.batchSize = 4; c.train.maxSteps = 3; c.train.warmupSteps = 0; c.train.evalInterval = 3
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 3e-3
        change(&c)
        return c
    }

    /// Label smoothing changes the training loss (and so the update), not the evaluation,
    /// which stays the plain cross-entropy: at step 0 both runs evaluate the same model alike.
    func testLabelSmoothingChangesTheTrainingLossOnly() throws {
        let corpus = try Corpus.build(text: text, config: textConfig())
        let plain = try Trainer(config: textConfig(), corpus: corpus, options: options("plain"))
        let smoothed = try Trainer(config: textConfig { $0.train.labelSmoothing = 0.2 }, corpus: corpus, options: options("smoothed"))
        XCTAssertEqual(plain.meanLoss(corpus.validation, seed: 1), smoothed.meanLoss(corpus.validation, seed: 1))
        try plain.run()
        try smoothed.run()
        XCTAssertNotEqual(plain.stepLosses[0], smoothed.stepLosses[0])
        let uniform = try Trainer(config: textConfig { $0.train.labelSmoothing = 0.2 }, corpus: corpus, options: options("again"))
        try uniform.run()
        XCTAssertEqual(uniform.stepLosses, smoothed.stepLosses, "deterministic")
    }

    /// SFT as a prefix LM: the batch's prompt lengths reach attention (the loss equals the
    /// model's with those prefixes and differs from the causal one), and training runs and learns.
    func testPrefixLMFineTuning() throws {
        // Two layers: with one, the keys and values completion tokens read are the prompt's embeddings
        // projected, the same under either mask, so the completion loss could not tell the two apart.
        var config = textConfig { $0.train.objective = .sft; $0.model.attention = .prefix_lm; $0.model.contextLength = 24; $0.model.nLayer = 2
                                  $0.train.maxSteps = 30; $0.train.evalInterval = 30; $0.train.lr = 1e-2; $0.data.path = "toy.jsonl" }
        let tokenizer = try CharTokenizer(trainingText: alphabet, specialTokens: ["<|endoftext|>"])
        let examples = (0..<24).map { i in TextExample(prompt: "q\(["abc", "b", "ca"][i % 3])?", completion: [" yes.", " no.", " ok."][i % 3]) }
        var corpus = Corpus(tokenizer: tokenizer, train: [], validation: [])
        corpus.examples = try ExampleSet(format: .promptCompletion, examples: examples, tokenizer: tokenizer, contextLength: 24,
                                         valFraction: 0.1, path: "toy.jsonl")
        let batch = SequenceBatch(Array(corpus.examples!.train.prefix(3)).map(\.chosen))
        XCTAssertEqual(batch.promptLengths, [5, 3, 4])
        config.model.vocabSize = tokenizer.vocabSize
        let model = GPT(config: config.model, seed: 3)
        let loss = Autograd.noGrad { completionLoss(model: model, batch: batch, dropout: nil) }.item
        let byHand = Autograd.noGrad {
            crossEntropy(model(batch.inputs, batch: batch.rows, length: batch.length, prefixLengths: batch.promptLengths), targets: batch.targets)
        }.item
        XCTAssertEqual(loss, byHand)
        var causalConfig = config.model
        causalConfig.attention = .causal
        let causal = model.withPositions(causalConfig)
        XCTAssertNotEqual(loss, Autograd.noGrad { completionLoss(model: causal, batch: batch, dropout: nil) }.item)
        let trainer = try Trainer(config: config, corpus: corpus, options: options("prefix"))
        try trainer.run()
        XCTAssertLessThan(trainer.stepLosses.last!, 0.6 * trainer.stepLosses.first!)
        // Fine-tuning a causal checkpoint as a prefix LM: the trainer's model reads the run's attention, same weights.
        let fromCausal = try Trainer(config: config, corpus: corpus, options: options("from-causal"), initialModel: causal)
        XCTAssertEqual(fromCausal.model.config.attention, .prefix_lm)
        XCTAssertEqual(fromCausal.model.parameters.map { $0.tensor.toArray() }, causal.parameters.map { $0.tensor.toArray() })
        XCTAssertEqual(Autograd.noGrad { completionLoss(model: fromCausal.model, batch: batch, dropout: nil) }.item, loss)
        // Plain text has no prompt: refused before anything is built.
        let textCorpus = try Corpus.build(text: text, config: textConfig())
        XCTAssertThrowsError(try Trainer.checked(textConfig { $0.model.attention = .prefix_lm }, for: textCorpus)) { error in
            XCTAssertTrue("\(error)".contains("model.attention = prefix_lm"), "\(error)")
        }
    }
}
