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
    let language = try LanguageModel(checkpointPath, note: printNote)
    let run = try options.apply(to: language.config)
    try run.validate()
    settings.defaults = try RequestDefaults(run.sample, given: options.given)
    _ = try language.checkedWindow(run.model, context: options.context, batch: settings.parallel)
    try settings.requireMemory(run.model, context: options.context)
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
