import XCTest
import Foundation

/// The oldest Swift and macOS that tinygpt claims, read from the three files
/// that state them: Package.swift (tools version, platforms), README.md (what
/// a user is told) and the CI workflow (what the public repository checks).
/// They must agree, and CI must run README's test command.
final class ToolchainClaimsTests: XCTestCase {
    /// The repository root, found from this source file (CI runs in a fresh clone elsewhere).
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func text(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
    }

    /// Every first capture group of `pattern` in `text`.
    func captures(_ pattern: String, in text: String) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    func testPackageReadmeAndWorkflowClaimTheSameMinimum() throws {
        let package = try text("Package.swift"), readme = try text("README.md"), workflow = try text(".github/workflows/ci.yml")

        let tools = try captures(#"\A// swift-tools-version:\s*(\d+\.\d+)"#, in: package)
        XCTAssertEqual(tools.count, 1, "Package.swift's first line names the tools version")
        let swift = try XCTUnwrap(tools.first)
        let platforms = try captures(#"platforms: \[\.macOS\(\.v(\d+)\)\]"#, in: package)
        XCTAssertEqual(platforms.count, 1, "Package.swift declares one macOS platform")
        let macOS = try XCTUnwrap(platforms.first)

        // README: "Requires Swift X or later … macOS N or later".
        let requires = try captures(#"^(Requires .*)$"#, in: readme)
        XCTAssertEqual(requires.count, 1, "README states the minimum in one line starting 'Requires'")
        let claim = try XCTUnwrap(requires.first)
        XCTAssertEqual(try captures(#"Swift (\d+\.\d+) or later"#, in: claim), [swift], claim)
        XCTAssertEqual(try captures(#"macOS (\d+) or later"#, in: claim), [macOS], claim)

        // The workflow: both Linux containers, the macOS toolchain and runner.
        let containers = try captures(#"^\s*container:\s*swift:(\S+)\s*$"#, in: workflow)
        XCTAssertEqual(containers, [swift, swift], "the Linux jobs run the swift:\(swift) image")
        XCTAssertEqual(try captures(#"^\s*swift-version:\s*"?([^"\s]+)"?\s*$"#, in: workflow), [swift])
        let runners = try captures(#"^\s*runs-on:\s*(\S+)\s*$"#, in: workflow)
        XCTAssertEqual(runners, ["ubuntu-24.04", "ubuntu-24.04-arm", "macos-\(macOS)"])

        // Every job runs README's test command, and nothing else.
        let testSection = try XCTUnwrap(readme.range(of: "## Test\n")).upperBound
        let command = try XCTUnwrap(try captures(#"```sh\n(.+)\n```"#, in: String(readme[testSection...])).first)
        XCTAssertEqual(command, "swift test -c release")
        XCTAssertEqual(try captures(#"^\s*- run:\s*(.+?)\s*$"#, in: workflow), [command, command, command])
    }
}
