import Foundation
import Files

/// Standard output, checked. Results go through C's buffered `stdout` (as
/// `print` does); a write that fails there (stdout closed, a pipe whose
/// reader has gone, a full disk, /dev/full) sets its error flag. SIGPIPE is
/// ignored (main.swift), so a closed pipe is such a failure, not a silent death. `flush()` pushes the buffer out and ends
/// the command with one line on stderr and exit 1 if anything failed, so a
/// truncated result is never reported as success.
enum StandardOutput {
    /// Writes `text` as is (no newline), then flushes: for streamed output.
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = fwrite(bytes.baseAddress, 1, bytes.count, stdout) }
        flush()
    }

    /// Pushes buffered output out; on failure, reports and exits 1.
    static func flush() {
        if let reason = failure() {
            printError("tinygpt: error: \(failureMessage(reason))")
            exit(1)
        }
    }

    /// Pushes buffered output out and returns why that failed, or nil: for a
    /// command that must tidy up (save a checkpoint) before it stops.
    static func failure() -> String? {
        errno = 0
        guard fflush(stdout) != 0 || ferror(stdout) != 0 else { return nil }
        return errno != 0 ? posixReason(errno) : "write failed"
    }

    static func failureMessage(_ reason: String) -> String { "cannot write the output to standard output: \(reason)" }
}

/// Writes to standard error (diagnostics; standard output carries results).
/// A failure here has nowhere to be reported, so it is ignored.
func printError(_ text: String) {
    fputs(text + "\n", stderr)
}

/// A note on standard error: something the user may want to know, not an error.
func printNote(_ text: String) {
    printError("tinygpt: note: " + text)
}

/// The one-line message for an error that reached `main`: our own errors
/// carry their text; Foundation's file errors are put in plain words with
/// the path they concern.
func userMessage(_ error: Error) -> String {
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
    let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    return path.map { "'\($0)': \(plainReason(error))" } ?? plainReason(error)
}
