import XCTest
import Foundation
import TestSupport
import Kernels
import Formats

/// A fresh empty directory per test.
private func temporaryDirectory() throws -> URL { try Scratch.directory("safetensors") }

/// Hand-built file: length field (declared, or the header's real length), header text, data bytes.
private func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let json = Array(header.utf8)
    let length = declaredLength ?? UInt64(json.count)
    return Data(withUnsafeBytes(of: length.littleEndian, Array.init) + json + data)
}

private func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
}

private func littleEndianBytes(_ halves: [UInt16]) -> [UInt8] {
    halves.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
}

final class SafeTensorsTests: XCTestCase {
    private func assertRejected(_ data: Data, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try SafeTensors.decode(data, source: "bad.safetensors")
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertTrue(error.description.hasPrefix("bad.safetensors: "), error.description, file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error.description)' lacks '\(fragment)'", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testRoundTripKeepsOrderShapesValuesAndMetadata() throws {
        let dir = try temporaryDirectory()
        defer { Scratch.remove(dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let tensors = [
            SafeTensor(name: "wte.weight", shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, .infinity]),
            SafeTensor(name: "scalar", shape: [], values: [42]),
            SafeTensor(name: "empty", shape: [0, 4], values: []),
            SafeTensor(name: "a.bias", shape: [5], values: [1e-30, -1e30, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .pi]),
        ]
        let metadata = ["format": "tinygpt", "step": "100", "quote\"and\\": "ünïcödé\n"]
        try SafeTensors.write(tensors, metadata: metadata, to: url)

        let back = try SafeTensors.read(from: url)
        XCTAssertEqual(back.metadata, metadata)
        // Read order is data order, which is the order written.
        XCTAssertEqual(back.names, tensors.map(\.name))
        for (written, read) in zip(tensors, back.tensors) {
            XCTAssertEqual(read.shape, written.shape)
            XCTAssertEqual(read.dtype, .f32)
            XCTAssertEqual(read.values.map(\.bitPattern), written.values.map(\.bitPattern), written.name)
        }
        XCTAssertEqual(back["scalar"]?.values, [42])
        XCTAssertNil(back["missing"])

        // No metadata, no tensors: still a valid file.
        try SafeTensors.write([], to: url)
        let empty = try SafeTensors.read(from: url)
        XCTAssertEqual(empty.names, [])
        XCTAssertEqual(empty.metadata, [:])
    }

    func testByteLayout() throws {
        let dir = try temporaryDirectory()
        defer { Scratch.remove(dir) }
        let url = dir.appendingPathComponent("x.safetensors")
        try SafeTensors.write([SafeTensor(name: "w", shape: [2], values: [1, -2]),
                               SafeTensor(name: "b", shape: [1], values: [0.5])],
                              metadata: ["k": "v"], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 64, 0, "data must start 64-byte aligned")
        XCTAssertEqual(bytes.count, 8 + headerLength + 12)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        let json = header.trimmingCharacters(in: .init(charactersIn: " "))
        XCTAssertEqual(json, #"{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#)
        XCTAssertTrue(header.hasPrefix(json), "padding goes at the end")
        XCTAssertLessThan(header.count - json.count, 64)
        // 1.0, -2.0, 0.5 as little-endian IEEE floats.
        XCTAssertEqual(Array(bytes[(8 + headerLength)...]), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F])
    }

    func testWriteIsAtomicAndRejectsBadTensors() throws {
        let dir = try temporaryDirectory()
        defer { Scratch.remove(dir) }
        let url = dir.appendingPathComponent("ckpt.safetensors")
        try SafeTensors.write([SafeTensor(name: "a", shape: [1], values: [1])], to: url)
        let before = try Data(contentsOf: url)

        let bad: [[SafeTensor]] = [
            [SafeTensor(name: "a", shape: [2, 2], values: [1, 2, 3])],
            [SafeTensor(name: "a", shape: [-1], values: [])],
            [SafeTensor(name: "a", shape: [1], values: [1]), SafeTensor(name: "a", shape: [1], values: [2])],
            [SafeTensor(name: "__metadata__", shape: [1], values: [1])],
            [SafeTensor(name: "a", shape: [Int.max, 4], values: [])],
        ]
        for tensors in bad {
            XCTAssertThrowsError(try SafeTensors.write(tensors, to: url)) { error in
                XCTAssertTrue("\(error)".contains("tensor '"), "\(error)")
            }
        }
        XCTAssertEqual(try Data(contentsOf: url), before, "failed writes leave the old file intact")

        try SafeTensors.write([SafeTensor(name: "b", shape: [2], values: [3, 4])], to: url)
        XCTAssertEqual(try SafeTensors.read(from: url).names, ["b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["ckpt.safetensors"], "no temporary files left")

        XCTAssertThrowsError(try SafeTensors.write([], to: dir.appendingPathComponent("missing/x.safetensors")))
        XCTAssertThrowsError(try SafeTensors.read(from: dir.appendingPathComponent("nope.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("nope.safetensors"))
        }
    }

    func testDecodesF16AndBF16() throws {
        // binary16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, +inf.
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00]
        // bfloat16: 1, -3, 3.140625, -inf.
        let brains: [UInt16] = [0x3F80, 0xC040, 0x4049, 0xFF80]
        let header = #"{"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[14,22]}}"#
        let result = try SafeTensors.decode(file(header: header, data: littleEndianBytes(halves) + littleEndianBytes(brains)), source: "t")
        XCTAssertEqual(result.names, ["h", "b"])
        XCTAssertEqual(result["h"]?.dtype, .f16)
        XCTAssertEqual(result["h"]?.values, [1, -2, 65504, 0x1p-24, 0x1p-14, -0.0, .infinity])
        XCTAssertEqual(result["h"]?.values[5].sign, .minus)
        XCTAssertEqual(result["b"]?.dtype, .bf16)
        XCTAssertEqual(result["b"]?.shape, [2, 2])
        XCTAssertEqual(result["b"]?.values, [1, -3, 3.140625, -.infinity])
        XCTAssertTrue(try SafeTensors.decode(file(header: #"{"n":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#,
                                                  data: littleEndianBytes([UInt16(0x7E00)])), source: "t")["n"]!.values[0].isNaN)
        // 0x3555: exponent 13, mantissa 0x155 → (1024 + 0x155) · 2^(13 - 15 - 10).
        XCTAssertEqual(try SafeTensors.decode(file(header: #"{"s":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#,
                                                   data: littleEndianBytes([UInt16(0x3555)])), source: "t")["s"]!.values, [Float(0x400 + 0x155) * 0x1p-12])
    }

    #if !(os(macOS) && arch(x86_64))
    /// All 65536 binary16 patterns agree with the standard library's Float16 conversion.
    func testF16DecodingIsExhaustivelyExact() throws {
        let all = (0...UInt16.max).map { $0 }
        let header = #"{"all":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}"#
        let values = try SafeTensors.decode(file(header: header, data: littleEndianBytes(all)), source: "t")["all"]!.values
        for (bits, value) in zip(all, values) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN {
                XCTAssertTrue(value.isNaN, "\(bits)")
            } else {
                XCTAssertEqual(value.bitPattern, expected.bitPattern, "\(bits)")
            }
        }
    }
    #endif

    func testAcceptsSpacePaddingAndHeaderOrderDifferentFromDataOrder() throws {
        let header = #"{"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}     "#
        let result = try SafeTensors.decode(file(header: header, data: littleEndianBytes([1, 2] as [Float])), source: "t")
        XCTAssertEqual(result.names, ["first", "second"])
        XCTAssertEqual(result["second"]?.values, [2])
    }

    func testHostileFilesAreRejected() {
        let four = littleEndianBytes([1] as [Float])
        func entry(_ name: String = "t", dtype: String = "\"F32\"", shape: String = "[1]", offsets: String = "[0,4]") -> String {
            "\"\(name)\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}"
        }
        assertRejected(Data([1, 2, 3]), "3 bytes, too short")
        assertRejected(Data(), "0 bytes")
        assertRejected(file(header: "{}", declaredLength: 1 << 40), "exceeds the limit")
        assertRejected(file(header: "{}", declaredLength: UInt64.max), "exceeds the limit")
        assertRejected(file(header: "{}", declaredLength: 50), "header length 50 exceeds the 2 bytes")
        assertRejected(Data(withUnsafeBytes(of: UInt64(2).littleEndian, Array.init) + [0xFF, 0xFE]), "not valid UTF-8")
        assertRejected(file(header: "{\"t\":"), "invalid header JSON")
        assertRejected(file(header: "[1,2]"), "must be a JSON object")
        assertRejected(file(header: "{\"t\":3}", data: four), "tensor 't'", "must be an object")
        assertRejected(file(header: #"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, data: four), "tensor 't'", "missing 'dtype'")
        assertRejected(file(header: #"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#, data: four), "missing 'shape'")
        assertRejected(file(header: #"{"t":{"dtype":"F32","shape":[1]}}"#, data: four), "missing 'data_offsets'")
        assertRejected(file(header: "{" + entry(dtype: "32") + "}", data: four), "'dtype' must be a string")
        assertRejected(file(header: "{" + entry(dtype: "\"F64\"") + "}", data: four), "tensor 't'", "dtype F64 is not supported")
        assertRejected(file(header: "{" + entry(dtype: "\"I64\"") + "}", data: four), "I64")
        assertRejected(file(header: "{" + entry(shape: "\"1\"") + "}", data: four), "'shape' must be an array")
        assertRejected(file(header: "{" + entry(shape: "[1.5]") + "}", data: four), "'shape' must hold non-negative integers")
        assertRejected(file(header: "{" + entry(shape: "[-1]") + "}", data: four), "non-negative")
        assertRejected(file(header: "{" + entry(shape: "[4294967296,4294967296]") + "}", data: four), "too many elements")
        assertRejected(file(header: "{" + entry(shape: "[2305843009213693952]", offsets: "[0,0]") + "}"), "too many")
        assertRejected(file(header: "{" + entry(shape: "[99999999999999999999]") + "}", data: four), "non-negative integers")
        assertRejected(file(header: "{" + entry(shape: "[2]") + "}", data: four), "needs 8 bytes", "span 4")
        assertRejected(file(header: "{" + entry(offsets: "[0]") + "}", data: four), "must be [begin, end]")
        assertRejected(file(header: "{" + entry(offsets: "[-4,0]") + "}", data: four), "non-negative")
        assertRejected(file(header: "{" + entry(offsets: "[4,0]") + "}", data: four), "end before they begin")
        assertRejected(file(header: "{" + entry(offsets: "[4,8]") + "}", data: four), "run past the end of the 4-byte data section")
        assertRejected(file(header: "{" + entry(offsets: "[0,9223372036854775807]") + "}", data: four), "run past the end")
        // Layout: overlap, hole, trailing bytes, duplicates.
        assertRejected(file(header: "{" + entry("a") + "," + entry("b", offsets: "[2,6]") + "}", data: four + four),
                       "tensor 'b'", "overlap")
        assertRejected(file(header: "{" + entry("a") + "," + entry("b", offsets: "[0,4]") + "}", data: four + four), "overlap")
        assertRejected(file(header: "{" + entry("a", offsets: "[4,8]") + "}", data: four + four), "tensor 'a'", "hole of 4 bytes")
        assertRejected(file(header: "{" + entry("a") + "}", data: four + four), "4 bytes after the last tensor")
        assertRejected(file(header: "{" + entry("a") + "," + entry("a", offsets: "[4,8]") + "}", data: four + four), "duplicate key 'a'")
        // Metadata must map strings to strings.
        assertRejected(file(header: #"{"__metadata__":{"step":3}}"#), "__metadata__", "'step' must be a string")
        assertRejected(file(header: #"{"__metadata__":[]}"#), "__metadata__ must be an object")
        // Deep nesting must not blow the stack.
        assertRejected(file(header: "{\"t\":" + String(repeating: "[", count: 100_000)), "nested")
    }

    /// Random corruptions of a valid file either decode or throw; none may crash.
    func testMutatedFilesNeverCrash() throws {
        let dir = try temporaryDirectory()
        defer { Scratch.remove(dir) }
        let url = dir.appendingPathComponent("valid.safetensors")
        try SafeTensors.write([SafeTensor(name: "w", shape: [3, 2], values: [1, 2, 3, 4, 5, 6]),
                               SafeTensor(name: "s", shape: [], values: [7]),
                               SafeTensor(name: "e", shape: [0], values: [])],
                              metadata: ["format": "pt"], to: url)
        let valid = [UInt8](try Data(contentsOf: url))
        var random = RandomGenerator(seed: 2024)
        var decoded = 0, rejected = 0
        for round in 0..<600 {
            var bytes = valid
            switch round % 4 {
            case 0: // flip bytes anywhere
                for _ in 0...random.int(below: 4) { bytes[random.int(below: bytes.count)] = UInt8(random.int(below: 256)) }
            case 1: // truncate
                bytes.removeLast(1 + random.int(below: bytes.count))
            case 2: // replace a header character with one that is meaningful to JSON or numbers
                let specials = Array("{}[]\":,-0123456789e. ".utf8)
                bytes[8 + random.int(below: bytes.count - 8 - 28)] = specials[random.int(below: specials.count)]
            default: // corrupt the length field
                bytes[random.int(below: 8)] = UInt8(random.int(below: 256))
            }
            do {
                _ = try SafeTensors.decode(Data(bytes), source: "fuzz")
                decoded += 1
            } catch is FormatError {
                rejected += 1
            }
        }
        XCTAssertEqual(decoded + rejected, 600)
        XCTAssertGreaterThan(rejected, 300)
    }
}
