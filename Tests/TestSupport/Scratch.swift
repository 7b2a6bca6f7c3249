import Foundation

/// Scratch directories for tests, in one place: a fresh, unique directory
/// under the system's temporary directory, and its removal.
public enum Scratch {
    /// A new empty directory named tinygpt-NAME-UUID, as its real path: on
    /// macOS the temporary directory is behind a symbolic link (/var ->
    /// /private/var), and a process started in it reports the real path.
    public static func directory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tinygpt-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        guard let real = realpath(url.path, nil) else { return url }
        defer { free(real) }
        return URL(fileURLWithPath: String(cString: real), isDirectory: true)
    }

    /// Removes a scratch directory and everything in it.
    public static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }
}
