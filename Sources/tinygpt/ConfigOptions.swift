import Foundation
import Config

/// `--config FILE` and any number of `--set section.field=value`, shared by
/// every command that reads a run config (`RunConfig.read`). Without
/// `--config`, `defaultPath`, else the built-in defaults (then the overrides).
func readConfig(_ args: inout Arguments, defaultPath: String? = nil) throws -> RunConfig {
    let path = try args.option("config") ?? defaultPath
    return try RunConfig.read(path: path, overrides: try args.options("set"))
}
