import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way files are replaced: written complete under a temporary name
/// beside the target (`.NAME.tmp-PID-RANDOM`), flushed to disk, then renamed
/// over it, so a reader (or a crash) sees the old file or the new one, never
/// a part. Directories are replaced the same way by `Checkpoint`.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { fd in
            try data.withUnsafeBytes { try writeAll(fd, $0, path: url.path) }
        }
    }

    /// Calls `body` with a descriptor open on a temporary file, then renames it over `url`.
    public static func write(to url: URL, _ body: (Int32) throws -> Void) throws {
        let temporary = url.deletingLastPathComponent().path + "/." + url.lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("cannot write '\(url.path)': \(posixReason(errno))") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try body(fd)
            guard fsync(fd) == 0 else { throw FileError("cannot write '\(url.path)': \(posixReason(errno))") }
        }
        guard rename(temporary, url.path) == 0 else { throw FileError("cannot write '\(url.path)': \(posixReason(errno))") }
        renamed = true
    }

    /// write(2) until every byte is out (a full disk is an error naming `path`).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw FileError("cannot write '\(path)': \(n < 0 ? posixReason(errno) : "nothing written")") }
            done += n
        }
    }

    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }
}
