import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `tinygpt serve` as a user runs it: flags refused in one line before any
/// weight is read, a request answered, and Ctrl-C ending it with status 0.
final class ServeCommandTests: CommandLineTestCase {
    func testBadFlagsAreRefusedInOneLine() throws {
        try trainTinyRun("run")
        assertRefused(try tinygpt(["serve"]), mentioning: "--checkpoint")
        assertRefused(try tinygpt(["serve", "--checkpoint", "run", "--parallel", "0"]), mentioning: "--parallel")
        assertRefused(try tinygpt(["serve", "--checkpoint", "run", "--port", "70000"]), mentioning: "--port")
        assertRefused(try tinygpt(["serve", "--checkpoint", "run", "--strategy", "beam"]), mentioning: "beam")
        assertRefused(try tinygpt(["serve", "--checkpoint", "run", "--host", "no.such.host.invalid"]), mentioning: "--host")
        assertRefused(try tinygpt(["serve", "--checkpoint", "missing"]), mentioning: "missing")
        assertRefused(try tinygpt(["serve", "--checkpoint", "run", "--context", "100"]), mentioning: "learned positions")
    }

    func testServesACompletionAndStopsOnInterrupt() throws {
        try trainTinyRun("run")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--checkpoint", "run", "--port", "0", "--parallel", "2"]
        process.currentDirectoryURL = scratch
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // The first line on stderr names the port.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        let port = try XCTUnwrap(text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression).map { text[$0].split(separator: ":")[1] }, text)
        XCTAssertTrue(text.contains("serving 'run'"), text)

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/completions")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"prompt": "a cat", "max_tokens": 5, "seed": 1}"#.utf8)
        final class Box: @unchecked Sendable { var status = 0; var body = "" }
        let box = Box(), done = expectation(description: "reply")
        URLSession.shared.dataTask(with: request) { data, response, _ in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            box.body = String(decoding: data ?? Data(), as: UTF8.self)
            done.fulfill()
        }.resume()
        wait(for: [done], timeout: 30)
        XCTAssertEqual(box.status, 200, box.body)
        XCTAssertTrue(box.body.contains(#""completion_tokens":5"#), box.body)

        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
    }
}
