import Foundation
import Kernels
import Autograd
import Model
import Config
import Formats
import Generate
import Tokenizer

/// The frozen model a distill run learns from: logits for the student's
/// batches, computed without gradients (no autograd recording).
public final class DistillationTeacher {
    /// The teacher's config as stored (its model section sizes the teacher).
    public let config: RunConfig
    /// The teacher's tokenizer.json: a fresh distill run's student takes it.
    public let tokenizerJSON: Data
    /// Where it was opened from, for the console; nil for a teacher in memory.
    public let directory: URL?
    /// Logits (rows, length, V) at every position of `rows` windows of `length` ids.
    let logits: (_ ids: [Int32], _ rows: Int, _ length: Int, _ promptLengths: [Int]?) -> Tensor

    /// A float model in memory as the teacher (tests, `bench train`).
    public init(model: GPT, config: RunConfig, tokenizerJSON: Data = Data()) {
        self.config = config
        self.tokenizerJSON = tokenizerJSON
        directory = nil
        logits = DistillationTeacher.forward(model)
    }

    /// Opens a checkpoint or run directory as a teacher: float (adapters merged)
    /// through its autograd model under noGrad, quantized through the per-token
    /// inference path one window at a time.
    public init(path: String) throws {
        let opened: LanguageModel
        do { opened = try LanguageModel(path) } catch {
            throw TrainingError("--teacher '\(path)': \(error)")
        }
        config = opened.config
        tokenizerJSON = opened.tokenizerJSON
        directory = opened.directory
        if case .quantized = opened.storage {
            let window = try opened.positionLogits(model: opened.config.model, context: nil, batch: 1).logits
            logits = { ids, rows, length, _ in window(ids, rows, length) }
        } else {
            logits = DistillationTeacher.forward(try opened.gpt(model: opened.config.model, purpose: "a distillation teacher"))
        }
    }

    static func forward(_ model: GPT) -> ([Int32], Int, Int, [Int]?) -> Tensor {
        { ids, rows, length, promptLengths in
            Autograd.noGrad {
                model(ids, batch: rows, length: length, prefixLengths: model.config.attention == .prefix_lm ? promptLengths : nil)
            }
        }
    }

    public var vocabSize: Int { config.model.vocabSize ?? 0 }

    /// Refuses a student the teacher cannot teach, before any training: the
    /// same tokenizer (vocabulary size, the bytes of every token, the special
    /// tokens) and a teacher context at least the student's.
    public func check(studentTokenizer student: any Tokenizer, studentContext: Int) throws {
        let source = directory.map { "--teacher '\($0.path)'" } ?? "the teacher"
        if !tokenizerJSON.isEmpty, tokenizerJSON != Data(student.jsonString().utf8) {
            let teacher = try TokenizerFile.load(data: tokenizerJSON)
            if let difference = tokenizerDifference(teacher, student) {
                throw TrainingError("\(source) has a different tokenizer from the student's (\(difference)); distillation compares distributions over the same tokens: train the student with the teacher's tokenizer (a fresh distill run takes it)")
            }
        } else if vocabSize != student.vocabSize {
            throw TrainingError("\(source) has \(vocabSize) tokens, the student's tokenizer \(student.vocabSize); distillation compares distributions over the same tokens")
        }
        let context = config.model.contextLength
        guard context >= studentContext else {
            throw TrainingError("\(source) has a context of \(context) tokens, shorter than the student's model.context_length \(studentContext); set model.context_length to at most \(context)")
        }
    }

    /// Teacher logits for a batch of training windows or examples.
    func logits(_ ids: [Int32], rows: Int, length: Int, promptLengths: [Int]? = nil) -> Tensor {
        logits(ids, rows, length, promptLengths)
    }
}

/// How two tokenizers differ, or nil when they map every id to the same bytes
/// and have the same special tokens.
func tokenizerDifference(_ a: any Tokenizer, _ b: any Tokenizer) -> String? {
    if a.vocabSize != b.vocabSize { return "\(a.vocabSize) tokens against \(b.vocabSize)" }
    for id in 0..<a.vocabSize where a.decodeBytes([id]) != b.decodeBytes([id]) {
        return "token \(id) is '\(a.decode([id]))' against '\(b.decode([id]))'"
    }
    if a.specialTokens != b.specialTokens { return "their special tokens differ" }
    return nil
}

/// The cross-entropy and KL parts of distillation steps, averaged over the
/// steps since the last log line.
struct DistillationParts {
    var crossEntropy = 0.0, kl = 0.0, steps = 0

    mutating func add(crossEntropy ce: Double, kl k: Double) { crossEntropy += ce; kl += k; steps += 1 }

    var figures: Figures {
        let n = Double(max(steps, 1))
        return Figures([("distill/ce", crossEntropy / n), ("distill/kl", kl / n)])
    }
}

extension Trainer {
    /// The distill objective's forward and backward passes: `accumulation`
    /// micro-batches of random windows (text) or examples (prompt–completion,
    /// completion tokens only, weighted by their count as sft is). Returns the
    /// step's loss; its cross-entropy and KL parts go to the interval's figures.
    func distillationStep(batch: Int, length: Int, accumulation: Int) throws -> (loss: Float, tokens: Int) {
        guard let teacher else { throw TrainingError("train.objective distill needs a teacher") }
        let t = config.train
        typealias MicroBatch = (inputs: [Int32], targets: [Int32], rows: Int, length: Int, prompts: [Int]?, weight: Float)
        var micro: [MicroBatch] = []
        if let examples = corpus.examples {
            let batches = (0..<accumulation).map { (_: Int) -> SequenceBatch in
                SequenceBatch(sampler.nextExamples(count: examples.train.count, batch: batch).map { examples.train[$0].chosen })
            }
            let total = Float(max(batches.map(\.scoredCount).reduce(0, +), 1))
            micro = batches.map { (b: SequenceBatch) -> MicroBatch in
                (b.inputs, b.targets, b.rows, b.length, b.promptLengths, Float(b.scoredCount) / total)
            }
        } else {
            for _ in 0..<accumulation {
                let (inputs, targets) = sampler.next(from: corpus.train, batch: batch, length: length)
                micro.append((inputs, targets, batch, length, nil, 1 / Float(accumulation)))
            }
        }
        var loss = 0.0, ce = 0.0, kl = 0.0, tokens = 0
        for m in micro {
            let teacherLogits = teacher.logits(m.inputs, rows: m.rows, length: m.length, promptLengths: m.prompts)
            let prefix = model.config.attention == .prefix_lm ? m.prompts : nil
            let logits = model(m.inputs, batch: m.rows, length: m.length, dropout: dropout, prefixLengths: prefix)
            let part = distillationLoss(logits, teacher: teacherLogits, targets: m.targets, ignoreIndex: SequenceBatch.ignored,
                                        temperature: Float(t.distillTemperature), alpha: Float(t.distillAlpha))
            guard part.loss.item.isFinite else { throw nonFinite("loss", part.loss.item) }
            scale(part.loss, m.weight).backward()
            loss += Double(part.loss.item) * Double(m.weight)
            ce += part.crossEntropy * Double(m.weight)
            kl += part.kl * Double(m.weight)
            tokens += m.rows * m.length
        }
        intervalDistillation.add(crossEntropy: ce, kl: kl)
        return (Float(loss), tokens)
    }
}
