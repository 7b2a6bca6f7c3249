import Foundation
import Files
import Config
import Formats
import Tokenizer
import Train

let compareUsage = """
    usage: tinygpt compare --vary FIELD=v1,v2,... [--vary ...] [--config C] [--data FILE] [--out DIR]
                           [--set k=v ...] [--seeds N] [--budget steps=N|seconds=S] [--target-loss L] [--yes]

    Trains every combination of the varied fields (fields joined by + change together:
    --vary model.activation+model.d_ff=gelu+512,swiglu+341), each --seeds times (seeds train.seed, +1, …), one run
    after another, with one tokenizer and token cache and the same budget: equal steps by default
    (train.max_steps, or steps=N), or equal wall seconds. Each run is an ordinary run directory under
    DIR/runs/ (sample, eval, --resume work on it). Ctrl-C stops cleanly; the same command resumes.
    Writes DIR/report.md, DIR/report.json and DIR/curves.svg, and prints the table.
    example: tinygpt compare --vary model.position=learned,rope,alibi --budget steps=500
    """

/// `tinygpt compare`: variants trained side by side, in one table and one picture.
func runCompareCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(compareUsage); return }
    let varies = try a.options("vary")
    let configPath = try a.option("config") ?? (FileManager.default.fileExists(atPath: "configs/default.json") ? "configs/default.json" : nil)
    let overrides = try a.options("set")
    let dataPath = try a.option("data")
    let seeds = try a.int("seeds", default: 1, in: 1...100)
    let budgetText = try a.option("budget")
    let targetText = try a.option("target-loss")
    let outPath = try a.option("out")
    let yes = a.flag("yes")
    try a.finish()
    guard !varies.isEmpty else { throw CLIError("compare needs at least one --vary FIELD=v1,v2 (e.g. --vary model.position=learned,rope)") }

    // The base config, then each varied field checked on it.
    var base: RunConfig
    if let configPath {
        guard FileManager.default.fileExists(atPath: configPath) else { throw CLIError("config file '\(configPath)' does not exist") }
        base = try RunConfig.load(from: URL(fileURLWithPath: configPath), overrides: overrides)
    } else {
        base = RunConfig()
        try base.apply(overrides: overrides)
        try base.validate()
    }
    if let dataPath { base.data.path = dataPath }
    base.data.path = absolutePath(base.data.path)
    var budgetSeconds: Double?
    if let budgetText {
        let parts = budgetText.split(separator: "=", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count == 2 ? Double(parts[1]) : nil) {
        case ("steps", let v?) where v >= 1 && v == v.rounded() && v <= 10_000_000: base.train.maxSteps = Int(v)
        case ("seconds", let v?) where v > 0 && v.isFinite: budgetSeconds = v
        default: throw CLIError("--budget must be steps=N (a positive integer) or seconds=S (a positive number), got '\(budgetText)'")
        }
    }
    let target = try targetText.map { text -> Double in
        guard let v = Double(text), v.isFinite, v > 0 else { throw CLIError("--target-loss must be a positive number, got '\(text)'") }
        return v
    }
    // Each --vary is one field (a=v1,v2) or fields that change together (a+b=v1+w1,v2+w2).
    var fields: [(field: String, options: [[(String, String)]])] = []
    var seen: Set<String> = []
    for vary in varies {
        guard let eq = vary.firstIndex(of: "="), vary[..<eq].contains(".") else {
            throw CLIError("--vary '\(vary)' must look like section.field=v1,v2 (e.g. model.norm=layernorm,rmsnorm)")
        }
        let field = String(vary[..<eq]), names = field.split(separator: "+").map(String.init)
        let values = splitValues(String(vary[vary.index(after: eq)...]))
        guard !values.isEmpty, !values.contains("") else { throw CLIError("--vary \(field): give values separated by commas, got '\(vary)'") }
        for name in names {
            guard seen.insert(name).inserted else { throw CLIError("--vary \(name) is given twice; give all its values in one --vary") }
            if name == "train.seed" { throw CLIError("--vary train.seed: use --seeds N to repeat each variant with different seeds") }
        }
        guard Set(values).count == values.count else { throw CLIError("--vary \(field): a value is repeated in '\(vary)'") }
        var options: [[(String, String)]] = []
        for value in values {
            let parts = names.count == 1 ? [value] : value.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == names.count else {
                throw CLIError("--vary \(field): '\(value)' needs \(names.count) values joined by '+', one per field")
            }
            let option = Array(zip(names, parts))
            var probe = base
            for (name, part) in option {
                do { try probe.apply(overrides: ["\(name)=\(part)"]) } catch { throw CLIError("--vary \(name)=\(part): \(error)") }
            }
            options.append(option)
        }
        fields.append((field, options))
    }
    let variants = fields.reduce([[(String, String)]]([[]])) { partial, f in partial.flatMap { p in f.options.map { p + $0 } } }
    let runCount = variants.count * seeds
    if runCount > 64 && !yes {
        throw CLIError("this comparison trains \(runCount) runs (\(variants.count) variants × \(seeds) seeds); add --yes to confirm, or vary fewer values")
    }

    // Every run's config, validated before anything is written.
    struct PlannedRun { let name: String; let variant: String; let seed: Int; var config: RunConfig; var cacheKey: UInt64 = 0 }
    var runs: [PlannedRun] = []
    for variant in variants {
        let label = variant.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        for k in 0..<seeds {
            var config = base
            try config.apply(overrides: variant.map { "\($0.0)=\($0.1)" })
            config.train.seed = base.train.seed + k
            if let line = config.shortenWarmupToRun(), k == 0 { printError("tinygpt: note: \(label): \(line)") }
            do { try config.validate() } catch { throw CLIError("variant \(label): \(error)") }
            let name = directoryName(variant) + (seeds > 1 ? "-seed\(config.train.seed)" : "")
            runs.append(PlannedRun(name: name, variant: label, seed: config.train.seed, config: config))
        }
    }

    // The text, and one corpus per distinct tokenizer setting, checked against every run.
    guard FileManager.default.fileExists(atPath: base.data.path) else {
        throw CLIError("data file '\(base.data.path)' does not exist (set it with --data FILE)")
    }
    let text = try TextFile.read(base.data.path, what: "data file")
    if text.isEmpty { throw CLIError("data file '\(base.data.path)' is empty") }
    // Comparisons train language models from scratch; fine-tuning runs start from a checkpoint (train --init-from).
    let format = try ExampleFile.read(path: base.data.path, text: text).format
    if format != .text || runs.contains(where: { $0.config.train.objective != .lm }) {
        throw CLIError("compare trains language models on plain text (train.objective lm); \(format == .text ? "sft and dpo" : "'\(base.data.path)' holds \(format.rawValue) examples, which") fine-tune from a checkpoint: use tinygpt train --init-from")
    }
    var corpora: [UInt64: Corpus] = [:]
    var bytesPerToken: [String: Double] = [:]
    var parameters: [String: Int] = [:]
    for i in runs.indices {
        let key = TokenCache.key(text: text, config: runs[i].config)
        runs[i].cacheKey = key
        if corpora[key] == nil { corpora[key] = try Corpus.build(text: text, config: runs[i].config) }
        let corpus = corpora[key]!
        let checked: RunConfig
        do { checked = try Trainer.checked(runs[i].config, for: corpus) } catch { throw CLIError("variant \(runs[i].variant): \(error)") }
        runs[i].config = checked
        let validationBytes = Corpus.split(text, valFraction: checked.data.valFraction).validation.utf8.count
        bytesPerToken[runs[i].variant] = Double(validationBytes) / Double(max(corpus.validation.count, 1))
        parameters[runs[i].name] = checked.model.parameterShapes.map(\.count).reduce(0, +)
    }

    // The comparison directory: new, or the same comparison (then resumed).
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    let out = URL(fileURLWithPath: outPath ?? "compare/\(formatter.string(from: Date()))")
    let specURL = out.appendingPathComponent("compare.json")
    let spec = JSONValue.object([
        "base_config": .string(String(decoding: try base.jsonData(), as: UTF8.self)),
        "vary": .array(fields.map { ["field": .string($0.field), "values": .array($0.options.map { .string($0.map(\.1).joined(separator: "+")) })] }),
        "seeds": .int(seeds), "budget_seconds": budgetSeconds.map { .number($0) } ?? .null,
        "data_bytes": .int(text.utf8.count), "data_fnv1a64": .string(String(DataFingerprint(text: text).hash, radix: 16)),
    ]).fileData
    if let existing = FileManager.default.contents(atPath: specURL.path) {
        guard existing == spec else {
            throw CLIError("--out '\(out.path)' holds a different comparison (its compare.json differs: another config, --vary, --seeds, budget or data); choose a new --out")
        }
    } else {
        try OutputDirectory.check(out.path, force: false)
        try FileManager.default.createDirectory(at: out.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: out.appendingPathComponent("logs"), withIntermediateDirectories: true)
        try AtomicFile.write(spec, to: specURL)
    }
    let stateURL = out.appendingPathComponent("state.json")
    var state = readState(stateURL)

    // The runs, one after another, each in its own process (its own peak memory, its own lock).
    // Ctrl-C reaches the running child too (same process group); a SIGINT sent
    // to this process alone is passed on. The child saves; this process stops.
    signal(SIGINT) { _ in
        interruptRequested = SIGINT
        if runningChild > 0 { kill(runningChild, SIGINT) }
    }
    var durations: [Double] = []
    for (index, run) in runs.enumerated() {
        let runURL = out.appendingPathComponent("runs").appendingPathComponent(run.name)
        let runDirectory = RunDirectory(runURL)
        if state[run.name]?["finished"] == 1 { continue }
        let remaining = runs.count - index
        let eta = durations.isEmpty ? "" : ", overall ETA \(formatDuration(durations.reduce(0, +) / Double(durations.count) * Double(remaining)))"
        printError("compare: run \(index + 1)/\(runs.count): \(run.variant)\(seeds > 1 ? " seed \(run.seed)" : "")\(eta)")
        let configURL = out.appendingPathComponent("logs").appendingPathComponent(run.name + ".config.json")
        try AtomicFile.write(run.config.jsonData(), to: configURL)
        let resume = FileManager.default.fileExists(atPath: runDirectory.latest.path)
        if !resume && !FileManager.default.fileExists(atPath: runURL.path) {
            // The shared tokenizer and token cache, so the run does not build its own.
            let key = run.cacheKey
            let corpus = corpora[key]!
            try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
            try corpus.tokenizer.save(to: runDirectory.tokenizer)
            try TokenCache.write(train: corpus.train, validation: corpus.validation, vocabSize: corpus.tokenizer.vocabSize,
                                 key: key, to: runDirectory.tokenCache)
        }
        var arguments = ["train", "--out", runURL.path]
        arguments += resume ? ["--resume"] : ["--config", configURL.path, "--data", base.data.path]
        if let budgetSeconds {
            let used = (try? RunMeasurement(runDirectory: runURL, name: run.name, variant: run.variant, seed: run.seed, parameters: 0, peakRSSBytes: 0))?
                .validationCurve.last?.seconds ?? 0
            let left = budgetSeconds - (resume ? used : 0)
            if left <= 0 { state[run.name] = ["finished": 1, "peak_rss": state[run.name]?["peak_rss"] ?? 0]; continue }
            arguments += ["--max-seconds", String(left)]
        }
        let started = Date()
        let (status, peakRSS) = try spawnAndWait(arguments, log: out.appendingPathComponent("logs").appendingPathComponent(run.name + ".log"))
        durations.append(Date().timeIntervalSince(started))
        let peak = max(peakRSS, state[run.name]?["peak_rss"] ?? 0)
        if status == 0 {
            state[run.name] = ["finished": 1, "peak_rss": peak]
        } else {
            state[run.name] = ["finished": 0, "peak_rss": peak]
        }
        try AtomicFile.write(JSONValue.object(state.keys.sorted().map { name in
            (key: name, value: JSONValue.object(state[name]!.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.number($0.value)) }))
        }).fileData, to: stateURL)
        if status == 130 || interruptRequested != 0 {
            printError("tinygpt: compare interrupted during \(run.name) (saved); run the same command again to resume")
            exit(130)
        }
        if status != 0 {
            let log = (try? String(contentsOf: out.appendingPathComponent("logs").appendingPathComponent(run.name + ".log"), encoding: .utf8)) ?? ""
            let reason = log.split(separator: "\n").last(where: { $0.hasPrefix("tinygpt: error:") }).map { String($0.dropFirst("tinygpt: error: ".count)) } ?? "exit status \(status)"
            throw CLIError("run \(run.name) failed: \(reason) (log: \(out.path)/logs/\(run.name).log)")
        }
    }

    // The report, from each run's own metrics.
    var summaries: [VariantSummary] = []
    for variant in Set(runs.map(\.variant)).sorted(by: { a, b in runs.firstIndex { $0.variant == a }! < runs.firstIndex { $0.variant == b }! }) {
        let measured = try runs.filter { $0.variant == variant }.map { run in
            try RunMeasurement(runDirectory: out.appendingPathComponent("runs").appendingPathComponent(run.name), name: run.name,
                               variant: run.variant, seed: run.seed, parameters: parameters[run.name] ?? 0,
                               peakRSSBytes: state[run.name]?["peak_rss"] ?? .nan)
        }
        summaries.append(VariantSummary(variant: variant, runs: measured))
    }
    let targetLoss = target ?? summaries.map { $0.mean(\.validationLoss) }.max() ?? 0
    let title = "tinygpt compare: " + fields.map(\.field).joined(separator: " × ")
    let markdown = ComparisonReport.markdown(summaries, target: targetLoss, bytesPerToken: bytesPerToken, title: title)
    try AtomicFile.write(Data(markdown.utf8), to: out.appendingPathComponent("report.md"))
    try AtomicFile.write(ComparisonReport.json(summaries, target: targetLoss, bytesPerToken: bytesPerToken), to: out.appendingPathComponent("report.json"))
    try AtomicFile.write(Data(ComparisonReport.curvesSVG(summaries, title: title).utf8), to: out.appendingPathComponent("curves.svg"))
    print(markdown)
    printError("report: \(out.path)/report.md, \(out.path)/report.json, \(out.path)/curves.svg; runs: \(out.path)/runs/")
}

/// "a,b,[1,2],{\"x\":1}" → ["a", "b", "[1,2]", "{\"x\":1}"]: commas inside brackets or braces stay.
func splitValues(_ text: String) -> [String] {
    var values: [String] = [], current = "", depth = 0
    for c in text {
        if c == "[" || c == "{" { depth += 1 } else if c == "]" || c == "}" { depth -= 1 }
        if c == "," && depth == 0 { values.append(current); current = "" } else { current.append(c) }
    }
    values.append(current)
    return values.map { $0.trimmingCharacters(in: .whitespaces) }
}

/// A directory name for a variant: "model.position=rope model.norm=rmsnorm" → "position=rope,norm=rmsnorm".
func directoryName(_ variant: [(String, String)]) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=")
    return variant.map { field, value in
        let short = field.split(separator: ".").last.map(String.init) ?? field
        return short + "=" + String(value.map { allowed.contains($0) ? $0 : "_" })
    }.joined(separator: ",")
}

/// The run in progress, for the interrupt handler.
nonisolated(unsafe) var runningChild: pid_t = 0

/// Runs this executable with `arguments`, its output to `log`; returns the
/// exit status (128 + signal if killed) and the child's peak resident memory in bytes.
func spawnAndWait(_ arguments: [String], log: URL) throws -> (status: Int32, peakRSS: Double) {
    let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
    #if os(Linux)
    var actions = posix_spawn_file_actions_t()
    #else
    var actions: posix_spawn_file_actions_t? = nil  // a pointer type on Darwin
    #endif
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]  // portable, unlike `environ`
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard spawned == 0 else { throw CLIError("cannot start '\(executable)': \(posixReason(spawned))") }
    runningChild = pid
    defer { runningChild = 0 }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw CLIError("waiting for a run failed: \(posixReason(errno))") }
    }
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    #if os(Linux)
    return (exitStatus, Double(usage.ru_maxrss) * 1024)  // kilobytes on Linux
    #else
    return (exitStatus, Double(usage.ru_maxrss))  // bytes on macOS
    #endif
}

/// state.json: for each run, finished (0 or 1) and its peak RSS; absent or unreadable is a new comparison.
private func readState(_ url: URL) -> [String: [String: Double]] {
    guard let data = FileManager.default.contents(atPath: url.path),
          case .object(let runs)? = try? JSONParser.parse(Array(data)) else { return [:] }
    var state: [String: [String: Double]] = [:]
    for (name, value) in runs {
        guard case .object(let fields) = value else { continue }
        for (key, number) in fields {
            switch number {
            case .int(let i): state[name, default: [:]][key] = Double(i)
            case .double(let d): state[name, default: [:]][key] = d
            default: continue
            }
        }
    }
    return state
}
