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
    private let lock: RunLock

    private init(directory: RunDirectory, trainer: Trainer, corpus: Corpus, initializedFrom: URL?, lock: RunLock) {
        self.directory = directory; self.trainer = trainer; self.corpus = corpus
        self.initializedFrom = initializedFrom; self.lock = lock
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
        if resume && !fm.fileExists(atPath: run.latest.path) {
            throw TrainingError(fm.fileExists(atPath: out.path) ? "cannot resume: '\(out.path)' has no latest/ checkpoint"
                                                                  : "cannot resume: run directory '\(out.path)' does not exist")
        }
        if !resume && run.hasCheckpoint && !force {
            throw TrainingError("'\(out.path)' holds another run; use --resume to continue it or --force to start over")
        }

        // The config, read once: the file given, else the checkpoint's when resuming, else the default.
        let saved = resume ? try Checkpoint.loadConfig(from: run.latest) : nil
        var config: RunConfig
        if let file = request.configFile ?? (saved == nil ? request.defaultConfig : nil) {
            guard fm.fileExists(atPath: file.path) else { throw TrainingError("config file '\(file.path)' does not exist") }
            config = try RunConfig.load(from: file, overrides: request.overrides)
        } else {
            config = saved ?? RunConfig()
            try config.apply(overrides: request.overrides)
            try config.validate()
        }
        if let saved, request.dataPath == nil { config.data.path = saved.data.path }  // the run's own text
        if let dataPath = request.dataPath { config.data.path = dataPath }
        config.data.path = absolutePath(config.data.path)  // so --resume works from any directory
        let initial = try request.initFrom.map { try Checkpoint.load(from: try Checkpoint.resolve($0)) }
        if let initial {  // fine-tuning: the checkpoint decides the model and the tokenizer
            config.model = initial.config.model
            config.tokenizer = initial.config.tokenizer
            // Except model.attention, which changes no parameter: a causal base may be fine-tuned as a prefix LM.
            try config.apply(overrides: request.overrides.filter { $0.hasPrefix("model.attention=") })
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
            try Trainer.checkSameData(fingerprint, path: config.data.path, checkpoint: run.latest)
        }
        let cacheKey = TokenCache.key(text: text, config: config)
        let (format, examples) = try ExampleFile.read(path: config.data.path, text: text)
        try Trainer.checkObjective(config.train.objective, format: format, dataPath: config.data.path)
        if !resume { try Trainer.checkReference(config.train.objective, initialModel: initial != nil) }
        var corpus: Corpus, cached: Bool
        if format != .text {
            corpus = try exampleCorpus(format: format, examples: examples, config: config, run: run, resume: resume,
                                       initialTokenizer: initial?.tokenizerJSON, progress: tokenizerProgress)
            cached = false
        } else if let initial {
            let tokenizer = try TokenizerFile.load(data: initial.tokenizerJSON)
            let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
            corpus = try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText)
            cached = false
        } else {
            (corpus, cached) = try loadCorpus(text: text, key: cacheKey, config: config, run: run, resume: resume, progress: tokenizerProgress)
        }
        let checked = try Trainer.checked(config, for: corpus)
        if let line = corpus.examples?.fittingNote { note("note: \(line)") }
        if resume {
            try Trainer.checkSameRun(checked, checkpoint: run.latest)
            let step = try Trainer.savedStep(in: run.latest)
            if step >= checked.train.maxSteps {
                note("'\(out.path)' already finished at step \(step) (train.max_steps); nothing to train. "
                     + "To train longer, start a new run: the learning-rate schedule depends on max_steps.")
                return nil
            }
        }

        // Everything checked: now the directory may change. Starting over
        // (--force, or a run that stopped before its first checkpoint) keeps
        // the token cache, which is only used when it matches the text and
        // the tokenizer settings; --init-from replaces the tokenizer, so not then.
        if !resume {
            for name in RunDirectory.startOverNames where initial != nil || (name != RunDirectory.tokenCacheName && name != RunDirectory.tokenizerName) {
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
        options.data = fingerprint
        // The template goes where the weights go: from --init-from, or kept by a resumed run.
        options.chatTemplate = try initial.map { try Checkpoint.chatTemplate(in: $0.directory) }
            ?? (resume ? try Checkpoint.chatTemplate(in: run.latest) : nil)
        configure(&options)
        let trainer = try Trainer(config: config, corpus: corpus, options: options, initialModel: initial?.model)
        // The cache is written only by a fresh run whose tokenizer was built
        // from the settings: a later --force trusts it as exactly that. A
        // resume without a cache re-encodes with the checkpoint's tokenizer instead.
        if !cached && !resume {
            try corpus.tokenizer.save(to: run.tokenizer)
            if corpus.examples != nil {
                try? fm.removeItem(at: run.tokenCache)  // examples are tokenized each time (they are small)
            } else if initial == nil {
                try TokenCache.write(train: corpus.train, validation: corpus.validation, vocabSize: corpus.tokenizer.vocabSize,
                                     key: cacheKey, to: run.tokenCache)
            } else {
                try? fm.removeItem(at: run.tokenCache)  // ids of another tokenizer
            }
        }
        try AtomicFile.write(trainer.config.jsonData(), to: run.config)
        return TrainingRun(directory: run, trainer: trainer, corpus: corpus, initializedFrom: initial?.directory, lock: lock!)
    }

    /// A corpus of prompt–completion or preference examples, tokenized with the
    /// --init-from checkpoint's tokenizer, the resumed run's, or (training from
    /// scratch) a tokenizer built from the examples' text.
    static func exampleCorpus(format: DataFormat, examples: [TextExample], config: RunConfig, run: RunDirectory, resume: Bool,
                              initialTokenizer: Data?, progress: ((Int, Int) -> Void)?) throws -> Corpus {
        let tokenizer: any Tokenizer
        if let initialTokenizer {
            tokenizer = try TokenizerFile.load(data: initialTokenizer)
        } else if resume {
            tokenizer = try TokenizerFile.load(from: run.latest.appendingPathComponent(Checkpoint.tokenizerFile))
        } else {
            let text = examples.map { [$0.prompt, $0.chosen, $0.rejected ?? ""].joined(separator: "\n") }.joined(separator: "\n")
            tokenizer = try Corpus.build(text: text, config: config, progress: progress).tokenizer
        }
        var corpus = Corpus(tokenizer: tokenizer, train: [], validation: [])
        corpus.examples = try ExampleSet(format: format, examples: examples, tokenizer: tokenizer, contextLength: config.model.contextLength,
                                         valFraction: config.data.valFraction, path: config.data.path)
        return corpus
    }

    /// Reuses the run's tokenizer and token cache when they match (`cached`);
    /// otherwise builds the tokenizer (or takes the checkpoint's, when resuming).
    /// Writes nothing: the caller saves a new tokenizer and cache once the run is checked.
    static func loadCorpus(text: String, key: UInt64, config: RunConfig, run: RunDirectory, resume: Bool,
                           progress: ((Int, Int) -> Void)?) throws -> (corpus: Corpus, cached: Bool) {
        let tokenizer: (any Tokenizer)?
        if resume {
            tokenizer = try TokenizerFile.load(from: run.latest.appendingPathComponent(Checkpoint.tokenizerFile))
        } else if FileManager.default.fileExists(atPath: run.tokenizer.path) {
            tokenizer = try? TokenizerFile.load(from: run.tokenizer)
        } else {
            tokenizer = nil
        }
        if let tokenizer, let cached = TokenCache.read(from: run.tokenCache, key: key) {
            return (Corpus(tokenizer: tokenizer, train: cached.train, validation: cached.validation), true)
        }
        if let tokenizer, resume {
            let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
            return (try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText), false)
        }
        return (try Corpus.build(text: text, config: config, progress: progress), false)
    }
}
