import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Tokenizer

/// GGUF: ggml's tensor types decoded bit for bit as the `gguf` package does,
/// llama and gpt2 files giving transformers' logits, Q8_0 kept exactly, the
/// round trip through export, and damaged files refused. Fixtures:
/// Fixtures/make_gguf_fixtures.py.
final class GGUFTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try Scratch.directory("gguf") }
    override func tearDownWithError() throws { Scratch.remove(directory) }

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    func open(_ name: String) throws -> GGUFFile { try GGUFFile(path: fixture(name).path) }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    // MARK: tensor types

    func testEveryTensorTypeDecodesAsTheGGUFPackageBitForBit() throws {
        let file = try open("gguf-types.gguf")
        for type in GGMLType.allCases {
            let x = try XCTUnwrap(file.tensor(named: "x.\(type.name)"), type.name)
            let expected = try XCTUnwrap(file.tensor(named: "expected.\(type.name)"))
            XCTAssertEqual(x.type, type)
            XCTAssertEqual(x.shape, [2, 512])
            XCTAssertEqual(bits(file.floats(of: x)), bits(file.floats(of: expected)), type.name)
        }
    }

    func testQ8_0AndF16EncodersEqualTheGGUFPackage() throws {
        let file = try open("gguf-types.gguf")
        func encoded(_ input: String, _ type: GGMLType) throws -> [UInt8] {
            let values = file.floats(of: try XCTUnwrap(file.tensor(named: input)))
            return [UInt8](unsafeUninitializedCapacity: values.count / type.block.values * type.block.bytes) { out, n in
                values.withUnsafeBufferPointer {
                    if type == .q8_0 { GGMLBlocks.quantizeQ8_0($0.baseAddress!, count: values.count, into: UnsafeMutableRawPointer(out.baseAddress!)) }
                    else { GGMLBlocks.encodeF16($0.baseAddress!, count: values.count, into: UnsafeMutableRawPointer(out.baseAddress!)) }
                }
                n = values.count / type.block.values * type.block.bytes
            }
        }
        XCTAssertEqual(try encoded("encode.input", .q8_0), Array(file.bytes(of: try XCTUnwrap(file.tensor(named: "encode.q8_0")))))
        XCTAssertEqual(try encoded("encode.f16input", .f16), Array(file.bytes(of: try XCTUnwrap(file.tensor(named: "encode.f16")))))
    }

    #if !(os(macOS) && arch(x86_64))
    func testHalfConversionRoundsAsIEEE() {
        var generator = RandomGenerator(seed: 7)
        var patterns: [UInt32] = [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x477F_E000, 0x477F_F000, 0x3380_0000, 0x3300_0000, 0x3300_0001]
        for _ in 0..<200_000 { patterns.append(UInt32(truncatingIfNeeded: generator.next())) }
        for p in patterns {
            let x = Float(bitPattern: p)
            let ours = HalfFloat.half(x), theirs = Float16(x).bitPattern
            if x.isNaN { XCTAssertTrue(HalfFloat.float(half: ours).isNaN); continue }
            XCTAssertEqual(ours, theirs, "\(x) (bits \(String(p, radix: 16)))")
            XCTAssertEqual(HalfFloat.float(half: ours).bitPattern, Float(Float16(bitPattern: ours)).bitPattern)
        }
    }
    #endif

    // MARK: models

    func importCheckpoint(_ name: String, dequantize: Bool) throws -> (URL, GGUFImport.Summary) {
        let out = directory.appendingPathComponent(name)
        let summary = try GGUFImport.write(try GGUFImport.plan(try open(name + ".gguf")), dequantize: dequantize, to: out)
        return (out, summary)
    }

    func expected(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixture(name + ".json"))) as! [String: Any]
    }

    func testLlamaAndGPT2FilesGiveTransformersLogitsAndTokens() throws {
        for name in ["tiny-llama", "tiny-gpt2"] {
            let (out, summary) = try importCheckpoint(name, dequantize: true)
            XCTAssertNotNil(summary.floatReason)
            let loaded = try Checkpoint.load(from: out)
            let reference = try expected(name)
            let ids = (reference["ids"] as! [Int]).map(Int32.init)
            let rows = reference["logits"] as! [[Double]]
            let ours = Autograd.noGrad { loaded.model(ids, batch: 1, length: ids.count) }.toArray()
            let scale = rows.flatMap { $0 }.map(abs).max()!
            var worst = 0.0
            for (t, row) in rows.enumerated() { for (j, x) in row.enumerated() { worst = max(worst, abs(Double(ours[t * row.count + j]) - x)) } }
            XCTAssertLessThanOrEqual(worst / scale, 1e-5, "\(name): max relative logit error \(worst / scale)")

            let tokenizer = try TokenizerFile.load(data: loaded.tokenizerJSON)
            for (text, ids) in zip(reference["texts"] as! [String], reference["text_ids"] as! [[Int]]) {
                XCTAssertEqual(try tokenizer.encode(text), ids, "\(name): \(text)")
            }
        }
    }

    func testMetadataBecomesTheConfigEndTokensAndTemplate() throws {
        let (out, summary) = try importCheckpoint("tiny-llama", dequantize: false)
        XCTAssertEqual(summary.floatReason?.contains("Q4_0"), true, summary.floatReason ?? "kept")
        let config = try Checkpoint.loadConfig(from: out)
        let m = config.model
        XCTAssertEqual([m.dModel, m.nHead, m.kvHeads, m.nLayer, m.feedForwardSize, m.contextLength, m.vocabSize!], [32, 4, 2, 2, 64, 64, 279])
        XCTAssertEqual(m.norm, .rmsNorm); XCTAssertEqual(m.position, .rope); XCTAssertEqual(m.activation, .swiglu)
        XCTAssertEqual(m.ropeTheta, 50000); XCTAssertEqual(m.normEps, Double(Float(1e-5)))
        XCTAssertTrue(m.tieEmbeddings); XCTAssertFalse(m.bias)
        // <|endoftext|> (eos) and <|im_end|> (eot); <|im_start|> is the file's bos.
        XCTAssertEqual(config.tokenizer.eosTokenIds, [276, 278])
        XCTAssertEqual(config.tokenizer.bosTokenId, 277)
        let template = try String(contentsOf: out.appendingPathComponent(Checkpoint.chatTemplateFile), encoding: .utf8)
        XCTAssertTrue(template.hasPrefix("{% for message in messages %}"), template)

        let gpt2 = try Checkpoint.loadConfig(from: try importCheckpoint("tiny-gpt2", dequantize: false).0).model
        XCTAssertEqual(gpt2.norm, .layerNorm); XCTAssertEqual(gpt2.position, .learned); XCTAssertEqual(gpt2.activation, .gelu_tanh)
        XCTAssertFalse(gpt2.tieEmbeddings); XCTAssertTrue(gpt2.bias); XCTAssertEqual(gpt2.contextLength, 32)
    }

    func testQ8_0MatricesAreKeptAsInt8Exactly() throws {
        let (out, summary) = try importCheckpoint("tiny-gpt2", dequantize: false)
        XCTAssertNil(summary.floatReason)
        XCTAssertTrue(summary.quantizedEmbeddings)
        let loaded = try QuantizedCheckpoint.load(from: out)
        XCTAssertEqual(loaded.weights.format, .int8); XCTAssertEqual(loaded.weights.groupSize, 32)
        let file = try open("tiny-gpt2.gguf")
        let c = loaded.config.model.dModel
        for i in 0..<2 {
            let qkv = file.floats(of: file.tensor(named: "blk.\(i).attn_qkv.weight")!)
            for (k, part) in ["q", "k", "v"].enumerated() {
                let m = try XCTUnwrap(loaded.weights.matrices["blocks.\(i).attn.\(part).weight"])
                XCTAssertEqual(bits(m.dequantized()), bits(Array(qkv[(k * c * c)..<((k + 1) * c * c)])), "block \(i) \(part)")
            }
            let down = try XCTUnwrap(loaded.weights.matrices["blocks.\(i).ffn.down.weight"])
            XCTAssertEqual(bits(down.dequantized()), bits(file.floats(of: file.tensor(named: "blk.\(i).ffn_down.weight")!)))
        }
        let head = try XCTUnwrap(loaded.weights.matrices["lm_head.weight"])
        XCTAssertEqual(bits(head.dequantized()), bits(file.floats(of: file.tensor(named: "output.weight")!)))
        XCTAssertEqual(loaded.weights.floats["position_embedding.weight"].map(bits), bits(file.floats(of: file.tensor(named: "position_embd.weight")!)))
    }

    // MARK: round trip

    /// A small model of `architecture` with a byte-level BPE tokenizer that has an end token.
    func tinygptModel(_ architecture: GGUFModel.Architecture, seed: UInt64) throws -> (GPT, RunConfig, Data) {
        let text = String(repeating: "the cat sat on the mat; 12 dogs ran. ", count: 20)
        let tokenizer = try BPETokenizer.train(text: text, vocabSize: 300, specialTokens: ["<|endoftext|>"])
        var run = RunConfig()
        run.model.vocabSize = tokenizer.vocabSize; run.model.contextLength = 16; run.model.nLayer = 2
        run.model.dModel = 64; run.model.nHead = 4; run.model.normEps = 0x1p-10
        if architecture == .llama {
            run.model.norm = .rmsNorm; run.model.position = .rope; run.model.activation = .swiglu
            run.model.bias = false; run.model.nKVHead = 2; run.model.tieEmbeddings = false; run.model.ropeTheta = 20000
        } else {
            run.model.activation = .gelu_tanh
        }
        run.tokenizer.type = .bpe
        run.tokenizer.eosTokenIds = [tokenizer.specialTokens["<|endoftext|>"]!]
        run = run.resolved()
        return (GPT(config: run.model, seed: seed), run, Data(tokenizer.jsonString().utf8))
    }

    func testExportThenImportGivesTheSameTensorsAndTokenizer() throws {
        for architecture in GGUFModel.Architecture.allCases {
            let (model, run, tokenizerJSON) = try tinygptModel(architecture, seed: 3)
            XCTAssertEqual(try GGUFModel.architecture(for: run.model), architecture)
            let file = directory.appendingPathComponent("\(architecture).gguf")
            _ = try GGUFExport.write(model: model, config: run, tokenizerJSON: tokenizerJSON, chatTemplate: "{{ messages }}",
                                     name: "test", type: .f32, to: file)
            let out = directory.appendingPathComponent("\(architecture)-back")
            _ = try GGUFImport.write(try GGUFImport.plan(try GGUFFile(path: file.path)), dequantize: false, to: out)
            let back = try Checkpoint.load(from: out)
            XCTAssertEqual(back.config.model, run.model, "\(architecture)")
            XCTAssertEqual(back.config.tokenizer.eosTokenIds, run.tokenizer.eosTokenIds)
            let theirs = Dictionary(uniqueKeysWithValues: back.model.parameters.map { ($0.name, $0.tensor.toArray()) })
            for p in model.parameters { XCTAssertEqual(theirs[p.name].map(bits), bits(p.tensor.toArray()), "\(architecture) \(p.name)") }
            let before = try TokenizerFile.load(data: tokenizerJSON), after = try TokenizerFile.load(data: back.tokenizerJSON)
            for text in ["the cat sat on the mat", "12 dogs<|endoftext|> ran", "naïve 🙂 \t\n  x"] {
                XCTAssertEqual(try after.encode(text), try before.encode(text), text)
            }
            XCTAssertEqual(try String(contentsOf: out.appendingPathComponent(Checkpoint.chatTemplateFile), encoding: .utf8), "{{ messages }}")
        }
    }

    func testF16AndQ8_0ExportsRoundWeightsAsGGML() throws {
        let (model, run, tokenizerJSON) = try tinygptModel(.llama, seed: 4)
        for type in [GGUFExport.WeightType.f16, .q8_0] {
            let file = directory.appendingPathComponent("\(type).gguf")
            _ = try GGUFExport.write(model: model, config: run, tokenizerJSON: tokenizerJSON, chatTemplate: nil, name: "t", type: type, to: file)
            let gguf = try GGUFFile(path: file.path)
            let q = model.parameters.first { $0.name == "blocks.1.attn.q.weight" }!.tensor.toArray()
            let stored = try XCTUnwrap(gguf.tensor(named: "blk.1.attn_q.weight"))
            XCTAssertEqual(stored.type, type == .f16 ? .f16 : .q8_0)
            XCTAssertEqual(gguf.tensor(named: "blk.1.attn_norm.weight")?.type, .f32)
            let rounded = GGUFExport.encode(q, as: stored.type)
            XCTAssertEqual(Array(gguf.bytes(of: stored)), rounded)
            let values = gguf.floats(of: stored)
            for (x, y) in zip(q, values) { XCTAssertEqual(x, y, accuracy: type == .f16 ? abs(x) * 1e-3 + 1e-7 : 0.02) }
            // Q8_0 comes back as int8 holding the same values.
            let out = directory.appendingPathComponent("\(type)-back")
            let summary = try GGUFImport.write(try GGUFImport.plan(gguf), dequantize: false, to: out)
            XCTAssertEqual(summary.floatReason == nil, type == .q8_0)
            if type == .q8_0 {
                let back = try QuantizedCheckpoint.load(from: out)
                XCTAssertEqual(bits(back.weights.matrices["blocks.1.attn.q.weight"]!.dequantized()), bits(values))
            }
        }
    }

    func testConfigsWithoutAGGUFFormAreRefused() throws {
        var m = ModelConfig()
        m.activation = .gelu
        XCTAssertThrowsError(try GGUFModel.architecture(for: m)) { XCTAssertTrue("\($0)".contains("gelu_tanh"), "\($0)") }
        m.position = .alibi
        XCTAssertThrowsError(try GGUFModel.architecture(for: m)) { XCTAssertTrue("\($0)".contains("no GGUF architecture"), "\($0)") }
        let (model, run, _) = try tinygptModel(.llama, seed: 1)
        let char = try CharTokenizer(chars: Array("abc".unicodeScalars), specialTokens: [:])
        XCTAssertThrowsError(try GGUFExport.write(model: model, config: run, tokenizerJSON: Data(char.jsonString().utf8), chatTemplate: nil,
                                                  name: "t", type: .f32, to: directory.appendingPathComponent("x.gguf"))) {
            XCTAssertTrue("\($0)".contains("tokenizer"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.gguf").path))
    }

    // MARK: damaged files

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func refusal(_ bytes: [UInt8], _ name: String = "bad.gguf") throws -> String {
        let path = try write(bytes, name)
        do {
            _ = try GGUFImport.plan(try GGUFFile(path: path))
        } catch let error as FormatError {
            XCTAssertFalse(error.description.contains("\n"), error.description)
            return error.description
        }
        XCTFail("\(name) was accepted")
        return ""
    }

    func testTruncatedFilesAreRefusedAtEveryLength() throws {
        let bytes = Array(try Data(contentsOf: fixture("tiny-llama.gguf")))
        for length in stride(from: 0, to: bytes.count, by: 409) {
            let message = try refusal(Array(bytes[0..<length]))
            XCTAssertTrue(message.contains("truncated") || message.contains("not a GGUF") || message.contains("the data section holds"), "\(length): \(message)")
        }
    }

    func testRandomlyDamagedHeadersNeverCrash() throws {
        let bytes = Array(try Data(contentsOf: fixture("tiny-gpt2.gguf")))
        let headerEnd = GGUFBytes.tensorInfoFields(bytes, name: "output.weight")!.offset + 8
        var generator = RandomGenerator(seed: 11)
        for trial in 0..<120 {
            var damaged = bytes
            for _ in 0..<3 { damaged[Int(generator.next() % UInt64(headerEnd))] = UInt8(truncatingIfNeeded: generator.next()) }
            let path = try write(damaged, "fuzz.gguf")
            do { _ = try GGUFImport.plan(try GGUFFile(path: path)) } catch let error as FormatError {
                XCTAssertFalse(error.description.contains("\n"), "\(trial): \(error)")
            }
        }
    }

    func testLyingOffsetsTypesArchitecturesAndTokenizersAreNamed() throws {
        let bytes = Array(try Data(contentsOf: fixture("tiny-llama.gguf")))
        let fields = try XCTUnwrap(GGUFBytes.tensorInfoFields(bytes, name: "blk.1.ffn_down.weight"))

        var offset = bytes
        GGUFBytes.store(UInt64(bytes.count), at: fields.offset, in: &offset)
        XCTAssertTrue(try refusal(offset).contains("tensor 'blk.1.ffn_down.weight'"))
        var overlap = bytes
        GGUFBytes.store(UInt64(0), at: fields.offset, in: &overlap)
        XCTAssertTrue(try refusal(overlap).contains("overlaps"))
        var misaligned = bytes
        GGUFBytes.store(UInt64(8), at: fields.offset, in: &misaligned)
        XCTAssertTrue(try refusal(misaligned).contains("not a multiple of the alignment 32"))

        var size = bytes
        let dims = try XCTUnwrap(GGUFBytes.tensorInfoFields(bytes, name: "token_embd.weight")).type - 8
        GGUFBytes.store(UInt64(1 << 20), at: dims, in: &size)
        XCTAssertTrue(try refusal(size).contains("needs"))

        var type = bytes
        GGUFBytes.store(UInt32(99), at: fields.type, in: &type)
        let unknown = try refusal(type)
        XCTAssertTrue(unknown.contains("unknown type 99") && unknown.contains("supported tensor types: F32, F16"), unknown)
        GGUFBytes.store(UInt32(10), at: fields.type, in: &type)
        XCTAssertTrue(try refusal(type).contains("Q2_K"))

        var architecture = bytes
        let arch = try XCTUnwrap(GGUFBytes.stringValue(bytes, key: "general.architecture"))
        architecture.replaceSubrange(arch, with: Array("mamba".utf8))
        let message = try refusal(architecture)
        XCTAssertTrue(message.contains("architecture 'mamba' is not supported; supported: llama, gpt2"), message)

        var tokenizer = bytes
        tokenizer.replaceSubrange(try XCTUnwrap(GGUFBytes.stringValue(bytes, key: "tokenizer.ggml.model")), with: Array("rwkv".utf8))
        let tokenizerRefusal = try refusal(tokenizer)
        XCTAssertTrue(tokenizerRefusal.contains("tokenizer.ggml.model") && tokenizerRefusal.contains("rwkv"), tokenizerRefusal)

        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        XCTAssertTrue(try refusal(magic).contains("not a GGUF file"))
        var version = bytes
        GGUFBytes.store(UInt32(1), at: 4, in: &version)
        XCTAssertTrue(try refusal(version).contains("version 1"))
    }
}
