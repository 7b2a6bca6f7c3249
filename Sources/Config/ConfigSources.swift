import Foundation
import Files

extension RunConfig {
    /// A run's config as a command is given it: the file at `path` (the
    /// built-in defaults when nil), then the `--set` overrides, validated.
    public static func read(path: String?, overrides: [String]) throws -> RunConfig {
        guard let path else {
            var config = RunConfig()
            try config.apply(overrides: overrides)
            try config.validate()
            return config
        }
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("config file '\(path)' does not exist") }
        return try RunConfig.load(from: URL(fileURLWithPath: path), overrides: overrides)
    }

    /// The sample section of the config file at `path`, for a command where a
    /// checkpoint fixes the rest (sample, chat, serve, export); `note` names the
    /// sections it ignores.
    public static func sampleSection(ofConfig path: String, note: (String) -> Void) throws -> SampleConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("config file '\(path)' does not exist") }
        let sample = try RunConfig.load(from: URL(fileURLWithPath: path)).sample
        let sections = RunConfig.sectionNames(inFile: URL(fileURLWithPath: path)).filter { $0 != "sample" }.sorted()
        if !sections.isEmpty {
            note("--config \(path): only its sample section is used; its \(sections.joined(separator: ", ")) section\(sections.count == 1 ? " is" : "s are") ignored (the checkpoint fixes them)")
        }
        return sample
    }
}
