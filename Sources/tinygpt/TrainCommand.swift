import Foundation
import Train
import Formats

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
    run.startLines(resuming: resume).forEach(printError)

    installInterruptHandler()
    do {
        try run.trainer.run()
    } catch let interrupted as TrainingInterrupted {
        if let outputFailure {
            printError("tinygpt: error: \(StandardOutput.failureMessage(outputFailure)); stopped at step \(interrupted.step) and saved \(interrupted.checkpoint.path) (continue with --resume)")
            exit(1)
        }
        printError("tinygpt: \(interrupted)")
        if !interrupted.budgetReached { exit(128 + (interrupted.signal == 0 ? SIGINT : interrupted.signal)) }
    }
    run.finishLines().forEach(printError)
    withExtendedLifetime(run) {}  // the run's lock is held to the end
}
