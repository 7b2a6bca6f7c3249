import Foundation

/// The layout of a run directory, named in one place:
///
///     latest/           the newest checkpoint (a resume continues it)
///     best/             the checkpoint with the lowest validation loss
///     metrics.jsonl     one JSON record per log line and evaluation
///     loss.svg          the loss curve, redrawn at each evaluation
///     rollouts.jsonl    ppo and grpo: every step's sampled completions, scores and advantages
///     config.json       the resolved run config
///     tokenizer.json    the run's tokenizer
///     tokens.bin        the token cache (ids of the text, keyed by text and tokenizer settings)
///     .tinygpt-run      the process id of the trainer that holds the run's lock
public struct RunDirectory: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public static let latestName = "latest", bestName = "best"
    public static let metricsName = "metrics.jsonl", lossCurveName = "loss.svg", rolloutsName = "rollouts.jsonl"
    public static let configName = "config.json", tokenizerName = "tokenizer.json", tokenCacheName = "tokens.bin"
    public static let markerName = ".tinygpt-run"
    /// Files that only a run directory holds: any of them marks one.
    public static let markerNames = [latestName, bestName, metricsName, tokenCacheName, markerName]
    /// What starting a run over removes (the token cache and tokenizer go only when they no longer apply).
    public static let startOverNames = [latestName, bestName, metricsName, lossCurveName, rolloutsName, configName, tokenizerName, tokenCacheName]

    public var latest: URL { url.appendingPathComponent(Self.latestName) }
    public var best: URL { url.appendingPathComponent(Self.bestName) }
    public var metrics: URL { url.appendingPathComponent(Self.metricsName) }
    public var lossCurve: URL { url.appendingPathComponent(Self.lossCurveName) }
    public var rollouts: URL { url.appendingPathComponent(Self.rolloutsName) }
    public var config: URL { url.appendingPathComponent(Self.configName) }
    public var tokenizer: URL { url.appendingPathComponent(Self.tokenizerName) }
    public var tokenCache: URL { url.appendingPathComponent(Self.tokenCacheName) }
    public var marker: URL { url.appendingPathComponent(Self.markerName) }

    /// The directory `train` uses when no --out is given: runs/NAME-DATE-TIME,
    /// NAME made of what the run was given, in order: the config file's name,
    /// the --init-from checkpoint's (a run's, for its best/ or latest/) and
    /// the data file's, e.g. runs/imported-my-20261204-120000 for
    /// `--init-from imported --data my.txt`; "default" when none is given.
    public static func defaultURL(configFile: String?, initFrom: String?, dataFile: String?, date: Date) -> URL {
        func stem(_ path: String) -> String { URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }
        func checkpointName(_ path: String) -> String {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            return [latestName, bestName].contains(url.lastPathComponent) ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
        }
        var parts = [configFile.map(stem), initFrom.map(checkpointName), dataFile.map(stem)].compactMap { $0 }.filter { !$0.isEmpty }
        if parts.isEmpty { parts = ["default"] }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return URL(fileURLWithPath: "runs").appendingPathComponent((parts + [formatter.string(from: date)]).joined(separator: "-"))
    }

    /// True when a checkpoint (latest/ or best/) was ever saved here.
    public var hasCheckpoint: Bool {
        FileManager.default.fileExists(atPath: latest.path) || FileManager.default.fileExists(atPath: best.path)
    }
}
