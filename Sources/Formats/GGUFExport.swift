import Foundation
import Files
import Kernels
import Autograd
import Config
import Model
import Tokenizer

/// A tinygpt model as a GGUF file llama.cpp loads: architecture llama or
/// gpt2 (`GGUFModel.architecture(for:)`), the tokenizer and its end and
/// beginning ids, the chat template, and the weights as F32, F16 or Q8_0.
public enum GGUFExport {
    /// The weights' type: matrices as F32, F16 or Q8_0 (ggml's reference
    /// rounding); vectors (norms, biases) and the learned position table stay
    /// F32, as llama.cpp's converter keeps them, and so does a matrix whose
    /// rows are not whole Q8_0 blocks of 32.
    public enum WeightType: String, CaseIterable {
        case f32, f16, q8_0

        /// general.file_type: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0.
        var fileType: UInt32 { self == .f32 ? 0 : self == .f16 ? 1 : 7 }
    }

    public struct Summary {
        public let architecture: GGUFModel.Architecture
        /// Tensor count per GGUF type.
        public let types: [(name: String, count: Int)]
        public let eosTokenIds: [Int]
        public let hasChatTemplate: Bool
    }

    /// The ends GGUF can state (eos, eot, eom), in that order.
    static let endKeys = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]

    /// The file's tokenizer metadata: `tokenizerJSON`'s GGUF form with the config's end and beginning ids.
    static func tokenizerSpec(tokenizerJSON: Data, config: RunConfig) throws -> (spec: GGUFTokenizerSpec, eomTokenId: Int?) {
        var spec: GGUFTokenizerSpec
        do { spec = try TokenizerFile.ggufSpec(huggingFaceJSON: tokenizerJSON) } catch let error as TokenizerError {
            throw FormatError("the tokenizer has no GGUF form: \(error.description)")
        }
        let v = config.model.vocabSize!
        try Checkpoint.checkVocabulary(tokenizer: spec.tokens.count, model: v, source: "the checkpoint")
        let ends = config.tokenizer.eosTokenIds
        guard ends.count <= endKeys.count else {
            throw FormatError("tokenizer.eos_token_ids has \(ends.count) ids \(ends); GGUF states at most \(endKeys.count) (eos, eot, eom)")
        }
        var eom: Int? = nil
        if !ends.isEmpty {
            spec.eosTokenId = ends[0]
            spec.eotTokenId = ends.count > 1 ? ends[1] : nil
            eom = ends.count > 2 ? ends[2] : nil
        }
        if let bos = config.tokenizer.bosTokenId { spec.bosTokenId = bos }
        for id in [spec.eosTokenId, spec.eotTokenId, eom, spec.bosTokenId].compactMap({ $0 }) where id >= v {
            throw FormatError("token id \(id) (tokenizer.eos_token_ids / bos_token_id) is not in the \(v)-token vocabulary")
        }
        return (spec, eom)
    }

    /// Writes `model` to `url` (atomically). `name` becomes general.name.
    public static func write(model: GPT, config: RunConfig, tokenizerJSON: Data, chatTemplate: String?, name: String,
                             type: WeightType, to url: URL) throws -> Summary {
        let m = config.model
        let architecture = try GGUFModel.architecture(for: m)
        let (spec, eom) = try tokenizerSpec(tokenizerJSON: tokenizerJSON, config: config)
        let arch = architecture.rawValue

        var writer = GGUFWriter()
        func u32(_ key: String, _ v: Int) { writer.set(key, .uint32(UInt32(v))) }
        func f32(_ key: String, _ v: Double) { writer.set(key, .float32(Float(v))) }
        writer.set("general.architecture", .string(arch))
        writer.set("general.name", .string(name))
        u32("general.alignment", writer.alignment)
        u32("general.file_type", Int(type.fileType))
        if type == .q8_0 { u32("general.quantization_version", 2) }
        u32("\(arch).context_length", m.contextLength)
        u32("\(arch).embedding_length", m.dModel)
        u32("\(arch).block_count", m.nLayer)
        u32("\(arch).feed_forward_length", m.feedForwardSize)
        u32("\(arch).attention.head_count", m.nHead)
        u32("\(arch).attention.head_count_kv", m.kvHeads)
        u32("\(arch).vocab_size", m.vocabSize!)
        switch architecture {
        case .llama:
            u32("llama.rope.dimension_count", m.headSize)
            f32("llama.rope.freq_base", m.ropeTheta)
            f32("llama.attention.layer_norm_rms_epsilon", m.normEps)
            if let s = m.ropeScaling, let factor = s.factor {
                writer.set("llama.rope.scaling.type", .string("linear"))
                f32("llama.rope.scaling.factor", factor)
            }
        case .gpt2:
            f32("gpt2.attention.layer_norm_epsilon", m.normEps)
        }
        writer.set("tokenizer.ggml.model", .string(spec.model))
        if let pre = spec.pre { writer.set("tokenizer.ggml.pre", .string(pre)) }
        writer.set("tokenizer.ggml.tokens", .array(.string, spec.tokens.map(GGUFValue.string)))
        if let scores = spec.scores { writer.set("tokenizer.ggml.scores", .array(.float32, scores.map(GGUFValue.float32))) }
        if let types = spec.tokenTypes { writer.set("tokenizer.ggml.token_type", .array(.int32, types.map(GGUFValue.int32))) }
        if let merges = spec.merges { writer.set("tokenizer.ggml.merges", .array(.string, merges.map(GGUFValue.string))) }
        let ids: [(String, Int?)] = [("tokenizer.ggml.bos_token_id", spec.bosTokenId), (endKeys[0], spec.eosTokenId), (endKeys[1], spec.eotTokenId),
                                     (endKeys[2], eom), ("tokenizer.ggml.unknown_token_id", spec.unknownTokenId),
                                     ("tokenizer.ggml.padding_token_id", spec.paddingTokenId)]
        for case let (key, id?) in ids { u32(key, id) }
        for case let (key, flag?) in [("tokenizer.ggml.add_bos_token", spec.addBosToken), ("tokenizer.ggml.add_eos_token", spec.addEosToken),
                                      ("tokenizer.ggml.add_space_prefix", spec.addSpacePrefix)] {
            writer.set(key, .bool(flag))
        }
        if let chatTemplate { writer.set("tokenizer.chat_template", .string(chatTemplate)) }

        let mappings = GGUFModel.tensorMappings(architecture, m)
        var counts: [String: Int] = [:]
        for t in mappings {
            let tensorType: GGMLType
            if let cols = t.cols, t.theirs != "position_embd.weight" {
                tensorType = type == .f16 ? .f16 : type == .q8_0 && cols % 32 == 0 ? .q8_0 : .f32
            } else {
                tensorType = .f32
            }
            writer.tensors.append(GGUFWriter.Tensor(name: t.theirs, dimensions: t.dimensions, type: tensorType))
            counts[tensorType.name, default: 0] += 1
        }
        let ours = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor) })
        try writer.write(to: url) { i in
            let t = mappings[i]
            // Stacked by rows; a tensor the config lacks (a GPT-2 bias) is zeros.
            let values = zip(t.ours, t.rows).flatMap { name, rows in ours[name]?.toArray() ?? [Float](repeating: 0, count: rows * (t.cols ?? 1)) }
            return encode(values, as: writer.tensors[i].type)
        }
        let eos = [spec.eosTokenId, spec.eotTokenId, eom].compactMap { $0 }
        return Summary(architecture: architecture, types: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                       eosTokenIds: eos, hasChatTemplate: chatTemplate != nil)
    }

    /// Values as the bytes of a tensor of `type`.
    public static func encode(_ values: [Float], as type: GGMLType) -> [UInt8] {
        let count = values.count
        let bytes = count / type.block.values * type.block.bytes
        return [UInt8](unsafeUninitializedCapacity: bytes) { out, initialized in
            values.withUnsafeBufferPointer { v in
                guard let x = v.baseAddress, let o = out.baseAddress else { return }
                switch type {
                case .f32:
                    for i in 0..<count { UnsafeMutableRawPointer(o).storeBytes(of: x[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                case .f16: GGMLBlocks.encodeF16(x, count: count, into: UnsafeMutableRawPointer(o))
                case .q8_0: GGMLBlocks.quantizeQ8_0(x, count: count, into: UnsafeMutableRawPointer(o))
                default: require(false, "GGUFExport: no encoder for \(type.name)")
                }
            }
            initialized = bytes
        }
    }

    /// A checkpoint directory's chat template (`Checkpoint.chatTemplateFile`), if it has one.
    public static func chatTemplate(in directory: URL) throws -> String? {
        let url = directory.appendingPathComponent(Checkpoint.chatTemplateFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try TextFile.read(url.path, what: "chat template")
    }
}
