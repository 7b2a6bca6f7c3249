import Foundation
import Files
import Kernels
import Tokenizer
import Train
import Formats
import Config

let trainFlags = CommandFlags(
    command: "train", forms: ["[--config FILE] [--data FILE] [--out DIR] [--resume | --force] [--init-from CKPT] [--reward CKPT] [--teacher CKPT] [--set k=v ...]"],
    about: "With no arguments: trains configs/default.json on data/corpus.txt into a fresh runs/ directory.",
    flags: [
        Flag("config", "FILE", default: "configs/default.json", "run config (docs/config.md)"),
        Flag("data", "FILE", "UTF-8 text to train on (overrides data.path), or JSON Lines of prompt-completion (sft) or preference (dpo) examples: docs/fine-tuning.md"),
        Flag("out", "DIR", "run directory; default runs/<name>-<date>-<time>, <name> from --config, --init-from and --data"),
        Flag("resume", "continue DIR/latest exactly where it stopped"),
        Flag("force", "start over in a DIR that holds another run (deletes its checkpoints and metrics, keeps the token cache)"),
        Flag("init-from", "CKPT", "start from a checkpoint's weights, model config and tokenizer (fine-tuning; dpo, ppo, grpo: also the frozen reference)"),
        Flag("reward", "CKPT", "ppo, grpo: a reward model (train.objective=reward) scoring completions (docs/rlhf.md)"),
        Flag("teacher", "CKPT", "distill: the model the student learns from (sets train.teacher; same tokenizer, which a fresh run takes from it; usually larger than the student): docs/training.md"),
        .set,
        Flag("max-seconds", "S", "stop after S seconds of wall time, saving latest/ (the schedule still assumes max_steps)"),
    ],
    notes: "e.g. runs/imported-my-… for --init-from imported --data my.txt; runs/default-… with none.")

func runTrainCommand(_ args: [String]) throws {
    guard var a = trainFlags.parse(args) else { return }
    let resume = a.flag("resume"), force = a.flag("force")
    let configPath = try a.option("config")
    let overrides = try a.options("set")
    let dataPath = try a.option("data")
    let outPath = try a.option("out")
    let initFrom = try a.option("init-from")
    let rewardPath = try a.option("reward")
    let teacherPath = try a.option("teacher")
    let maxSeconds = try a.option("max-seconds").map { text -> Double in
        guard let s = Double(text), s.isFinite, s > 0 else { throw CLIError("--max-seconds must be a positive number of seconds, got '\(text)'") }
        return s
    }
    try a.finish()
    if resume && force { throw CLIError("--resume and --force contradict each other: choose one") }
    if resume && outPath == nil { throw CLIError("--resume needs --out DIR: the run to continue") }

    let directory = outPath.map { URL(fileURLWithPath: $0) }
        ?? RunDirectory.defaultURL(configFile: configPath, initFrom: initFrom, dataFile: dataPath, date: Date())
    var request = RunRequest(directory: directory)
    request.start = resume ? .resume : force ? .force : .fresh
    request.configFile = configPath.map { URL(fileURLWithPath: $0) }
    request.defaultConfig = FileManager.default.fileExists(atPath: "configs/default.json") ? URL(fileURLWithPath: "configs/default.json") : nil
    request.overrides = overrides
    request.dataPath = dataPath
    request.initFrom = initFrom
    request.rewardPath = rewardPath
    request.teacherPath = teacherPath
    let showProgress = isatty(2) != 0
    // A log line that cannot be written (a closed pipe, a full disk) stops
    // the run as Ctrl-C does: latest/ is saved first, then the error.
    var outputFailure: String?
    guard let run = try TrainingRun.open(request, note: { printError("tinygpt: \($0)") }, configure: { options in
        options.stopAfterSeconds = maxSeconds
        options.log = { line in
            print(line)
            if outputFailure == nil, let reason = StandardOutput.failure() {
                outputFailure = reason
                interruptRequested = SIGPIPE
            }
        }
        options.progressBar = showProgress
    }, tokenizerProgress: { done, total in
        if showProgress { fputs(done == total ? "\r\u{1B}[K" : "\rtraining tokenizer: \(done)/\(total)", stderr) }
    }) else { return }
    let trainer = run.trainer, corpus = run.corpus, config = trainer.config
    let out = run.directory.url
    if let source = run.initializedFrom { printError("initialised from \(source.path)") }
    let parameters = trainer.model.parameters.map(\.tensor.count).reduce(0, +)
    printError("run directory: \(out.path)")
    if let prompts = corpus.prompts {
        printError("data: \(config.data.path): \(prompts.train.count) training and \(prompts.validation.count) validation prompts, objective \(config.train.objective.rawValue), reward: \(rewardDescription(config))")
    } else if let examples = corpus.examples {
        printError("data: \(config.data.path): \(examples.train.count) training and \(examples.validation.count) validation \(examples.format.rawValue) examples, objective \(config.train.objective.rawValue)\(config.train.objective == .dpo ? " (beta \(config.train.dpoBeta))" : ""), \(config.tokenizer.type.rawValue) tokenizer with \(corpus.tokenizer.vocabSize) tokens")
    } else {
        printError("data: \(config.data.path): \(corpus.train.count) training and \(corpus.validation.count) validation tokens, \(config.tokenizer.type.rawValue) tokenizer with \(corpus.tokenizer.vocabSize) tokens")
    }
    if let teacher = trainer.teacher {
        let t = config.train
        printError("distill: teacher \(config.train.teacher) (\(teacher.config.model.nLayer) layers, d_model \(teacher.config.model.dModel)), temperature \(t.distillTemperature), alpha \(t.distillAlpha)\(run.tokenizerFromTeacher ? "; the student takes its tokenizer" : "")")
    }
    let start = resume ? "resuming at step \(trainer.step)" : run.initializedFrom != nil ? "fine-tuning" : "training from scratch"
    printError("model: \(grouped(parameters)) parameters; \(Parallel.threads) thread\(Parallel.threads == 1 ? "" : "s"); \(start) to step \(config.train.maxSteps)")
    if let method = config.peftMethod, let detail = config.peftDetail {
        let trainable = trainer.optimizer.parameters.map(\.tensor.count).reduce(0, +)
        printError(String(format: "%@: %@ trainable parameters (%.2f%% of the base), %@; base weights frozen",
                          method.rawValue, grouped(trainable), 100 * Double(trainable) / Double(max(parameters, 1)), detail))
    }

    installInterruptHandler()
    do {
        try trainer.run()
    } catch let interrupted as TrainingInterrupted {
        if let outputFailure {
            printError("tinygpt: error: \(StandardOutput.failureMessage(outputFailure)); stopped at step \(interrupted.step) and saved \(interrupted.checkpoint.path) (continue with --resume)")
            exit(1)
        }
        printError("tinygpt: \(interrupted)")
        if !interrupted.budgetReached { exit(128 + (interrupted.signal == 0 ? SIGINT : interrupted.signal)) }
    }
    printError(trainer.doneSummary(directory: run.directory))
    printError("loss curve: \(run.directory.lossCurve.path); metrics: \(run.directory.metrics.path)")
    let validationPrompt = corpus.examples.flatMap({ $0.validation.first }).map({ corpus.tokenizer.decode($0.chosen.tokens.prefix($0.chosen.promptLength).map(Int.init)) })
        ?? corpus.prompts.flatMap({ $0.validation.first }).map({ corpus.tokenizer.decode($0.map(Int.init)) })
    if let prompt = validationPrompt {
        printError("sample:  tinygpt sample --checkpoint \(out.path) --prompt \(shellQuoted(prompt)) --strategy greedy  (a validation prompt)")
    } else {
        printError("sample:  tinygpt sample --checkpoint \(out.path) --prompt \"The \"")
    }
    printError("measure: tinygpt eval --checkpoint \(out.path) --data FILE")
    withExtendedLifetime(run) {}  // the run's lock is held to the end
}

/// What scores a PPO or GRPO run's completions, for the console.
func rewardDescription(_ config: RunConfig) -> String {
    let r = config.reward ?? RewardConfig()
    var parts: [String] = []
    if !r.model.isEmpty { parts.append("reward model \(r.model)") }
    if !r.regex.isEmpty { parts.append("regex \(r.regex)") }
    if let n = r.targetLength { parts.append("target length \(n)") }
    if !r.avoid.isEmpty { parts.append("avoid \(r.avoid.joined(separator: ","))") }
    return parts.joined(separator: " + ")
}

/// Text as one POSIX shell word: $'…' with newlines, tabs, backslashes and quotes escaped.
func shellQuoted(_ text: String) -> String {
    var out = ""
    for c in text.unicodeScalars {
        switch c {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\\": out += "\\\\"
        case "'": out += "\\'"
        default: out.unicodeScalars.append(c)
        }
    }
    return "$'" + out + "'"
}
