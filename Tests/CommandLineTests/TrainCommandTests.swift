import XCTest
import Foundation

/// `tinygpt train` as a user runs it: the built executable in a scratch
/// directory. These check what the library tests cannot see: the order of
/// checks and writes in the command (a refused command changes nothing),
/// exit statuses, and one-line errors.
final class TrainCommandTests: CommandLineTestCase {
    func testARefusedCommandChangesNothing() throws {
        let run = try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny)
        XCTAssertEqual(run.status, 0, run.stderr)
        let weights = contents("run/latest/model.safetensors"), tokens = contents("run/tokens.bin")
        XCTAssertNotNil(weights)

        // --force with data that fails its checks deletes nothing.
        assertRefused(try tinygpt(["train", "--data", "missing.txt", "--out", "run", "--force"] + tiny), mentioning: "missing.txt")
        try String(repeating: "x", count: 20).write(toFile: path("short.txt"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["train", "--data", "short.txt", "--out", "run", "--force"] + tiny), mentioning: "split has")
        XCTAssertEqual(contents("run/latest/model.safetensors"), weights)
        // Without --force the run is protected.
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny), mentioning: "holds another run")
        // A refused --resume (other data, same characters) rewrites no cache.
        try String(repeating: "the dog sat on a mat. ", count: 60).write(toFile: path("other.txt"), atomically: true, encoding: .utf8)
        assertRefused(try tinygpt(["train", "--data", "other.txt", "--out", "run", "--resume"] + tiny), mentioning: "data.path")
        XCTAssertEqual(contents("run/tokens.bin"), tokens)

        // A refused fresh run leaves no directory behind.
        for arguments in [["--data", "missing.txt"], ["--data", "short.txt"], ["--data", "text.txt", "--set", "train.lr=0"]] {
            assertRefused(try tinygpt(["train", "--out", "fresh"] + tiny + arguments), mentioning: "error")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("fresh")), "\(arguments)")
        }
        assertRefused(try tinygpt(["train", "--data", "text.txt", "--out", "text.txt"] + tiny), mentioning: "is a file")
        assertRefused(try tinygpt(["train", "--data", ".", "--out", "fresh"] + tiny), mentioning: "is a directory")
    }

    func testResumeWorksFromAnotherDirectoryAndSaysWhenFinished() throws {
        XCTAssertEqual(try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny).status, 0)
        // Finished: says so, trains nothing.
        let again = try tinygpt(["train", "--out", path("run"), "--resume"], in: FileManager.default.temporaryDirectory)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("already finished at step 6"), again.stderr)
        // --force keeps the matching token cache.
        let tokens = contents("run/tokens.bin")
        XCTAssertEqual(try tinygpt(["train", "--data", "text.txt", "--out", "run", "--force"] + tiny).status, 0)
        XCTAssertEqual(contents("run/tokens.bin"), tokens)
    }

    /// A tokenizer taken from a checkpoint (--init-from) never becomes the
    /// cache a later --force trusts as built from the settings.
    func testForceAfterInitFromBuildsItsOwnTokenizer() throws {
        XCTAssertEqual(try tinygpt(["train", "--data", "text.txt", "--out", "ref"] + tiny).status, 0)
        try String(repeating: "a cat sat on the mat. ", count: 60).write(toFile: path("small.txt"), atomically: true, encoding: .utf8)
        let tuned = try tinygpt(["train", "--data", "small.txt", "--out", "tuned", "--init-from", path("ref/latest")] + tiny)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertTrue(tuned.stderr.contains("char tokenizer with 14 tokens"), tuned.stderr)  // the checkpoint's
        let resumed = try tinygpt(["train", "--out", "tuned", "--resume"])
        XCTAssertTrue(resumed.stderr.contains("already finished"), resumed.stderr)
        XCTAssertNil(contents("tuned/tokens.bin"), "no cache of a checkpoint's tokenizer")
        let fresh = try tinygpt(["train", "--data", "small.txt", "--out", "tuned", "--force"] + tiny)
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertTrue(fresh.stderr.contains("char tokenizer with 11 tokens"), fresh.stderr)  // built from small.txt
    }

    func testNonFiniteLossStopsWithTheStep() throws {
        let result = try tinygpt(["train", "--data", "text.txt", "--out", "run"] + tiny
                                 + ["--set", "train.lr=1e30", "--set", "train.min_lr=0", "--set", "train.grad_clip=0", "--set", "train.warmup_steps=0"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("at step"), result.stderr)
        XCTAssertTrue(result.stderr.contains("try a lower train.lr"), result.stderr)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
    }
}
