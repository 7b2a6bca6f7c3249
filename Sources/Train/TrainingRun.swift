import Foundation
import Files
import Kernels
import Config
import Formats
import Tokenizer

/// What a user asks of `train`: a run directory, and how to start in it.
public struct RunRequest {
    public enum Start: Equatable { case fresh, resume, force }
    public var directory: URL
    public var start = Start.fresh
    /// The run config file; nil: the checkpoint's config on resume, else `defaultConfig`, else built-in defaults.
    public var configFile: URL?
    public var defaultConfig: URL?
    public var overrides: [String] = []
    /// Overrides data.path; nil on resume keeps the run's own text.
    public var dataPath: String?
    /// Fine-tuning: a checkpoint (or run directory) whose weights, model config and tokenizer the run starts from.
    public var initFrom: String?
    /// PPO and GRPO: a reward checkpoint (train.objective = reward) that scores completions; sets reward.model.
    public var rewardPath: String?
    /// distill: the teacher checkpoint; sets train.teacher.
    public var teacherPath: String?
    public init(directory: URL) { self.directory = directory }
}

/// A run opened for training: its directory locked, its config loaded and
/// checked once, its corpus from the token cache when it matches, and a
/// trainer ready to run. Every check happens before the directory changes,
/// so a refused request leaves nothing behind.
public final class TrainingRun {
    public let directory: RunDirectory
    public let trainer: Trainer
    public let corpus: Corpus
    /// The checkpoint a fine-tuning run started from.
    public let initializedFrom: URL?
    /// The tokenizer came from the distill teacher (a fresh run without --init-from).
    public let tokenizerFromTeacher: Bool
    private let lock: RunLock

    private init(directory: RunDirectory, trainer: Trainer, corpus: Corpus, initializedFrom: URL?, tokenizerFromTeacher: Bool, lock: RunLock) {
        self.directory = directory; self.trainer = trainer; self.corpus = corpus
        self.initializedFrom = initializedFrom; self.tokenizerFromTeacher = tokenizerFromTeacher; self.lock = lock
    }

    /// Opens the run. `note` receives remarks for the user (recovered saves).
    /// `configure` sets the trainer's options (logging, budgets). Returns nil
    /// when a resume finds the run already finished (after a note saying so).
    public static func open(_ request: RunRequest, note: (String) -> Void,
                            configure: (inout TrainerOptions) -> Void = { _ in },
                            tokenizerProgress: ((Int, Int) -> Void)? = nil) throws -> TrainingRun? {
        let resume = request.start == .resume, force = request.start == .force
        if resume && request.initFrom != nil { throw TrainingError("--resume continues a run; --init-from starts a new one from a checkpoint: choose one") }
        let run = RunDirectory(request.directory)
        let out = run.url
        let fm = FileManager.default
        // The checkpoint a run starts from is never inside the directory it
        // (re)writes, nor around it, even with --force: starting over would delete it.
        if let initFrom = request.initFrom {
            let source = try Checkpoint.resolve(initFrom)
            for path in [initFrom, source.path] {
                if let how = OutputDirectory.overlap(out.path, path) {
                    throw TrainingError("--out '\(out.path)' \(how) the --init-from checkpoint '\(path)'; a run never writes over the checkpoint it starts from, even with --force: choose another --out")
                }
            }
        }

        // The directory is locked before anything is read from or written to it.
        var lock: RunLock?
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: out.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw TrainingError("--out '\(out.path)' is a file; give a directory for the run") }
            let entries = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
            if !entries.isEmpty {
                guard OutputDirectory.tinygptContents(out.path) == "run" else {
                    let what = OutputDirectory.tinygptContents(out.path).map { "holds a tinygpt \($0), not a run" } ?? "is not empty and holds no tinygpt run"
                    throw TrainingError("--out '\(out.path)' \(what); choose a new or empty directory for the run")
                }
                lock = try RunLock(out)
                for line in Checkpoint.recoverInterruptedReplacements(in: out) { note("\(out.path): \(line)") }
            }
        }
        // A resume continues latest/; when a save was cut short (a full disk)
        // and left only best/, it continues best/ instead, saying so.
        var resumeFrom = run.latest
        if resume && !fm.fileExists(atPath: run.latest.path) {
            guard fm.fileExists(atPath: run.best.path) else {
                throw TrainingError(fm.fileExists(atPath: out.path) ? "cannot resume: '\(out.path)' has no latest/ or best/ checkpoint"
                                                                      : "cannot resume: run directory '\(out.path)' does not exist")
            }
            resumeFrom = run.best
            let step = (try? Trainer.readState(run.best).step).map { " at step \($0)" } ?? ""
            note("note: '\(out.path)' has no latest/ (its last save did not complete); resuming from best/\(step)")
        }
        if !resume && run.hasCheckpoint && !force {
            throw TrainingError("'\(out.path)' holds another run; use --resume to continue it or --force to start over")
        }

        // The config, read once: the file given, else the checkpoint's when resuming, else the default;
        // with --init-from, the checkpoint's model and tokenizer; then the overrides; then one validation.
        let saved = resume ? try Checkpoint.loadConfig(from: resumeFrom) : nil
        let initial = try request.initFrom.map { try Checkpoint.load(from: try Checkpoint.resolve($0)) }
        var config: RunConfig
        if let file = request.configFile ?? (saved == nil ? request.defaultConfig : nil) {
            guard fm.fileExists(atPath: file.path) else { throw TrainingError("config file '\(file.path)' does not exist") }
            config = try RunConfig.loadUnvalidated(from: file)
        } else {
            config = saved ?? RunConfig()
        }
        if let initial {  // fine-tuning: the checkpoint decides the model and the tokenizer
            config.model = initial.config.model
            config.tokenizer = initial.config.tokenizer
            let unused = request.configFile.map { RunConfig.sectionNames(inFile: $0).filter { $0 == "model" || $0 == "tokenizer" } } ?? []
            if let file = request.configFile, !unused.isEmpty {
                note("note: the \(unused.joined(separator: " and ")) section\(unused.count == 1 ? "" : "s") of \(file.path) \(unused.count == 1 ? "is" : "are") not used: --init-from takes the model and tokenizer from \(initial.directory.path)")
            }
        }
        try config.apply(overrides: request.overrides)
        if let rewardPath = request.rewardPath {
            var section = config.reward ?? RewardConfig()
            section.model = absolutePath(rewardPath)
            config.reward = section
        }
        if !(config.reward?.model.isEmpty ?? true) && !config.train.objective.isPolicyOptimization {
            throw TrainingError("--reward (reward.model) scores sampled completions for train.objective ppo or grpo; this run's objective is \(config.train.objective.rawValue)")
        }
        if let teacherPath = request.teacherPath {
            guard config.train.objective == .distill else {
                throw TrainingError("--teacher is the model a train.objective distill run learns from; this run's objective is \(config.train.objective.rawValue): add --set train.objective=distill")
            }
            config.train.teacher = absolutePath(teacherPath)
        }
        try config.validate()
        // distill: the teacher, opened once; a fresh run without --init-from takes its tokenizer (the student needs the same one).
        var teacher: DistillationTeacher?
        if config.train.objective == .distill {
            guard !config.train.teacher.isEmpty else {
                throw TrainingError("train.objective distill needs a teacher: --teacher DIR (a checkpoint or run directory, usually a larger model)")
            }
            teacher = try DistillationTeacher(path: config.train.teacher)
        }
        let tokenizerFromTeacher = teacher != nil && !resume && initial == nil
        if tokenizerFromTeacher, let teacher {
            config.tokenizer = teacher.config.tokenizer
            config.model.vocabSize = nil
            if let file = request.configFile, RunConfig.sectionNames(inFile: file).contains("tokenizer") {
                note("note: the tokenizer section of \(file.path) is not used: a distill run takes the teacher's tokenizer from \(teacher.directory?.path ?? config.train.teacher)")
            }
        }
        let givenTokenizer = initial?.tokenizerJSON ?? (tokenizerFromTeacher ? teacher?.tokenizerJSON : nil)
        // A student from --init-from keeps its tokenizer: refused now if it is not the teacher's, before the data is encoded with it.
        if let teacher, let initial {
            try teacher.check(studentTokenizer: try TokenizerFile.load(data: initial.tokenizerJSON), studentContext: config.model.contextLength)
        }
        if let initial { try checkInitializedModel(config, checkpoint: initial.config, source: initial.directory.path) }
        try Trainer.checkMask(initial?.mask, lora: config.lora)
        if let saved, request.dataPath == nil { config.data.path = saved.data.path }  // the run's own text
        if let dataPath = request.dataPath { config.data.path = dataPath }
        config.data.path = absolutePath(config.data.path)  // so --resume works from any directory
        if !resume, let name = RunDirectory.startOverNames.first(where: { ["is", "contains"].contains(OutputDirectory.overlap(out.appendingPathComponent($0).path, config.data.path)) }) {
            throw TrainingError("data file '\(config.data.path)' is the run's own \(name) in --out '\(out.path)', which starting the run deletes; train on a copy outside the run directory")
        }
        if !resume, let line = config.shortenWarmupToRun() { note("note: \(line)") }
        if config.train.threads > 0 { Parallel.threads = config.train.threads }

        // The corpus, and the checks that need it.
        guard fm.fileExists(atPath: config.data.path) else {
            throw TrainingError("data file '\(config.data.path)' does not exist (set it with --data FILE)")
        }
        let text = try TextFile.read(config.data.path, what: "data file")
        if text.isEmpty { throw TrainingError("data file '\(config.data.path)' is empty") }
        let fingerprint = DataFingerprint(text: text)
        // Another path is the config check's to name (data.path); the same path must hold the same text.
        if let saved, absolutePath(saved.data.path) == config.data.path {
            try Trainer.checkSameData(fingerprint, path: config.data.path, checkpoint: resumeFrom)
        }
        let cacheKey = TokenCache.key(text: text, config: config)
        let (format, examples) = try ExampleFile.read(path: config.data.path, text: text)
        try Trainer.checkObjective(config.train.objective, format: format, dataPath: config.data.path)
        if !resume { try Trainer.checkReference(config.train.objective, initialModel: initial != nil) }
        var corpus: Corpus, cached: Bool
        if format != .text {
            // Conversations are rendered with the chat template of the model being fine-tuned (or of the resumed run).
            let templateDirectory = resume ? resumeFrom : initial?.directory ?? (tokenizerFromTeacher ? teacher?.directory : nil)
            let template = try templateDirectory.map { (source: try Checkpoint.chatTemplate(in: $0), origin: $0.path) }
            corpus = try exampleCorpus(format: format, examples: examples, config: config, run: run, resumeFrom: resume ? resumeFrom : nil,
                                       initialTokenizer: givenTokenizer, chatTemplate: template, progress: tokenizerProgress)
            cached = false
        } else if let givenTokenizer {
            let tokenizer = try TokenizerFile.load(data: givenTokenizer)
            let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
            corpus = try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText)
            cached = false
        } else {
            (corpus, cached) = try loadCorpus(text: text, key: cacheKey, config: config, run: run, resumeFrom: resume ? resumeFrom : nil,
                                              progress: tokenizerProgress)
        }
        let checked = try Trainer.checked(config, for: corpus, initialized: initial != nil, teacher: teacher)
        // A fresh PPO or GRPO run opens its reward model now; a resumed one has its copy in the checkpoint.
        var reward: RewardCheckpoint?
        if !resume, let path = config.reward?.model, !path.isEmpty, let initial {
            reward = try RewardCheckpoint.open(path, policyTokenizer: initial.tokenizerJSON, length: config.model.contextLength)
        }
        if let line = corpus.examples?.fittingNote { note("note: \(line)") }
        if !resume, let line = Trainer.epochsNote(checked, corpus: corpus) { note("note: \(line)") }
        if resume {
            try Trainer.checkSameRun(checked, checkpoint: resumeFrom)
            let step = try Trainer.savedStep(in: resumeFrom, maxSteps: checked.train.maxSteps)
            if step >= checked.train.maxSteps {
                note("'\(out.path)' already finished at step \(step) (train.max_steps); nothing to train. "
                     + "To train longer, start a new run: the learning-rate schedule depends on max_steps.")
                return nil
            }
        }

        // An adapter run started from a checkpoint saves adapters only, naming that checkpoint as its base
        // (fingerprinted now); a resumed run carries its record on; a run on a fresh base keeps the base's weights.
        var base: CheckpointBase?
        if resume {
            base = try CheckpointBase.read(from: resumeFrom)
        } else if let initial, checked.peftMethod != nil {
            base = try CheckpointBase(given: request.initFrom ?? initial.directory.path, directory: initial.directory)
        }

        // Everything checked: now the directory may change. Starting over
        // (--force, or a run that stopped before its first checkpoint) keeps
        // the token cache, which is only used when it matches the text and
        // the tokenizer settings; --init-from replaces the tokenizer, so not then.
        if !resume {
            for name in RunDirectory.startOverNames where givenTokenizer != nil || (name != RunDirectory.tokenCacheName && name != RunDirectory.tokenizerName) {
                let url = out.appendingPathComponent(name)
                guard fm.fileExists(atPath: url.path) else { continue }
                do { try fm.removeItem(at: url) } catch { throw TrainingError("cannot remove '\(url.path)' to start over: \(plainReason(error))") }
            }
        }
        if lock == nil {
            do { try fm.createDirectory(at: out, withIntermediateDirectories: true) } catch {
                throw TrainingError("cannot create run directory '\(out.path)': \(plainReason(error))")
            }
            lock = try RunLock(out)
        }
        var options = TrainerOptions(runDirectory: out)
        options.resume = resume
        options.resumeFrom = resumeFrom
        options.data = fingerprint
        options.base = base
        // The template goes where the weights go: from --init-from, or kept by a resumed run.
        // A fresh distill run's student takes the teacher's with its tokenizer.
        let templateSource = initial?.directory ?? (tokenizerFromTeacher ? teacher?.directory : nil)
        options.chatTemplate = try templateSource.map { try Checkpoint.chatTemplate(in: $0) }
            ?? (resume ? try Checkpoint.chatTemplate(in: run.latest) : nil)
        configure(&options)
        // A setting --init-from allows to change (context_length, dropout, rope_scaling) gives the same weights another config.
        let initialModel = initial.map { $0.model.config == checked.model ? $0.model : $0.model.withPositions(checked.model) }
        let trainer = try Trainer(config: config, corpus: corpus, options: options, initialModel: initialModel, reward: reward, mask: initial?.mask,
                                  teacher: teacher)
        // The cache is written only by a fresh run whose tokenizer was built
        // from the settings: a later --force trusts it as exactly that. A
        // resume without a cache re-encodes with the checkpoint's tokenizer instead.
        if !cached && !resume {
            try corpus.tokenizer.save(to: run.tokenizer)
            if corpus.examples != nil {
                try? fm.removeItem(at: run.tokenCache)  // examples are tokenized each time (they are small)
            } else if givenTokenizer == nil {
                try TokenCache.write(train: corpus.train, validation: corpus.validation, vocabSize: corpus.tokenizer.vocabSize,
                                     key: cacheKey, to: run.tokenCache)
            } else {
                try? fm.removeItem(at: run.tokenCache)  // ids of another tokenizer
            }
        }
        try AtomicFile.write(trainer.config.jsonData(), to: run.config)
        return TrainingRun(directory: run, trainer: trainer, corpus: corpus, initializedFrom: initial?.directory, tokenizerFromTeacher: tokenizerFromTeacher,
                           lock: lock!)
    }

    /// Under --init-from the checkpoint's model trains as it is: only settings
    /// that keep every weight may differ from the checkpoint's: model.dropout
    /// (training only), model.rope_scaling, and model.context_length for
    /// positions without a table and without rope_scaling (whose frequencies
    /// are set relative to it). Anything else is refused with the reason,
    /// rather than ignored.
    static func checkInitializedModel(_ config: RunConfig, checkpoint: RunConfig, source: String) throws {
        let changed = config.differingFields(from: checkpoint, sections: ["model", "tokenizer"])
        // model.attention changes no parameter: a causal base may be fine-tuned as a prefix LM.
        let allowed = ["model.context_length", "model.dropout", "model.rope_scaling", "model.attention"]
        if let field = changed.first(where: { !allowed.contains($0) }) {
            let what = field.hasPrefix("tokenizer.") ? "the tokenizer comes" : "the model comes with its weights"
            throw TrainingError("\(field) cannot change under --init-from: \(what) from \(source); of the model only \(allowed.joined(separator: ", ")) may be set")
        }
        guard changed.contains("model.context_length") else { return }
        let m = checkpoint.model, length = config.model.contextLength
        if m.position == .learned {
            throw TrainingError("model.context_length \(length) cannot change under --init-from: \(source) has learned positions, one embedding row per position up to \(m.contextLength); train at its context, or start from a model with rope, alibi, sinusoidal or no positions")
        }
        if m.ropeScaling != nil || config.model.ropeScaling != nil {
            throw TrainingError("model.context_length \(length) cannot change under --init-from together with model.rope_scaling, whose frequencies are set relative to the context length (\(m.contextLength) in \(source))")
        }
    }

    /// A corpus of prompt–completion or preference examples, tokenized with the
    /// --init-from checkpoint's tokenizer, the resumed run's, or (training from
    /// scratch) a tokenizer built from the examples' text.
    static func exampleCorpus(format: DataFormat, examples: [TextExample], config: RunConfig, run: RunDirectory, resumeFrom: URL?,
                              initialTokenizer: Data?, chatTemplate: (source: String?, origin: String)? = nil,
                              progress: ((Int, Int) -> Void)?) throws -> Corpus {
        var examples = examples
        let origin = chatTemplate?.origin ?? "a model trained from scratch"
        if chatTemplate?.source == nil {  // refuses conversations before a tokenizer is built
            try ExampleFile.renderConversations(&examples, template: nil, templateOrigin: origin, specialTokens: [:], path: config.data.path)
        }
        let tokenizer: any Tokenizer
        if let initialTokenizer {
            tokenizer = try TokenizerFile.load(data: initialTokenizer)
        } else if let resumeFrom {
            tokenizer = try TokenizerFile.load(from: resumeFrom.appendingPathComponent(Checkpoint.tokenizerFile))
        } else {
            let text = examples.map { [$0.prompt, $0.chosen, $0.rejected ?? ""].joined(separator: "\n") }.joined(separator: "\n")
            tokenizer = try Corpus.build(text: text, config: config, progress: progress).tokenizer
        }
        try ExampleFile.renderConversations(&examples, template: chatTemplate?.source,
                                            templateOrigin: origin,
                                            specialTokens: tokenizer.templateSpecialTokens(endTokenIds: config.tokenizer.eosTokenIds,
                                                                                           beginTokenId: config.tokenizer.bosTokenId),
                                            path: config.data.path)
        var corpus = Corpus(tokenizer: tokenizer, train: [], validation: [])
        let objective = config.train.objective
        if objective.isPolicyOptimization {
            corpus.prompts = try PromptSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.model.contextLength,
                                           completionLength: config.rolloutSettings.maxTokens,
                                           completionField: objective == .ppo ? "ppo.response_length" : "grpo.max_completion_length",
                                           valFraction: config.data.valFraction, path: config.data.path)
        } else {
            // A reward model reads whole sequences (prompt and completion), not all but the last token.
            corpus.examples = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer,
                                             contextLength: config.tokenContextLength - (objective == .reward ? 1 : 0),
                                             valFraction: config.data.valFraction, path: config.data.path)
        }
        return corpus
    }

    /// Reuses the run's tokenizer and token cache when they match (`cached`);
    /// otherwise builds the tokenizer (or takes the checkpoint's, when resuming).
    /// Writes nothing: the caller saves a new tokenizer and cache once the run is checked.
    static func loadCorpus(text: String, key: UInt64, config: RunConfig, run: RunDirectory, resumeFrom: URL?,
                           progress: ((Int, Int) -> Void)?) throws -> (corpus: Corpus, cached: Bool) {
        let tokenizer: (any Tokenizer)?
        if let resumeFrom {
            tokenizer = try TokenizerFile.load(from: resumeFrom.appendingPathComponent(Checkpoint.tokenizerFile))
        } else if FileManager.default.fileExists(atPath: run.tokenizer.path) {
            tokenizer = try? TokenizerFile.load(from: run.tokenizer)
        } else {
            tokenizer = nil
        }
        if let tokenizer, let cached = TokenCache.read(from: run.tokenCache, key: key) {
            return (Corpus(tokenizer: tokenizer, train: cached.train, validation: cached.validation), true)
        }
        if let tokenizer, resumeFrom != nil {
            let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
            return (try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText), false)
        }
        return (try Corpus.build(text: text, config: config, progress: progress), false)
    }
}
