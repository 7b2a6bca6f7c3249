import Foundation
import Kernels
import Model
import Tokenizer
import Train

let trainUsage = """
    usage: tinygpt train [--config FILE] [--data FILE] [--out DIR] [--resume] [--force] [--set section.field=value ...]

    With no arguments: trains configs/default.json on data/corpus.txt into a fresh runs/ directory.
      --config FILE   run config (docs/config.md); default configs/default.json
      --data FILE     UTF-8 text to train on (overrides data.path)
      --out DIR       run directory; default runs/<config>-<date>-<time>
      --resume        continue DIR/latest exactly where it stopped
      --force         start over in a DIR that holds another run (deletes its checkpoints and metrics, keeps the token cache)
      --init-from CKPT  start from a checkpoint's weights, model config and tokenizer (fine-tuning, e.g. after import)
      --set k=v       override any config field, e.g. --set train.max_steps=500
      --max-seconds S stop after S seconds of wall time, saving latest/ (the schedule still assumes max_steps)
    """

/// Files a run directory holds; --force removes these except the token cache (tokens.bin, tokenizer.json).
let runFiles = ["latest", "best", "metrics.jsonl", "loss.svg", "tokens.bin", "tokenizer.json", "config.json"]

func runTrainCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(trainUsage); return }
    let resume = a.flag("resume"), force = a.flag("force")
    let configPath = try a.option("config")
    let overrides = try a.options("set")
    let dataPath = try a.option("data")
    let outPath = try a.option("out")
    let initFrom = try a.option("init-from")
    let maxSeconds = try a.option("max-seconds").map { text -> Double in
        guard let s = Double(text), s.isFinite, s > 0 else { throw CLIError("--max-seconds must be a positive number of seconds, got '\(text)'") }
        return s
    }
    try a.finish()
    if resume && initFrom != nil { throw CLIError("--resume continues a run; --init-from starts a new one from a checkpoint: choose one") }
    if resume && force { throw CLIError("--resume and --force contradict each other: choose one") }
    if resume && outPath == nil { throw CLIError("--resume needs --out DIR: the run to continue") }

    // The run directory is locked before anything is read from or written
    // to it, so a second trainer on the same --out stops here.
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    let configName = configPath.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? (resume ? "resumed" : "default")
    let out = URL(fileURLWithPath: outPath ?? "runs/\(configName)-\(formatter.string(from: Date()))")
    let fm = FileManager.default
    var lock: RunLock?
    var outIsDirectory: ObjCBool = false
    if fm.fileExists(atPath: out.path, isDirectory: &outIsDirectory) {
        guard outIsDirectory.boolValue else { throw CLIError("--out '\(out.path)' is a file; give a directory for the run") }
        let entries = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
        if !entries.isEmpty && OutputDirectory.tinygptContents(out.path) != "run" {
            let what = OutputDirectory.tinygptContents(out.path).map { "holds a tinygpt \($0), not a run" } ?? "is not empty and holds no tinygpt run"
            throw CLIError("--out '\(out.path)' \(what); choose a new or empty directory for the run")
        }
        if !entries.isEmpty {
            lock = try RunLock(out)
            for note in Checkpoint.recoverInterruptedReplacements(in: out) { printError("tinygpt: \(out.path): \(note)") }
        }
    }
    let latestURL = out.appendingPathComponent("latest")
    let hasCheckpoint = ["latest", "best"].contains { fm.fileExists(atPath: out.appendingPathComponent($0).path) }
    if resume && !fm.fileExists(atPath: latestURL.path) {
        throw CLIError(fm.fileExists(atPath: out.path) ? "cannot resume: '\(out.path)' has no latest/ checkpoint"
                                                         : "cannot resume: run directory '\(out.path)' does not exist")
    }
    if !resume && hasCheckpoint && !force {
        throw CLIError("'\(out.path)' holds another run; use --resume to continue it or --force to start over")
    }

    // The config: the file given, else the checkpoint's when resuming, else the default preset.
    var config: RunConfig
    if let configPath {
        guard FileManager.default.fileExists(atPath: configPath) else { throw CLIError("config file '\(configPath)' does not exist") }
        config = try RunConfig.load(from: URL(fileURLWithPath: configPath), overrides: overrides)
    } else if resume {
        config = try Checkpoint.loadConfig(from: latestURL)
        try config.apply(overrides: overrides)
        try config.validate()
    } else if FileManager.default.fileExists(atPath: "configs/default.json") {
        config = try RunConfig.load(from: URL(fileURLWithPath: "configs/default.json"), overrides: overrides)
    } else {
        config = RunConfig()
        try config.apply(overrides: overrides)
        try config.validate()
    }
    if resume, dataPath == nil, let saved = try? Checkpoint.loadConfig(from: latestURL) {
        config.data.path = saved.data.path  // the run's own text: it cannot change on resume
    }
    if let dataPath { config.data.path = dataPath }
    // Recorded absolute, so --resume works from any directory.
    config.data.path = absolutePath(config.data.path)
    // Fine-tuning: the checkpoint decides the model and the tokenizer.
    let initial = try initFrom.map { try Checkpoint.load(from: try Checkpoint.resolve($0)) }
    if let initial {
        config.model = initial.config.model
        config.tokenizer = initial.config.tokenizer
    }
    if config.train.threads > 0 { Parallel.threads = config.train.threads }

    // The corpus: tokens from the cache beside the run when it matches.
    guard fm.fileExists(atPath: config.data.path) else {
        throw CLIError("data file '\(config.data.path)' does not exist (set it with --data FILE)")
    }
    let text = try TextFile.read(config.data.path, what: "data file")
    if text.isEmpty { throw CLIError("data file '\(config.data.path)' is empty") }
    let fingerprint = DataFingerprint(text: text)
    // Another path is the config check's to name (data.path); the same path must hold the same text.
    if resume, let saved = try? Checkpoint.loadConfig(from: latestURL), absolutePath(saved.data.path) == config.data.path {
        try Trainer.checkSameData(fingerprint, path: config.data.path, checkpoint: latestURL)
    }
    let cacheKey = TokenCache.key(text: text, config: config)
    let corpus: Corpus, cached: Bool
    if let initial {
        let tokenizer = try TokenizerFile.load(data: initial.tokenizerJSON)
        let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
        corpus = try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText)
        cached = false
    } else {
        (corpus, cached) = try loadCorpus(text: text, key: cacheKey, config: config, run: out, resume: resume)
    }
    let checked = try Trainer.checked(config, for: corpus)
    if resume {
        try Trainer.checkSameRun(checked, checkpoint: latestURL)
        let step = try Trainer.savedStep(in: latestURL)
        if step >= checked.train.maxSteps {
            printError("'\(out.path)' already finished at step \(step) (train.max_steps); nothing to train. "
                       + "To train longer, start a new run: the learning-rate schedule depends on max_steps.")
            return
        }
    }

    // Everything checked: now the run directory may change. Starting over
    // (--force, or a run that stopped before its first checkpoint) keeps the
    // token cache, which is only used when it matches the text and the
    // tokenizer settings; --init-from replaces the tokenizer, so not then.
    if !resume {
        for name in runFiles where initial != nil || (name != "tokens.bin" && name != "tokenizer.json") {
            let url = out.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path) else { continue }
            do { try fm.removeItem(at: url) } catch { throw CLIError("cannot remove '\(url.path)' to start over: \(plainReason(error))") }
        }
    }
    if lock == nil {
        do { try fm.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            throw CLIError("cannot create run directory '\(out.path)': \(plainReason(error))")
        }
        lock = try RunLock(out)
    }
    var options = TrainerOptions(runDirectory: out)
    options.resume = resume
    options.data = fingerprint
    options.stopAfterSeconds = maxSeconds
    options.log = { line in print(line); StandardOutput.flush() }
    options.progressBar = isatty(2) != 0
    let trainer = try Trainer(config: config, corpus: corpus, options: options)
    // The cache is written only by a fresh run whose tokenizer was built
    // from the settings: a later --force trusts it as exactly that. A resume
    // without a cache re-encodes with the checkpoint's tokenizer instead.
    if !cached && !resume {
        try corpus.tokenizer.save(to: out.appendingPathComponent("tokenizer.json"))
        if initial == nil {
            try TokenCache.write(train: corpus.train, validation: corpus.validation, vocabSize: corpus.tokenizer.vocabSize,
                                 key: cacheKey, to: out.appendingPathComponent("tokens.bin"))
        } else {
            try? fm.removeItem(at: out.appendingPathComponent("tokens.bin"))  // ids of another tokenizer
        }
    }
    if let initial {
        for (mine, theirs) in zip(trainer.model.parameters, initial.model.parameters) { mine.tensor.copy(from: theirs.tensor) }
        printError("initialised from \(initial.directory.path)")
    }
    try trainer.config.jsonData().write(to: out.appendingPathComponent("config.json"), options: .atomic)
    let parameters = trainer.model.parameters.map(\.tensor.count).reduce(0, +)
    printError("run directory: \(out.path)")
    printError("data: \(config.data.path): \(corpus.train.count) training and \(corpus.validation.count) validation tokens, \(config.tokenizer.type.rawValue) tokenizer with \(corpus.tokenizer.vocabSize) tokens")
    printError("model: \(grouped(parameters)) parameters; \(Parallel.threads) thread\(Parallel.threads == 1 ? "" : "s"); \(resume ? "resuming at step \(trainer.step)" : "training from scratch") to step \(config.train.maxSteps)")

    installInterruptHandler()
    do {
        try trainer.run()
    } catch let interrupted as TrainingInterrupted {
        printError("tinygpt: \(interrupted)")
        if !interrupted.budgetReached { exit(130) }
    }
    if fm.fileExists(atPath: out.appendingPathComponent("best").path) {
        printError(String(format: "done: best validation loss %.4f (perplexity %@) in %@/best", trainer.bestValidationLoss, perplexityText(trainer.bestValidationLoss), out.path))
    } else {
        printError(String(format: "done: no evaluation beat the starting model's validation loss %.4f (step 0), so there is no best/; the final model is in %@/latest",
                          trainer.bestValidationLoss, out.path))
    }
    printError("loss curve: \(out.path)/loss.svg; metrics: \(out.path)/metrics.jsonl")
    withExtendedLifetime(lock) {}
    printError("sample:  tinygpt sample --checkpoint \(out.path) --prompt \"The \"")
    printError("measure: tinygpt eval --checkpoint \(out.path) --data FILE")
}

/// Reuses the run's tokenizer and token cache when they match (`cached`);
/// otherwise builds the tokenizer (or takes the checkpoint's, when resuming).
/// Writes nothing: the caller saves a new tokenizer and cache once the run is checked.
func loadCorpus(text: String, key: UInt64, config: RunConfig, run: URL, resume: Bool) throws -> (corpus: Corpus, cached: Bool) {
    let cacheURL = run.appendingPathComponent("tokens.bin"), tokenizerURL = run.appendingPathComponent("tokenizer.json")
    let tokenizer: (any Tokenizer)?
    if resume {
        tokenizer = try TokenizerFile.load(from: run.appendingPathComponent("latest").appendingPathComponent("tokenizer.json"))
    } else if FileManager.default.fileExists(atPath: tokenizerURL.path) {
        tokenizer = try? TokenizerFile.load(from: tokenizerURL)
    } else {
        tokenizer = nil
    }
    if let tokenizer, let cached = TokenCache.read(from: cacheURL, key: key) {
        return (Corpus(tokenizer: tokenizer, train: cached.train, validation: cached.validation), true)
    }
    let corpus: Corpus
    if let tokenizer, resume {
        let (trainText, validationText) = Corpus.split(text, valFraction: config.data.valFraction)
        corpus = try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText)
    } else {
        let showProgress = isatty(2) != 0
        corpus = try Corpus.build(text: text, config: config) { done, total in
            if showProgress { fputs("\rtraining tokenizer: \(done)/\(total)", stderr) }
        }
        if showProgress && config.tokenizer.type == .bpe { fputs("\r\u{1B}[K", stderr) }
    }
    return (corpus, false)
}
