import Foundation
import Config

/// `--config FILE` and any number of `--set section.field=value`, shared by
/// every command that reads a run config. Without `--config`, the built-in
/// defaults apply (then the overrides).
func readConfig(_ args: inout Arguments, defaultPath: String? = nil) throws -> RunConfig {
    let path = try args.option("config") ?? defaultPath
    let overrides = try args.options("set")
    guard let path else {
        var config = RunConfig()
        try config.apply(overrides: overrides)
        try config.validate()
        return config
    }
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("config file '\(path)' does not exist")
    }
    return try RunConfig.load(from: URL(fileURLWithPath: path), overrides: overrides)
}

/// The sample section of `--config FILE` (sample and export, where the
/// checkpoint fixes the rest), with a note naming the sections it ignores.
func sampleSection(ofConfig path: String) throws -> SampleConfig {
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("config file '\(path)' does not exist") }
    let sample = try RunConfig.load(from: URL(fileURLWithPath: path)).sample
    let sections = RunConfig.sectionNames(inFile: URL(fileURLWithPath: path)).filter { $0 != "sample" }.sorted()
    if !sections.isEmpty {
        printError("tinygpt: note: --config \(path): only its sample section is used; its \(sections.joined(separator: ", ")) section\(sections.count == 1 ? " is" : "s are") ignored (the checkpoint fixes them)")
    }
    return sample
}
