import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Files
import Tokenizer

/// Set from the SIGINT handler; the training loop checks it between steps.
nonisolated(unsafe) public var interruptRequested: sig_atomic_t = 0

/// Makes Ctrl-C ask the trainer to save `latest` and stop (instead of dying mid-write).
public func installInterruptHandler() {
    signal(SIGINT) { _ in interruptRequested = 1 }
}

/// Thrown when training stops early on request; `latest` has been saved.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let step: Int
    public let checkpoint: URL
    /// True when the time budget (`stopAfterSeconds`) ended the run, not the user.
    public var budgetReached = false
    public var description: String {
        budgetReached ? "time budget reached at step \(step); saved \(checkpoint.path)"
                      : "interrupted at step \(step); saved \(checkpoint.path) (continue with --resume)"
    }
}

public struct TrainerOptions {
    public var runDirectory: URL
    /// Continue from `runDirectory/latest`.
    public var resume = false
    /// Behave as if interrupted once this many steps are done (tests, benchmarks).
    public var stopAfterStep: Int?
    /// A wall-clock budget: once this many seconds have passed since `run()`
    /// began, `latest` is saved and `TrainingInterrupted` (budget) is thrown.
    public var stopAfterSeconds: Double?
    /// Evaluate at step 0 before training (nanoGPT does).
    public var evaluateAtStart = true
    /// Where log lines go (stdout by default).
    public var log: (String) -> Void = { print($0); fflush(stdout) }
    /// Show a progress bar with ETA on stderr (when it is a terminal).
    public var progressBar = false
    /// The training text's size and hash, recorded in each checkpoint so a
    /// resume can refuse a corpus that changed.
    public var data: DataFingerprint?
    /// The model's chat template, written into every checkpoint (a fine-tuned model keeps its starting point's).
    public var chatTemplate: String?
    public init(runDirectory: URL) { self.runDirectory = runDirectory }
}

/// The training loop: get a batch → loss → backward (accumulated over
/// micro-batches) → clip → optimizer step at the scheduled learning rate;
/// every log_interval a log line, every eval_interval an evaluation and a
/// checkpoint. Everything a resumed run needs (weights, optimizer moments,
/// step, generator states, best loss) is in each checkpoint, so resuming
/// reproduces the uninterrupted run bit for bit (same seed, same build).
public final class Trainer {
    public let config: RunConfig
    public let model: GPT
    public let optimizer: Optimizer
    public let corpus: Corpus
    public let options: TrainerOptions
    let schedule: LearningRateSchedule
    var sampler: BatchSampler
    let dropout: Dropout?
    /// Dropout on LoRA adapters' inputs (lora.dropout > 0), active only in training steps.
    let adapterDropout: Dropout?
    let metrics: MetricsLog
    /// DPO: the frozen reference model's scores of every example.
    public private(set) var reference: ReferenceScores?
    /// DPO figures of the training batches since the last log line.
    var intervalPreference = PreferenceStats()
    public private(set) var step = 0
    public private(set) var bestValidationLoss = Double.infinity
    /// The loss of every step taken by this trainer, in order (for tests and benchmarks).
    public private(set) var stepLosses: [Float] = []
    /// Wall-clock milliseconds of every step taken by this trainer.
    public private(set) var stepMilliseconds: [Double] = []

    static let optimizerFile = "optimizer.safetensors"
    static let stateFile = "trainer_state.json"

    /// Starts a fresh run or, with `options.resume`, continues `runDirectory/latest`.
    /// `config.model.vocabSize` is set from the corpus's tokenizer.
    /// `initialModel` (fine-tuning: a loaded checkpoint's model) is trained
    /// as it is, instead of a freshly initialised one.
    public init(config: RunConfig, corpus: Corpus, options: TrainerOptions, initialModel: GPT? = nil) throws {
        let config = try Trainer.checked(config, for: corpus)
        let t = config.train
        self.config = config
        self.corpus = corpus
        self.options = options
        let seed = UInt64(bitPattern: Int64(t.seed))
        if let initialModel {
            guard initialModel.config.parameterShapes == config.model.parameterShapes else {
                throw TrainingError("the initial model's parameters do not match the run's model config")
            }
            // An adapter checkpoint continues as the model it computes.
            if initialModel.hasAdapters { initialModel.mergeAdapters() }
            // The same weights under the run's settings that change no parameter (model.attention).
            model = initialModel.config == config.model ? initialModel : initialModel.withPositions(config.model)
        } else {
            model = GPT(config: config.model, seed: seed)
        }
        if t.objective == .dpo, !options.resume {
            try Trainer.checkReference(t.objective, initialModel: initialModel != nil)
            guard let examples = corpus.examples else { throw TrainingError("train.objective dpo needs preference examples") }
            // The policy starts as the reference, so the reference's scores are today's model's.
            reference = ReferenceScores(train: ReferenceLogProbs(model: model, examples: examples.train, batch: t.batchSize),
                                        validation: ReferenceLogProbs(model: model, examples: examples.validation, batch: t.batchSize))
        }
        if let lora = config.lora {  // train adapters only; the base is frozen
            model.attachAdapters(lora, seed: seed &+ 0x10_4A)
            model.freezeBase()
        }
        // DPO also leaves the adapters' dropout off (TRL's disable_dropout reaches PEFT's lora_dropout too).
        adapterDropout = (config.lora?.dropout ?? 0) > 0 && t.objective != .dpo
            ? Dropout(probability: Float(config.lora!.dropout), generator: RandomGenerator(seed: seed &+ 0x10_4A_D809))
            : nil
        optimizer = Optimizer(parameters: config.lora == nil ? model.parameters : model.adapterParameters, settings: OptimizerSettings(t))
        schedule = LearningRateSchedule(t)
        sampler = BatchSampler(seed: seed)
        // DPO trains without dropout (TRL's disable_dropout): the policy is scored as the reference was.
        dropout = config.model.dropout > 0 && t.objective != .dpo
            ? Dropout(probability: Float(config.model.dropout), generator: RandomGenerator(seed: seed &+ 0x5EED_D809))
            : nil
        let latest = RunDirectory(options.runDirectory).latest
        if options.resume {
            try Trainer.checkSameRun(config, checkpoint: latest)
            let loaded = try Checkpoint.load(from: latest)
            for (mine, theirs) in zip(model.parameters + model.adapterParameters, loaded.model.parameters + loaded.model.adapterParameters) {
                mine.tensor.copy(from: theirs.tensor)
            }
            let state = try Trainer.readState(latest)
            guard state.step <= t.maxSteps else {
                throw TrainingError("\(latest.path)/\(Trainer.stateFile): step \(state.step) is beyond train.max_steps (\(t.maxSteps)); the file was edited or damaged")
            }
            let moments = try SafeTensors.read(from: latest.appendingPathComponent(Trainer.optimizerFile))
            try optimizer.restore(step: state.step, values: Dictionary(uniqueKeysWithValues: moments.tensors.map { ($0.name, $0.values) }))
            step = state.step
            sampler = BatchSampler(generator: RandomGenerator(stateWords: state.dataGenerator))
            if let dropout, let words = state.dropoutGenerator { dropout.generator = RandomGenerator(stateWords: words) }
            if let adapterDropout, let words = state.adapterDropoutGenerator { adapterDropout.generator = RandomGenerator(stateWords: words) }
            bestValidationLoss = state.bestValidationLoss ?? .infinity
            if t.objective == .dpo, let examples = corpus.examples { reference = try ReferenceScores.load(from: latest, examples: examples) }
        }
        metrics = try MetricsLog(directory: options.runDirectory, resumeStep: options.resume ? step : nil)
    }

    /// The config as training will use it (vocabulary size from the
    /// tokenizer, defaults resolved), or the first reason it cannot train on
    /// this corpus. Changes nothing, so a command can check before it writes.
    public static func checked(_ config: RunConfig, for corpus: Corpus) throws -> RunConfig {
        var config = config
        let vocab = corpus.tokenizer.vocabSize
        if let v = config.model.vocabSize, v != vocab {
            throw TrainingError("model.vocab_size is \(v) but the tokenizer has \(vocab) tokens; leave vocab_size unset to take it from the tokenizer")
        }
        config.model.vocabSize = vocab
        config = config.resolved()
        try config.validate()
        try checkObjective(config.train.objective, format: corpus.format, dataPath: config.data.path)
        // After --init-from has put the checkpoint's model in place.
        try config.lora?.check(model: config.model)
        try corpus.check(contextLength: config.model.contextLength)
        let t = config.train
        guard t.warmupSteps <= t.maxSteps else {
            throw TrainingError("train.warmup_steps (\(t.warmupSteps)) must not exceed train.max_steps (\(t.maxSteps))")
        }
        try requireTrainingMemory(config)
        return config
    }

    /// Refuses, before anything is allocated, a training step that cannot fit
    /// in this machine's memory (used by train and bench train).
    public static func requireTrainingMemory(_ config: RunConfig) throws {
        let needed = minimumTrainingBytes(config), available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= available else {
            throw TrainingError(String(format: "this run needs at least %.1f GB (weights, gradients, optimizer state and activations), more than this machine's %.1f GB; lower train.batch_size, model.context_length, model.d_model or model.n_layer",
                                       needed / 1e9, available / 1e9))
        }
    }

    /// A lower bound on a training step's memory, in bytes: three floats per
    /// parameter (weight, gradient, at least one optimizer moment; a LoRA run's
    /// frozen base only its weight) and the
    /// activations a step must keep. Only there to refuse sizes that cannot possibly fit
    /// with a message instead of a failed allocation, so it never overestimates.
    static func minimumTrainingBytes(_ config: RunConfig) -> Double {
        let m = config.model
        let (d, layers, context) = (Double(m.dModel), Double(m.nLayer), Double(m.contextLength))
        let vocab = Double(m.vocabSize ?? 1), hidden = Double(m.feedForwardSize)
        let kv = Double(m.kvHeads * m.headSize)
        let perLayer = d * (2 * d + 2 * kv) + 2 * d * hidden
        let parameters = layers * perLayer + vocab * d
        let tokens = Double(config.train.batchSize) * context
        let activations = layers * tokens * (4 * d + hidden) + tokens * vocab
        // With LoRA the frozen base has neither gradients nor moments (the adapters are small).
        let floatsPerParameter = config.lora == nil ? 3.0 : 1.0
        return 4 * (floatsPerParameter * parameters + activations)
    }

    /// Trains to train.max_steps. Throws `TrainingInterrupted` after saving
    /// `latest` if interrupted, and a `TrainingError` if the loss stops being finite.
    public func run() throws {
        let t = config.train
        let (batch, length, accumulation) = (t.batchSize, config.model.contextLength, t.gradAccumSteps)
        let tokensPerStep = Double(batch * length * accumulation)
        if step == 0 && options.evaluateAtStart {
            // As nanoGPT: the untrained model's loss is the first best, but is
            // not saved; best/ appears once training beats it.
            bestValidationLoss = min(bestValidationLoss, try evaluate().validation)
        }
        let started = Date()
        let startStep = step
        var intervalMilliseconds = 0.0, intervalSteps = 0, intervalTokens = 0.0
        while step < t.maxSteps {
            let overBudget = options.stopAfterSeconds.map { Date().timeIntervalSince(started) >= $0 } ?? false
            if interruptRequested != 0 || step == options.stopAfterStep || overBudget {
                try saveLatest()
                throw TrainingInterrupted(step: step, checkpoint: RunDirectory(options.runDirectory).latest,
                                          budgetReached: overBudget && interruptRequested == 0)
            }
            let stepStart = DispatchTime.now().uptimeNanoseconds
            let lr = schedule.rate(at: step)
            optimizer.zeroGrad()
            var lossSum: Float = 0
            var stepTokens = tokensPerStep
            model.setAdapterDropout(adapterDropout)  // training steps only, not evaluations
            if let examples = corpus.examples {
                let (loss, tokens) = try fineTuningStep(examples: examples, batch: batch, accumulation: accumulation)
                lossSum = loss * Float(accumulation)
                stepTokens = Double(tokens)
            } else {
                for _ in 0..<accumulation {
                    let (inputs, targets) = sampler.next(from: corpus.train, batch: batch, length: length)
                    let loss = model.loss(inputs, targets: targets, batch: batch, length: length, dropout: dropout,
                                          labelSmoothing: Float(t.labelSmoothing))
                    guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
                    lossSum += loss.item
                    scale(loss, 1 / Float(accumulation)).backward()
                }
            }
            model.setAdapterDropout(nil)
            let loss = lossSum / Float(accumulation)
            let gradNorm = gradientNorm(optimizer.parameters)
            guard gradNorm.isFinite else { throw nonFinite("gradient norm", gradNorm) }
            optimizer.step(lr: lr, gradientScale: clipFactor(norm: gradNorm, maxNorm: Float(t.gradClip)))
            step += 1
            let ms = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e6
            stepLosses.append(loss)
            stepMilliseconds.append(ms)
            intervalMilliseconds += ms
            intervalSteps += 1
            intervalTokens += stepTokens
            if step % t.logInterval == 0 || step == t.maxSteps {
                let msPerStep = intervalMilliseconds / Double(intervalSteps)
                let tokensPerSecond = intervalTokens / Double(intervalSteps) / (msPerStep / 1000)
                // DPO: the step's loss, as for lm; rewards and log-probs averaged over the interval's batches.
                var preference = t.objective == .dpo ? intervalPreference : nil
                preference?.loss = Double(loss)
                try metrics.append(.log(step: step, loss: Double(loss), lr: Double(lr), gradNorm: Double(gradNorm),
                                    msPerStep: msPerStep, tokensPerSecond: tokensPerSecond, preference: preference))
                clearProgress()
                if let preference {  // DPO's loss is no cross-entropy: no perplexity
                    options.log(String(format: "step %d/%d | loss %.4f | %@ | lr %.2e | grad norm %.3f | %.1f ms/step | %.0f tok/s",
                                       step, t.maxSteps, loss, preference.summary, lr, gradNorm, msPerStep, tokensPerSecond))
                } else {
                    options.log(String(format: "step %d/%d | loss %.4f | ppl %@ | lr %.2e | grad norm %.3f | %.1f ms/step | %.0f tok/s",
                                       step, t.maxSteps, loss, perplexityText(Double(loss)), lr, gradNorm, msPerStep, tokensPerSecond))
                }
                intervalMilliseconds = 0
                intervalSteps = 0
                intervalTokens = 0
                intervalPreference = PreferenceStats()
            }
            if step % t.evalInterval == 0 || step == t.maxSteps {
                clearProgress()
                let (train, validation) = try evaluate()
                guard train.isFinite else { throw nonFinite("training loss at evaluation", Float(train), step: step) }
                guard validation.isFinite else { throw nonFinite("validation loss", Float(validation), step: step) }
                // best before latest: a crash between the two leaves latest at
                // the previous evaluation, so a resume redoes this one and
                // saves best again; never a best/ older than latest's record.
                if validation < bestValidationLoss {
                    bestValidationLoss = validation
                    try save(to: RunDirectory(options.runDirectory).best)
                }
                try saveLatest()
            }
            showProgress(started: started, done: step - startStep, remaining: t.maxSteps - step, loss: loss)
        }
        clearProgress()
    }

    /// Mean loss over `eval_steps` batches of each split, logged and recorded.
    /// The windows are the same at every evaluation (a fixed seed per split),
    /// so differences between evaluations come from the model alone.
    func evaluate() throws -> (train: Double, validation: Double) {
        let train: Double, validation: Double, preference: PreferenceStats?
        if let examples = corpus.examples {
            train = fineTuningEvaluation(examples.train, reference: reference?.train).loss
            (validation, preference) = fineTuningEvaluation(examples.validation, reference: reference?.validation)
        } else {
            train = meanLoss(corpus.train, seed: 0xE7A1_0001)
            validation = meanLoss(corpus.validation, seed: 0xE7A1_0002)
            preference = nil
        }
        try metrics.append(.evaluation(step: step, trainLoss: train, validationLoss: validation, preference: preference))
        let best = validation < bestValidationLoss ? " (best so far)" : ""
        if let preference {
            options.log(String(format: "eval step %d | train loss %.4f | val loss %.4f | eval %@%@",
                               step, train, validation, preference.summary, best))
        } else {
            options.log(String(format: "eval step %d | train loss %.4f ppl %@ | val loss %.4f ppl %@%@",
                               step, train, perplexityText(train), validation, perplexityText(validation), best))
        }
        return (train, validation)
    }

    /// Mean cross-entropy over `eval_steps` random batches of `tokens`.
    public func meanLoss(_ tokens: [Int32], seed: UInt64) -> Double {
        let (batch, length) = (config.train.batchSize, config.model.contextLength)
        var evalSampler = BatchSampler(seed: seed ^ UInt64(bitPattern: Int64(config.train.seed)))
        var total = 0.0
        Autograd.noGrad {
            for _ in 0..<config.train.evalSteps {
                let (inputs, targets) = evalSampler.next(from: tokens, batch: batch, length: length)
                total += Double(model.loss(inputs, targets: targets, batch: batch, length: length).item)
            }
        }
        return total / Double(config.train.evalSteps)
    }

    /// The error for a loss or norm that is NaN or infinite during `step`
    /// (default: the step being taken, which is one past `self.step`).
    func nonFinite(_ what: String, _ value: Float, step: Int? = nil) -> TrainingError {
        let latest = RunDirectory(options.runDirectory).latest
        let saved = FileManager.default.fileExists(atPath: latest.path)
            ? "the last good checkpoint is \(latest.path)" : "no checkpoint was saved yet"
        return TrainingError("\(what) became \(value) at step \(step ?? self.step + 1); stopping (\(saved)); try a lower train.lr or train.grad_clip")
    }

    func saveLatest() throws { try save(to: RunDirectory(options.runDirectory).latest) }

    func save(to directory: URL) throws {
        var state = TrainerState(step: step, dataGenerator: sampler.generator.stateWords,
                                 dropoutGenerator: dropout?.generator.stateWords,
                                 bestValidationLoss: bestValidationLoss.isFinite ? bestValidationLoss : nil)
        state.data = options.data
        state.adapterDropoutGenerator = adapterDropout?.generator.stateWords
        let moments = optimizer.state.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
        var tensors = [Trainer.optimizerFile: moments]
        if let reference { tensors[ReferenceScores.file] = reference.tensors }
        try Checkpoint.save(model: model, config: config, tokenizerJSON: Data(corpus.tokenizer.jsonString().utf8),
                            extraFiles: Checkpoint.chatTemplateFiles(options.chatTemplate).merging([Trainer.stateFile: try state.jsonData()]) { $1 },
                            extraTensors: tensors, to: directory)
    }

    /// Refuses to resume with a config that differs from the checkpoint's,
    /// naming the fields. Only train.threads, train.log_interval and
    /// train.eval_interval may change: none alters the training numbers
    /// (evaluations draw from their own fixed-seed generators). eval_steps may
    /// not: the best loss so far must stay comparable with later ones.
    public static func checkSameRun(_ config: RunConfig, checkpoint: URL) throws {
        var saved = try Checkpoint.loadConfig(from: checkpoint), config = config
        // Data paths compare as files: a relative one (older runs) is taken from the working directory.
        saved.data.path = absolutePath(saved.data.path)
        config.data.path = absolutePath(config.data.path)
        let mine = try flatten(config), theirs = try flatten(saved)
        let free: Set = ["train.threads", "train.log_interval", "train.eval_interval"]
        let differing = mine.keys.sorted().filter { $0.hasPrefix("sample.") == false && !free.contains($0) && mine[$0] != theirs[$0] }
        if !differing.isEmpty {
            let details = differing.prefix(5).map { "\($0): checkpoint \(theirs[$0] ?? "absent"), now \(mine[$0] ?? "absent")" }
            throw TrainingError("cannot resume \(checkpoint.path): the config differs in \(details.joined(separator: "; "))\(differing.count > 5 ? "; …" : "")")
        }
    }

    /// "section.field" → JSON text of the value, from the resolved config.
    static func flatten(_ config: RunConfig) throws -> [String: String] {
        guard case .object(let sections) = try JSONParser.parse(Array(try config.jsonData())) else { return [:] }
        var out: [String: String] = [:]
        for (section, value) in sections {
            guard case .object(let fields) = value else { continue }
            for (field, v) in fields { out["\(section).\(field)"] = v.serialized() }
        }
        return out
    }

    /// The step a checkpoint was saved at (for a command deciding whether a resume has anything to do).
    public static func savedStep(in checkpoint: URL) throws -> Int { try readState(checkpoint).step }

    /// Refuses to resume on a text that differs from the one the run started
    /// with (checkpoints from before this record was kept are not checked).
    public static func checkSameData(_ data: DataFingerprint, path: String, checkpoint: URL) throws {
        guard let saved = try readState(checkpoint).data, saved != data else { return }
        let change = saved.bytes == data.bytes ? "same size, \(data.bytes) bytes, but different content"
                                               : "\(saved.bytes) bytes when the run started, \(data.bytes) bytes now"
        throw TrainingError("cannot resume \(checkpoint.path): the data file '\(path)' changed since the run started (\(change)); resume with the original text, or start a new run")
    }

    static func readState(_ directory: URL) throws -> TrainerState {
        let url = directory.appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError("checkpoint \(directory.path) has no \(stateFile): it holds weights only and cannot be resumed")
        }
        return try TrainerState(json: data, source: url.path)
    }

    // MARK: progress bar (stderr, terminals only)

    func showProgress(started: Date, done: Int, remaining: Int, loss: Float) {
        guard options.progressBar else { return }
        let fraction = Double(step) / Double(config.train.maxSteps)
        let filled = Int(fraction * 30)
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(remaining) : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
        let line = String(format: "\r%@ %d/%d loss %.4f ETA %@ ", bar, step, config.train.maxSteps, loss, formatDuration(eta))
        fputs(line, stderr)
    }

    func clearProgress() {
        guard options.progressBar else { return }
        fputs("\r\u{1B}[K", stderr)
    }
}

/// `path` made absolute against the working directory, with `.` and `..`
/// resolved: how a run records its data path and compares it on resume.
public func absolutePath(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

/// exp(loss) with two decimals, or in scientific notation once it is too
/// large to read (a diverging run's perplexity has dozens of digits).
public func perplexityText(_ loss: Double) -> String {
    let perplexity = exp(loss)
    return String(format: perplexity < 1e6 ? "%.2f" : "%.3e", perplexity)
}

public func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}

/// A text's size and FNV-1a hash: enough to notice that a corpus changed.
public struct DataFingerprint: Equatable, Sendable {
    public let bytes: Int
    public let hash: UInt64

    public init(text: String) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        self.bytes = text.utf8.count
        self.hash = hash
    }

    init(bytes: Int, hash: UInt64) { self.bytes = bytes; self.hash = hash }
}

/// What a checkpoint needs beyond weights and optimizer moments to resume exactly.
struct TrainerState {
    var step: Int
    var dataGenerator: [UInt64]
    var dropoutGenerator: [UInt64]?
    var adapterDropoutGenerator: [UInt64]?
    var bestValidationLoss: Double?
    var data: DataFingerprint?

    func jsonData() throws -> Data {
        // Generator words are written as hex strings: JSON numbers are doubles
        // and cannot hold 64-bit integers exactly.
        func hex(_ words: [UInt64]) -> JSONValue { .array(words.map { .string(String($0, radix: 16)) }) }
        var object: JSONValue = ["step": .int(step), "data_generator": hex(dataGenerator)]
        if let dropoutGenerator { object.set("dropout_generator", hex(dropoutGenerator)) }
        if let adapterDropoutGenerator { object.set("lora_dropout_generator", hex(adapterDropoutGenerator)) }
        if let bestValidationLoss { object.set("best_val_loss", .number(bestValidationLoss)) }
        if let data { object.set("data", ["bytes": .int(data.bytes), "fnv1a64": .string(String(data.hash, radix: 16))]) }
        return object.fileData
    }

    init(step: Int, dataGenerator: [UInt64], dropoutGenerator: [UInt64]?, bestValidationLoss: Double?) {
        self.step = step; self.dataGenerator = dataGenerator
        self.dropoutGenerator = dropoutGenerator; self.bestValidationLoss = bestValidationLoss
    }

    init(json: Data, source: String) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any],
              let step = object["step"] as? Int,
              let words = (object["data_generator"] as? [String])?.compactMap({ UInt64($0, radix: 16) }), words.count == 4 else {
            throw TrainingError("\(source): malformed trainer state (needs step and data_generator)")
        }
        guard step >= 0 else { throw TrainingError("\(source): step \(step) is negative; the file was edited or damaged") }
        self.step = step
        dataGenerator = words
        dropoutGenerator = (object["dropout_generator"] as? [String])?.compactMap { UInt64($0, radix: 16) }
        if let d = dropoutGenerator, d.count != 4 { throw TrainingError("\(source): malformed dropout_generator") }
        adapterDropoutGenerator = (object["lora_dropout_generator"] as? [String])?.compactMap { UInt64($0, radix: 16) }
        if let d = adapterDropoutGenerator, d.count != 4 { throw TrainingError("\(source): malformed lora_dropout_generator") }
        bestValidationLoss = object["best_val_loss"] as? Double
        if let record = object["data"] as? [String: Any] {
            guard let bytes = record["bytes"] as? Int, bytes >= 0, let hash = (record["fnv1a64"] as? String).flatMap({ UInt64($0, radix: 16) }) else {
                throw TrainingError("\(source): malformed data record (needs bytes and fnv1a64)")
            }
            data = DataFingerprint(bytes: bytes, hash: hash)
        }
    }
}
