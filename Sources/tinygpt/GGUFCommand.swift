import Foundation
import Model
import Config
import Formats

/// `tinygpt export --format gguf`: the --type flag read, then the library's export.
func exportGGUF(_ loaded: Checkpoint.Loaded, model: GPT, config: RunConfig, type: String?, out: String, force: Bool, sources: [String]) throws {
    let names = GGUFExport.WeightType.allCases.map(\.rawValue)
    guard let weightType = GGUFExport.WeightType(rawValue: type ?? "f32") else {
        throw CLIError("--type must be one of \(names.joined(separator: ", ")), got '\(type ?? "")'")
    }
    printError(try GGUFExport.export(loaded, model: model, config: config, type: weightType, out: out, force: force, sources: sources))
}
