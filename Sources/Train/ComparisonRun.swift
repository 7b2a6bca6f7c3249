import Foundation
import Files
import Config
import Formats
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A comparison that cannot go on, in one line.
public struct ComparisonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// What `compare` trains: every combination of the varied fields, each
/// `seeds` times (seeds train.seed, +1, …), on one text with one budget.
/// Every run's config is built and validated here, before anything is written.
public struct ComparisonPlan {
    /// One `--vary`: a field (`model.norm`), or fields that change together
    /// (`model.activation+model.d_ff`), and for each value the assignments it makes.
    public struct Vary {
        public let field: String
        public let options: [[(name: String, value: String)]]
    }

    public struct Run {
        public let name: String
        public let variant: String
        public let seed: Int
        public var config: RunConfig
        public var cacheKey: UInt64 = 0
    }

    public let base: RunConfig
    public let vary: [Vary]
    public let seeds: Int
    /// Equal wall seconds per run instead of equal steps (train.max_steps).
    public let budgetSeconds: Double?
    public internal(set) var runs: [Run] = []
    /// Notes for the user (a warmup shortened to a run's steps).
    public private(set) var notes: [String] = []

    /// Runs over this many need the user's confirmation.
    public static let confirmationThreshold = 64

    /// `vary` as the command line gives it (`a=v1,v2`, `a+b=v1+w1,v2+w2`);
    /// `budget` as `steps=N` or `seconds=S`.
    public init(base: RunConfig, vary texts: [String], seeds: Int, budget: String?, confirmed: Bool) throws {
        guard !texts.isEmpty else { throw ComparisonError("compare needs at least one --vary FIELD=v1,v2 (e.g. --vary model.position=learned,rope)") }
        var base = base
        var budgetSeconds: Double?
        if let budget {
            let parts = budget.split(separator: "=", maxSplits: 1).map(String.init)
            switch (parts.first, parts.count == 2 ? Double(parts[1]) : nil) {
            case ("steps", let v?) where v >= 1 && v == v.rounded() && v <= 10_000_000: base.train.maxSteps = Int(v)
            case ("seconds", let v?) where v > 0 && v.isFinite: budgetSeconds = v
            default: throw ComparisonError("--budget must be steps=N (a positive integer) or seconds=S (a positive number), got '\(budget)'")
            }
        }
        self.base = base
        self.seeds = seeds
        self.budgetSeconds = budgetSeconds
        vary = try texts.reduce(into: [Vary]()) { vary, text in vary.append(try ComparisonPlan.parse(text, on: base, seen: vary)) }
        let variants = vary.reduce([[(name: String, value: String)]]([[]])) { partial, f in partial.flatMap { p in f.options.map { p + $0 } } }
        if variants.count * seeds > ComparisonPlan.confirmationThreshold && !confirmed {
            throw ComparisonError("this comparison trains \(variants.count * seeds) runs (\(variants.count) variants × \(seeds) seeds); add --yes to confirm, or vary fewer values")
        }
        for variant in variants {
            let label = variant.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            for k in 0..<seeds {
                var config = base
                try config.apply(overrides: variant.map { "\($0.name)=\($0.value)" })
                config.train.seed = base.train.seed + k
                if let line = config.shortenWarmupToRun(), k == 0 { notes.append("\(label): \(line)") }
                do { try config.validate() } catch { throw ComparisonError("variant \(label): \(error)") }
                let name = ComparisonPlan.directoryName(variant) + (seeds > 1 ? "-seed\(config.train.seed)" : "")
                runs.append(Run(name: name, variant: label, seed: config.train.seed, config: config))
            }
        }
    }

    static func parse(_ text: String, on base: RunConfig, seen: [Vary]) throws -> Vary {
        guard let eq = text.firstIndex(of: "="), text[..<eq].contains(".") else {
            throw ComparisonError("--vary '\(text)' must look like section.field=v1,v2 (e.g. model.norm=layernorm,rmsnorm)")
        }
        let field = String(text[..<eq]), names = field.split(separator: "+").map(String.init)
        let values = splitValues(String(text[text.index(after: eq)...]))
        guard !values.isEmpty, !values.contains("") else { throw ComparisonError("--vary \(field): give values separated by commas, got '\(text)'") }
        let taken = Set(seen.flatMap { $0.field.split(separator: "+").map(String.init) })
        for name in names {
            guard !taken.contains(name), names.filter({ $0 == name }).count == 1 else {
                throw ComparisonError("--vary \(name) is given twice; give all its values in one --vary")
            }
            if name == "train.seed" { throw ComparisonError("--vary train.seed: use --seeds N to repeat each variant with different seeds") }
        }
        guard Set(values).count == values.count else { throw ComparisonError("--vary \(field): a value is repeated in '\(text)'") }
        let options = try values.map { value -> [(name: String, value: String)] in
            let parts = names.count == 1 ? [value] : value.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == names.count else {
                throw ComparisonError("--vary \(field): '\(value)' needs \(names.count) values joined by '+', one per field")
            }
            var probe = base
            for (name, part) in zip(names, parts) {
                do { try probe.apply(overrides: ["\(name)=\(part)"]) } catch { throw ComparisonError("--vary \(name)=\(part): \(error)") }
            }
            return Array(zip(names, parts)).map { (name: $0.0, value: $0.1) }
        }
        return Vary(field: field, options: options)
    }

    /// "a,b,[1,2],{\"x\":1}" → ["a", "b", "[1,2]", "{\"x\":1}"]: commas inside brackets or braces stay.
    static func splitValues(_ text: String) -> [String] {
        var values: [String] = [], current = "", depth = 0
        for c in text {
            if c == "[" || c == "{" { depth += 1 } else if c == "]" || c == "}" { depth -= 1 }
            if c == "," && depth == 0 { values.append(current); current = "" } else { current.append(c) }
        }
        values.append(current)
        return values.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A directory name for a variant: "model.position=rope model.norm=rmsnorm" → "position=rope,norm=rmsnorm".
    static func directoryName(_ variant: [(name: String, value: String)]) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=")
        return variant.map { field, value in
            let short = field.split(separator: ".").last.map(String.init) ?? field
            return short + "=" + String(value.map { allowed.contains($0) ? $0 : "_" })
        }.joined(separator: ",")
    }

    /// True when the variants differ in their tokenizer, whose tokens are then not comparable units.
    public var variesTokenizer: Bool {
        vary.contains { $0.field.split(separator: "+").contains { $0.hasPrefix("tokenizer.") } }
    }

    /// The report's title.
    public var title: String { "tinygpt compare: " + vary.map(\.field).joined(separator: " × ") }
}

/// Each run's progress, kept in the comparison directory (state.json) so the
/// same command resumes: whether it finished, and the peak resident memory
/// its process reached.
public struct ComparisonState: Equatable {
    public struct RunState: Equatable {
        public var finished: Bool
        public var peakRSSBytes: Double
    }
    public var runs: [String: RunState] = [:]

    /// state.json; absent or unreadable is a new comparison.
    public init(contentsOf url: URL) {
        guard let data = FileManager.default.contents(atPath: url.path), let members = (try? JSONParser.parse(Array(data)))?.members else { return }
        for (name, value) in members {
            guard let finished = value["finished"]?.double else { continue }
            runs[name] = RunState(finished: finished == 1, peakRSSBytes: value["peak_rss"]?.double ?? 0)
        }
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(JSONValue.object(runs.keys.sorted().map { name in
            (key: name, value: JSONValue.object(["finished": .int(runs[name]!.finished ? 1 : 0), "peak_rss": .number(runs[name]!.peakRSSBytes)]))
        }).fileData, to: url)
    }
}

/// A comparison on disk: the plan checked against the text, the directory
/// (new, or the same comparison, then resumed), the runs trained one after
/// another, each in its own process (its own peak memory, its own lock), and
/// the report from each run's own metrics.
public final class Comparison {
    public private(set) var plan: ComparisonPlan
    public let directory: URL
    let dataPath: String
    let corpora: [UInt64: Corpus]
    let bytesPerToken: [String: Double]
    let parameters: [String: Int]
    var state: ComparisonState

    var stateURL: URL { directory.appendingPathComponent("state.json") }
    func runURL(_ name: String) -> URL { directory.appendingPathComponent("runs").appendingPathComponent(name) }
    func logURL(_ name: String) -> URL { directory.appendingPathComponent("logs").appendingPathComponent(name + ".log") }

    /// Reads the text, builds one corpus per distinct tokenizer setting and
    /// checks every run against it, then opens `directory`: a new one, or one
    /// holding this same comparison (compare.json equal), which is resumed.
    public init(plan: ComparisonPlan, directory: URL) throws {
        var plan = plan
        let dataPath = plan.base.data.path
        guard FileManager.default.fileExists(atPath: dataPath) else {
            throw ComparisonError("data file '\(dataPath)' does not exist (set it with --data FILE)")
        }
        let text = try TextFile.read(dataPath, what: "data file")
        if text.isEmpty { throw ComparisonError("data file '\(dataPath)' is empty") }
        // Comparisons train language models from scratch; fine-tuning runs start from a checkpoint (train --init-from).
        let format = try ExampleFile.read(path: dataPath, text: text).format
        if format != .text || plan.runs.contains(where: { $0.config.train.objective != .lm }) {
            throw ComparisonError("compare trains language models on plain text (train.objective lm); \(format == .text ? "sft and dpo" : "'\(dataPath)' holds \(format.rawValue) examples, which") fine-tune from a checkpoint: use tinygpt train --init-from")
        }
        var corpora: [UInt64: Corpus] = [:], bytesPerToken: [String: Double] = [:], parameters: [String: Int] = [:]
        for i in plan.runs.indices {
            let key = TokenCache.key(text: text, config: plan.runs[i].config)
            plan.runs[i].cacheKey = key
            if corpora[key] == nil { corpora[key] = try Corpus.build(text: text, config: plan.runs[i].config) }
            let corpus = corpora[key]!
            let checked: RunConfig
            do { checked = try Trainer.checked(plan.runs[i].config, for: corpus) } catch { throw ComparisonError("variant \(plan.runs[i].variant): \(error)") }
            plan.runs[i].config = checked
            let validationBytes = Corpus.split(text, valFraction: checked.data.valFraction).validation.utf8.count
            bytesPerToken[plan.runs[i].variant] = Double(validationBytes) / Double(max(corpus.validation.count, 1))
            parameters[plan.runs[i].name] = ModelCost(checked.model).parameters
        }
        self.plan = plan
        self.directory = directory
        self.dataPath = dataPath
        self.corpora = corpora
        self.bytesPerToken = bytesPerToken
        self.parameters = parameters

        let specURL = directory.appendingPathComponent("compare.json")
        let spec = JSONValue.object([
            "base_config": .string(String(decoding: try plan.base.jsonData(), as: UTF8.self)),
            "vary": .array(plan.vary.map { ["field": .string($0.field), "values": .array($0.options.map { .string($0.map(\.value).joined(separator: "+")) })] }),
            "seeds": .int(plan.seeds), "budget_seconds": plan.budgetSeconds.map { .number($0) } ?? .null,
            "data_bytes": .int(text.utf8.count), "data_fnv1a64": .string(String(DataFingerprint(text: text).hash, radix: 16)),
        ]).fileData
        if let existing = FileManager.default.contents(atPath: specURL.path) {
            guard existing == spec else {
                throw ComparisonError("--out '\(directory.path)' holds a different comparison (its compare.json differs: another config, --vary, --seeds, budget or data); choose a new --out")
            }
        } else {
            try OutputDirectory.check(directory.path, force: false)
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("runs"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("logs"), withIntermediateDirectories: true)
            try AtomicFile.write(spec, to: specURL)
        }
        state = ComparisonState(contentsOf: directory.appendingPathComponent("state.json"))
    }

    /// Trains every run not yet finished through `executable train`, telling
    /// `progress` which run starts. Returns the run that was interrupted (Ctrl-C:
    /// the running child saves, and the same command resumes), or nil when every
    /// run has finished; throws when a run fails.
    public func train(executable: String, progress: (String) -> Void) throws -> String? {
        // Ctrl-C reaches the running child too (same process group); a SIGINT sent
        // to this process alone is passed on. The child saves; this process stops.
        signal(SIGINT) { _ in
            interruptRequested = 1
            if runningChild > 0 { kill(runningChild, SIGINT) }
        }
        var durations: [Double] = []
        for (index, run) in plan.runs.enumerated() {
            if state.runs[run.name]?.finished == true { continue }
            let runURL = runURL(run.name), runDirectory = RunDirectory(runURL)
            let remaining = plan.runs.count - index
            let eta = durations.isEmpty ? "" : ", overall ETA \(formatDuration(durations.reduce(0, +) / Double(durations.count) * Double(remaining)))"
            progress("run \(index + 1)/\(plan.runs.count): \(run.variant)\(plan.seeds > 1 ? " seed \(run.seed)" : "")\(eta)")
            let configURL = directory.appendingPathComponent("logs").appendingPathComponent(run.name + ".config.json")
            try AtomicFile.write(run.config.jsonData(), to: configURL)
            let resume = FileManager.default.fileExists(atPath: runDirectory.latest.path)
            if !resume && !FileManager.default.fileExists(atPath: runURL.path) {
                // The shared tokenizer and token cache, so the run does not build its own.
                let corpus = corpora[run.cacheKey]!
                try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
                try corpus.tokenizer.save(to: runDirectory.tokenizer)
                try TokenCache.write(train: corpus.train, validation: corpus.validation, vocabSize: corpus.tokenizer.vocabSize,
                                     key: run.cacheKey, to: runDirectory.tokenCache)
            }
            var arguments = ["train", "--out", runURL.path]
            arguments += resume ? ["--resume"] : ["--config", configURL.path, "--data", dataPath]
            if let budget = plan.budgetSeconds {
                let used = (try? RunMeasurement(runDirectory: runURL, name: run.name, variant: run.variant, seed: run.seed, parameters: 0, peakRSSBytes: 0))?
                    .validationCurve.last?.seconds ?? 0
                let left = budget - (resume ? used : 0)
                if left <= 0 {
                    state.runs[run.name] = .init(finished: true, peakRSSBytes: state.runs[run.name]?.peakRSSBytes ?? 0)
                    continue
                }
                arguments += ["--max-seconds", String(left)]
            }
            let started = Date()
            let (status, peakRSS) = try spawnAndWait(executable, arguments, log: logURL(run.name))
            durations.append(Date().timeIntervalSince(started))
            state.runs[run.name] = .init(finished: status == 0, peakRSSBytes: max(peakRSS, state.runs[run.name]?.peakRSSBytes ?? 0))
            try state.write(to: stateURL)
            if status == 130 || interruptRequested != 0 { return run.name }
            if status != 0 {
                let log = (try? String(contentsOf: logURL(run.name), encoding: .utf8)) ?? ""
                let reason = log.split(separator: "\n").last(where: { $0.hasPrefix("tinygpt: error:") }).map { String($0.dropFirst("tinygpt: error: ".count)) } ?? "exit status \(status)"
                throw ComparisonError("run \(run.name) failed: \(reason) (log: \(logURL(run.name).path))")
            }
        }
        return nil
    }

    /// The report from each run's own metrics: variants in plan order, the
    /// target loss (default: the worst variant's mean), written as report.md,
    /// report.json and curves.svg; returns the Markdown table. Losses are in
    /// bits per byte when the tokenizer varies (`LossUnit`), and so is `target`.
    public func writeReport(target: Double?) throws -> String {
        var summaries: [VariantSummary] = []
        let unit: LossUnit = plan.variesTokenizer ? .bitsPerByte : .natsPerToken
        var variants: [String] = []
        for run in plan.runs where !variants.contains(run.variant) { variants.append(run.variant) }
        for variant in variants {
            let measured = try plan.runs.filter { $0.variant == variant }.map { run in
                try RunMeasurement(runDirectory: runURL(run.name), name: run.name, variant: run.variant, seed: run.seed,
                                   parameters: parameters[run.name] ?? 0, peakRSSBytes: state.runs[run.name]?.peakRSSBytes ?? .nan)
            }
            let unitRuns = unit == .bitsPerByte ? measured.map { $0.inBitsPerByte(bytesPerToken: bytesPerToken[variant] ?? .nan) } : measured
            summaries.append(VariantSummary(variant: variant, runs: unitRuns))
        }
        let targetLoss = target ?? summaries.map { $0.mean(\.validationLoss) }.max() ?? 0
        let markdown = ComparisonReport.markdown(summaries, target: targetLoss, unit: unit, bytesPerToken: bytesPerToken, title: plan.title)
        try AtomicFile.write(Data(markdown.utf8), to: directory.appendingPathComponent("report.md"))
        try AtomicFile.write(ComparisonReport.json(summaries, target: targetLoss, unit: unit, bytesPerToken: bytesPerToken), to: directory.appendingPathComponent("report.json"))
        try AtomicFile.write(Data(ComparisonReport.curvesSVG(summaries, unit: unit, title: plan.title).utf8), to: directory.appendingPathComponent("curves.svg"))
        return markdown
    }
}

/// The run in progress, for the interrupt handler.
nonisolated(unsafe) var runningChild: pid_t = 0

/// Runs `executable` with `arguments`, its output to `log`; returns the exit
/// status (128 + signal if killed) and the child's peak resident memory in bytes.
func spawnAndWait(_ executable: String, _ arguments: [String], log: URL) throws -> (status: Int32, peakRSS: Double) {
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
    guard spawned == 0 else { throw ComparisonError("cannot start '\(executable)': \(posixReason(spawned))") }
    runningChild = pid
    defer { runningChild = 0 }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw ComparisonError("waiting for a run failed: \(posixReason(errno))") }
    }
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    #if os(Linux)
    return (exitStatus, Double(usage.ru_maxrss) * 1024)  // kilobytes on Linux
    #else
    return (exitStatus, Double(usage.ru_maxrss))  // bytes on macOS
    #endif
}
