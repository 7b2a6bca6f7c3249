import XCTest
import Foundation
import Kernels
import Autograd
import NN
import Model
import Config
import Formats
import Tokenizer
import Generate

/// Group-wise int8/int4 weights, the per-token inference model, and the quantized checkpoint format.
final class QuantizationTests: XCTestCase {
    func model(_ change: (inout ModelConfig) -> Void = { _ in }) -> GPT {
        var c = ModelConfig()
        c.vocabSize = 13; c.contextLength = 12; c.nLayer = 2; c.dModel = 32; c.nHead = 4; c.dFF = 64
        change(&c)
        return GPT(config: c, seed: 11)
    }

    func randomValues(_ n: Int, seed: UInt64) -> [Float] {
        var g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Float(g.uniformDouble() * 2 - 1) * (Float(g.uniformDouble()) < 0.05 ? 8 : 1) }
    }

    func testQuantizeDequantizeErrorIsAtMostHalfAStepPerGroup() {
        for format in QuantizedFormat.allCases {
            for groupSize in [2, 16, 32, 48] {
                let (rows, cols) = (5, 96)
                var w = randomValues(rows * cols, seed: UInt64(groupSize))
                for i in 0..<groupSize { w[i] = 0 }  // an all-zero group: scale 0, levels 0
                w[groupSize] = 2.5 * Float(format.maxLevel) / Float(format.maxLevel)  // a tie case is rounded away from zero below
                let m = QuantizedMatrix(quantizing: w, rows: rows, cols: cols, groupSize: groupSize, format: format)
                let back = m.dequantized()
                for g in 0..<(rows * cols / groupSize) {
                    let group = w[(g * groupSize)..<((g + 1) * groupSize)]
                    let scale = group.map(abs).max()! / format.maxLevel
                    XCTAssertEqual(m.scales[g], scale, "\(format) group \(g)")
                    for i in group.indices {
                        XCTAssertLessThanOrEqual(abs(back[i] - w[i]), scale / 2 * 1.0001 + 1e-30, "\(format) g\(groupSize) element \(i)")
                        XCTAssertLessThanOrEqual(abs(m.level(i / cols, i % cols)), Int(format.maxLevel))
                    }
                }
                XCTAssertEqual(m.scales[0], 0)
            }
        }
        // Round half away from zero: 0.5 and −0.5 steps go outward.
        let m = QuantizedMatrix(quantizing: [127, 0.5, -0.5, 1.5], rows: 1, cols: 4, groupSize: 4, format: .int8)
        XCTAssertEqual((0..<4).map { m.level(0, $0) }, [127, 1, -1, 2])
        let m4 = QuantizedMatrix(quantizing: [7, 0.5, -0.5, -2.5], rows: 1, cols: 4, groupSize: 4, format: .int4)
        XCTAssertEqual((0..<4).map { m4.level(0, $0) }, [7, 1, -1, -3])
    }

    func testIntegerDotProductsEqualAPlainReference() {
        var g = RandomGenerator(seed: 3)
        for n in [1, 15, 16, 17, 32, 33, 64, 100] {
            let a = (0..<n).map { _ in Int8(Int(g.uniformDouble() * 255) - 127) }
            let b = (0..<n).map { _ in Int8(Int(g.uniformDouble() * 255) - 127) }
            let reference = zip(a, b).reduce(Int32(0)) { $0 + Int32($1.0) * Int32($1.1) }
            XCTAssertEqual(a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { int8GroupDot(a.baseAddress!, $0.baseAddress!, n) } }, reference, "n \(n)")
        }
        // Whole rows: the integer sum of every group is exact, so the row equals Σ_g sum_g · s_w · s_x.
        for format in QuantizedFormat.allCases {
            for groupSize in [16, 32, 64] {
                let (rows, cols) = (3, 128)
                let m = QuantizedMatrix(quantizing: randomValues(rows * cols, seed: 9), rows: rows, cols: cols, groupSize: groupSize, format: format)
                let x = randomValues(cols, seed: 10)
                let activations = QuantizedActivations(capacity: cols)
                x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, count: cols, groupSize: groupSize) }
                var out = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { op in
                        matVec([MatVecJob(weights: .quantized(m), rows: rows, cols: cols, input: xp.baseAddress!, activations: activations,
                                          bias: nil, output: op.baseAddress!)])
                    }
                }
                for r in 0..<rows {
                    var expected: Float = 0
                    for gi in 0..<(cols / groupSize) {
                        var sum = 0
                        for c in (gi * groupSize)..<((gi + 1) * groupSize) { sum += m.level(r, c) * Int(activations.levels[c]) }
                        expected += Float(sum) * (m.scales[r * (cols / groupSize) + gi] * activations.scales[gi])
                    }
                    XCTAssertEqual(out[r], expected, accuracy: 1e-5 * max(1, abs(expected)), "\(format) group \(groupSize) row \(r)")
                }
            }
        }
    }

    /// The per-token path gives the batched autograd path's logits, for every kind of model it covers.
    func testInferenceModelMatchesGPT() {
        var variants: [(String, GPT)] = PositionEncoding.allCases.map { p in ("\(p)", model { $0.position = p }) }
        variants.append(("gqa rope swiglu rmsnorm", model { $0.nKVHead = 2; $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm; $0.bias = false }))
        variants.append(("mqa alibi", model { $0.nKVHead = 1; $0.position = .alibi }))
        variants.append(("post-norm geglu untied", model { $0.normPosition = .post; $0.activation = .geglu; $0.tieEmbeddings = false }))
        variants.append(("deepnorm", model { $0.normPosition = .deepnorm }))
        variants.append(("speed-run options", model { $0.qkNorm = true; $0.position = .rope; $0.activation = .relu2; $0.logitSoftcap = 1.5; $0.nKVHead = 2 }))
        variants.append(("qk-norm alibi softcap", model { $0.qkNorm = true; $0.position = .alibi; $0.logitSoftcap = 0.5 }))
        variants.append(("value residual + embeddings", model { $0.nLayer = 3; $0.valueResidual = true; $0.valueEmbeddings = 1; $0.position = .rope; $0.nKVHead = 2 }))
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11, 4, 6]
        for (name, gpt) in variants {
            let full = Autograd.noGrad { gpt(tokens, batch: 1, length: tokens.count) }.toArray()
            let fast = InferenceModel(model: gpt).logits(tokens)
            XCTAssertEqual(fast.count, full.count)
            for (i, (a, b)) in zip(fast, full).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(name) at \(i)")
            }
        }
    }

    /// Over weights mapped from a saved checkpoint, the per-token path gives
    /// the same bits as over the GPT the checkpoint was saved from.
    func testInferenceModelOverMappedWeightsEqualsOverTheModel() throws {
        let gpt = model { $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm; $0.nKVHead = 2 }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        var run = RunConfig()
        run.model = gpt.config
        try Checkpoint.save(model: gpt, config: run, tokenizerJSON: Data("{}".utf8), to: dir)
        let mapped = try Checkpoint.map(from: dir)
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11]
        XCTAssertEqual(InferenceModel(float: mapped.weights, config: mapped.config.model).logits(tokens), InferenceModel(model: gpt).logits(tokens))
    }

    /// A prompt fed at once (batched products, chunks of 512 tokens) gives the
    /// logits of feeding it token by token, to rounding, for every kind of
    /// model the per-token path covers, float and quantized; decoding then
    /// continues from the same cache.
    func testPrefillEqualsFeedingTokensOneByOne() {
        var variants: [(String, GPT)] = PositionEncoding.allCases.map { p in ("\(p)", model { $0.position = p; $0.contextLength = 40 }) }
        variants.append(("gqa rope swiglu rmsnorm", model { $0.nKVHead = 2; $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm; $0.bias = false; $0.contextLength = 40 }))
        variants.append(("mqa alibi", model { $0.nKVHead = 1; $0.position = .alibi; $0.contextLength = 40 }))
        variants.append(("post-norm geglu untied", model { $0.normPosition = .post; $0.activation = .geglu; $0.tieEmbeddings = false; $0.contextLength = 40 }))
        variants.append(("deepnorm", model { $0.normPosition = .deepnorm; $0.contextLength = 40 }))
        variants.append(("speed-run options", model {
            $0.qkNorm = true; $0.position = .rope; $0.activation = .relu2; $0.logitSoftcap = 1.5; $0.tieEmbeddings = false; $0.contextLength = 40
        }))
        variants.append(("value residual + embeddings", model {
            $0.nLayer = 3; $0.valueResidual = true; $0.valueEmbeddings = 1; $0.position = .rope; $0.nKVHead = 2; $0.contextLength = 40
        }))
        variants.append(("long", model { $0.position = .rope; $0.contextLength = 1100 }))
        var g = RandomGenerator(seed: 5)
        for (name, gpt) in variants {
            let count = name == "long" ? 1030 : 30  // "long" runs three chunks
            let prompt = (0..<count).map { _ in Int32(g.uniformDouble() * 13) }
            var models: [(String, () -> InferenceModel, Float)] = [("float32", { InferenceModel(model: gpt) }, 1e-4)]
            for format in QuantizedFormat.allCases {
                let w = QuantizedWeights(quantizing: gpt, format: format, groupSize: 16, embeddings: true)
                // int8: the batched products multiply float activations, the per-token ones int8 activations;
                // int4: both int8 activations, summed in another order.
                models.append(("\(format)", { InferenceModel(quantized: w, config: gpt.config) }, 0.05))
            }
            for (kind, make, tolerance) in models {
                let stepwise = make(), batched = make()
                var expected: [Float] = []
                for token in prompt { expected = Array(stepwise.next(token)) }
                let got = Array(batched.prefill(prompt))
                XCTAssertEqual(batched.length, prompt.count)
                let spread = expected.map(abs).max()!
                for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: tolerance * max(1, spread), "\(name) \(kind)") }
                let after = Array(batched.next(3)), afterStepwise = Array(stepwise.next(3))
                for (a, b) in zip(after, afterStepwise) { XCTAssertEqual(a, b, accuracy: tolerance * max(1, spread), "\(name) \(kind), next token") }
            }
        }
    }

    /// Beam search reorders per-token caches (copyState): its beams equal the
    /// batched path's, with GQA (several query heads per cached K/V head).
    func testBeamSearchOnThePerTokenPathEqualsTheBatchedPath() {
        for position in [PositionEncoding.rope, .alibi] {
            let gpt = model { $0.position = position; $0.nKVHead = 2; $0.contextLength = 24 }
            let tokenizer = try! CharTokenizer(trainingText: "abcdefghijklm")
            let batched = Generator(source: BatchedModel(gpt), tokenizer: tokenizer)
            let perToken = Generator(source: InferenceRows { InferenceModel(model: gpt) }, tokenizer: tokenizer)
            let a = batched.beamSearch(prompt: [1, 2], width: 3, count: 3, maxNewTokens: 30, lengthPenalty: 1, settings: DecodingSettings())
            let b = perToken.beamSearch(prompt: [1, 2], width: 3, count: 3, maxNewTokens: 30, lengthPenalty: 1, settings: DecodingSettings())
            XCTAssertEqual(a.map(\.tokens), b.map(\.tokens), "\(position)")
            for (x, y) in zip(a, b) { XCTAssertEqual(x.score!, y.score!, accuracy: 1e-4, "\(position)") }
        }
    }

    func testQuantizedLogitsAreCloseToFloat() {
        let gpt = model { $0.position = .rope; $0.activation = .swiglu; $0.norm = .rmsNorm }
        let tokens: [Int32] = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11]
        let float = InferenceModel(model: gpt).logits(tokens)
        let spread = float.map(abs).max()!
        for (format, groupSize, bound) in [(QuantizedFormat.int8, 32, Float(0.02)), (.int4, 16, 0.25)] {
            let w = QuantizedWeights(quantizing: gpt, format: format, groupSize: groupSize, embeddings: true)
            let q = InferenceModel(quantized: w, config: gpt.config).logits(tokens)
            let worst = zip(q, float).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, bound * spread, "\(format): worst |Δlogit| \(worst) of logits up to \(spread)")
            XCTAssertGreaterThan(worst, 0)
        }
    }

    func testSafeTensorsRoundTripAndEveryTensorChecked() throws {
        let gpt = model { $0.tieEmbeddings = false; $0.bias = true }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quant-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for format in QuantizedFormat.allCases {
            let w = QuantizedWeights(quantizing: gpt, format: format, groupSize: 16, embeddings: true)
            let url = dir.appendingPathComponent("\(format).safetensors")
            try SafeTensors.write(QuantizedCheckpoint.tensors(w, config: gpt.config), metadata: QuantizedCheckpoint.metadata(w), to: url)
            XCTAssertEqual(QuantizedCheckpoint.quantization(ofWeightsAt: url), format.rawValue)
            let file = try SafeTensors.read(from: url)
            let back = try QuantizedCheckpoint.weights(from: try MappedSafeTensors(contentsOf: url), config: gpt.config)
            XCTAssertEqual(back.format, format); XCTAssertEqual(back.groupSize, 16)
            XCTAssertEqual(Set(back.matrices.keys), Set(w.matrices.keys))
            for (name, m) in w.matrices { XCTAssertEqual(Array(back.matrices[name]!.data), Array(m.data), name); XCTAssertEqual(Array(back.matrices[name]!.scales), Array(m.scales), name) }
            XCTAssertEqual(back.floats, w.floats)
            // Names, dtypes and bias/gain tensors as the format says.
            XCTAssertEqual(file["blocks.0.attn.q.weight"]?.dtype, format == .int8 ? .i8 : .u8)
            XCTAssertEqual(file["blocks.0.attn.q.weight.scales"]?.dtype, .f32)
            XCTAssertEqual(file["blocks.0.attn.q.bias"]?.dtype, .f32)
            XCTAssertEqual(file["blocks.0.attn_norm.weight"]?.dtype, .f32)

            // Each damage is refused with a message naming the tensor.
            func damaged(_ change: (inout [SafeTensor]) -> Void) throws -> String {
                var tensors = QuantizedCheckpoint.tensors(w, config: gpt.config)
                change(&tensors)
                try SafeTensors.write(tensors, metadata: QuantizedCheckpoint.metadata(w), to: url)
                do { _ = try QuantizedCheckpoint.weights(from: try MappedSafeTensors(contentsOf: url), config: gpt.config); return "" }
                catch { return "\(error)" }
            }
            let scales = "blocks.1.ffn.up.weight.scales"
            func set(_ name: String, _ t: inout [SafeTensor], _ f: (inout SafeTensor) -> Void) { f(&t[t.firstIndex { $0.name == name }!]) }
            XCTAssertTrue(try damaged { set(scales, &$0) { $0.values[3] = -1 } }.contains("finite and ≥ 0"))
            XCTAssertTrue(try damaged { set(scales, &$0) { $0.values[0] = .nan } }.contains("finite and ≥ 0"))
            XCTAssertTrue(try damaged { set(scales, &$0) { $0.values[1] = .infinity } }.contains("finite and ≥ 0"))
            XCTAssertTrue(try damaged { set(scales, &$0) { $0.shape = [$0.shape[1], $0.shape[0]] } }.contains(scales))
            XCTAssertTrue(try damaged { set("blocks.0.ffn.down.weight", &$0) { $0.bytes.removeLast($0.shape[0]); $0.shape[1] -= 1 } }.contains("blocks.0.ffn.down.weight"))
            XCTAssertTrue(try damaged { $0.removeAll { $0.name == "lm_head.weight.scales" } }.contains("missing tensor 'lm_head.weight.scales'"))
            // A level the format never writes (−128; the nibble 0), anywhere in the data, and a non-finite float.
            let down = "blocks.1.ffn.down.weight", level = format == .int8 ? "−128" : "nibble 0"
            for at in [0, 13, 100] {
                let message = try damaged { set(down, &$0) { $0.bytes[at] = 0x80 } }
                XCTAssertTrue(message.contains("'\(down)' holds") && message.contains(level) && message.contains(" \(at); "), message)
            }
            let highNibble = try damaged { set(down, &$0) { $0.bytes[$0.bytes.count - 1] = format == .int8 ? 0x80 : 0x07 } }
            XCTAssertTrue(highNibble.contains("'\(down)'") && highNibble.contains(level), highNibble)
            let nan = try damaged { set("final_norm.weight", &$0) { $0.values[5] = .nan } }
            XCTAssertTrue(nan.contains("'final_norm.weight' holds a non-finite value at flat index 5"), nan)
            XCTAssertTrue(try damaged { $0.append(SafeTensor(name: "extra", shape: [1], values: [0])) }.contains("unexpected tensor 'extra'"))
            XCTAssertTrue(try damaged { set("final_norm.weight", &$0) { $0 = SafeTensor(name: $0.name, shape: $0.shape, bytes: [UInt8](repeating: 1, count: $0.values.count), dtype: .i8) } }.contains("must be F32"))
        }
    }

    func testGreedyIsTheSameOnOneAndTwoThreads() {
        let gpt = model { $0.position = .rope; $0.activation = .swiglu; $0.contextLength = 64 }
        let tokenizer = try! CharTokenizer(trainingText: "abcdefghijklm")
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var settings = DecodingSettings()
        settings.greedy = true
        for format in QuantizedFormat.allCases {
            let w = QuantizedWeights(quantizing: gpt, format: format, groupSize: 16, embeddings: true)
            var outputs: [[Int32]] = []
            for threads in [1, 2] {
                Parallel.threads = threads
                let generator = Generator(source: InferenceRows { InferenceModel(quantized: w, config: gpt.config) }, tokenizer: tokenizer)
                outputs.append(generator.sample(prompt: [1], count: 1, maxNewTokens: 80, settings: settings, seed: 1)[0].tokens)
            }
            XCTAssertEqual(outputs[0], outputs[1], "\(format)")
            XCTAssertEqual(outputs[0].count, 80)
        }
    }
}
