import XCTest
import Foundation
import TestSupport
import Kernels
import Autograd
import NN
import Config
import Model
import Tokenizer
@testable import Formats

/// f16 and bf16: the roundings against numpy and torch, exact round trips,
/// half checkpoints on disk, and Hugging Face files that stay half.
final class HalfPrecisionTests: XCTestCase {
    var scratch: URL!
    override func setUpWithError() throws { scratch = try Scratch.directory("half") }
    override func tearDownWithError() throws { Scratch.remove(scratch) }

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    /// Fixtures/make_half_rounding.py: numpy's astype(float16) and torch's .to(bfloat16) of 890 values.
    func testRoundingEqualsNumpyAndTorchBitForBit() throws {
        let data = try Data(contentsOf: fixture("half-rounding.bin"))
        let bytes = [UInt8](data)
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        let n = Int(u32(0))
        XCTAssertEqual(bytes.count, 4 + 8 * n)
        for i in 0..<n {
            let x = Float(bitPattern: u32(4 + 4 * i))
            let f16 = u16(4 + 4 * n + 2 * i), bf16 = u16(4 + 6 * n + 2 * i)
            XCTAssertEqual(HalfFloat.half(x), f16, "f16 of \(x) (bits \(String(x.bitPattern, radix: 16)))")
            XCTAssertEqual(HalfFloat.bfloat16(x), bf16, "bf16 of \(x) (bits \(String(x.bitPattern, radix: 16)))")
        }
    }

    /// Every half value converts to float32 exactly and back to the same bits; NaN stays NaN.
    func testEveryHalfRoundTripsThroughFloat32() {
        for half in HalfFloat.allCases {
            for bits in 0...UInt16.max {
                let x = half.float(bits)
                if half.isNonFinite(bits) && x.isNaN {
                    XCTAssertTrue(half.float(half.bits(x)).isNaN, "\(half) NaN \(bits)")
                } else if half.bits(x) != bits {
                    XCTFail("\(half): \(String(bits, radix: 16)) → \(x) → \(String(half.bits(x), radix: 16))")
                }
            }
        }
        XCTAssertEqual(HalfFloat.f16.greatestFiniteMagnitude, 65504)
        XCTAssertEqual(HalfFloat.bf16.greatestFiniteMagnitude, Float(bitPattern: 0x7F7F_0000))
    }

    func model(_ change: (inout ModelConfig) -> Void = { _ in }) -> GPT {
        var c = ModelConfig()
        c.vocabSize = 9; c.contextLength = 8; c.nLayer = 1; c.dModel = 16; c.nHead = 2; c.dFF = 32
        change(&c)
        return GPT(config: c, seed: 3)
    }

    /// A half checkpoint holds each weight's rounded bits; loading gives their
    /// exact values; saving the loaded model again gives the same file.
    func testHalfCheckpointsStoreTheRoundedBitsAndRoundTrip() throws {
        let gpt = model()
        var run = RunConfig()
        run.model = gpt.config
        for half in HalfFloat.allCases {
            let dtype = SafeTensorsDType(half)
            let a = scratch.appendingPathComponent("\(half)-a"), b = scratch.appendingPathComponent("\(half)-b")
            try Checkpoint.save(model: gpt, config: run, tokenizerJSON: Data("{}".utf8), dtype: dtype, to: a)
            let file = try MappedSafeTensors(contentsOf: a.appendingPathComponent(Checkpoint.weightsFile))
            for p in gpt.parameters {
                let entry = try XCTUnwrap(file[p.name])
                XCTAssertEqual(entry.dtype, dtype)
                let stored = file.bytes(entry)
                for i in 0..<p.tensor.count {
                    XCTAssertEqual(stored.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), half.bits(p.tensor.data[i]), "\(half) \(p.name)[\(i)]")
                }
            }
            let loaded = try Checkpoint.load(from: a)
            XCTAssertEqual(loaded.storage, dtype)
            for (p, q) in zip(gpt.parameters, loaded.model.parameters) {
                XCTAssertEqual(q.tensor.toArray(), p.tensor.toArray().map { half.float(half.bits($0)) }, "\(half) \(p.name)")
            }
            try Checkpoint.save(model: loaded.model, config: loaded.config, tokenizerJSON: loaded.tokenizerJSON, dtype: dtype, to: b)
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(Checkpoint.weightsFile)),
                           try Data(contentsOf: b.appendingPathComponent(Checkpoint.weightsFile)), "\(half): saved again, the same bytes")
        }
    }

    /// f16 cannot hold a weight beyond 65504: refused, naming it; bf16 can.
    func testF16RefusesWeightsBeyondItsRange() throws {
        let gpt = model()
        gpt.parameters[3].tensor.data[5] = 70_000
        XCTAssertThrowsError(try Checkpoint.checkRepresentable(gpt, as: .f16)) {
            XCTAssertTrue("\($0)".contains("'\(gpt.parameters[3].name)' holds 70000.0 at flat index 5") && "\($0)".contains("65504"), "\($0)")
        }
        XCTAssertNoThrow(try Checkpoint.checkRepresentable(gpt, as: .bf16))
        gpt.parameters[3].tensor.data[5] = 65519  // rounds down to 65504
        XCTAssertNoThrow(try Checkpoint.checkRepresentable(gpt, as: .f16))
    }

    /// Exported to Hugging Face in bf16 (as a bf16 checkpoint exports) and
    /// imported again: the file and the checkpoint stay bf16, bit for bit, for
    /// GPT-2 (transposed, q/k/v stacked) and LLaMA (q/k rows permuted); an F16
    /// file stays F16; a file mixing dtypes becomes F32.
    func testHuggingFaceFilesStayHalf() throws {
        let tokenizer = try CharTokenizer(trainingText: "abcdefgh")
        let variants: [(String, GPT)] = [
            ("gpt2", model { $0.vocabSize = tokenizer.vocabSize }),
            ("llama", model { $0.vocabSize = tokenizer.vocabSize; $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm; $0.nKVHead = 1; $0.bias = false; $0.tieEmbeddings = false }),
        ]
        for (name, gpt) in variants {
            var run = RunConfig()
            run.model = gpt.config
            run.tokenizer.type = .char
            for half in HalfFloat.allCases {
                let dtype = SafeTensorsDType(half), label = "\(name) \(half)"
                let hf = scratch.appendingPathComponent("\(name)-\(half)-hf"), back = scratch.appendingPathComponent("\(name)-\(half)-ckpt")
                try HuggingFace.export(model: gpt, config: run, tokenizerJSON: Data(tokenizer.jsonString().utf8), specialTokens: [:], dtype: dtype, to: hf)
                let exported = try SafeTensors.read(from: hf.appendingPathComponent("model.safetensors"))
                XCTAssertTrue(exported.tensors.allSatisfy { $0.dtype == dtype }, label)
                let imported = try HuggingFace.importCheckpoint(from: hf, to: back)
                XCTAssertTrue(imported.notes.contains { $0.contains("stay \(half.rawValue)") }, "\(label): \(imported.notes)")
                let checkpoint = try Checkpoint.load(from: back)
                XCTAssertEqual(checkpoint.storage, dtype, label)
                for (p, q) in zip(gpt.parameters, checkpoint.model.parameters) {
                    XCTAssertEqual(q.tensor.toArray(), p.tensor.toArray().map { half.float(half.bits($0)) }, "\(label) \(p.name)")
                }
                // And out again: the same file.
                let again = scratch.appendingPathComponent("\(name)-\(half)-hf2")
                try HuggingFace.export(model: checkpoint.model, config: checkpoint.config, tokenizerJSON: checkpoint.tokenizerJSON, specialTokens: [:],
                                       dtype: checkpoint.storage, to: again)
                XCTAssertEqual(try Data(contentsOf: hf.appendingPathComponent("model.safetensors")),
                               try Data(contentsOf: again.appendingPathComponent("model.safetensors")), label)
            }
        }
        // One tensor in F32 among BF16 ones: the checkpoint is F32, every value exact.
        let hf = scratch.appendingPathComponent("gpt2-bf16-hf")
        var file = try SafeTensors.read(from: hf.appendingPathComponent("model.safetensors"))
        let mixed = file.tensors.enumerated().map { i, t in
            SafeTensor(name: t.name, shape: t.shape, values: t.values, dtype: i == 0 ? .f32 : .bf16)
        }
        try SafeTensors.write(mixed, metadata: file.metadata, to: hf.appendingPathComponent("model.safetensors"))
        file = try SafeTensors.read(from: hf.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(file.tensors.map(\.dtype).filter { $0 == .f32 }.count, 1)
        let out = scratch.appendingPathComponent("mixed")
        _ = try HuggingFace.importCheckpoint(from: hf, to: out)
        XCTAssertEqual(try Checkpoint.load(from: out).storage, .f32)
        XCTAssertEqual(try HuggingFace.load(from: hf).model.parameters.map { $0.tensor.toArray() },
                       try Checkpoint.load(from: out).model.parameters.map { $0.tensor.toArray() })
    }
}
