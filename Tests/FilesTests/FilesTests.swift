import XCTest
import Foundation
import Files

final class JSONTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func assertRefused(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\(text): \(error)", file: file, line: line)
        }
    }

    func testValuesAccessorsAndKeyOrder() throws {
        let v = try parse(#"{"b": 1, "a": [true, null, -2.5e3, "x\u00e9\n"], "c": {"d": 7}}"#)
        XCTAssertEqual(v.members?.map(\.key), ["b", "a", "c"], "objects keep the file's key order")
        XCTAssertEqual(v["b"]?.int, 1)
        XCTAssertEqual(v["b"]?.double, 1, "an integer reads as a Double too")
        XCTAssertEqual(v["a"]?.array?.count, 4)
        XCTAssertEqual(v["a"]?.array?[0].bool, true)
        XCTAssertEqual(v["a"]?.array?[1].isNull, true)
        XCTAssertEqual(v["a"]?.array?[2].double, -2500)
        XCTAssertNil(v["a"]?.array?[2].int, "a float is not an integer")
        XCTAssertEqual(v["a"]?.array?[3].string, "xé\n")
        XCTAssertEqual(v["c"]?["d"]?.int, 7)
        XCTAssertNil(v["missing"])
        XCTAssertNil(v["a"]?["b"], "a subscript on a non-object is nil")
    }

    func testSerializationRoundTrips() throws {
        let text = #"{"s":"q\"\\\u0001\u007f","n":[1,2.5,-0.0,1e-07],"o":{},"t":true,"z":null}"#
        let v = try parse(text)
        XCTAssertEqual(try parse(v.serialized()).serialized(), v.serialized())
        XCTAssertEqual(v["s"]?.string, "q\"\\\u{1}\u{7f}")
        XCTAssertTrue(v.serialized().contains(#""q\"\\\u0001\u007f""#), v.serialized())
        XCTAssertEqual(try parse(String(decoding: v.fileData, as: UTF8.self)).serialized(), v.serialized())
        XCTAssertEqual(JSONValue.number(.nan).serialized(), "null")
    }

    func testStrictnessWithPositions() {
        assertRefused(#"{"a": 1, "a": 2}"#, "duplicate")
        assertRefused("[1, 2,]", "line 1")
        assertRefused("{\n  \"a\": 1,\n}", "line 3")
        assertRefused("[1] x", "unexpected text after the JSON value")
        assertRefused("01", "unexpected text after the JSON value")
        assertRefused("1e999", "out of range")
        assertRefused(String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "nested more than 64 levels deep")
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22])) { XCTAssertTrue("\($0)".contains("UTF-8")) }
    }

    func testRepeatedKeysAreFoundByBytesInLargeObjects() throws {
        let keys = (0..<40).map { "k\($0)" }
        let object = keys.map { "\"\($0)\": 1" }.joined(separator: ", ")
        XCTAssertEqual(try parse("{" + object + "}").members?.count, 40)
        assertRefused("{" + object + #", "k7": 2}"#, "duplicate key 'k7'")
        assertRefused("{" + object + #", "k\u0037": 2}"#, "duplicate key 'k7'")
        XCTAssertEqual(try parse("{" + object + #", "\u00e9": 1, "e\u0301": 2}"#).members?.count, 42, "canonically equal keys are distinct")
    }

    /// Deferred values are checked as a whole parse checks them, and read back the same.
    func testDeferredValuesKeepTheParseErrorsAndReadBackTheSame() throws {
        func document(_ text: String) throws -> JSONDocument { try JSONParser.parse(Data(text.utf8), deferring: [["m", "v"], ["m", "list"]]) }
        let text = #"{"m": {"v": {"a": 1, "b\"c": 2, "\u00e9": 3, "n": {"x": [1]}}, "list": [["a", "b"], "c d", 7], "t": 1}}"#
        let doc = try document(text)
        XCTAssertEqual(doc.root["m"]?["v"]?.members?.count, 0, "a deferred object stands empty in the tree")
        XCTAssertEqual(doc.root["m"]?["list"]?.array?.count, 0)
        XCTAssertEqual(doc.root["m"]?["t"]?.int, 1)
        let whole = try parse(text)
        XCTAssertEqual(try doc.deferred[0]?.value().serialized(), whole["m"]?["v"]?.serialized())
        XCTAssertEqual(try doc.deferred[1]?.value().serialized(), whole["m"]?["list"]?.serialized())
        XCTAssertEqual(doc.deferred[0]?.count, 4)
        XCTAssertEqual(doc.deferred[1]?.count, 3)
        var keys: [String] = []
        try doc.deferred[0]?.withReader { v in
            try v.forEachMember { key, value in keys.append(String(decoding: key, as: UTF8.self) + "=" + (try value.value()).serialized()) }
            XCTAssertEqual(Array("b\"c".utf8).withUnsafeBufferPointer { v.memberIndex($0) }, 1)
            XCTAssertEqual(Array("é".utf8).withUnsafeBufferPointer { v.memberIndex($0) }, 2)
            XCTAssertNil(Array("e\u{301}".utf8).withUnsafeBufferPointer { v.memberIndex($0) })
        }
        XCTAssertEqual(keys, ["a=1", "b\"c=2", "é=3", #"n={"x":[1]}"#])
        var items: [String] = []
        doc.deferred[1]?.withReader { list in
            list.forEachElement { item in items.append(item.isArray ? "array" : item.isString ? "string" : "other") }
        }
        XCTAssertEqual(items, ["array", "string", "other"])
        XCTAssertNil(try document(#"{"m": {"v": 3}}"#).deferred[0], "a scalar is not deferred")
        XCTAssertEqual(try document(#"{"m": {"v": 3}}"#).root["m"]?["v"]?.int, 3)
        // The same refusals, at the same places, inside deferred values.
        for bad in [#"{"m": {"v": {"a": 1, "a": 2}}}"#, #"{"m": {"v": {"a": 1,}}}"#, #"{"m": {"list": [1e999]}}"#,
                    #"{"m": {"list": ["\x"]}}"#, #"{"m": {"v": {"a": tru}}}"#, #"{"m": {"v": {"a": 1}}"#,
                    "{\"m\": {\"list\": " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}}"] {
            var errors: [String] = []
            do { _ = try document(bad) } catch { errors.append("\(error)") }
            do { _ = try parse(bad) } catch { errors.append("\(error)") }
            XCTAssertEqual(errors.count, 2, bad)
            XCTAssertEqual(errors.first, errors.last, bad)
        }
    }
}

final class FileTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinygpt-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func testAtomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let url = directory.appendingPathComponent("f.json")
        try AtomicFile.write(Data("one".utf8), to: url)
        try AtomicFile.write(Data("two".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["f.json"])
        // A failing body leaves the old file and no temporary.
        struct Stop: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: url) { _ in throw Stop() })
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["f.json"])
        XCTAssertThrowsError(try AtomicFile.write(Data(), to: directory.appendingPathComponent("no/such/dir"))) {
            XCTAssertTrue("\($0)".contains("cannot write"), "\($0)")
        }
    }

    func testTextFileRefusesWhatIsNotText() throws {
        let good = directory.appendingPathComponent("good.txt"), bad = directory.appendingPathComponent("bad.txt")
        try Data("héllo".utf8).write(to: good)
        try Data([0x61, 0x62, 0xC3, 0x28]).write(to: bad)
        XCTAssertEqual(try TextFile.read(good.path, what: "data file"), "héllo")
        XCTAssertThrowsError(try TextFile.read(bad.path, what: "data file")) {
            XCTAssertEqual("\($0)", "data file '\(bad.path)' is not valid UTF-8: bad byte 0xC3 at byte offset 2")
        }
        XCTAssertThrowsError(try TextFile.read(directory.path, what: "data file")) { XCTAssertTrue("\($0)".contains("is a directory")) }
        XCTAssertThrowsError(try TextFile.read("/dev/zero", what: "data file")) { XCTAssertTrue("\($0)".contains("is a device")) }
        XCTAssertThrowsError(try TextFile.read(directory.appendingPathComponent("none").path, what: "data file")) {
            XCTAssertTrue("\($0)".contains("cannot read data file"), "\($0)")
        }
        XCTAssertNil(TextFile.firstInvalidUTF8(Data("ok ✓".utf8)))
    }
}
