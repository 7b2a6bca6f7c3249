import Foundation
import Kernels
import Train

let evalFlags = CommandFlags(
    command: "eval", forms: ["--checkpoint DIR --data FILE [--stride S] [--context N] [--by-position [--buckets K] [--svg FILE]] [options]",
                             "--checkpoint DIR --data FILE.jsonl [--reference CKPT [--beta B]] [--json]"],
    about: """
        Scores every token of FILE after the first with sliding windows of the model's context and prints the number
        of scored tokens, mean cross-entropy, perplexity and bits per byte.
        """,
    flags: [
        Flag("checkpoint", "DIR", "the checkpoint to score"), Flag("data", "FILE", "plain text, or JSON Lines examples"),
        Flag("stride", "S", "positions between windows (default half the context; the context with --by-position)"),
        Flag("context", "N", "windows of N tokens, also past the trained context (not for learned positions)"),
        Flag("by-position", "mean loss per position bucket"),
        Flag("buckets", "K", default: 16, "equal buckets of --by-position, 1...1000000"),
        Flag("svg", "FILE", "the --by-position plot (an existing .svg file there is replaced)"),
        .repeatable("set", "model.rope_scaling=…", "model.rope_scaling (or one member, e.g. model.rope_scaling.factor=4) on a RoPE model"),
        Flag("reference", "CKPT", "the DPO reference model; same tokenizer as --checkpoint"),
        Flag("beta", "B", "DPO's β (default: the checkpoint's train.dpo_beta)"),
        .json, .threads,
    ],
    notes: """
        JSON Lines data (docs/fine-tuning.md): prompt-completion examples give the loss and perplexity of the
        completion tokens only; preference examples, with --reference CKPT (the model DPO started from), give the
        DPO loss, reward accuracy and margin with TRL's names. On a reward model (train.objective = reward),
        preference examples give its accuracy, mean scores and margin (docs/rlhf.md).
        """)

/// `tinygpt eval`: the flags read, then `EvaluationRun`.
func runEvalCommand(_ args: [String]) throws {
    guard var a = evalFlags.parse(args) else { return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required") }
    guard let dataPath = try a.option("data") else { throw CLIError("--data FILE is required") }
    var request = EvaluationRun.Request(checkpoint: checkpointPath, dataPath: dataPath)
    request.stride = try a.option("stride")
    request.json = a.flag("json")
    let threads = try a.threads()
    request.context = try a.positiveInt("context")
    request.svg = try a.option("svg")
    request.byPosition = a.flag("by-position") || request.svg != nil
    let bucketsGiven = a.has("buckets")
    request.buckets = try a.int("buckets", in: 1...1_000_000)
    if bucketsGiven && !request.byPosition {
        throw CLIError("--buckets divides the --by-position table; without --by-position (or --svg) it has no effect: add --by-position, or drop --buckets")
    }
    request.overrides = try a.options("set")
    request.referencePath = try a.option("reference")
    request.beta = try a.option("beta")
    try a.finish()
    if let threads { Parallel.threads = threads }
    // As train: a progress line on stderr when it is a terminal.
    let started = Date()
    let outcome = try EvaluationRun.run(request, note: printNote, progress: isatty(2) == 0 ? nil : { done, total in
        fputs(done == total ? clearedProgressLine : progressLine(done: done, total: total, doneSinceStart: done, started: started, detail: " windows"), stderr)
    })
    if let plot = outcome.plot, !request.json { printError("wrote \(plot)") }
    print(outcome.text)
}
