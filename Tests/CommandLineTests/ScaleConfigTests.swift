import XCTest
import Foundation

/// scale/'s Python reads tinygpt's config by asking `tinygpt info --json`; a fresh run's
/// config.json must come back with every section as the run wrote it.
final class ScaleConfigTests: CommandLineTestCase {
    func testScaleReaderTakesARunsConfigAsWritten() throws {
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python else { throw XCTSkip("python3 is not installed") }
        try trainTinyRun("run")
        let scale = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scale").path
        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            import tinygpt_config
            config, given = tinygpt_config.load(sys.argv[2], tinygpt=sys.argv[3])
            print(json.dumps(config, sort_keys=True))
            """
        let result = try run(URL(fileURLWithPath: python), ["-c", script, scale, path("run/config.json"), executable.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let read = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: XCTUnwrap(contents("run/config.json"))) as? [String: Any])
        for (section, fields) in written {
            let want = try XCTUnwrap(fields as? [String: Any], section)
            let got = try XCTUnwrap(read[section] as? [String: Any], "section \(section) missing from scale's reading")
            for (name, value) in want {
                XCTAssertEqual(got[name].map { "\($0)" }, "\(value)", "\(section).\(name)")
            }
        }
    }
}
