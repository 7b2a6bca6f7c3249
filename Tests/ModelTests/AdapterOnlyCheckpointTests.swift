import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Files

/// Adapter checkpoints that hold adapters only: base.json names the base
/// checkpoint and fingerprints its weights; loading finds the base, checks
/// it, and computes exactly what the in-memory model (and a checkpoint that
/// holds its base, the older layout) computes.
final class AdapterOnlyCheckpointTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try Scratch.directory("adapters-only") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    let ids: [Int32] = [1, 4, 0, 6, 2, 1, 3, 3, 5, 0]  // (B 2, T 5)
    let tokenizerJSON = Data("{}".utf8)

    func model(_ change: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 7; c.contextLength = 12; c.nLayer = 2; c.dModel = 16; c.nHead = 4; c.nKVHead = 2; c.dFF = 10
        c.position = .rope; c.activation = .swiglu
        change(&c)
        return c
    }

    var methods: [(String, RunConfig)] {
        func run(_ change: (inout RunConfig) -> Void) -> RunConfig { var r = RunConfig(); r.model = model(); change(&r); return r }
        return [("lora", run { var l = LoRAConfig(); l.rank = 2; l.alpha = 4; l.targets = ["q", "v", "up", "down"]; $0.lora = l }),
                ("adapter", run { var a = AdapterConfig(); a.bottleneck = 3; $0.adapter = a }),
                ("prefix mlp", run { var p = PrefixTuningConfig(); p.numVirtualTokens = 3; p.encoderHiddenSize = 5; $0.prefixTuning = p }),
                ("prefix direct", run { var p = PrefixTuningConfig(); p.numVirtualTokens = 2; p.prefixProjection = false; $0.prefixTuning = p }),
                ("prompt", run { var p = PromptTuningConfig(); p.numVirtualTokens = 3; $0.promptTuning = p })]
    }

    /// A base checkpoint at `name`, and the model `--init-from` would start from.
    func saveBase(_ name: String, seed: UInt64 = 3, config: ModelConfig? = nil) throws -> URL {
        var run = RunConfig()
        run.model = config ?? model()
        let url = directory.appendingPathComponent(name)
        try Checkpoint.save(model: GPT(config: run.model, seed: seed), config: run, tokenizerJSON: tokenizerJSON, to: url)
        return url
    }

    /// The base loaded, `config`'s PEFT modules attached with random values (a fresh one is the identity).
    func adapted(_ base: URL, _ config: RunConfig, seed: UInt64 = 5) throws -> GPT {
        let gpt = try Checkpoint.load(from: base).model
        if gpt.hasAdapters { gpt.mergeAdapters() }
        gpt.attachPEFT(config, seed: seed)
        var g = RandomGenerator(seed: seed)
        for p in gpt.adapterParameters { for i in 0..<p.tensor.count { p.tensor.data[i] = 0.3 * g.normal() } }
        return gpt
    }

    func logits(_ gpt: GPT) -> [Float] { Autograd.noGrad { gpt(ids, batch: 2, length: 5) }.toArray() }

    func exists(_ url: URL, _ name: String) -> Bool { FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path) }

    func testFNV1aKnownValuesAndChunkedFingerprint() throws {
        // The FNV authors' test values (64-bit FNV-1a).
        XCTAssertEqual(FNV1a64.hash([UInt8]()), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(FNV1a64.hash("a".utf8), 0xAF63_DC4C_8601_EC8C)
        XCTAssertEqual(FNV1a64.hash("foobar".utf8), 0x8594_4171_F739_67E8)
        var split = FNV1a64()
        split.combine("foo".utf8)
        "bar".utf8.withContiguousStorageIfAvailable { split.combine(UnsafeRawBufferPointer($0)) }
        XCTAssertEqual(split.value, 0x8594_4171_F739_67E8)

        // One chunk: FNV-1a of the chunk's hash (8 bytes, little-endian); several: in order, the same on any thread count.
        let small = [UInt8]("foobar".utf8)
        let one = small.withUnsafeBytes { FileFingerprint($0) }
        var expected = FNV1a64()
        withUnsafeBytes(of: UInt64(0x8594_4171_F739_67E8).littleEndian) { expected.combine($0) }
        XCTAssertEqual(one, FileFingerprint(bytes: 6, hash: expected.value))
        var g = RandomGenerator(seed: 1)
        let large = (0..<(2 * FileFingerprint.chunkBytes + 12_345)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 1
        let serial = large.withUnsafeBytes { FileFingerprint($0) }
        Parallel.threads = 3
        XCTAssertEqual(large.withUnsafeBytes { FileFingerprint($0) }, serial)
        var changed = large
        changed[FileFingerprint.chunkBytes + 7] ^= 1
        XCTAssertNotEqual(changed.withUnsafeBytes { FileFingerprint($0) }, serial)
        let file = directory.appendingPathComponent("bytes")
        try Data(large).write(to: file)
        XCTAssertEqual(try FileFingerprint(contentsOf: file), serial)
    }

    func testEveryMethodRoundTripsWithoutACopyOfTheBase() throws {
        let base = try saveBase("base")
        for (name, config) in methods {
            let gpt = try adapted(base, config)
            let expected = logits(gpt)
            let url = directory.appendingPathComponent("ckpt-\(name)")
            try Checkpoint.save(model: gpt, config: config, tokenizerJSON: tokenizerJSON,
                                base: try CheckpointBase(given: "base", directory: base), to: url)
            XCTAssertFalse(exists(url, Checkpoint.weightsFile), "\(name): no copy of the base")
            XCTAssertTrue(exists(url, Checkpoint.adapterFile), name)
            XCTAssertTrue(exists(url, CheckpointBase.file), name)
            XCTAssertEqual(try Checkpoint.resolve(url.path).path, url.path)
            XCTAssertEqual(OutputDirectory.tinygptContents(url.path), "checkpoint")
            let loaded = try Checkpoint.load(from: url)
            XCTAssertEqual(logits(loaded.model), expected, name)
            XCTAssertEqual(loaded.base?.directory.path, base.path, name)
            XCTAssertEqual(try Checkpoint.weightsDirectory(of: url).path, base.path)

            // The older layout (the base copied in) computes the same.
            let whole = directory.appendingPathComponent("whole-\(name)")
            try Checkpoint.save(model: gpt, config: config, tokenizerJSON: tokenizerJSON, to: whole)
            XCTAssertTrue(exists(whole, Checkpoint.weightsFile))
            XCTAssertFalse(exists(whole, CheckpointBase.file))
            XCTAssertEqual(logits(try Checkpoint.load(from: whole).model), expected, name)
        }
        let record = try XCTUnwrap(try CheckpointBase.read(from: directory.appendingPathComponent("ckpt-lora")))
        XCTAssertEqual(record.path, "base")
        XCTAssertEqual(record.absolute, base.path)
        XCTAssertEqual(record.relative, "../base")
        XCTAssertEqual(record.weightsFile, Checkpoint.weightsFile)
        XCTAssertEqual(record.fingerprint, try FileFingerprint(contentsOf: base.appendingPathComponent(Checkpoint.weightsFile)))
    }

    func testALoRAAdaptersOnlyCheckpointIsABaseAsItsMergedModel() throws {
        let base = try saveBase("base")
        let lora = methods[0].1, prompt = methods[4].1
        let first = directory.appendingPathComponent("first")
        try Checkpoint.save(model: try adapted(base, lora), config: lora, tokenizerJSON: tokenizerJSON,
                            base: try CheckpointBase(given: "base", directory: base), to: first)
        let gpt = try adapted(first, prompt, seed: 9)
        let second = directory.appendingPathComponent("second")
        let record = try CheckpointBase(given: first.path, directory: first)
        XCTAssertEqual(record.weightsFile, Checkpoint.adapterFile)
        try Checkpoint.save(model: gpt, config: prompt, tokenizerJSON: tokenizerJSON, base: record, to: second)
        XCTAssertEqual(logits(try Checkpoint.load(from: second).model), logits(gpt))
        XCTAssertEqual(try Checkpoint.weightsDirectory(of: second).path, base.path)
    }

    func testMissingMovedChangedAndMisshapenBasesAreRefused() throws {
        let fm = FileManager.default
        let project = directory.appendingPathComponent("project")
        try fm.createDirectory(at: project, withIntermediateDirectories: true)
        let base = try saveBase("project/base")
        let (name, config) = methods[1]
        let gpt = try adapted(base, config)
        let expected = logits(gpt)
        let url = project.appendingPathComponent("runs/ft/latest")
        try Checkpoint.save(model: gpt, config: config, tokenizerJSON: tokenizerJSON, base: try CheckpointBase(given: "base", directory: base), to: url)
        func refused(_ mention: String, _ line: UInt = #line) {
            XCTAssertThrowsError(try Checkpoint.load(from: url), line: line) { XCTAssertTrue("\($0)".contains(mention), "\($0)", line: line) }
        }

        // Moved together: found relative to the checkpoint.
        let moved = directory.appendingPathComponent("moved")
        try fm.moveItem(at: project, to: moved)
        let movedCheckpoint = moved.appendingPathComponent("runs/ft/latest")
        XCTAssertEqual(logits(try Checkpoint.load(from: movedCheckpoint).model), expected, name)
        // The base alone moved away: refused, naming it, before any weight is read.
        try fm.moveItem(at: moved.appendingPathComponent("base"), to: directory.appendingPathComponent("elsewhere"))
        XCTAssertThrowsError(try Checkpoint.load(from: movedCheckpoint)) {
            XCTAssertTrue("\($0)".contains("names its base 'base' (\(base.path)), which does not exist"), "\($0)")
            XCTAssertTrue("\($0)".contains("base.json"), "\($0)")
        }
        try fm.moveItem(at: directory.appendingPathComponent("elsewhere"), to: moved.appendingPathComponent("base"))
        try fm.moveItem(at: moved, to: project)
        XCTAssertEqual(logits(try Checkpoint.load(from: url).model), expected)

        // The base changed since: one weight edited (same size), or a retrained base of another size.
        let weights = base.appendingPathComponent(Checkpoint.weightsFile)
        let original = try Data(contentsOf: weights)
        var edited = original
        edited[edited.count - 3] ^= 0x01
        try edited.write(to: weights)
        refused("changed since the adapters were trained (model.safetensors: same size, different bytes)")
        try Data(original + [0]).write(to: weights)
        refused("\(original.count) bytes then, \(original.count + 1) now")
        try original.write(to: weights)
        XCTAssertEqual(logits(try Checkpoint.load(from: url).model), expected)

        // A base of another shape (the record edited to name it).
        let other = try saveBase("other", config: model { $0.dFF = 12 })
        let recordURL = url.appendingPathComponent(CheckpointBase.file)
        let record = try String(contentsOf: recordURL, encoding: .utf8)
        try record.replacingOccurrences(of: base.path, with: other.path).replacingOccurrences(of: "../../../base", with: "../../../other")
            .write(to: recordURL, atomically: true, encoding: .utf8)
        refused("is a model of another shape (tensor 'blocks.0.ffn.gate.weight' is (12, 16) there but (10, 16) here)")
        try Data("{\"path\": 3}".utf8).write(to: recordURL)
        refused("base.json: needs \"weights_bytes\"")
    }
}
