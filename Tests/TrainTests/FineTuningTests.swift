import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Tokenizer
import Train
import Config

/// Supervised fine-tuning and DPO: the data formats, fitting examples to the
/// context, the completion-only loss, the DPO loss and its figures, and
/// training runs on toy sets.
final class FineTuningTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("finetune") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let alphabet = "abcdefghijklmnopqrstuvwxyz .,?:!\n"

    func tokenizer() throws -> any Tokenizer { try CharTokenizer(trainingText: alphabet, specialTokens: ["<|endoftext|>"]) }

    func tinyConfig(_ objective: TrainingObjective, _ change: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.model.contextLength = 24; c.model.nLayer = 1; c.model.dModel = 16; c.model.nHead = 2; c.model.dFF = 32
        c.train.batchSize = 4; c.train.maxSteps = 8; c.train.warmupSteps = 0; c.train.evalInterval = 4
        c.train.evalSteps = 2; c.train.logInterval = 1; c.train.lr = 1e-2; c.train.objective = objective
        c.data.path = "toy.jsonl"
        change(&c)
        return c
    }

    /// A toy preference set: answer "yes." to every question, never "no.".
    func preferenceExamples(_ count: Int = 24) -> [TextExample] {
        (0..<count).map { i in
            TextExample(prompt: "q\(String(repeating: "abcde".map(String.init)[i % 5], count: 1 + i % 3))?", chosen: " yes.", rejected: " no.")
        }
    }

    func corpus(_ examples: [TextExample], format: DataFormat, config: RunConfig) throws -> Corpus {
        let t = try tokenizer()
        var corpus = Corpus(tokenizer: t, train: [], validation: [])
        corpus.examples = try ExampleSet(format: format, examples: examples, tokenizer: t, contextLength: config.model.contextLength,
                                         valFraction: config.data.valFraction, path: "toy.jsonl")
        return corpus
    }

    func trainer(_ config: RunConfig, corpus: Corpus, initial: GPT?, run: String, resume: Bool = false, stopAfter: Int? = nil) throws -> Trainer {
        var options = TrainerOptions(runDirectory: directory.appendingPathComponent(run))
        options.log = { _ in }
        options.resume = resume
        options.stopAfterStep = stopAfter
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial)
    }

    func model(_ config: RunConfig, seed: UInt64 = 5) throws -> GPT {
        var m = config.model
        m.vocabSize = try tokenizer().vocabSize
        return GPT(config: m, seed: seed)
    }

    func metrics(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: directory.appendingPathComponent(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    // MARK: data files

    func testFormatsAreChosenFromExtensionAndContent() throws {
        let pc = "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n{\"prompt\": \"\", \"completion\": \"c\"}\n"
        XCTAssertEqual(try ExampleFile.read(path: "x.jsonl", text: pc).format, .promptCompletion)
        XCTAssertEqual(try ExampleFile.read(path: "x.txt", text: pc).examples, [TextExample(prompt: "a", completion: "b"), TextExample(prompt: "", completion: "c")])
        let pref = "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n"
        XCTAssertEqual(try ExampleFile.read(path: "data", text: pref).format, .preference)
        XCTAssertEqual(try ExampleFile.read(path: "story.txt", text: "{curly} text\nmore").format, .text)
        XCTAssertEqual(try ExampleFile.read(path: "story.txt", text: "{\"title\": 1}\n").format, .text, "JSON without a prompt is text")
    }

    func testMalformedLinesNameTheFileAndLine() {
        func message(_ text: String, path: String = "d.jsonl") -> String {
            do { _ = try ExampleFile.read(path: path, text: text); return "" } catch { return "\(error)" }
        }
        let good = "{\"prompt\": \"a\", \"completion\": \"b\"}\n"
        XCTAssertTrue(message(good + good + "{\"prompt\": \"a\", \"completion\": \n").hasPrefix("data file 'd.jsonl' line 3: not valid JSON"), message(good + good + "{\"prompt\": \"a\""))
        XCTAssertTrue(message(good + "{\"prompt\": \"a\"}").contains("line 2: missing \"completion\""))
        XCTAssertTrue(message("{\"prompt\": \"a\", \"completion\": \"\"}").contains("line 1: \"completion\" is empty"))
        XCTAssertTrue(message("{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"\"}").contains("\"rejected\" is empty"))
        XCTAssertTrue(message("{\"prompt\": 3, \"completion\": \"b\"}").contains("\"prompt\" must be a string"))
        XCTAssertTrue(message("{\"prompt\": \"a\", \"answer\": \"b\"}").contains("unknown key 'answer'"))
        XCTAssertTrue(message(good + "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}").contains("line 2: is a preference example, but the file's first example is prompt-completion"))
        XCTAssertTrue(message("[1, 2]").contains("line 1: expected a JSON object"))
        XCTAssertTrue(message("\n  \n").contains("holds no examples"))
    }

    // MARK: fitting to the context

    func testLongPromptsAreTruncatedFromTheLeftAndHopelessExamplesSkipped() throws {
        let t = try tokenizer()
        let end = Int32(t.id(ofSpecial: "<|endoftext|>")!)
        let examples = [TextExample(prompt: "abcdefghij", completion: "xyz"),      // 10 + 3 + eos = 14 > 9: prompt loses 5
                        TextExample(prompt: "ab", completion: "xy"),               // fits
                        TextExample(prompt: "ab", completion: "qrstuvwxyz"),       // 11 + eos: prompt keeps 1, completion cut
                        TextExample(prompt: "", completion: "q")]
        let set = try ExampleSet(format: .promptCompletion, examples: examples, tokenizer: t, contextLength: 8, valFraction: nil, path: "d")
        XCTAssertEqual(set.train.count, 4)
        let first = set.train[0].chosen
        XCTAssertEqual(first.tokens.count, 9)
        XCTAssertEqual(first.promptLength, 5)
        XCTAssertEqual(t.decode(first.tokens.prefix(5).map(Int.init)), "fghij", "the prompt keeps its end")
        XCTAssertEqual(first.tokens.last, end, "the completion ends with the end-of-text token")
        XCTAssertEqual(first.scoredCount, 4)
        XCTAssertEqual(set.train[2].chosen.promptLength, 1)
        XCTAssertEqual(set.train[2].chosen.tokens.count, 9)
        XCTAssertEqual(set.train[3].chosen.scoredCount, 1, "no prompt: the first completion token has nothing to predict it from")
        XCTAssertEqual(set.promptsTruncated, 2)
        XCTAssertEqual(set.completionsTruncated, 1)
        XCTAssertEqual(set.skipped, 0)
        XCTAssertNotNil(set.fittingNote)

        // Without an end-of-text token, a one-token completion after an empty prompt has nothing to score.
        let plain = try CharTokenizer(trainingText: alphabet)
        let skipped = try ExampleSet(format: .promptCompletion, examples: [TextExample(prompt: "", completion: "q"), TextExample(prompt: "a", completion: "b")],
                                     tokenizer: plain, contextLength: 8, valFraction: nil, path: "d")
        XCTAssertEqual(skipped.skipped, 1)
        XCTAssertEqual(skipped.train.count, 1)
        XCTAssertThrowsError(try ExampleSet(format: .promptCompletion, examples: [TextExample(prompt: "", completion: "q")],
                                            tokenizer: plain, contextLength: 8, valFraction: 0.1, path: "d")) { error in
            XCTAssertTrue("\(error)".contains("0 usable examples (1 skipped"), "\(error)")
        }
        // Preference pairs share one prompt, cut for the longer completion.
        let pair = try ExampleSet(format: .preference, examples: [TextExample(prompt: "abcdef", chosen: "xy", rejected: "qrstu")],
                                  tokenizer: t, contextLength: 8, valFraction: nil, path: "d")
        XCTAssertEqual(pair.train[0].chosen.promptLength, 3)
        XCTAssertEqual(pair.train[0].rejected!.promptLength, 3)
        XCTAssertEqual(pair.train[0].rejected!.tokens.count, 9)
    }

    func testBatchesScoreOnlyCompletionTokens() {
        let a = TokenizedSequence(tokens: [1, 2, 3, 4, 5], promptLength: 3)   // scores 4, 5
        let b = TokenizedSequence(tokens: [6, 7], promptLength: 1)            // scores 7
        let batch = SequenceBatch([a, b])
        XCTAssertEqual(batch.length, 4)
        XCTAssertEqual(batch.inputs, [1, 2, 3, 4, 6, 0, 0, 0])
        XCTAssertEqual(batch.targets, [-100, -100, 4, 5, 7, -100, -100, -100])
        XCTAssertEqual(batch.scoredCount, 3)
    }

    // MARK: losses

    /// The SFT loss is the mean cross-entropy of completion tokens: prompt
    /// positions get no gradient, and what they would predict does not matter.
    func testPromptTokensContributeNoGradientInSFT() throws {
        let config = tinyConfig(.sft)
        let gpt = try model(config)
        let batch = SequenceBatch([TokenizedSequence(tokens: [3, 4, 5, 6, 7, 8], promptLength: 4),
                                   TokenizedSequence(tokens: [9, 10, 11], promptLength: 2)])
        let logits = Autograd.noGrad { gpt(batch.inputs, batch: batch.rows, length: batch.length) }
        let leaf = Tensor(logits.toArray(), shape: logits.shape, requiresGrad: true)
        let loss = crossEntropy(leaf, targets: batch.targets)
        loss.backward()
        let v = logits.shape[2], g = leaf.grad!.toArray()
        for (row, target) in batch.targets.enumerated() {
            let norm = g[(row * v)..<((row + 1) * v)].map(abs).reduce(0, +)
            if target == SequenceBatch.ignored { XCTAssertEqual(norm, 0, "row \(row) is prompt or padding") } else { XCTAssertGreaterThan(norm, 0) }
        }
        // By hand: mean over the three completion tokens.
        var total = 0.0
        for (row, target) in batch.targets.enumerated() where target != SequenceBatch.ignored {
            let r = logits.toArray()[(row * v)..<((row + 1) * v)].map(Double.init)
            let m = r.max()!
            total += m + log(r.map { exp($0 - m) }.reduce(0, +)) - r[Int(target)]
        }
        XCTAssertEqual(Double(completionLoss(model: gpt, batch: batch, dropout: nil).item), total / 3, accuracy: 1e-5)
        // Masked targets may hold anything: same loss, same parameter gradients.
        func parameterGradients(_ prompt: [Int32]) -> [[Float]] {
            for p in gpt.parameters { p.tensor.grad = nil }
            let b = SequenceBatch([TokenizedSequence(tokens: prompt + [7, 8], promptLength: 4),
                                   TokenizedSequence(tokens: [9, 10, 11], promptLength: 2)])
            completionLoss(model: gpt, batch: b, dropout: nil).backward()
            return gpt.parameters.map { $0.tensor.grad?.toArray() ?? [] }
        }
        let before = parameterGradients([3, 4, 5, 6]), after = parameterGradients([3, 4, 5, 6])
        XCTAssertEqual(before, after)
    }

    func testDPOLossMatchesTheFormulaAndItsGradient() throws {
        let chosen = Tensor([-4.0, -7.5, -1.25], shape: [3]), rejected = Tensor([-5.0, -6.0, -9.0], shape: [3])
        let refChosen: [Float] = [-4.5, -7.0, -2.0], refRejected: [Float] = [-4.0, -6.5, -8.0]
        let beta: Float = 0.1
        let (loss, stats) = dpoLoss(policyChosen: chosen, policyRejected: rejected, referenceChosen: refChosen, referenceRejected: refRejected, beta: beta)
        var expected = 0.0, rewardsChosen = 0.0, rewardsRejected = 0.0, accuracy = 0.0
        for i in 0..<3 {
            let rc = Double(beta) * Double(chosen.data[i] - refChosen[i]), rr = Double(beta) * Double(rejected.data[i] - refRejected[i])
            expected += -log(1 / (1 + exp(-(rc - rr)))) / 3
            rewardsChosen += rc / 3; rewardsRejected += rr / 3; accuracy += rc > rr ? 1.0 / 3 : 0
        }
        XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-6)
        XCTAssertEqual(stats.rewardsChosen, rewardsChosen, accuracy: 1e-6)
        XCTAssertEqual(stats.rewardsRejected, rewardsRejected, accuracy: 1e-6)
        XCTAssertEqual(stats.margin, rewardsChosen - rewardsRejected, accuracy: 1e-6)
        XCTAssertEqual(stats.accuracy, accuracy, accuracy: 1e-9)
        XCTAssertEqual(stats.logpsChosen, (-4.0 - 7.5 - 1.25) / 3, accuracy: 1e-6)
        // Gradient through the whole loss: policy scores (awkward: 3 pairs, large β).
        let c = compareGradients(of: [chosen, rejected]) {
            dpoLoss(policyChosen: chosen, policyRejected: rejected, referenceChosen: refChosen, referenceRejected: refRejected, beta: 2.5).loss
        }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 1e-2).ratio, 1)
        // Policy = reference: ln 2, whatever β.
        let same = dpoLoss(policyChosen: Tensor(refChosen, shape: [3]), policyRejected: Tensor(refRejected, shape: [3]),
                           referenceChosen: refChosen, referenceRejected: refRejected, beta: 7)
        XCTAssertEqual(Double(same.loss.item), log(2), accuracy: 1e-7)
        // Extremes: a huge margin either way stays finite with a finite gradient.
        let far = Tensor([1e4, -1e4], shape: [2], requiresGrad: true)
        let (extreme, _) = dpoLoss(policyChosen: far, policyRejected: Tensor([-1e4, 1e4], shape: [2]),
                                   referenceChosen: [0, 0], referenceRejected: [0, 0], beta: 1)
        XCTAssertEqual(Double(extreme.item), 2e4 / 2, accuracy: 1)
        extreme.backward()
        XCTAssertEqual(far.grad!.toArray(), [0, -0.5])
    }

    /// The whole DPO path (forward, sequence scores, loss) against finite differences on a model parameter.
    func testDPOGradientThroughTheModel() throws {
        let config = tinyConfig(.dpo)
        let gpt = try model(config)
        let set = try ExampleSet(format: .preference, examples: Array(preferenceExamples(3)), tokenizer: try tokenizer(),
                                 contextLength: config.model.contextLength, valFraction: nil, path: "d")
        let reference = ReferenceLogProbs(model: try model(config, seed: 9), examples: set.train, batch: 2)
        let weight = gpt.parameters.first { $0.name.hasSuffix("attn.query.weight") || $0.name.contains("query") }?.tensor ?? gpt.parameters[2].tensor
        let c = compareGradients(of: [weight], step: 1e-2) {
            let s = pairLogProbs(model: gpt, pairs: set.train, dropout: nil)
            return dpoLoss(policyChosen: s.chosen, policyRejected: s.rejected, referenceChosen: reference.chosen,
                           referenceRejected: reference.rejected, beta: 0.5).loss
        }
        XCTAssertLessThanOrEqual(c.worst(absolute: 3e-3, relative: 2e-2).ratio, 1)
    }

    // MARK: training runs

    func testDPOStartsAtLn2AndLearnsAToyPreference() throws {
        let config = tinyConfig(.dpo) { $0.train.maxSteps = 30; $0.train.evalInterval = 30; $0.train.dpoBeta = 0.5 }
        let data = try corpus(preferenceExamples(), format: .preference, config: config)
        let t = try trainer(config, corpus: data, initial: try model(config), run: "dpo")
        try t.run()
        let records = try metrics("dpo")
        let evaluations = records.filter { $0["val_loss"] != nil }
        XCTAssertEqual(evaluations.first?["step"] as? Int, 0)
        XCTAssertEqual(evaluations.first?["val_loss"] as? Double ?? 0, log(2), accuracy: 1e-5, "policy = reference at step 0")
        XCTAssertEqual(evaluations.first?["eval_rewards/margins"] as? Double, 0)
        XCTAssertEqual(evaluations.last?["eval_rewards/accuracies"] as? Double, 1.0)
        XCTAssertGreaterThan(evaluations.last?["eval_rewards/margins"] as? Double ?? 0, 0)
        let logs = records.filter { $0["rewards/accuracies"] != nil }
        XCTAssertEqual(logs.count, 30)
        for key in ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"] {
            XCTAssertNotNil(logs.last?[key], key)
        }
        let svg = try String(contentsOf: directory.appendingPathComponent("dpo/loss.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("reward accuracy"), "DPO runs plot reward accuracy and margin")
    }

    func testDPOIsDeterministicAndResumesBitForBit() throws {
        let config = tinyConfig(.dpo) { $0.model.dropout = 0.1; $0.train.maxSteps = 6; $0.train.evalInterval = 3 }
        let data = try corpus(preferenceExamples(), format: .preference, config: config)
        let whole = try trainer(config, corpus: data, initial: try model(config), run: "whole")
        try whole.run()
        let again = try trainer(config, corpus: data, initial: try model(config), run: "again")
        try again.run()
        XCTAssertEqual(whole.stepLosses, again.stepLosses, "same seed, same numbers")
        let first = try trainer(config, corpus: data, initial: try model(config), run: "split", stopAfter: 3)
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(config, corpus: data, initial: nil, run: "split", resume: true)
        XCTAssertEqual(second.reference, whole.reference, "the reference scores come back from the checkpoint")
        try second.run()
        XCTAssertEqual(first.stepLosses + second.stepLosses, whole.stepLosses)
        XCTAssertEqual(whole.model.parameters.map { $0.tensor.toArray() }, second.model.parameters.map { $0.tensor.toArray() })
    }

    func testSFTLearnsTheCompletionsAndIsDeterministic() throws {
        let examples = (0..<24).map { i in TextExample(prompt: "q\(["a", "b", "c"][i % 3])?", completion: " ok.") }
        let config = tinyConfig(.sft) { $0.train.maxSteps = 25; $0.train.evalInterval = 25; $0.train.gradAccumSteps = 2 }
        let data = try corpus(examples, format: .promptCompletion, config: config)
        let a = try trainer(config, corpus: data, initial: nil, run: "a")
        try a.run()
        let b = try trainer(config, corpus: data, initial: nil, run: "b")
        try b.run()
        XCTAssertEqual(a.stepLosses, b.stepLosses)
        let first = try trainer(config, corpus: data, initial: nil, run: "split", stopAfter: 11)
        XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is TrainingInterrupted) }
        let second = try trainer(config, corpus: data, initial: nil, run: "split", resume: true)
        try second.run()
        XCTAssertEqual(first.stepLosses + second.stepLosses, a.stepLosses, "an SFT run resumes bit for bit")
        let evaluations = try metrics("a").filter { $0["val_loss"] != nil }
        let start = evaluations.first!["val_loss"] as! Double, end = evaluations.last!["val_loss"] as! Double
        XCTAssertLessThan(end, start / 3, "the completion is learned")
    }

    /// `bench train` times the steps a run takes: a trainer that only takes
    /// steps (no files, no evaluations) computes the same losses and weights
    /// as `run()` on the same data, for every objective and with LoRA.
    func testBenchmarkTrainerTakesTheStepsARunTakes() throws {
        let sftExamples = (0..<24).map { i in TextExample(prompt: "q\(["a", "b", "c"][i % 3])?", completion: " ok.") }
        let cases: [(String, RunConfig, DataFormat, [TextExample])] = [
            ("sft", tinyConfig(.sft) { $0.train.gradAccumSteps = 2; $0.model.dropout = 0.1 }, .promptCompletion, sftExamples),
            ("sft+lora", tinyConfig(.sft) { $0.lora = LoRAConfig(); $0.lora!.rank = 2; $0.lora!.dropout = 0.1 }, .promptCompletion, sftExamples),
            ("dpo", tinyConfig(.dpo), .preference, preferenceExamples()),
        ]
        for (name, config, format, examples) in cases {
            let data = try corpus(examples, format: format, config: config)
            let initial = config.train.objective == .dpo ? try model(config) : nil
            let run = try trainer(config, corpus: data, initial: initial, run: name)
            try run.run()
            let bench = try Trainer(config: config, corpus: data, options: {
                var o = TrainerOptions(runDirectory: directory.appendingPathComponent("unused"))
                o.recordsMetrics = false; o.log = { _ in }
                return o
            }(), initialModel: config.train.objective == .dpo ? try model(config) : nil)
            for _ in 0..<config.train.maxSteps { try bench.takeStep() }
            XCTAssertEqual(bench.stepLosses, run.stepLosses, name)
            XCTAssertEqual(bench.model.parameters.map { $0.tensor.toArray() }, run.model.parameters.map { $0.tensor.toArray() }, name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("unused").path), "a step-only trainer writes nothing")
        }
    }

    /// The shipped sets (made by bench/experiments/finetune_example.py) are what the
    /// example promises: 300 examples each, readable by the default
    /// character-level model, fitting its context, with the split described.
    func testShippedFineTuningSets() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpusText = try String(contentsOf: root.appendingPathComponent("data/corpus.txt"), encoding: .utf8)
        let chars = try CharTokenizer(trainingText: corpusText)
        for (name, format, objective) in [("sft", DataFormat.promptCompletion, "sft"), ("preferences", .preference, "dpo")] {
            let path = root.appendingPathComponent("data/\(name).jsonl").path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let (found, examples) = try ExampleFile.read(path: path, text: text)
            XCTAssertEqual(found, format, name)
            XCTAssertEqual(examples.count, 300, name)
            let set = try ExampleSet(format: format, examples: examples, tokenizer: chars, contextLength: 64, valFraction: 0.1, path: path)
            XCTAssertEqual(set.train.count, 270, name)
            XCTAssertEqual(set.skipped + set.completionsTruncated, 0, name)
            XCTAssertLessThanOrEqual(set.promptsTruncated, 3, name)
            let config = try RunConfig.load(from: root.appendingPathComponent("configs/\(objective == "sft" ? "sft" : "dpo").json"))
            XCTAssertEqual(config.train.objective.rawValue, objective)
            XCTAssertEqual(config.data.path, "data/\(name).jsonl")
        }
    }

    /// SFT averages over every completion token of the step, across
    /// micro-batches: two micro-batches of 2 equal one batch of 4 (the same
    /// examples are drawn), even when the examples' completions differ in length.
    func testSFTAccumulationWeighsByCompletionTokens() throws {
        let examples = (0..<24).map { i in
            TextExample(prompt: "q\(["a", "b", "c"][i % 3])?", completion: String(repeating: " ok.", count: 1 + i % 4))
        }
        let whole = tinyConfig(.sft) { $0.train.maxSteps = 1; $0.train.evalInterval = 1; $0.train.evalSteps = 1 }
        let split = tinyConfig(.sft) { $0.train.maxSteps = 1; $0.train.evalInterval = 1; $0.train.evalSteps = 1
                                       $0.train.batchSize = 2; $0.train.gradAccumSteps = 2 }
        let data = try corpus(examples, format: .promptCompletion, config: whole)
        let a = try trainer(whole, corpus: data, initial: try model(whole), run: "whole")
        try a.run()
        let b = try trainer(split, corpus: data, initial: try model(split), run: "split")
        try b.run()
        XCTAssertEqual(a.stepLosses[0], b.stepLosses[0], accuracy: 1e-5)
        for (x, y) in zip(a.model.parameters, b.model.parameters) {
            let (u, v) = (x.tensor.toArray(), y.tensor.toArray())
            for i in u.indices { XCTAssertEqual(u[i], v[i], accuracy: 1e-5 + 1e-4 * abs(u[i]), x.name) }
        }
    }

    func testObjectiveMustFitTheData() throws {
        let preference = try corpus(preferenceExamples(), format: .preference, config: tinyConfig(.sft))
        XCTAssertThrowsError(try Trainer.checked(tinyConfig(.sft), for: preference)) { error in
            XCTAssertTrue("\(error)".hasPrefix("train.objective is sft but data file 'toy.jsonl' holds preference examples"), "\(error)")
        }
        XCTAssertThrowsError(try Trainer.checked(tinyConfig(.lm), for: preference))
        let text = try Corpus(tokenizer: try tokenizer(), trainText: String(repeating: "abc ", count: 40), validationText: String(repeating: "abc ", count: 20))
        XCTAssertThrowsError(try Trainer.checked(tinyConfig(.dpo), for: text)) { error in
            XCTAssertTrue("\(error)".contains("holds plain text"), "\(error)")
        }
        XCTAssertThrowsError(try trainer(tinyConfig(.dpo), corpus: preference, initial: nil, run: "no-init")) { error in
            XCTAssertTrue("\(error)".contains("needs --init-from"), "\(error)")
        }
    }
}
