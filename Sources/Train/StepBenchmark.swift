import Foundation
import Files
import Kernels
import Autograd
import Model
import Config
import Tokenizer
import Formats

/// Wall time of the phases of training steps (`Trainer.phases`), in the
/// order they first ran.
public struct PhaseTimes {
    public private(set) var nanoseconds: [(phase: String, total: UInt64)] = []

    public init() {}

    public mutating func add(_ phase: String, nanoseconds elapsed: UInt64) {
        if let i = nanoseconds.firstIndex(where: { $0.phase == phase }) { nanoseconds[i].total += elapsed } else { nanoseconds.append((phase, elapsed)) }
    }
}

/// Data for timing training steps (`bench train`): a data file, or a
/// built-in set shaped by the config. The values do not change the
/// arithmetic, the shapes do, so the built-in sets are random tokens that fill
/// the context: windows of text (lm), prompt–completion examples (sft),
/// preference pairs (dpo).
public enum StepBenchmarkData {
    /// Examples in a built-in set (training split; a few more validate).
    static let exampleCount = 64

    /// The corpus `bench train` trains on: `dataPath` read as `train` reads
    /// it, or the built-in set for the config's objective.
    public static func corpus(config: RunConfig, dataPath: String?) throws -> Corpus {
        if let dataPath {
            let text = try TextFile.read(dataPath, what: "data file")
            if text.isEmpty { throw TrainingError("data file '\(dataPath)' is empty") }
            let (format, examples) = try ExampleFile.read(path: dataPath, text: text)
            try Trainer.checkObjective(config.train.objective, format: format, dataPath: dataPath)
            guard format == .text else {
                return try TrainingRun.exampleCorpus(format: format, examples: examples, config: config, run: RunDirectory(URL(fileURLWithPath: dataPath)),
                                                     resumeFrom: nil, initialTokenizer: nil, progress: nil)
            }
            return try Corpus.build(text: text, config: config)
        }
        let vocabulary = config.expectedVocabularySize
        let tokenizer = try randomTokenizer(vocabulary: vocabulary)
        var generator = RandomGenerator(seed: 3)
        func tokens(_ count: Int) -> [Int32] { (0..<count).map { _ in Int32(generator.int(below: vocabulary)) } }
        let context = config.tokenContextLength
        switch config.train.objective {
        case .lm, .distill:
            let count = max(4 * config.train.batchSize * (context + 1), 4096)
            return Corpus(tokenizer: tokenizer, train: tokens(count), validation: tokens(max(context + 1, 256)))
        case .ppo, .grpo:
            throw TrainingError("bench train times lm, sft, dpo, reward and distill on built-in data; \(config.train.objective.rawValue) samples from a trained model: time a short `train --init-from` run instead")
        case .sft, .dpo, .reward:
            // A prompt of a quarter of the context, then a completion up to the context's end (+1: the last token is only a target).
            let promptLength = max(1, context / 4)
            let completionLength = max(1, context + (config.train.objective == .reward ? 0 : 1) - promptLength)  // a reward model reads every token
            func sequence(_ prompt: [Int32]) -> TokenizedSequence { TokenizedSequence(tokens: prompt + tokens(completionLength), promptLength: prompt.count) }
            let examples = (0..<(exampleCount + exampleCount / 8)).map { _ -> TokenizedExample in
                let prompt = tokens(promptLength)
                return TokenizedExample(chosen: sequence(prompt), rejected: config.train.objective == .sft ? nil : sequence(prompt))
            }
            var corpus = Corpus(tokenizer: tokenizer, train: [], validation: [])
            corpus.examples = ExampleSet(format: config.train.objective == .sft ? .promptCompletion : .preference,
                                         train: Array(examples.prefix(exampleCount)), validation: Array(examples.dropFirst(exampleCount)))
            return corpus
        }
    }

    /// A character tokenizer with exactly `vocabulary` tokens (Unicode
    /// scalars from "!" on, skipping the surrogate range).
    static func randomTokenizer(vocabulary: Int) throws -> CharTokenizer {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(vocabulary)
        var value: UInt32 = 0x21
        while scalars.count < vocabulary {
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
            value += 1
        }
        return try CharTokenizer(chars: scalars, specialTokens: [:])
    }
}

extension Trainer {
    /// A trainer that only takes steps, for timing them: nothing is read from
    /// or written to disk. Objectives that start from a checkpoint (dpo) start
    /// from a freshly initialised model instead; distill learns from `teacher`,
    /// else from a freshly initialised model of the student's config.
    public static func forBenchmark(config: RunConfig, corpus: Corpus, teacher: DistillationTeacher? = nil) throws -> Trainer {
        var config = config
        _ = config.shortenWarmupToRun()
        var teacher = teacher
        if config.train.objective == .distill && teacher == nil {
            var own = config.resolved()
            own.model.vocabSize = corpus.tokenizer.vocabSize
            teacher = DistillationTeacher(model: GPT(config: own.model, seed: UInt64(bitPattern: Int64(own.train.seed)) &+ 0x7EAC_4E), config: own)
        }
        let checked = try Trainer.checked(config, for: corpus, teacher: teacher)
        var options = TrainerOptions(runDirectory: URL(fileURLWithPath: "/nonexistent-bench-run"))
        options.recordsMetrics = false
        options.evaluateAtStart = false
        options.log = { _ in }
        let initial = checked.train.objective == .dpo ? GPT(config: checked.model, seed: UInt64(bitPattern: Int64(checked.train.seed))) : nil
        return try Trainer(config: config, corpus: corpus, options: options, initialModel: initial, teacher: teacher)
    }
}

/// `bench train`: the median of `Trainer.takeStep` over timed steps after two
/// warm-up steps (which fill the buffer pool), and peak resident memory.
public enum StepBenchmark {
    public struct Measurement {
        public let objective: String
        public let config: RunConfig
        public let parameters: Int, trainable: Int
        public let steps: Int, threads: Int
        public let tokensPerStep: Double
        /// The timed steps' milliseconds, sorted.
        public let milliseconds: [Double]
        public let peakResidentMegabytes: Double
        /// `--profile`: per op and per phase, one string per line.
        public let profile: [String]

        public var median: Double { milliseconds[milliseconds.count / 2] }

        public var json: String {
            let model = config.model, t = config.train
            return "{\"op\":\"train_step\",\"objective\":\"\(objective)\",\"batch\":\(t.batchSize),\"context\":\(model.contextLength),\"n_layer\":\(model.nLayer),\"d_model\":\(model.dModel),\"parameters\":\(parameters),\"trainable\":\(trainable),\"tokens_per_step\":\(Int(tokensPerStep.rounded())),\"threads\":\(threads),\"median_ms\":\(String(format: "%.2f", median)),\"min_ms\":\(String(format: "%.2f", milliseconds[0])),\"peak_rss_mb\":\(String(format: "%.1f", peakResidentMegabytes))}"
        }

        public var line: String {
            let lora = trainable == parameters ? "" : " (\(grouped(trainable)) trainable)"
            return String(format: "train step (%@): batch %d × context %d, %@ parameters%@, %.0f tokens per step, %d thread%@: median %.2f ms (min %.2f) over %d steps; peak RSS %.1f MB",
                          objective, config.train.batchSize, config.model.contextLength, grouped(parameters), lora, tokensPerStep, threads, threads == 1 ? "" : "s",
                          median, milliseconds[0], steps, peakResidentMegabytes)
        }
    }

    /// Trains `config` (LoRA when it has a lora section) on `dataPath` read as
    /// train reads it, else on the objective's built-in random tokens
    /// (`StepBenchmarkData`), for `steps` timed steps on `Parallel.threads`.
    public static func run(config: RunConfig, dataPath: String?, steps: Int, profile: Bool) throws -> Measurement {
        var config = config
        config.train.maxSteps = steps + 2
        let corpus = try StepBenchmarkData.corpus(config: config, dataPath: dataPath)
        let trainer = try Trainer.forBenchmark(config: config, corpus: corpus)
        var tokens = 0.0
        for step in 0..<(steps + 2) {  // two warm-up steps fill the buffer pool
            if profile && step == 2 { OpProfiler.isEnabled = true; OpProfiler.reset(); trainer.phases = PhaseTimes() }
            let report = try trainer.takeStep()
            if step >= 2 { tokens += report.tokens }
        }
        OpProfiler.isEnabled = false
        let measured = Array(trainer.stepMilliseconds.dropFirst(2)).sorted()
        let meanStep = measured.reduce(0, +) / Double(measured.count)
        return Measurement(objective: trainer.config.train.objective.rawValue + (trainer.config.peftMethod.map { "+" + $0.rawValue } ?? ""),
                           config: trainer.config, parameters: trainer.model.parameters.map(\.tensor.count).reduce(0, +),
                           trainable: trainer.optimizer.parameters.map(\.tensor.count).reduce(0, +), steps: steps, threads: Parallel.threads,
                           tokensPerStep: tokens / Double(steps), milliseconds: measured, peakResidentMegabytes: ProcessMemory.peakResidentMegabytes(),
                           profile: profile ? trainer.phases.map { $0.profileLines(steps: steps, meanStep: meanStep) } ?? [] : [])
    }
}

extension PhaseTimes {
    /// The per-op table of `bench train --profile`: wall milliseconds per
    /// step forward and backward, calls per step and share of a step of
    /// `meanStep` ms, then these phases; one string per line.
    public func profileLines(steps: Int, meanStep: Double) -> [String] {
        let perStep = { (ns: UInt64) in Double(ns) / 1e6 / Double(steps) }
        let rows = OpProfiler.entries.map { (name: String($0.key.prefix { $0 != "(" }), entry: $0.value) }
            .sorted { $0.entry.forwardNanoseconds + $0.entry.backwardNanoseconds > $1.entry.forwardNanoseconds + $1.entry.backwardNanoseconds }
        var lines = ["\nprofile (wall ms per step, mean over \(steps) steps of \(String(format: "%.2f", meanStep)) ms):",
                     "  " + "op".padding(toLength: 24, withPad: " ", startingAt: 0) + "  calls   forward  backward   share"]
        var opsTotal = 0.0
        for (name, e) in rows {
            let f = perStep(e.forwardNanoseconds), b = perStep(e.backwardNanoseconds)
            opsTotal += f + b
            lines.append("  " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                         + String(format: " %6d %9.2f %9.2f %6.1f%%", e.forwardCalls / steps, f, b, 100 * (f + b) / meanStep))
        }
        for (name, ns) in nanoseconds {
            // The forward-and-backward phase's own share is what the ops' functions do not account for (batches, graph walk, release).
            let bookkeeping = name == "forward and backward"
            let ms = bookkeeping ? perStep(ns) - opsTotal : perStep(ns)
            let label = bookkeeping ? "step bookkeeping" : name
            lines.append("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "        %9.2f           %6.1f%%", ms, 100 * ms / meanStep))
        }
        return lines
    }
}
