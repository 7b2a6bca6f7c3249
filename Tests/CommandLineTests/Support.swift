import XCTest
import Foundation
import TestSupport

/// The built `tinygpt` run as a user runs it, in a scratch directory that
/// holds a small text file; shared by the command-line test cases.
class CommandLineTestCase: XCTestCase {
    var scratch: URL!
    /// A model small enough that training takes well under a second (a test case may override it).
    var tiny: [String] {
        ["--set", "model.n_layer=1", "--set", "model.d_model=16", "--set", "model.n_head=2",
         "--set", "model.context_length=16", "--set", "train.batch_size=2", "--set", "train.max_steps=6",
         "--set", "train.warmup_steps=1", "--set", "train.eval_interval=3", "--set", "train.eval_steps=1",
         "--set", "train.log_interval=3"]
    }
    /// How many times the sentence of text.txt is repeated.
    var textRepeats: Int { 60 }

    override func setUpWithError() throws {
        scratch = try Scratch.directory("cli")
        let text = String(repeating: "a cat sat on the mat and the dog ran to the cat. ", count: textRepeats)
        try text.write(to: scratch.appendingPathComponent("text.txt"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { Scratch.remove(scratch) }

    /// The executable SwiftPM built beside this test bundle.
    var executable: URL {
        #if os(macOS)
        // Xcode's xctest runner loads the bundle, so the bundle, not argument 0, is in the build folder.
        let bundle = Bundle(for: CommandLineTestCase.self).bundleURL
        #else
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0])
        #endif
        return bundle.deletingLastPathComponent().appendingPathComponent("tinygpt")
    }

    typealias Result = (status: Int32, stdout: String, stderr: String)

    @discardableResult
    func tinygpt(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Result {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: executable.path), "build the tinygpt executable first: \(executable.path)")
        return try run(executable, arguments, in: directory, environment: environment)
    }

    /// tinygpt with its standard output piped into `reader` (e.g. "head -c 1"),
    /// which may exit before tinygpt is done; the status is tinygpt's.
    func tinygpt(_ arguments: [String], pipedInto reader: String) throws -> Result {
        try run(URL(fileURLWithPath: "/bin/bash"), ["-c", "\"$0\" \"$@\" | \(reader) > /dev/null; exit ${PIPESTATUS[0]}", executable.path] + arguments)
    }

    /// tinygpt with its standard output redirected by the shell: "> /dev/full", ">&-" (closed), ….
    func tinygpt(_ arguments: [String], stdoutRedirect: String) throws -> Result {
        let quoted = ([executable.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec " + quoted.joined(separator: " ") + " " + stdoutRedirect])
    }

    /// tinygpt with its standard error on a terminal (a pseudo-terminal this
    /// test reads), as a user at a shell sees it.
    func tinygptWithTerminal(_ arguments: [String]) throws -> Result {
        #if os(Linux)
        // posix_openpt, unlockpt and ptsname as ioctls (Swift's Glibc does not import them): TIOCSPTLCK, TIOCGPTN.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlocked: CInt = 0, number: CUnsignedInt = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlocked) == 0, ioctl(master, 0x8004_5430, &number) == 0,
              let terminal = FileHandle(forUpdatingAtPath: "/dev/pts/\(number)") else {
            throw XCTSkip("no pseudo-terminal on this machine")
        }
        #else
        throw XCTSkip("pseudo-terminals are opened here on Linux only")
        #endif
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = scratch
        let out = Pipe()
        process.standardOutput = out
        process.standardError = terminal
        // Read the terminal as the program writes (its buffer is small); it reports EIO once every writer is gone.
        final class Collected: @unchecked Sendable { var data = Data() }  // written by the reader only, read after `done`
        let reader = FileHandle(fileDescriptor: master, closeOnDealloc: true), written = Collected()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(reader.fileDescriptor, &buffer, buffer.count)
                if n <= 0 { break }
                written.data.append(contentsOf: buffer[0..<n])
            }
            done.signal()
        }
        try process.run()
        try terminal.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        done.wait()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: written.data, as: UTF8.self))
    }

    /// `environment` adds to (or replaces in) this process's environment.
    func run(_ program: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? scratch
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // A signal (a trap, a kill) is reported as 128 + its number, as shells do.
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    func contents(_ name: String) -> Data? { FileManager.default.contents(atPath: path(name)) }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// A small trained run directory, `name`.
    func trainTinyRun(_ name: String, extra: [String] = []) throws {
        let result = try tinygpt(["train", "--data", "text.txt", "--out", name] + tiny + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    /// One line on stderr, starting "tinygpt: error:", a non-zero status and no signal.
    func assertRefused(_ result: Result, mentioning: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(result.status == 1 || result.status == 2, "exit status \(result.status): \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(lines.last?.hasPrefix("tinygpt: error:") == true, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(mentioning), "'\(mentioning)' in: \(result.stderr)", file: file, line: line)
        for leak in ["Error Domain", "NSCocoa", "NSPOSIX", ".tmp-", "Fatal error"] {
            XCTAssertFalse(result.stderr.contains(leak), "internals in: \(result.stderr)", file: file, line: line)
        }
    }
}
