import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Files
import Tokenizer

/// The signal that asked training to stop (SIGINT, SIGTERM, SIGHUP; SIGPIPE
/// when a command's output failed), or 0. Set from signal handlers; the
/// training loop checks it between steps.
nonisolated(unsafe) public var interruptRequested: sig_atomic_t = 0

/// Makes Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) ask the
/// trainer to save `latest` and stop, instead of dying mid-write. A signal
/// the caller ignores stays ignored (`nohup` ignores SIGHUP).
public func installInterruptHandler() {
    for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
        let previous = signal(signalNumber) { interruptRequested = $0 }
        if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { signal(signalNumber, SIG_IGN) }
    }
}

/// Thrown when training stops early on request; `latest` has been saved.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let step: Int
    public let checkpoint: URL
    /// True when the time budget (`stopAfterSeconds`) ended the run, not the user.
    public var budgetReached = false
    /// The signal that asked for the stop (`interruptRequested`), or 0.
    public var signal: Int32 = 0
    public var description: String {
        let by = signal == SIGTERM ? " (SIGTERM)" : signal == SIGHUP ? " (SIGHUP)" : ""
        return budgetReached ? "time budget reached at step \(step); saved \(checkpoint.path)"
                             : "interrupted\(by) at step \(step); saved \(checkpoint.path) (continue with --resume)"
    }
}

public struct TrainerOptions {
    public var runDirectory: URL
    /// Continue from `runDirectory/latest` (or `resumeFrom`).
    public var resume = false
    /// The checkpoint a resume continues, when not latest/ (a run whose last save did not complete).
    public var resumeFrom: URL?
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
    /// An adapter run's base checkpoint: checkpoints then hold the adapters and this record, not the base's weights.
    public var base: CheckpointBase?
    /// Keep metrics.jsonl and loss.svg in the run directory; off for a
    /// trainer that only takes steps (`bench train`), which writes nothing.
    public var recordsMetrics = true
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
    let windowSchedule: SequenceLengthSchedule
    var sampler: BatchSampler
    let dropout: Dropout?
    /// Dropout on LoRA adapters' inputs (lora.dropout > 0), active only in training steps.
    let adapterDropout: Dropout?
    /// nil when `options.recordsMetrics` is off.
    let metrics: MetricsLog?
    /// When set, `takeStep` adds the wall time of its phases here (`bench train --profile`).
    public var phases: PhaseTimes?
    /// DPO: the frozen reference model's scores of every example.
    public private(set) var reference: ReferenceScores?
    /// DPO figures of the training batches since the last log line.
    var intervalPreference = PreferenceStats()
    /// The reward objective: the score head on the model; its figures since the last log line.
    public private(set) var scoreModel: ScoreModel?
    var intervalRewards = RewardStats()
    /// PPO and GRPO: the reference, reward, value model and prompts; their figures since the last log line.
    var policyOptimization: PolicyOptimization?
    var intervalPolicy = FigureMeans()
    /// The losses of a PPO or GRPO step's first update, for rollouts.jsonl.
    var firstMinibatch: JSONValue?
    /// distill: the frozen teacher; the cross-entropy and KL parts of the loss since the last log line.
    public private(set) var teacher: DistillationTeacher?
    var intervalDistillation = DistillationParts()
    /// A pruned model's mask: its pruned weights get zero gradients, so they
    /// stay exactly zero, and every checkpoint carries it on.
    public private(set) var mask: PruningMask?
    public internal(set) var step = 0
    public private(set) var bestValidationLoss = Double.infinity
    /// The loss of every step taken by this trainer, in order (for tests and benchmarks).
    public internal(set) var stepLosses: [Float] = []
    /// Wall-clock milliseconds of every step taken by this trainer.
    public internal(set) var stepMilliseconds: [Double] = []

    static let optimizerFile = "optimizer.safetensors"
    static let stateFile = "trainer_state.json"

    /// Starts a fresh run or, with `options.resume`, continues `runDirectory/latest`.
    /// `config.model.vocabSize` is set from the corpus's tokenizer.
    /// `initialModel` (fine-tuning: a loaded checkpoint's model) is trained
    /// as it is, instead of a freshly initialised one. `reward`: the reward
    /// model a fresh PPO or GRPO run scores with (a resumed one has its own copy).
    /// `mask` (a pruned checkpoint's) keeps its pruned weights at zero; a resumed run takes the mask from its checkpoint.
    /// `teacher`: the model a distill run learns from (fresh or resumed).
    public init(config: RunConfig, corpus: Corpus, options: TrainerOptions, initialModel: GPT? = nil, reward: RewardCheckpoint? = nil,
                mask: PruningMask? = nil, teacher: DistillationTeacher? = nil) throws {
        let config = try Trainer.checked(config, for: corpus, initialized: initialModel != nil, teacher: teacher)
        self.teacher = teacher
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
            if let method = initialModel.unmergeableMethod {
                throw TrainingError("--init-from: the checkpoint has \(method.rawValue) modules, which do not merge into the base weights; start from its base model (the checkpoint it was trained from)")
            }
            if initialModel.hasAdapters { initialModel.mergeAdapters() }
            // The same weights under the run's settings that change no parameter (model.attention).
            model = initialModel.config == config.model ? initialModel : initialModel.withPositions(config.model)
        } else {
            model = GPT(config: config.model, seed: seed)
        }
        if !options.resume { try Trainer.checkReference(t.objective, initialModel: initialModel != nil) }
        let latest = options.resumeFrom ?? RunDirectory(options.runDirectory).latest
        if t.objective.isPolicyOptimization {  // the reference and value model are copies of the model before any adapters
            let log = options.recordsMetrics ? try RolloutLog(url: RunDirectory(options.runDirectory).rollouts, resumeStep: options.resume ? try Trainer.readState(latest).step : nil) : nil
            policyOptimization = try PolicyOptimization(config: config, corpus: corpus, policy: model, reward: reward,
                                                        resumeFrom: options.resume ? latest : nil, log: log)
        }
        if t.objective == .reward {
            scoreModel = ScoreModel(base: model, seed: seed &+ 0x5C0_4E)
        }
        try Trainer.checkMask(mask, lora: config.lora)
        self.mask = mask
        if t.objective == .dpo, !options.resume {
            guard let examples = corpus.examples else { throw TrainingError("train.objective dpo needs preference examples") }
            // The policy starts as the reference, so the reference's scores are today's model's.
            reference = ReferenceScores(train: ReferenceLogProbs(model: model, examples: examples.train, batch: t.batchSize),
                                        validation: ReferenceLogProbs(model: model, examples: examples.validation, batch: t.batchSize))
        }
        if config.peftMethod != nil {  // train the PEFT parameters only; the base is frozen
            let text = config.promptTuning.map { $0.promptTuningInit == .TEXT ? $0.promptTuningInitText : "" } ?? ""
            model.attachPEFT(config, seed: seed &+ 0x10_4A, initTokens: text.isEmpty ? [] : try corpus.tokenizer.encode(text).map { Int32($0) })
            model.freezeBase()
        }
        // DPO, reward models, PPO and GRPO train without dropout (TRL's disable_dropout, which reaches PEFT's lora_dropout too).
        let withoutDropout: Set<TrainingObjective> = [.dpo, .reward, .ppo, .grpo]
        adapterDropout = (config.lora?.dropout ?? 0) > 0 && !withoutDropout.contains(t.objective)
            ? Dropout(probability: Float(config.lora!.dropout), generator: RandomGenerator(seed: seed &+ 0x10_4A_D809))
            : nil
        let extra = (scoreModel.map { [$0.headParameter] } ?? []) + (policyOptimization?.trainableParameters ?? [])
        let trained = (config.peftMethod == nil ? model.parameters : model.adapterParameters) + extra
        if t.optimizer == .muon, !trained.contains(where: \.isHiddenMatrix) {
            throw TrainingError("train.optimizer = muon needs 2-D block weights to orthogonalise, and this run trains none (\(trained.count) parameters: embeddings, norms, biases or a head): use adamw")
        }
        optimizer = Optimizer(parameters: trained, settings: OptimizerSettings(t))
        schedule = LearningRateSchedule(t)
        windowSchedule = SequenceLengthSchedule(config)
        sampler = BatchSampler(seed: seed)
        // The policy is scored as the reference was (DPO, PPO, GRPO), and a reward model as it will be used.
        dropout = config.model.dropout > 0 && !withoutDropout.contains(t.objective)
            ? Dropout(probability: Float(config.model.dropout), generator: RandomGenerator(seed: seed &+ 0x5EED_D809))
            : nil
        if options.resume {
            try Trainer.checkSameRun(config, checkpoint: latest)
            let loaded = try Checkpoint.load(from: latest)
            try Trainer.checkMask(loaded.mask, lora: config.lora)
            self.mask = loaded.mask
            for (mine, theirs) in zip(model.parameters + model.adapterParameters, loaded.model.parameters + loaded.model.adapterParameters) {
                mine.tensor.copy(from: theirs.tensor)
            }
            let state = try Trainer.readState(latest, maxSteps: t.maxSteps)
            let momentsURL = latest.appendingPathComponent(Trainer.optimizerFile)
            let moments = try SafeTensors.read(from: momentsURL)
            for m in moments.tensors {
                try Checkpoint.requireFinite(m.values, tensor: m.name, source: momentsURL.path)
                // Adam's second moment is a running mean of squares; a negative one would make its square root NaN.
                if m.name.hasPrefix("v."), let bad = m.values.firstIndex(where: { $0 < 0 }) {
                    throw TrainingError("\(momentsURL.path): tensor '\(m.name)' holds a negative second moment (\(m.values[bad]) at flat index \(bad)); the checkpoint is damaged")
                }
            }
            if let scoreModel { try Trainer.loadScoreHead(scoreModel, from: latest) }
            try optimizer.restore(step: state.optimizerSteps ?? state.step, values: Dictionary(uniqueKeysWithValues: moments.tensors.map { ($0.name, $0.values) }))
            step = state.step
            sampler = BatchSampler(generator: RandomGenerator(stateWords: state.dataGenerator))
            if let dropout, let words = state.dropoutGenerator { dropout.generator = RandomGenerator(stateWords: words) }
            if let adapterDropout, let words = state.adapterDropoutGenerator { adapterDropout.generator = RandomGenerator(stateWords: words) }
            bestValidationLoss = state.bestValidationLoss ?? .infinity
            if t.objective == .dpo, let examples = corpus.examples { reference = try ReferenceScores.load(from: latest, examples: examples) }
        }
        metrics = options.recordsMetrics ? try MetricsLog(directory: options.runDirectory, resumeStep: options.resume ? step : nil) : nil
    }

    /// A reward run's score head from its checkpoint.
    static func loadScoreHead(_ model: ScoreModel, from checkpoint: URL) throws {
        let url = checkpoint.appendingPathComponent(Checkpoint.scoreFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError("cannot resume the reward-model run in \(checkpoint.path): it has no \(Checkpoint.scoreFile) (the score head)")
        }
        let file = try SafeTensors.read(from: url)
        guard let head = file[ScoreModel.headName], head.shape == model.head.shape else {
            throw TrainingError("\(url.path): needs '\(ScoreModel.headName)' of shape \(model.head.shape); the file was edited or damaged")
        }
        try Checkpoint.requireFinite(head.values, tensor: ScoreModel.headName, source: url.path)
        head.values.withUnsafeBufferPointer { model.head.data.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// The config as training will use it (vocabulary size from the
    /// tokenizer, defaults resolved), or the first reason it cannot train on
    /// this corpus. Changes nothing, so a command can check before it writes.
    /// `initialized`: the model comes from a checkpoint (--init-from), which fixes its size.
    /// `teacher`: a distill run's, checked against the corpus's tokenizer and the model's context.
    public static func checked(_ config: RunConfig, for corpus: Corpus, initialized: Bool = false,
                               teacher: DistillationTeacher? = nil) throws -> RunConfig {
        var config = config
        let vocab = corpus.tokenizer.vocabSize
        if let v = config.model.vocabSize, v != vocab {
            throw TrainingError("model.vocab_size is \(v) but the tokenizer has \(vocab) tokens; leave vocab_size unset to take it from the tokenizer")
        }
        config.model.vocabSize = vocab
        config = config.resolved()
        try config.validate()
        try checkObjective(config.train.objective, format: corpus.format, dataPath: config.data.path)
        try corpus.check(contextLength: config.tokenContextLength)
        if let prompt = config.promptTuning, prompt.promptTuningInit == .TEXT {
            let count = try corpus.tokenizer.encode(prompt.promptTuningInitText).count
            guard count <= prompt.numVirtualTokens else {
                throw TrainingError("prompt_tuning.prompt_tuning_init_text is \(count) tokens, more than prompt_tuning.num_virtual_tokens (\(prompt.numVirtualTokens)); shorten the text or raise num_virtual_tokens")
            }
        }
        if config.train.objective == .distill {
            guard let teacher else { throw TrainingError("train.objective distill needs a teacher: --teacher DIR (a checkpoint or run directory)") }
            try teacher.check(studentTokenizer: corpus.tokenizer, studentContext: config.tokenContextLength)
        }
        let t = config.train
        guard t.warmupSteps <= t.maxSteps else {
            throw TrainingError("train.warmup_steps (\(t.warmupSteps)) must not exceed train.max_steps (\(t.maxSteps))")
        }
        try requireTrainingMemory(config, examples: corpus.examples, initialized: initialized)
        return config
    }

    /// How many times the schedule passes over the training data: max_steps
    /// × the tokens (lm) or examples (sft, dpo) of one step, over those of the
    /// training split.
    public static func epochs(_ config: RunConfig, corpus: Corpus) -> Double {
        let t = config.train
        if let prompts = corpus.prompts { return Double(t.maxSteps * t.batchSize) / Double(max(prompts.train.count, 1)) }  // ppo, grpo
        let perStep = Double(t.batchSize * t.gradAccumSteps) * (corpus.examples == nil ? Double(config.tokenContextLength) : 1)
        let available = Double(corpus.examples?.train.count ?? corpus.train.count)
        return Double(t.maxSteps) * perStep / max(available, 1)
    }

    /// From this many passes over the data on, `train` says so before it starts.
    public static let manyEpochs = 10.0

    /// The note `train` prints when the schedule passes over the data many
    /// times (a small file under a long default schedule memorises it), or nil.
    public static func epochsNote(_ config: RunConfig, corpus: Corpus) -> String? {
        let passes = epochs(config, corpus: corpus)
        guard passes > manyEpochs else { return nil }
        let t = config.train
        let step = corpus.prompts != nil ? "\(t.batchSize) prompts"
            : corpus.examples == nil ? "\(t.batchSize * t.gradAccumSteps) windows of \(config.tokenContextLength) tokens"
            : "\(t.batchSize * t.gradAccumSteps) examples"
        let data = corpus.prompts.map { "\($0.train.count) training prompts" }
            ?? corpus.examples.map { "\($0.train.count) training examples" } ?? "\(corpus.train.count) training tokens"
        return String(format: "the schedule passes over the training data about %.0f times (epochs: train.max_steps %d × %@ per step, over %@); a model that sees its data that often can memorise it: if the validation loss rises while the training loss falls, lower train.max_steps or give more data (best/ keeps the lowest validation loss)",
                      passes, t.maxSteps, step, data)
    }

    /// Refuses, before anything is allocated, a training step that cannot fit
    /// in this machine's memory (used by train and bench train). The advice
    /// names only settings that would lower the estimate for this run:
    /// `initialized` (--init-from) fixes the model's size, and the context
    /// bounds an sft or dpo batch only when its longest example reaches it.
    public static func requireTrainingMemory(_ config: RunConfig, examples: ExampleSet? = nil, initialized: Bool = false) throws {
        let m = config.model, (rows, length) = microBatchShape(config, examples: examples)
        let needed = ModelCost(m).minimumTrainingBytes(rows: rows, length: length, adapters: config.peftMethod != nil)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed > available else { return }
        var settings: [String] = []
        if config.train.batchSize > 1 { settings.append("train.batch_size") }
        if length == m.contextLength && length > 1 && !(initialized && (m.position == .learned || m.ropeScaling != nil)) {
            settings.append("model.context_length")
        }
        if !initialized { settings.append(contentsOf: ["model.d_model", "model.n_layer"]) }
        var advice = settings.isEmpty ? "" : "lower " + (settings.count == 1 ? settings[0] : settings.dropLast().joined(separator: ", ") + " or " + settings.last!)
        if initialized && config.peftMethod == nil {
            advice += (advice.isEmpty ? "" : ", or ") + "train LoRA adapters instead of every weight (a lora section, e.g. --config configs/lora.json)"
        }
        throw TrainingError(String(format: "this run needs at least %.1f GB (weights, gradients, optimizer state, and activations of %d sequence%@ of %d tokens), more than this machine's %.1f GB%@",
                                   needed / 1e9, rows, rows == 1 ? "" : "s", length, available / 1e9, advice.isEmpty ? "" : "; " + advice))
    }

    /// One micro-batch as a training step allocates it, rows × tokens per
    /// row: lm, batch_size windows of context_length; sft, batch_size examples
    /// padded to the longest example (fitted to the context); dpo, the chosen
    /// and rejected sequences of batch_size pairs (2·batch_size rows), likewise.
    public static func microBatchShape(_ config: RunConfig, examples: ExampleSet?) -> (rows: Int, length: Int) {
        let batch = config.train.batchSize
        // PPO and GRPO: a minibatch of rollouts, or every completion of a GRPO batch, up to the context.
        if config.train.objective == .ppo { return (max(1, batch / (config.ppo ?? PPOConfig()).numMiniBatches), config.model.contextLength) }
        if config.train.objective == .grpo { return (batch * (config.grpo ?? GRPOConfig()).numGenerations, config.model.contextLength) }
        guard let examples else { return (batch, config.tokenContextLength) }
        let sequences = (examples.train + examples.validation).flatMap { [$0.chosen] + ($0.rejected.map { [$0] } ?? []) }
        let longest = max(1, (sequences.map(\.tokens.count).max() ?? 1) - 1)  // inputs: every token but the last
        return (examples.format == .preference ? 2 * batch : batch, min(longest, config.tokenContextLength))
    }

    /// Trains to train.max_steps. Throws `TrainingInterrupted` after saving
    /// `latest` if interrupted, and a `TrainingError` if the loss stops being finite.
    public func run() throws {
        let t = config.train
        if step == 0 && options.evaluateAtStart { try evaluateStartingPoint() }
        let started = Date()
        let startStep = step
        var interval = StepInterval()
        while step < t.maxSteps {
            try stopIfAsked(runStarted: started)
            let report = try takeStep()
            interval.add(report)
            if step % t.logInterval == 0 || step == t.maxSteps {
                try logStep(report, interval: interval)
                interval = StepInterval()
            }
            if step % t.evalInterval == 0 || step == t.maxSteps { try evaluateAndSave() }
            showProgress(started: started, done: step - startStep, remaining: t.maxSteps - step, loss: report.loss)
        }
        clearProgress()
    }

    /// What one optimizer step did.
    public struct StepReport {
        public let loss: Float
        public let learningRate: Float
        public let gradientNorm: Float
        /// Tokens the step's forward passes processed (padding included).
        public let tokens: Double
        public let milliseconds: Double
    }

    /// Log lines report means over the steps since the previous line.
    struct StepInterval {
        var milliseconds = 0.0, steps = 0, tokens = 0.0
        mutating func add(_ report: StepReport) {
            milliseconds += report.milliseconds
            steps += 1
            tokens += report.tokens
        }
    }

    /// One optimizer step of the run's objective: batch → loss → backward
    /// (accumulated over grad_accum_steps micro-batches) → clip → update at
    /// the scheduled learning rate. The training loop, `bench train` and tests
    /// all take steps through here.
    @discardableResult
    public func takeStep() throws -> StepReport {
        // PPO and GRPO sample first, then take several optimizer steps.
        if config.train.objective == .ppo { return try ppoStep() }
        if config.train.objective == .grpo { return try grpoStep() }
        let t = config.train
        // Sequence-length warm-up shortens the lm objective's windows (evaluation keeps the full context).
        let (batch, length, accumulation) = (t.batchSize, windowSchedule.length(at: step), t.gradAccumSteps)
        if length != windowSchedule.length(at: max(step - 1, 0)) { releasePooledBuffers() }  // the shorter window's buffers are not used again
        let stepStart = DispatchTime.now().uptimeNanoseconds
        let lr = schedule.rate(at: step)
        try timed("zero gradients") { optimizer.zeroGrad() }
        var lossSum: Float = 0
        var stepTokens = Double(batch * length * accumulation)
        model.setAdapterDropout(adapterDropout)  // training steps only, not evaluations
        try timed("forward and backward") {
            if t.objective == .distill {
                let (loss, tokens) = try distillationStep(batch: batch, length: length, accumulation: accumulation)
                lossSum = loss * Float(accumulation)
                stepTokens = Double(tokens)
            } else if let examples = corpus.examples {
                let (loss, tokens) = try fineTuningStep(examples: examples, batch: batch, accumulation: accumulation)
                lossSum = loss * Float(accumulation)
                stepTokens = Double(tokens)
            } else {
                lossSum = try languageModelStep(batch: batch, length: length, accumulation: accumulation)
            }
        }
        model.setAdapterDropout(nil)
        mask?.maskGradients(of: model.parameters)
        let loss = lossSum / Float(accumulation)
        var gradNorm: Float = 0
        try timed("gradient norm") { gradNorm = gradientNorm(optimizer.parameters) }
        guard gradNorm.isFinite else { throw nonFinite("gradient norm", gradNorm) }
        try timed("optimizer step") { optimizer.step(lr: lr, gradientScale: clipFactor(norm: gradNorm, maxNorm: Float(t.gradClip))) }
        step += 1
        let ms = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e6
        stepLosses.append(loss)
        stepMilliseconds.append(ms)
        return StepReport(loss: loss, learningRate: lr, gradientNorm: gradNorm, tokens: stepTokens, milliseconds: ms)
    }

    /// Runs `body`, adding its wall time to `phases` when profiling.
    func timed(_ phase: String, _ body: () throws -> Void) throws {
        guard phases != nil else { return try body() }
        OpProfiler.mark()  // the first op's forward time starts here, not at the previous step's last op
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        phases!.add(phase, nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
    }

    /// The lm objective's forward and backward passes: `accumulation`
    /// micro-batches of random windows. Returns the sum of their losses.
    func languageModelStep(batch: Int, length: Int, accumulation: Int) throws -> Float {
        var lossSum: Float = 0
        for _ in 0..<accumulation {
            let (inputs, targets) = sampler.next(from: corpus.train, batch: batch, length: length)
            let loss = model.loss(inputs, targets: targets, batch: batch, length: length, dropout: dropout,
                                  labelSmoothing: Float(config.train.labelSmoothing))
            guard loss.item.isFinite else { throw nonFinite("loss", loss.item) }
            lossSum += loss.item
            scale(loss, 1 / Float(accumulation)).backward()
        }
        return lossSum
    }

    /// As nanoGPT: the untrained model's loss is the first best, but is not
    /// saved; best/ appears once training beats it.
    func evaluateStartingPoint() throws {
        let (train, validation) = try evaluate()
        guard train.isFinite, validation.isFinite else {
            throw TrainingError("the starting model's \(train.isFinite ? "validation" : "training") loss at step 0 is \(train.isFinite ? validation : train): its outputs are not finite numbers (a weight so large that its products overflow float32); nothing was trained")
        }
        bestValidationLoss = min(bestValidationLoss, validation)
    }

    /// Saves latest/ and throws `TrainingInterrupted` when a signal, the step
    /// limit (`stopAfterStep`) or the time budget asks the run to stop.
    func stopIfAsked(runStarted: Date) throws {
        let overBudget = options.stopAfterSeconds.map { Date().timeIntervalSince(runStarted) >= $0 } ?? false
        guard interruptRequested != 0 || step == options.stopAfterStep || overBudget else { return }
        try saveLatest()
        throw TrainingInterrupted(step: step, checkpoint: RunDirectory(options.runDirectory).latest,
                                  budgetReached: overBudget && interruptRequested == 0, signal: Int32(interruptRequested))
    }

    /// A log line (console and metrics.jsonl) for the step just taken, with
    /// speed averaged over the interval since the previous line.
    func logStep(_ report: StepReport, interval: StepInterval) throws {
        let t = config.train
        let (loss, lr, gradNorm) = (report.loss, report.learningRate, report.gradientNorm)
        let msPerStep = interval.milliseconds / Double(interval.steps)
        let tokensPerSecond = interval.tokens / Double(interval.steps) / (msPerStep / 1000)
        // DPO and reward models: the step's loss, as for lm; their figures averaged over the interval's batches.
        // PPO and GRPO: every figure averaged over the interval's steps.
        var figures: Figures?, summary = ""
        switch t.objective {
        case .dpo:
            var preference = intervalPreference
            preference.loss = Double(loss)
            (figures, summary) = (Figures(preference.named()), preference.summary)
        case .reward:
            var rewards = intervalRewards
            rewards.loss = Double(loss)
            (figures, summary) = (rewards.figures, rewards.summary)
        case .ppo, .grpo:
            let means = intervalPolicy.means
            figures = means
            summary = policySummary(means)
        case .distill:
            figures = intervalDistillation.figures
            summary = String(format: "ce %.4f ppl %@ | kl %.4f", figures!["distill/ce"] ?? .nan, perplexityText(figures!["distill/ce"] ?? .nan),
                             figures!["distill/kl"] ?? .nan)
        case .lm, .sft:
            figures = nil
        }
        intervalDistillation = DistillationParts()
        intervalPreference = PreferenceStats()
        intervalRewards = RewardStats()
        intervalPolicy = FigureMeans()
        try metrics?.append(.log(step: step, loss: Double(loss), lr: Double(lr), gradNorm: Double(gradNorm),
                                msPerStep: msPerStep, tokensPerSecond: tokensPerSecond, figures: figures))
        clearProgress()
        if figures != nil {  // perplexity only for a plain cross-entropy (distill's is in its summary)
            options.log(String(format: "step %d/%d | loss %.4f | %@ | lr %.2e | grad norm %.3f | %.1f ms/step | %.0f tok/s",
                               step, t.maxSteps, loss, summary, lr, gradNorm, msPerStep, tokensPerSecond))
        } else {
            options.log(String(format: "step %d/%d | loss %.4f | ppl %@ | lr %.2e | grad norm %.3f | %.1f ms/step | %.0f tok/s",
                               step, t.maxSteps, loss, perplexityText(Double(loss)), lr, gradNorm, msPerStep, tokensPerSecond))
        }
    }

    /// An evaluation, then best/ (when the validation loss is the lowest so
    /// far) and latest/.
    func evaluateAndSave() throws {
        clearProgress()
        let (train, validation) = try evaluate()
        guard train.isFinite else { throw nonFinite("training loss at evaluation", Float(train), step: step) }
        guard validation.isFinite else { throw nonFinite("validation loss", Float(validation), step: step) }
        // best before latest: a crash between the two leaves latest at the
        // previous evaluation, so a resume redoes this one and saves best
        // again; never a best/ older than latest's record.
        if validation < bestValidationLoss {
            bestValidationLoss = validation
            try save(to: RunDirectory(options.runDirectory).best)
        }
        try saveLatest()
    }

    /// Mean loss over `eval_steps` batches of each split, logged and recorded.
    /// The windows are the same at every evaluation (a fixed seed per split),
    /// so differences between evaluations come from the model alone.
    /// PPO and GRPO: minus the mean score of greedy completions of each split's first prompts.
    func evaluate() throws -> (train: Double, validation: Double) {
        let train: Double, validation: Double, figures: Figures?
        if let prompts = corpus.prompts, policyOptimization != nil {
            train = -(try policyEvaluation(prompts.train).score)
            let (score, named) = try policyEvaluation(prompts.validation)
            (validation, figures) = (-score, named)
        } else if let examples = corpus.examples {
            train = fineTuningEvaluation(examples.train, reference: reference?.train).loss
            (validation, figures) = fineTuningEvaluation(examples.validation, reference: reference?.validation)
        } else {
            train = meanLoss(corpus.train, seed: 0xE7A1_0001)
            validation = meanLoss(corpus.validation, seed: 0xE7A1_0002)
            figures = nil
        }
        try metrics?.append(.evaluation(step: step, trainLoss: train, validationLoss: validation, figures: figures))
        // Step 0's model is the run's first best but is never saved as best/.
        let best = step == 0 ? " (starting point)" : validation < bestValidationLoss ? " (best so far)" : ""
        if config.train.objective.isPolicyOptimization, let figures {
            options.log(String(format: "eval step %d | train score %.4f | val score %.4f | eval %@%@",
                               step, -train, -validation, policySummary(figures, evaluation: true), best))
        } else if let figures {
            options.log(String(format: "eval step %d | train loss %.4f | val loss %.4f | eval %@%@",
                               step, train, validation, figuresSummary(figures), best))
        } else {
            options.log(String(format: "eval step %d | train loss %.4f ppl %@ | val loss %.4f ppl %@%@",
                               step, train, perplexityText(train), validation, perplexityText(validation), best))
        }
        return (train, validation)
    }

    /// DPO's or a reward model's figures for a console line.
    func figuresSummary(_ f: Figures) -> String {
        if config.train.objective == .dpo {
            return String(format: "rewards/accuracies %.3f | rewards/margins %.4f | rewards/chosen %.4f | rewards/rejected %.4f",
                          f["rewards/accuracies"] ?? .nan, f["rewards/margins"] ?? .nan, f["rewards/chosen"] ?? .nan, f["rewards/rejected"] ?? .nan)
        }
        return String(format: "accuracy %.3f | margin %.4f | rewards/chosen %.4f | rewards/rejected %.4f",
                      f["accuracy"] ?? .nan, f["margin"] ?? .nan, f["rewards/chosen"] ?? .nan, f["rewards/rejected"] ?? .nan)
    }

    /// PPO's or GRPO's main figures for a console line: the score and the KL to the reference.
    func policySummary(_ f: Figures, evaluation: Bool = false) -> String {
        let grpo = config.train.objective == .grpo
        let (score, kl) = grpo ? ("reward", "kl") : ("objective/scores", "objective/kl")
        var text = String(format: "%@ %.4f | %@ %.4f", score, f[score] ?? .nan, kl, f[kl] ?? .nan)
        for item in f.items where item.name.hasPrefix("rewards/") && item.name.hasSuffix("/mean") { text += String(format: " | %@ %.3f", item.name, item.value) }
        if !evaluation {
            let clip = grpo ? "clip_ratio/region_mean" : "policy/clipfrac_avg"
            text += String(format: " | %@ %.3f", clip, f[clip] ?? .nan)
        }
        return text
    }

    /// Mean cross-entropy over `eval_steps` random batches of `tokens`.
    public func meanLoss(_ tokens: [Int32], seed: UInt64) -> Double {
        let (batch, length) = (config.train.batchSize, config.tokenContextLength)
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
        if optimizer.stepCount != step { state.optimizerSteps = optimizer.stepCount }  // PPO and GRPO take several per step
        let moments = optimizer.state.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
        var tensors = [Trainer.optimizerFile: moments]
        if let reference { tensors[ReferenceScores.file] = reference.tensors }
        if let scoreModel { tensors.merge(Checkpoint.scoreTensors(scoreModel)) { $1 } }
        let tokenizerJSON = Data(corpus.tokenizer.jsonString().utf8)
        try Checkpoint.save(model: model, config: config, tokenizerJSON: tokenizerJSON,
                            extraFiles: Checkpoint.chatTemplateFiles(options.chatTemplate).merging([Trainer.stateFile: try state.jsonData()]) { $1 },
                            extraTensors: tensors, inner: policyOptimization?.innerCheckpoints(config: config, tokenizerJSON: tokenizerJSON) ?? [:],
                            mask: mask, base: options.base, to: directory)
    }

    /// Refuses LoRA adapters on a pruned model: merged, they would fill the pruned weights in.
    public static func checkMask(_ mask: PruningMask?, lora: LoRAConfig?) throws {
        guard let mask, lora != nil else { return }
        throw TrainingError("a lora section trains adapters whose merge would fill in the \(mask.prunedCount) pruned weights of a pruned checkpoint; fine-tune a pruned model without lora (its mask keeps the pruned weights at zero)")
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

    /// The step a checkpoint was saved at, checked to be in [0, max_steps]
    /// (for a command deciding whether a resume has anything to do).
    public static func savedStep(in checkpoint: URL, maxSteps: Int) throws -> Int { try readState(checkpoint, maxSteps: maxSteps).step }

    /// Refuses to resume on a text that differs from the one the run started
    /// with (checkpoints from before this record was kept are not checked).
    public static func checkSameData(_ data: DataFingerprint, path: String, checkpoint: URL) throws {
        guard let saved = try readState(checkpoint).data, saved != data else { return }
        let change = saved.bytes == data.bytes ? "same size, \(data.bytes) bytes, but different content"
                                               : "\(saved.bytes) bytes when the run started, \(data.bytes) bytes now"
        throw TrainingError("cannot resume \(checkpoint.path): the data file '\(path)' changed since the run started (\(change)); resume with the original text, or start a new run")
    }

    /// A checkpoint's trainer state; with `maxSteps`, its step must be in [0, max_steps].
    static func readState(_ directory: URL, maxSteps: Int? = nil) throws -> TrainerState {
        let url = directory.appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError("checkpoint \(directory.path) has no \(stateFile): it holds weights only and cannot be resumed")
        }
        let state = try TrainerState(json: data, source: url.path)
        if let maxSteps, state.step > maxSteps {
            throw TrainingError("\(url.path): step \(state.step) is beyond train.max_steps (\(maxSteps)); the file was edited or damaged")
        }
        return state
    }

    // MARK: progress bar (stderr, terminals only)

    func showProgress(started: Date, done: Int, remaining: Int, loss: Float) {
        guard options.progressBar else { return }
        fputs(progressLine(done: step, total: config.train.maxSteps, doneSinceStart: done, started: started,
                           detail: String(format: " loss %.4f", loss)), stderr)
    }

    func clearProgress() {
        guard options.progressBar else { return }
        fputs(clearedProgressLine, stderr)
    }
}

/// The one progress line of long commands (train, eval), for a terminal's
/// stderr: a 30-cell bar, done/total, the caller's detail, and the time left
/// at the rate since `started` (`doneSinceStart` items ago).
public func progressLine(done: Int, total: Int, doneSinceStart: Int, started: Date, detail: String = "") -> String {
    let filled = min(30, max(0, Int(Double(done) / Double(max(total, 1)) * 30)))
    let elapsed = Date().timeIntervalSince(started)
    let eta = doneSinceStart > 0 ? elapsed / Double(doneSinceStart) * Double(total - done) : 0
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
    return "\r\(bar) \(done)/\(total)\(detail) ETA \(formatDuration(eta)) "
}

/// Erases the progress line (carriage return, clear to the end of the line).
public let clearedProgressLine = "\r\u{1B}[K"

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
        self.bytes = text.utf8.count
        self.hash = FNV1a64.hash(text.utf8)
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
    /// The optimizer's update count when it differs from `step` (PPO and GRPO), for Adam's bias correction.
    var optimizerSteps: Int?

    func jsonData() throws -> Data {
        // Generator words are written as hex strings: JSON numbers are doubles
        // and cannot hold 64-bit integers exactly.
        func hex(_ words: [UInt64]) -> JSONValue { .array(words.map { .string(String($0, radix: 16)) }) }
        var object: JSONValue = ["step": .int(step), "data_generator": hex(dataGenerator)]
        if let dropoutGenerator { object.set("dropout_generator", hex(dropoutGenerator)) }
        if let adapterDropoutGenerator { object.set("lora_dropout_generator", hex(adapterDropoutGenerator)) }
        if let bestValidationLoss { object.set("best_val_loss", .number(bestValidationLoss)) }
        if let data { object.set("data", ["bytes": .int(data.bytes), "fnv1a64": .string(String(data.hash, radix: 16))]) }
        if let optimizerSteps { object.set("optimizer_steps", .int(optimizerSteps)) }
        return object.fileData
    }

    init(step: Int, dataGenerator: [UInt64], dropoutGenerator: [UInt64]?, bestValidationLoss: Double?) {
        self.step = step; self.dataGenerator = dataGenerator
        self.dropoutGenerator = dropoutGenerator; self.bestValidationLoss = bestValidationLoss
    }

    init(json: Data, source: String) throws {
        // Not JSON at all is reported as a state without its fields.
        let object = try? JSONParser.parse(Array(json))
        func generator(_ key: String) -> [UInt64]? {
            object?[key]?.array?.compactMap { $0.string.flatMap { UInt64($0, radix: 16) } }
        }
        guard let step = object?["step"]?.int, let words = generator("data_generator"), words.count == 4 else {
            throw TrainingError("\(source): malformed trainer state (needs step and data_generator)")
        }
        guard step >= 0 else { throw TrainingError("\(source): step \(step) is negative; the file was edited or damaged") }
        self.step = step
        dataGenerator = words
        dropoutGenerator = generator("dropout_generator")
        if let d = dropoutGenerator, d.count != 4 { throw TrainingError("\(source): malformed dropout_generator") }
        adapterDropoutGenerator = generator("lora_dropout_generator")
        if let d = adapterDropoutGenerator, d.count != 4 { throw TrainingError("\(source): malformed lora_dropout_generator") }
        bestValidationLoss = object?["best_val_loss"]?.double
        if let steps = object?["optimizer_steps"] {
            guard let n = steps.int, n >= 0 else { throw TrainingError("\(source): malformed optimizer_steps") }
            optimizerSteps = n
        }
        if let record = object?["data"] {
            guard let bytes = record["bytes"]?.int, bytes >= 0, let hash = record["fnv1a64"]?.string.flatMap({ UInt64($0, radix: 16) }) else {
                throw TrainingError("\(source): malformed data record (needs bytes and fnv1a64)")
            }
            data = DataFingerprint(bytes: bytes, hash: hash)
        }
    }
}
