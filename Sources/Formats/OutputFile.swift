import Foundation
import Files

/// The rule for a command that writes one file the user names (`export
/// --format gguf --out FILE`), the file counterpart of `OutputDirectory`:
///
/// - an absent path in an existing directory may be written;
/// - a directory is never replaced by a file;
/// - an existing file is replaced only with `--force`, and never, even with
///   `--force`, when it is a source of the command or lies inside one, or
///   lies in a tinygpt run or checkpoint directory.
///
/// The file itself is then written atomically (`AtomicFile`).
public enum OutputFile {
    public static func check(_ path: String, force: Bool, sources: [String] = [], flag: String = "--out") throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var parentIsDirectory: ObjCBool = false
            guard fm.fileExists(atPath: parent, isDirectory: &parentIsDirectory), parentIsDirectory.boolValue else {
                throw FormatError("\(flag) '\(path)': the directory '\(parent)' does not exist")
            }
            return
        }
        if isDirectory.boolValue { throw FormatError("\(flag) '\(path)' is a directory; give the path of a file") }
        let target = OutputDirectory.canonical(path)
        for source in sources {
            let s = OutputDirectory.canonical(source)
            if target == s || OutputDirectory.contains(s, target) {
                throw FormatError("\(flag) '\(path)' \(target == s ? "is" : "lies inside") the source '\(source)' of this command; it is never replaced, even with --force: choose another path")
            }
        }
        let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
        if let what = OutputDirectory.tinygptContents(parent) {
            throw FormatError("\(flag) '\(path)' lies in a tinygpt \(what) directory; it is never replaced, even with --force: choose another path")
        }
        guard force else { throw FormatError("\(flag) '\(path)' already exists; choose another path, or add --force to replace it") }
    }
}
