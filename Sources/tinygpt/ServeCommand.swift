import Foundation
import Kernels
import Config
import Generate
import Serve
import Train

let serveFlags = CommandFlags(
    command: "serve", forms: ["--checkpoint DIR [options]"],
    about: """
        An OpenAI-compatible HTTP server over the checkpoint: POST /v1/chat/completions (through the model's chat
        template), POST /v1/completions, GET /v1/models, GET /health, and a chat page at /. Up to --parallel
        sequences decode at once; further requests wait in a queue.
        """,
    flags: [Flag("checkpoint", "DIR", "the checkpoint to serve"), Flag("host", "HOST", default: "127.0.0.1", "the address to listen on"),
            Flag("port", "PORT", default: 8080, "the port, 0...65535 (0: any free one)"), Flag("parallel", "N", default: 1, "sequences decoded at once, 1...64"),
            Flag("api-key", "KEY", "requests to /v1/* must send 'Authorization: Bearer KEY'"),
            Flag("name", "NAME", "the model's id in the API (default: the checkpoint directory's name)"),
            Flag("timeout", "SECONDS", default: 30, "how long a request may take to arrive, and an idle connection stays open"),
            Flag("max-body", "BYTES", default: ServeSettings().limits.bodyBytes, "the largest request body"),
            Flag("strategy", "greedy|sample", "how each token is chosen")] + SamplingOptions.commonFlags,
    notes: """
        The sampling flags set the defaults a request can override (--max-new-tokens is max_tokens's default, 256 unless
        given); without --seed a request that sends no seed gets a random one. Ctrl-C finishes the requests in flight,
        then exits. Semantics: docs/serve.md.
        example: tinygpt serve --checkpoint smollm2 --parallel 4
        """)

func runServeCommand(_ args: [String]) throws {
    guard var a = serveFlags.parse(args) else { return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt serve --help shows every option)") }
    var settings = ServeSettings()
    settings.host = try a.value("host")
    settings.port = try a.int("port", in: 0...65535)
    settings.parallel = try a.int("parallel", in: 1...64)
    settings.apiKey = try a.option("api-key")
    if settings.apiKey?.isEmpty == true { throw CLIError("--api-key must not be empty") }
    let name = try a.option("name")
    let timeout = try a.double("timeout")
    guard timeout > 0 else { throw CLIError("--timeout must be a number of seconds > 0, got \(timeout)") }
    settings.limits.readTimeout = timeout
    settings.limits.bodyBytes = try a.int("max-body", in: 1024...(1 << 30))
    let options = try SamplingOptions(&a, command: "serve")
    try a.finish()

    if let threads = options.threads { Parallel.threads = threads }
    let language = try LanguageModel(checkpointPath, note: { printError("tinygpt: note: " + $0) })
    let run = try options.apply(to: language.config)
    try run.validate()
    let s = run.sample
    if s.strategy == .beam { throw CLIError("serve answers token by token: --strategy greedy or sample (beam search is tinygpt sample's)") }
    if s.numSamples != 1 { throw CLIError("sample.num_samples: a request asks for its choices with 'n'; drop the setting") }
    var defaults = RequestDefaults()
    defaults.settings = DecodingSettings(s)
    defaults.stop = s.stop
    let given = Set(options.overrides.map { String($0.prefix(while: { $0 != "=" })) })
    defaults.maxTokens = given.contains("sample.max_new_tokens") ? s.maxNewTokens : 256
    if given.contains("sample.seed") { defaults.seed = UInt64(bitPattern: Int64(s.seed)) }
    settings.defaults = defaults

    _ = try language.checkedWindow(run.model, context: options.context, batch: settings.parallel)
    // Every slot holds a KV cache for the whole window.
    let window = max(options.context ?? 0, run.model.contextLength)
    let needed = ModelCost(run.model).generationBytes(sequences: settings.parallel, promptLength: 1, maxNewTokens: window, window: window)
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard needed <= available else {
        throw CLIError(String(format: "--parallel %d: %d slots of this model with a %d-token window need about %.1f GB (KV caches, logits, weights), more than this machine's %.1f GB; lower --parallel",
                              settings.parallel, settings.parallel, window, needed / 1e9, available / 1e9))
    }
    let model = try ServedModel(language, model: run.model, context: options.context, name: name)
    let server = try OpenAIServer(model: model, settings: settings)

    // Ctrl-C (or SIGTERM): stop accepting, finish the requests in flight, exit 0.
    // A plain handler and a poll, not a Dispatch signal source: Swift 6.0's
    // Dispatch left SIGINT pending on a thread that blocks it, and serve never stopped.
    installInterruptHandler()
    server.start()
    let shownHost = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
    printError("tinygpt: serving '\(model.name)' (context \(model.contextWindow), \(settings.parallel) slot\(settings.parallel == 1 ? "" : "s")) on http://\(shownHost):\(server.port)/ — chat page at /, API at /v1; Ctrl-C stops")
    while interruptRequested == 0 { usleep(50_000) }
    printError("tinygpt: stopping: finishing the requests in flight")
    server.stop(drain: 60)
}
