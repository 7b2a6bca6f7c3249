import XCTest
import Foundation
import TestSupport
import Kernels
import Model
import Config
import Formats

/// Safetensors files mapped for inference: tensors read in place where the
/// layout allows, copies (with a note) where it does not, damaged files refused at open.
final class MappedSafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("mapped") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    /// Length field, header text padded with spaces to `pad` bytes, data bytes.
    func handBuilt(header: String, data: [UInt8]) -> Data {
        let json = Array(header.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.utf8.count % 8) % 8)
        return Data(withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data)
    }

    func bytes(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    func testTensorsAreReadInPlaceAndEqualTheCopiedOnes() throws {
        let url = directory.appendingPathComponent("m.safetensors")
        let tensors = [SafeTensor(name: "w", shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, 7]),
                       SafeTensor(name: "q", shape: [4], bytes: [1, 0x80, 255, 0], dtype: .i8),
                       SafeTensor(name: "b", shape: [2], values: [.pi, -1e30])]
        try SafeTensors.write(tensors, metadata: ["k": "v"], to: url)
        let mapped = try MappedSafeTensors(contentsOf: url)
        let read = try SafeTensors.read(from: url)
        XCTAssertEqual(mapped.metadata, ["k": "v"])
        XCTAssertEqual(mapped.names, read.names)
        for entry in mapped.tensors where entry.dtype == .f32 {
            let a = mapped.floats(entry), b = mapped.floats(entry)
            XCTAssertEqual(a.baseAddress, b.baseAddress, "\(entry.name): read in place, not converted on each call")
            XCTAssertEqual(Array(a).map(\.bitPattern), read[entry.name]!.values.map(\.bitPattern), entry.name)
        }
        XCTAssertEqual(Array(mapped.bytes(mapped["q"]!)), [1, 0x80, 255, 0])
        XCTAssertEqual(mapped.notes, [])
    }

    func testMisalignedF32AndF16AreCopiedAndSaySo() throws {
        // A 3-byte U8 tensor first puts the F32 tensor at an odd offset.
        let header = #"{"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"f":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},"h":{"dtype":"F16","shape":[1],"data_offsets":[11,13]}}"#
        let url = directory.appendingPathComponent("odd.safetensors")
        try handBuilt(header: header, data: [7, 8, 9] + bytes([1.5, -2]) + [0x00, 0x3C]).write(to: url)
        let mapped = try MappedSafeTensors(contentsOf: url)
        XCTAssertEqual(Array(mapped.floats(mapped["f"]!)), [1.5, -2])
        XCTAssertEqual(mapped.floats(mapped["f"]!).baseAddress, mapped.floats(mapped["f"]!).baseAddress, "converted once")
        XCTAssertEqual(Array(mapped.floats(mapped["h"]!)), [1])
        XCTAssertEqual(mapped.notes.count, 1)
        XCTAssertTrue(mapped.notes[0].contains("'f'") && mapped.notes[0].contains("copy"), mapped.notes[0])
    }

    func testDamagedFilesAreRefusedAtOpenWithOneLine() throws {
        let url = directory.appendingPathComponent("m.safetensors")
        try SafeTensors.write([SafeTensor(name: "w", shape: [4], values: [1, 2, 3, 4])], to: url)
        let whole = try Data(contentsOf: url)
        func error(_ data: Data) -> String {
            try? data.write(to: url)
            do { _ = try MappedSafeTensors(contentsOf: url); return "" } catch { return "\(error)" }
        }
        let truncated = error(whole.prefix(whole.count - 1))
        XCTAssertTrue(truncated.hasPrefix(url.path + ": ") && truncated.contains("run past the end"), truncated)
        XCTAssertFalse(truncated.contains("\n"))
        XCTAssertTrue(error(whole + Data([0])).contains("1 bytes after the last tensor"))
        XCTAssertTrue(error(whole.prefix(5)).contains("5 bytes, too short"))
        XCTAssertTrue(error(Data()).contains("0 bytes, too short"))
        XCTAssertTrue(error(whole.prefix(12)).contains("exceeds the"))
        XCTAssertThrowsError(try MappedSafeTensors(contentsOf: directory)) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
        XCTAssertThrowsError(try MappedSafeTensors(contentsOf: directory.appendingPathComponent("none"))) {
            XCTAssertTrue("\($0)".contains("cannot read: no such file"), "\($0)")
        }
    }

    /// `Checkpoint.map` gives the weights `Checkpoint.load` gives, and makes the same checks.
    func testMappedCheckpointHoldsTheSavedWeightsAndIsChecked() throws {
        var run = RunConfig()
        run.model.vocabSize = 11; run.model.contextLength = 8; run.model.nLayer = 2; run.model.dModel = 12; run.model.nHead = 3
        run.model.position = .rope; run.model.activation = .swiglu; run.model.tieEmbeddings = false
        let model = GPT(config: run.model, seed: 4)
        let target = directory.appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, config: run, tokenizerJSON: Data("{}".utf8), to: target)
        let mapped = try Checkpoint.map(from: target)
        XCTAssertEqual(mapped.config, run.resolved())
        XCTAssertEqual(Set(mapped.weights.tensors.keys), Set(model.parameters.map(\.name)))
        for p in model.parameters {
            let values = Array(UnsafeBufferPointer(start: mapped.weights.tensors[p.name]!, count: p.tensor.count))
            XCTAssertEqual(values, p.tensor.toArray(), p.name)
        }
        // A non-finite value, a missing tensor and a quantized file are refused by name.
        let weights = target.appendingPathComponent(Checkpoint.weightsFile)
        var tensors = model.parameters.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
        tensors[3].values[1] = .nan
        try SafeTensors.write(tensors, metadata: ["format": "tinygpt", "format_version": "2"], to: weights)
        XCTAssertThrowsError(try Checkpoint.map(from: target)) { XCTAssertTrue("\($0)".contains("'\(tensors[3].name)' holds a non-finite value"), "\($0)") }
        tensors[3].values[1] = 0
        try SafeTensors.write(Array(tensors.dropLast()), metadata: ["format": "tinygpt", "format_version": "2"], to: weights)
        XCTAssertThrowsError(try Checkpoint.map(from: target)) { XCTAssertTrue("\($0)".contains("missing tensor '\(tensors.last!.name)'"), "\($0)") }
        try SafeTensors.write(tensors, metadata: ["quantization": "int8"], to: weights)
        XCTAssertThrowsError(try Checkpoint.map(from: target)) { XCTAssertTrue("\($0)".contains("quantized (int8)"), "\($0)") }
    }
}
