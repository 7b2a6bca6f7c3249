import XCTest
import Foundation

/// What README and the docs show, checked as a newcomer would meet it:
/// commands run as written, outputs land where git ignores them, and help
/// texts agree with the docs (issue 32's literal walk through the docs).
final class DocsTests: CommandLineTestCase {
    var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func file(_ name: String) throws -> String { try String(contentsOf: repoRoot.appendingPathComponent(name), encoding: .utf8) }

    /// README's command lines (`.build/release/tinygpt …`) as argument lists:
    /// double quotes group words, a `#` after a space starts a comment.
    func readmeCommands() throws -> [[String]] {
        try file("README.md").split(separator: "\n").compactMap { line -> [String]? in
            guard line.hasPrefix(".build/release/tinygpt ") else { return nil }
            var words: [String] = [], word = "", quoted = false, started = false
            for c in line.dropFirst(".build/release/tinygpt ".count) {
                if c == "\"" { quoted.toggle(); started = true; continue }
                if !quoted && c == "#" && !started { break }
                if !quoted && c == " " {
                    if started { words.append(word) }
                    word = ""; started = false
                    continue
                }
                word.append(c); started = true
            }
            if started { words.append(word) }
            return words
        }
    }

    // 15. The decode example prints visible text: the encode example's ids, back to its text.
    func testReadmeTokenizerExamplesRoundTrip() throws {
        let commands = try readmeCommands().filter { $0.first == "tokenizer" }
        XCTAssertEqual(commands.map { $0[1] }, ["train", "encode", "decode"])
        var outputs: [String] = []
        for command in commands {
            let result = try tinygpt(command.map { $0 == "data/corpus.txt" ? repoRoot.appendingPathComponent($0).path : $0 })
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            outputs.append(result.stdout)
        }
        let text = commands[1][commands[1].firstIndex(of: "--text")! + 1], ids = commands[2][commands[2].firstIndex(of: "--ids")! + 1]
        XCTAssertEqual(outputs[1].trimmingCharacters(in: .newlines), ids, "decode shows the ids encode prints")
        XCTAssertEqual(outputs[2], text)
        XCTAssertFalse(outputs[2].unicodeScalars.contains { $0.properties.generalCategory == .control }, "visible text")
    }

    // 20. Every --out in README lies in a directory .gitignore covers, so trying the examples leaves `git status` clean.
    func testReadmeOutputsAreIgnoredByGit() throws {
        let ignored = try file(".gitignore").split(separator: "\n").map(String.init)
            .filter { $0.hasSuffix("/") && !$0.hasPrefix("!") && !$0.hasPrefix("#") && !$0.contains("*") }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
        let outputs = try readmeCommands().compactMap { words in words.firstIndex(of: "--out").map { words[$0 + 1] } }
        XCTAssertGreaterThan(outputs.count, 5)
        for out in outputs {
            XCTAssertTrue(ignored.contains(String(out.split(separator: "/").first ?? "")), "README writes \(out), which .gitignore (\(ignored)) does not cover")
        }
    }

    // 20. compare --help's example is the one docs/training.md shows (equal parameter counts: 3·341 ≈ 2·512).
    func testCompareHelpMatchesTheTrainingDocs() throws {
        let help = try tinygpt(["compare", "--help"]).stdout
        let prefix = "--vary model.activation+model.d_ff="
        let start = try XCTUnwrap(help.range(of: prefix), help)
        let example = prefix + help[start.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "," }
        XCTAssertTrue(try file("docs/training.md").contains("`" + example + "`"), "\(example) not in docs/training.md")
    }
}
