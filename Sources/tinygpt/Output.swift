import Foundation
import Files

/// Standard output, checked. Results go through C's buffered `stdout` (as
/// `print` does); a write that fails there (stdout closed, a full disk,
/// /dev/full) sets its error flag. `flush()` pushes the buffer out and ends
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
        errno = 0
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let reason = errno != 0 ? posixReason(errno) : "write failed"
            printError("tinygpt: error: cannot write the output to standard output: \(reason)")
            exit(1)
        }
    }
}

/// Writes to standard error (diagnostics; standard output carries results).
/// A failure here has nowhere to be reported, so it is ignored.
func printError(_ text: String) {
    fputs(text + "\n", stderr)
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
