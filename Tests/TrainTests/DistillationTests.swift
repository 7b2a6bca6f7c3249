import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import Model
import Tokenizer
import Train
import Config

/// The distill objective in the trainer: a teacher trained a few steps, a
/// student distilled from it on text and on prompt–completion examples, the
/// logged parts, reproducibility, what α = 0 leaves unchanged, and the
/// teacher checks.
final class DistillationTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("distill") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let text = String(repeating: "the cat sat on the mat. the dog ran to the cat. ", count: 40)

    func tokenizer() throws -> CharTokenizer { try CharTokenizer(trainingText: text) }

    func corpus() throws -> Corpus {
        let (train, validation) = Corpus.split(text, valFraction: 0.1)
        return try Corpus(tokenizer: try tokenizer(), trainText: train, validationText: validation)
    }

    func config(_ objective: TrainingObjective, layers: Int = 1, _ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 16; c.model.nLayer = layers; c.model.dModel = 16; c.model.nHead = 2
        c.train.batchSize = 4; c.train.maxSteps = 6; c.train.warmupSteps = 0; c.train.evalInterval = 3
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 1e-2; c.train.objective = objective
        if objective == .distill { c.train.teacher = "in memory" }
        change(&c)
        return c
    }

    func trainer(_ config: RunConfig, corpus: Corpus, run: String, teacher: DistillationTeacher? = nil) throws -> Trainer {
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.log = { _ in }
        return try Trainer(config: config, corpus: corpus, options: options, teacher: teacher)
    }

    /// A two-layer teacher trained a few steps on the text.
    func teacher() throws -> DistillationTeacher {
        let t = try trainer(config(.lm, layers: 2), corpus: try corpus(), run: "teacher")
        try t.run()
        return DistillationTeacher(model: t.model, config: t.config, tokenizerJSON: Data(try tokenizer().jsonString().utf8))
    }

    func metrics(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: directory.appendingPathComponent(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testStudentLearnsOnTextWithBothPartsLogged() throws {
        let teacher = try teacher()
        let student = try trainer(config(.distill), corpus: try corpus(), run: "student", teacher: teacher)
        try student.run()
        XCTAssertEqual(student.stepLosses.count, 6)
        XCTAssertTrue(student.stepLosses.allSatisfy(\.isFinite))
        let lines = try metrics("student")
        let logs = lines.filter { $0["loss"] != nil }, evaluations = lines.filter { $0["val_loss"] != nil }
        XCTAssertEqual(logs.count, 6)
        for line in logs {
            let (loss, ce, kl) = (line["loss"] as! Double, line["distill/ce"] as! Double, line["distill/kl"] as! Double)
            XCTAssertTrue(ce > 0 && kl >= 0)
            // One step per log line: the loss is α·T²·kl + (1 − α)·ce (defaults α 0.5, T 2), to the 6 digits written.
            XCTAssertEqual(loss, 0.5 * 4 * kl + 0.5 * ce, accuracy: 1e-4 * loss)
        }
        // Evaluations stay the plain cross-entropy, with perplexity.
        XCTAssertTrue(evaluations.allSatisfy { $0["val_perplexity"] != nil && $0["eval_distill/kl"] == nil })
    }

    func testSameSeedSameNumbers() throws {
        let teacher = try teacher()
        let a = try trainer(config(.distill), corpus: try corpus(), run: "a", teacher: teacher)
        let b = try trainer(config(.distill), corpus: try corpus(), run: "b", teacher: teacher)
        for _ in 0..<3 { try a.takeStep(); try b.takeStep() }
        XCTAssertEqual(a.stepLosses, b.stepLosses)
        XCTAssertEqual(a.model.parameters.map { $0.tensor.toArray() }, b.model.parameters.map { $0.tensor.toArray() })
    }

    /// α = 0 is training on the data alone: the same steps as lm, bit for bit.
    func testAlphaZeroIsLanguageModelling() throws {
        let teacher = try teacher()
        let distilled = try trainer(config(.distill) { $0.train.distillAlpha = 0 }, corpus: try corpus(), run: "a", teacher: teacher)
        let alone = try trainer(config(.lm), corpus: try corpus(), run: "b")
        for _ in 0..<3 { try distilled.takeStep(); try alone.takeStep() }
        XCTAssertEqual(distilled.stepLosses, alone.stepLosses)
    }

    /// Prompt–completion examples: only completion tokens count in both parts.
    func testExamplesCountCompletionTokensOnly() throws {
        let tokenizer = try tokenizer()
        let examples = (0..<20).map { i in TextExample(prompt: "the \(["cat", "dog"][i % 2]) ", completion: "sat on the mat.") }
        var corpus = Corpus(tokenizer: tokenizer, train: [], validation: [])
        let c = config(.distill)
        corpus.examples = try ExampleSet(format: .promptCompletion, examples: examples, tokenizer: tokenizer, contextLength: c.model.contextLength,
                                         valFraction: 0.1, path: "toy.jsonl")
        let student = try trainer(c, corpus: corpus, run: "sft", teacher: try teacher())
        try student.run()
        XCTAssertTrue(student.stepLosses.allSatisfy(\.isFinite))
        // The CE part is the sft loss of the batch: with α = 0 the steps are sft's.
        let distilled = try trainer(config(.distill) { $0.train.distillAlpha = 0 }, corpus: corpus, run: "a", teacher: try teacher())
        let sft = try trainer(config(.sft), corpus: corpus, run: "b")
        for _ in 0..<2 { try distilled.takeStep(); try sft.takeStep() }
        XCTAssertEqual(distilled.stepLosses, sft.stepLosses)
    }

    func testTeacherChecks() throws {
        let teacher = try teacher()
        XCTAssertThrowsError(try trainer(config(.distill), corpus: try corpus(), run: "x")) {
            XCTAssertTrue("\($0)".contains("needs a teacher"), "\($0)")
        }
        // Another tokenizer of the same size: refused by its token table, not its size.
        let reversed = try CharTokenizer(chars: Array(String(Set(text)).unicodeScalars).sorted().reversed(), specialTokens: [:])
        XCTAssertEqual(reversed.vocabSize, try tokenizer().vocabSize)
        let (train, validation) = Corpus.split(text, valFraction: 0.1)
        let other = try Corpus(tokenizer: reversed, trainText: train, validationText: validation)
        XCTAssertThrowsError(try trainer(config(.distill), corpus: other, run: "x", teacher: teacher)) {
            XCTAssertTrue("\($0)".contains("different tokenizer") && "\($0)".contains("token 0"), "\($0)")
        }
        // A student context longer than the teacher's.
        XCTAssertThrowsError(try trainer(config(.distill) { $0.model.contextLength = 32 }, corpus: try corpus(), run: "x", teacher: teacher)) {
            XCTAssertTrue("\($0)".contains("context of 16 tokens"), "\($0)")
        }
    }

    func testConfigRefusesDistillFieldsElsewhere() throws {
        var c = config(.lm)
        c.train.distillTemperature = 3
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("train.distill_temperature"), "\($0)") }
        c = config(.distill)
        XCTAssertNoThrow(try c.validate())
        for bad in ["train.distill_alpha=-0.1", "train.distill_alpha=1.01", "train.distill_temperature=0", "train.distill_temperature=-1"] {
            var d = config(.distill)
            XCTAssertThrowsError(try { try d.apply(overrides: [bad]); try d.validate() }(), bad) {
                XCTAssertTrue("\($0)".contains(String(bad.prefix(while: { $0 != "=" }))), "\($0)")
            }
        }
        c.train.labelSmoothing = 0.1
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("train.label_smoothing"), "\($0)") }
    }
}
