import XCTest
import Foundation

/// Every `tinygpt <command> … --flag` that README.md or docs/*.md shows, in a
/// code block or inline code, names a flag that the command's `--help` lists
/// in its options table (the table the command parses with).
final class DocsFlagsTests: CommandLineTestCase {
    var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static let commands = ["train", "sample", "chat", "serve", "eval", "compare", "export", "import", "logits", "info", "quantize", "prune"]
    static let withSubcommands = ["tokenizer": ["train", "encode", "decode"], "bench": ["matmul", "memory", "train", "sample"]]

    /// The code of a Markdown file: fenced blocks line by line (a trailing `\` joins
    /// the next line), and every inline code span.
    static func codeFragments(_ text: String) -> [String] {
        var fragments: [String] = [], inBlock = false, pending = ""
        for line in text.components(separatedBy: "\n") {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inBlock.toggle(); continue }
            if inBlock {
                if line.hasSuffix("\\") { pending += line.dropLast() + " "; continue }
                fragments.append(pending + line)
                pending = ""
            } else {
                let spans = line.components(separatedBy: "`")
                fragments += stride(from: 1, to: spans.count, by: 2).map { spans[$0] }
            }
        }
        return fragments
    }

    /// The uses in one fragment: (command words, flags), the command ending at a
    /// pipe, `&&`, `;`, a redirection or a comment.
    static func uses(in fragment: String) -> [(command: String, flags: [String])] {
        var found: [(String, [String])] = []
        var words = fragment.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        while let i = words.firstIndex(where: { $0 == "tinygpt" || $0.hasSuffix("/tinygpt") }) {
            words = words[(i + 1)...]
            guard let first = words.first, commands.contains(first) || withSubcommands[first] != nil else { continue }
            var command = first
            words = words.dropFirst()
            if let subs = withSubcommands[first] {
                guard let sub = words.first, subs.contains(sub) else { continue }
                command += " " + sub
                words = words.dropFirst()
            }
            var flags: [String] = []
            while let word = words.first, !["|", "&&", ";", "#", ">", "2>", "||"].contains(word) {
                words = words.dropFirst()
                if word.hasPrefix("--"), word.count > 2, let name = word.dropFirst(2).split(separator: "=").first,
                   name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
                    flags.append(String(name))
                }
            }
            found.append((command, flags))
        }
        return found
    }

    /// The flags a help text's options table lists.
    static func listedFlags(_ help: String) -> Set<String> {
        guard let table = help.components(separatedBy: "\noptions:\n").dropFirst().first else { return [] }
        var names: Set<String> = []
        for line in table.components(separatedBy: "\n") {
            guard line.hasPrefix("  --") else { break }
            names.insert(String(line.dropFirst(4).prefix { $0.isLetter || $0.isNumber || $0 == "-" }))
        }
        return names
    }

    func testFragmentsAndUsesAreFound() {
        let text = "run `tinygpt sample --checkpoint c --top-k=5` then\n```\n.build/release/tinygpt bench train --steps 3 \\\n  --json | jq . --x\n```\n"
        let uses = DocsFlagsTests.codeFragments(text).flatMap(DocsFlagsTests.uses)
        XCTAssertEqual(uses.map(\.command), ["sample", "bench train"])
        XCTAssertEqual(uses.map(\.flags), [["checkpoint", "top-k"], ["steps", "json"]])
    }

    func testEveryDocumentedFlagIsInItsCommandsHelp() throws {
        let docs = repoRoot.appendingPathComponent("docs")
        let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: docs.path)).filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        var helps: [String: Set<String>] = [:]
        var checked = 0
        for name in files {
            let text = try String(contentsOf: repoRoot.appendingPathComponent(name), encoding: .utf8)
            for use in DocsFlagsTests.codeFragments(text).flatMap(DocsFlagsTests.uses) {
                if helps[use.command] == nil {
                    let help = try tinygpt(use.command.split(separator: " ").map(String.init) + ["--help"])
                    XCTAssertEqual(help.status, 0, "tinygpt \(use.command) --help: \(help.stderr)")
                    helps[use.command] = DocsFlagsTests.listedFlags(help.stdout)
                    XCTAssertFalse(helps[use.command]!.isEmpty, "tinygpt \(use.command) --help lists no options")
                }
                for flag in use.flags {
                    checked += 1
                    XCTAssertTrue(helps[use.command]!.contains(flag), "\(name): tinygpt \(use.command) --\(flag) is not in `tinygpt \(use.command) --help`")
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }
}
