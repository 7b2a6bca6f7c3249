import Foundation
import Files
import Config
import Generate

let sampleFlags = CommandFlags(
    command: "sample", forms: ["--checkpoint DIR [--prompt TEXT | --prompt-file FILE] [options]"],
    about: "DIR is a checkpoint or a run directory (then best/, else latest/). Flags override --set, which overrides\nthe sample section of --config (else the checkpoint's). Semantics: docs/sampling.md.",
    flags: [Flag("checkpoint", "DIR", "the checkpoint to sample from"), Flag("prompt", "TEXT", "the text to continue"),
            Flag("prompt-file", "FILE", "the text to continue, from a file"), SamplingOptions.strategyFlag]
        + SamplingOptions.commonFlags + SamplingOptions.beamFlags + [
            Flag("stream", "write each token as it comes (one sequence)"), Flag("no-stream", "write the text once it is complete"),
            Flag("no-kv-cache", "recompute the whole window for every new token (the same tokens, at the cost the cache saves)")],
    notes: """
        A setting given here (flag or --set) that the strategy does not use is an error: --temperature, --top-k,
        --top-p, --min-p and --seed shape a random draw (strategy sample); --beam-width, --length-penalty and
        --early-stopping belong to beam search.
        The window slides at the trained context length; --context N lets it grow to N tokens first (positions that
        extrapolate only: sinusoidal, rope, alibi, t5, none). --set model.rope_scaling={...} scales RoPE for this run.
        example: tinygpt sample --checkpoint runs/default-20261123-120000 --prompt "The " --temperature 0.8 --top-p 0.9
        """)

func runSampleCommand(_ args: [String]) throws {
    guard var a = sampleFlags.parse(args) else { return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt sample --help shows every option)") }
    let promptText = try a.option("prompt"), promptFile = try a.option("prompt-file")
    let options = try SamplingOptions(&a, command: "sample")
    let stream = a.flag("stream"), noStream = a.flag("no-stream")
    if stream && noStream { throw CLIError("--stream and --no-stream contradict each other") }
    let noCache = a.flag("no-kv-cache")
    try a.finish()
    if promptText != nil && promptFile != nil { throw CLIError("give --prompt or --prompt-file, not both") }

    let opened = try OpenedForGeneration(checkpointPath, options: options) { run in
        if stream || noStream { run.sample.stream = stream }
    }
    let (s, generator) = (opened.run.sample, opened.generator)
    if noCache { generator.usesKeyValueCache = false }
    let text = try promptFile.map { try TextFile.read($0, what: "prompt file") } ?? promptText ?? s.prompt
    let prompt = try generator.prompt(text, note: { printError("tinygpt: " + $0) })
    try generator.requireMemory(opened.run, promptLength: prompt.count)

    let started = DispatchTime.now().uptimeNanoseconds
    let streaming = s.strategy != .beam && s.stream && s.numSamples == 1
    if streaming { StandardOutput.write(text) }
    let outputs = generator.generate(prompt: prompt, s, onText: streaming ? { StandardOutput.write($0) } : nil)
    if streaming { print("") }
    for (i, o) in outputs.enumerated() where !streaming {
        if outputs.count > 1 { print(s.strategy == .beam ? String(format: "--- beam %d, score %.4f ---", i + 1, o.score ?? 0) : "--- sample \(i + 1) ---") }
        print(text + o.text)
    }
    StandardOutput.flush()  // a failed write is the command's outcome, before any summary
    let produced = outputs.reduce(0) { $0 + $1.tokens.count }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    printError(String(format: "%d tokens in %.2f s (%.1f tokens/s)", produced, seconds, Double(produced) / max(seconds, 1e-9)))
}
