import XCTest

/// `tinygpt help` promises that every command takes --help: each prints its
/// usage on stdout and exits 0, without touching any file.
final class HelpTests: CommandLineTestCase {
    func testEveryCommandTakesHelp() throws {
        let commands = [["train"], ["sample"], ["chat"], ["serve"], ["eval"], ["compare"], ["export"], ["import"], ["logits"], ["info"], ["quantize"], ["prune"],
                        ["tokenizer", "train"], ["tokenizer", "encode"], ["tokenizer", "decode"], ["tokenizer"],
                        ["bench"], ["bench", "matmul"], ["bench", "memory"], ["bench", "train"], ["bench", "sample"]]
        let before = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        for command in commands {
            let r = try tinygpt(command + ["--help"])
            XCTAssertEqual(r.status, 0, "\(command): \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix("usage:"), "\(command): \(r.stdout.prefix(80))")
            XCTAssertEqual(r.stderr, "", "\(command)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted(), before)
    }
}
