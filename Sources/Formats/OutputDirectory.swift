import Foundation
import Files

/// The one rule for every command that writes a directory the user names
/// (`export --out`, `import --out`, and the run directory of `train`):
/// never replace what the user did not ask to lose.
///
/// - An absent path or an empty directory may be written.
/// - A file is never replaced by a directory.
/// - A non-empty directory is replaced only with `--force`, and never when it
///   is the working directory or contains it, the user's home (the passwd
///   entry's or $HOME) or contains it, a source of the command or a directory
///   containing one, or a tinygpt run or checkpoint.
public enum OutputDirectory {
    /// What is at an output path before a command writes there.
    public enum State: Equatable {
        case absent, empty, replaceable
    }

    /// Checks `path` as the output of a command; `sources` are the paths the
    /// command reads (checkpoint, data), which it must never replace. First
    /// tidies what an interrupted write of `path` left beside it (as `train`
    /// tidies its run), telling `note` what it did.
    @discardableResult
    public static func check(_ path: String, force: Bool, sources: [String] = [], flag: String = "--out",
                             note: (String) -> Void = { _ in }) throws -> State {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if !url.lastPathComponent.isEmpty && url.path != "/" {
            for line in Checkpoint.recoverInterruptedReplacements(in: url.deletingLastPathComponent(), only: url.lastPathComponent) {
                note("\(url.deletingLastPathComponent().path): \(line)")
            }
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else {
            throw FormatError("\(flag) '\(path)' is a file; give the path of a new or empty directory")
        }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: path) } catch {
            throw FormatError("\(flag) '\(path)': cannot list the directory: \(plainReason(error))")
        }
        if entries.isEmpty { return .empty }
        if let reason = protectionReason(path, sources: sources) {
            throw FormatError("\(flag) '\(path)' \(reason); it is never replaced, even with --force: choose a new directory")
        }
        guard force else {
            throw FormatError("\(flag) '\(path)' exists and is not empty (\(entries.count) entr\(entries.count == 1 ? "y" : "ies")); choose a new directory, or add --force to replace it")
        }
        return .replaceable
    }

    /// Why replacing `path` would lose something that must be kept, or nil.
    static func protectionReason(_ path: String, sources: [String]) -> String? {
        let target = canonical(path)
        let cwd = canonical(FileManager.default.currentDirectoryPath)
        if target == cwd { return "is the working directory" }
        if contains(target, cwd) { return "contains the working directory" }
        // The passwd entry's home and $HOME (they differ under `sudo -E`, in containers and CI).
        let homes = [NSHomeDirectory(), ProcessInfo.processInfo.environment["HOME"]].compactMap { $0 }.filter { !$0.isEmpty }
        for home in homes {
            if canonical(home) == target { return "is the home directory (\(home))" }
            if contains(target, canonical(home)) { return "contains the home directory (\(home))" }
        }
        for source in sources {
            let s = canonical(source)
            if target == s { return "is the source '\(source)' of this command" }
            if contains(target, s) { return "contains the source '\(source)' of this command" }
        }
        if let what = tinygptContents(path) { return "holds a tinygpt \(what)" }
        return nil
    }

    /// "run" or "checkpoint" when a directory holds one, else nil.
    public static func tinygptContents(_ path: String) -> String? {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        if RunDirectory.markerNames.contains(where: { fm.fileExists(atPath: url.appendingPathComponent($0).path) }) { return "run" }
        let config = url.appendingPathComponent(Checkpoint.configFile)
        if Checkpoint.holdsCheckpoint(url),
           let data = fm.contents(atPath: config.path),
           case .object? = (try? JSONParser.parse(Array(data)))?["model"] {
            return "checkpoint"
        }
        return nil
    }

    /// Absolute, with `.`/`..` and symbolic links resolved, without a trailing slash.
    public static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// How `path` and `source` overlap on disk (symbolic links resolved):
    /// "is", "contains" or "lies inside", or nil when neither holds the other.
    public static func overlap(_ path: String, _ source: String) -> String? {
        let (p, s) = (canonical(path), canonical(source))
        return p == s ? "is" : contains(p, s) ? "contains" : contains(s, p) ? "lies inside" : nil
    }

    /// True if `inner` lies strictly inside `outer`.
    static func contains(_ outer: String, _ inner: String) -> Bool {
        outer == "/" ? inner != "/" : inner.hasPrefix(outer + "/")
    }
}

