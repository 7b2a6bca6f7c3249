import Foundation
import Config
import Formats

let infoFlags = CommandFlags(
    command: "info", forms: ["(--config FILE [--set section.field=value ...] | --checkpoint DIR) [--json]"],
    about: "Parameters by component, FLOPs per token, memory, and the resolved, validated config.",
    flags: [Flag("config", "FILE", "a run config (default: the built-in defaults)"), .set,
            Flag("checkpoint", "DIR", "a checkpoint or run directory instead of a config"),
            Flag("json", "one JSON object: parameters, components, forward_flops_per_token, config (what scripts read)")])

/// `tinygpt info`: parameter counts, FLOPs per token, memory, and the resolved config (`ModelReport`).
func runInfoCommand(_ args: [String]) throws {
    guard var a = infoFlags.parse(args) else { return }
    let checkpoint = try a.option("checkpoint")
    let json = a.flag("json")
    let report: ModelReport
    if let checkpoint {
        let extraSets = try a.options("set"), extraConfig = try a.option("config")
        if !extraSets.isEmpty || extraConfig != nil {
            throw CLIError("info takes either --checkpoint or --config (with --set), not both")
        }
        report = try ModelReport(checkpoint: checkpoint)
    } else {
        report = try ModelReport(config: try readConfig(&a))
    }
    try a.finish()
    print(json ? try report.json() : try report.text(), terminator: json ? "\n" : "")
}
