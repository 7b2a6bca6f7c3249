import Foundation
import Formats
import Files
import Kernels
import Config
import Tokenizer
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
    let (run, tokenizer, generator) = (opened.run, opened.tokenizer, opened.generator)
    if noCache { generator.usesKeyValueCache = false }
    let s = run.sample
    let text = try promptFile.map { try TextFile.read($0, what: "prompt file") } ?? promptText ?? s.prompt
    // A prompt gets what the tokenizer's post-processor adds (a BOS), as transformers and llama.cpp do.
    var prompt = try tokenizer.encode(text, addingSpecialTokens: true).map { Int32($0) }
    if prompt.isEmpty { prompt = [generator.startToken()] }
    let context = generator.contextWindow
    if prompt.count > context {
        printError("tinygpt: the prompt has \(prompt.count) tokens; keeping its last \(context) (the context window)")
        prompt = Array(prompt.suffix(context))
    }

    let sequences = s.strategy == .beam ? s.beamWidth : s.numSamples
    let needed = ModelCost(run.model).generationBytes(sequences: sequences, promptLength: prompt.count, maxNewTokens: s.maxNewTokens,
                                                      window: generator.contextWindow)  // the KV caches are sized by the window
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard needed <= available else {
        throw CLIError(String(format: "generating %d sequence%@ of this model needs about %.1f GB (KV caches, logits, weights), more than this machine's %.1f GB; lower --%@",
                              sequences, sequences == 1 ? "" : "s", needed / 1e9, available / 1e9, s.strategy == .beam ? "beam-width" : "num-samples"))
    }

    let settings = DecodingSettings(s)
    let started = DispatchTime.now().uptimeNanoseconds
    var produced = 0
    if s.strategy == .beam {
        let outputs = generator.beamSearch(prompt: prompt, width: s.beamWidth, count: min(s.numSamples, s.beamWidth),
                                           maxNewTokens: s.maxNewTokens, lengthPenalty: s.lengthPenalty, earlyStopping: s.earlyStopping,
                                           settings: settings, stop: s.stop)
        for (i, o) in outputs.enumerated() {
            if outputs.count > 1 { print(String(format: "--- beam %d, score %.4f ---", i + 1, o.score ?? 0)) }
            print(text + o.text)
            produced += o.tokens.count
        }
    } else {
        let streaming = s.stream && s.numSamples == 1
        if streaming { StandardOutput.write(text) }
        let outputs = generator.sample(prompt: prompt, count: s.numSamples, maxNewTokens: s.maxNewTokens, settings: settings,
                                       seed: UInt64(bitPattern: Int64(s.seed)), stop: s.stop,
                                       onText: streaming ? { StandardOutput.write($0) } : nil)
        if streaming { print("") }
        for (i, o) in outputs.enumerated() {
            produced += o.tokens.count
            guard !streaming else { continue }
            if outputs.count > 1 { print("--- sample \(i + 1) ---") }
            print(text + o.text)
        }
    }
    StandardOutput.flush()  // a failed write is the command's outcome, before any summary
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    printError(String(format: "%d tokens in %.2f s (%.1f tokens/s)", produced, seconds, Double(produced) / max(seconds, 1e-9)))
}
