import Foundation
import Files
import Kernels
import NN
import Config
import Model
import Tokenizer

/// A GGUF model (architecture llama or gpt2) as a tinygpt checkpoint.
///
/// `plan` reads the header and metadata and checks everything that can be
/// checked before tensor data: the architecture, every hyperparameter against
/// what tinygpt can represent, the tokenizer (built and loaded), and every
/// tensor's name, type and shape. `write` then decodes the tensors one at a
/// time from the memory-mapped file and writes the checkpoint.
public enum GGUFImport {
    /// What an import will write, decided before any tensor data is read.
    public struct Plan {
        public let file: GGUFFile
        public let architecture: GGUFModel.Architecture
        public let config: RunConfig
        public let tokenizerJSON: Data
        public let tokenizerSpec: GGUFTokenizerSpec
        public let chatTemplate: String?
        let mappings: [GGUFModel.TensorMapping]
        /// Why the matrices cannot stay Q8_0 blocks; nil when they can.
        let floatReason: String?
        /// With int8 matrices: whether the token embedding (and head) are int8 too.
        let quantizedEmbeddings: Bool
    }

    /// What was written, for the user.
    public struct Summary {
        /// Tensor count per GGUF type, e.g. ["Q4_1": 210, "F32": 61].
        public let types: [(name: String, count: Int)]
        /// nil: every matrix kept as int8 groups of 32 (Q8_0's blocks); else why all are float32.
        public let floatReason: String?
        public let quantizedEmbeddings: Bool
        public let parameters: Int
    }

    // MARK: plan

    public static func plan(_ file: GGUFFile) throws -> Plan {
        let path = file.path
        func fail(_ text: String) -> FormatError { FormatError("\(path): \(text)") }
        guard let archValue = file["general.architecture"] else { throw fail("no general.architecture in the metadata; not a model file") }
        guard case .string(let archName) = archValue else { throw fail("general.architecture is \(archValue.summary); it must be a string") }
        guard let architecture = GGUFModel.Architecture(rawValue: archName) else {
            throw fail("architecture '\(archName)' is not supported; supported: \(GGUFModel.supportedArchitectures)")
        }
        var run = try config(file, architecture)
        let m = run.model

        // The tokenizer before any tensor data: a refusal here costs nothing.
        let spec = try tokenizerSpec(file)
        let tokenizerJSON: Data
        do { tokenizerJSON = try TokenizerFile.huggingFaceJSON(gguf: spec) } catch let error as TokenizerError {
            throw fail("tokenizer: \(error.description)")
        }
        let tokenizer: any Tokenizer
        do { tokenizer = try TokenizerFile.load(data: tokenizerJSON, name: "tokenizer") } catch let error as TokenizerError {
            throw fail(error.description)
        }
        try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: m.vocabSize!, source: path)
        var chatTemplate: String? = nil
        if let value = file["tokenizer.chat_template"] {
            guard case .string(let text) = value else { throw fail("tokenizer.chat_template is \(value.summary); it must be a string") }
            chatTemplate = text
        }
        let ends = [("tokenizer.ggml.eos_token_id", spec.eosTokenId), ("tokenizer.ggml.eot_token_id", spec.eotTokenId),
                    ("tokenizer.ggml.eom_token_id", try optionalInt(file, "tokenizer.ggml.eom_token_id"))]
        for (key, id) in ends + [("tokenizer.ggml.bos_token_id", spec.bosTokenId)] {
            if let id, id >= m.vocabSize! { throw fail("\(key) is \(id), not a token id of the \(m.vocabSize!)-token vocabulary") }
        }
        var eos: [Int] = []
        for case let (_, id?) in ends where !eos.contains(id) { eos.append(id) }
        run.tokenizer.eosTokenIds = eos
        run.tokenizer.bosTokenId = spec.bosTokenId

        // Every tensor's name, type and shape.
        let mappings = GGUFModel.tensorMappings(architecture, m)
        let expected = Set(mappings.map(\.theirs))
        if let extra = file.tensors.first(where: { !expected.contains($0.name) }) {
            let why = extra.name == "rope_freqs.weight" ? " (per-frequency RoPE factors, as LLaMA 3.1's scaling: tinygpt's RoPE has none)" : ""
            throw fail("unexpected tensor '\(extra.name)' \(extra.type.name) \(describeShape(extra.shape))\(why): not part of a \(archName) model with this metadata")
        }
        for t in mappings {
            guard let info = file.tensor(named: t.theirs) else {
                throw fail("missing tensor '\(t.theirs)' (shape \(describeShape(t.shape)) expected from the metadata)")
            }
            guard info.shape == t.shape else {
                throw fail("tensor '\(t.theirs)' has shape \(describeShape(info.shape)) but the metadata implies \(describeShape(t.shape))")
            }
        }
        let (reason, embeddings) = quantizedLayout(file, mappings: mappings, config: m)
        return Plan(file: file, architecture: architecture, config: run.resolved(), tokenizerJSON: tokenizerJSON, tokenizerSpec: spec,
                    chatTemplate: chatTemplate, mappings: mappings, floatReason: reason, quantizedEmbeddings: embeddings)
    }

    /// The run config the metadata describes, or an error naming the key and value tinygpt cannot represent.
    static func config(_ file: GGUFFile, _ architecture: GGUFModel.Architecture) throws -> RunConfig {
        let path = file.path, arch = architecture.rawValue
        func fail(_ text: String) -> FormatError { FormatError("\(path): \(text)") }
        func int(_ name: String, default fallback: Int? = nil) throws -> Int {
            let key = "\(arch).\(name)"
            guard let value = file[key] else {
                if let fallback { return fallback }
                throw fail("metadata '\(key)' is missing; a \(arch) model needs it")
            }
            guard let i = value.integer, i >= 0 else {
                if case .array = value { throw fail("\(key) is \(value.summary) (one value per layer); tinygpt needs one value for every layer") }
                throw fail("\(key) is \(value.summary); it must be a non-negative integer")
            }
            return i
        }
        func number(_ name: String, default fallback: Double? = nil) throws -> Double {
            let key = "\(arch).\(name)"
            guard let value = file[key] else {
                if let fallback { return fallback }
                throw fail("metadata '\(key)' is missing; a \(arch) model needs it")
            }
            guard let x = value.number, x.isFinite else { throw fail("\(key) is \(value.summary); it must be a number") }
            return x
        }
        // Keys that change the function in ways tinygpt does not compute.
        for (name, neutral) in [("expert_count", 0.0), ("attention.clamp_kqv", 0), ("attention.max_alibi_bias", 0), ("logit_scale", 1)] {
            if let value = file["\(arch).\(name)"], value.number != neutral {
                throw fail("\(arch).\(name) is \(value.summary); tinygpt has no \(name == "expert_count" ? "mixture of experts" : name.replacingOccurrences(of: "attention.", with: "")) (only \(neutral == 0 ? "0" : "1") is supported)")
            }
        }

        var m = ModelConfig()
        m.contextLength = try int("context_length")
        m.dModel = try int("embedding_length")
        m.nLayer = try int("block_count")
        m.nHead = try int("attention.head_count")
        guard m.nHead > 0, m.dModel > 0, m.dModel % m.nHead == 0 else {
            throw fail("\(arch).attention.head_count \(m.nHead) does not divide \(arch).embedding_length \(m.dModel); tinygpt needs d_model = heads · head size")
        }
        let headSize = m.dModel / m.nHead
        for name in ["attention.key_length", "attention.value_length"] where file["\(arch).\(name)"] != nil {
            let v = try int(name)
            guard v == headSize else {
                throw fail("\(arch).\(name) is \(v), but tinygpt's head size is embedding_length / head_count = \(headSize)")
            }
        }
        m.nKVHead = try int("attention.head_count_kv", default: m.nHead)
        m.dropout = 0
        m.normPosition = .pre
        switch architecture {
        case .llama:
            m.dFF = try int("feed_forward_length")
            m.norm = .rmsNorm; m.position = .rope; m.activation = .swiglu
            m.normEps = try number("attention.layer_norm_rms_epsilon")
            m.ropeTheta = try number("rope.freq_base", default: 10_000)
            let rotated = try int("rope.dimension_count", default: headSize)
            guard rotated == headSize else {
                throw fail("llama.rope.dimension_count is \(rotated), but tinygpt rotates every feature of a head (\(headSize) = embedding_length / head_count)")
            }
            m.ropeScaling = try ropeScaling(file, arch)
            m.bias = false  // decided from the tensors below, once the sizes are known to be sane
        case .gpt2:
            guard m.kvHeads == m.nHead else {
                throw fail("gpt2.attention.head_count_kv is \(m.kvHeads) of \(m.nHead) heads; GPT-2 has one key/value head per query head")
            }
            m.dFF = try int("feed_forward_length", default: 4 * m.dModel)
            m.norm = .layerNorm; m.position = .learned; m.activation = .gelu_tanh; m.bias = true
            m.normEps = try number("attention.layer_norm_epsilon")
        }
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.dimensions.count == 2 else {
            throw fail("missing tensor 'token_embd.weight' (a matrix: vocabulary × embedding_length)")
        }
        let vocab = embedding.dimensions[1]
        if file["\(arch).vocab_size"] != nil, try int("vocab_size") != vocab {
            throw fail("\(arch).vocab_size is \(try int("vocab_size")) but token_embd.weight has \(vocab) rows")
        }
        m.vocabSize = vocab
        m.tieEmbeddings = file.tensor(named: "output.weight") == nil

        var run = RunConfig()
        run.model = m
        run.tokenizer.type = .bpe
        run.tokenizer.vocabSize = max(vocab, 256)
        do { try run.validate() } catch { throw fail("the metadata gives an invalid tinygpt config: \(error)") }
        if architecture == .llama {
            // LLaMA's projections have biases in some models (attention_bias); tinygpt has one switch for all.
            let biases = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"].flatMap { name in
                (0..<m.nLayer).map { "blk.\($0).\(name).bias" }
            }
            let present = biases.filter { file.tensor(named: $0) != nil }
            if !present.isEmpty && present.count != biases.count {
                let missing = biases.first { file.tensor(named: $0) == nil }!
                throw fail("the file has some projection biases ('\(present[0])') but not all ('\(missing)'); tinygpt has one bias switch for every projection")
            }
            run.model.bias = !present.isEmpty
        }
        return run
    }

    /// llama.cpp's RoPE scaling keys as tinygpt's: none, or linear.
    static func ropeScaling(_ file: GGUFFile, _ arch: String) throws -> RopeScaling? {
        func fail(_ text: String) -> FormatError { FormatError("\(file.path): \(text)") }
        func factor(_ key: String) throws -> Double? {
            guard let value = file[key] else { return nil }
            guard let f = value.number, f.isFinite, f > 0 else { throw fail("\(key) is \(value.summary); it must be a positive number") }
            return f
        }
        let typeKey = "\(arch).rope.scaling.type"
        var type = "none"
        if let value = file[typeKey] {
            guard case .string(let name) = value else { throw fail("\(typeKey) is \(value.summary); it must be a string") }
            type = name
        }
        switch type {
        case "none":
            if let f = try factor("\(arch).rope.scale_linear"), f != 1 { return RopeScaling(type: .linear, factor: f) }
            return nil
        case "linear":
            guard let f = try factor("\(arch).rope.scaling.factor") ?? factor("\(arch).rope.scale_linear") else {
                throw fail("\(typeKey) is linear but \(arch).rope.scaling.factor is missing")
            }
            return f == 1 ? nil : RopeScaling(type: .linear, factor: f)
        default:
            throw fail("\(typeKey) '\(type)' is not supported (none, linear): llama.cpp's \(type) scaling differs from tinygpt's")
        }
    }

    static func optionalInt(_ file: GGUFFile, _ key: String) throws -> Int? {
        guard let value = file[key] else { return nil }
        guard let i = value.integer, i >= 0 else { throw FormatError("\(file.path): \(key) is \(value.summary); it must be a non-negative integer") }
        return i
    }

    /// The file's `tokenizer.ggml.*` metadata, type-checked.
    public static func tokenizerSpec(_ file: GGUFFile) throws -> GGUFTokenizerSpec {
        let path = file.path
        func fail(_ text: String) -> FormatError { FormatError("\(path): \(text)") }
        func string(_ key: String) throws -> String? {
            guard let value = file[key] else { return nil }
            guard case .string(let s) = value else { throw fail("\(key) is \(value.summary); it must be a string") }
            return s
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = file[key] else { return nil }
            guard case .bool(let b) = value else { throw fail("\(key) is \(value.summary); it must be a bool") }
            return b
        }
        func array(_ key: String) throws -> [GGUFValue]? {
            guard let value = file[key] else { return nil }
            guard case .array(_, let items) = value else { throw fail("\(key) is \(value.summary); it must be an array") }
            return items
        }
        func strings(_ key: String) throws -> [String]? {
            try array(key)?.map { item in
                guard case .string(let s) = item else { throw fail("\(key) holds \(item.summary); it must hold strings") }
                return s
            }
        }
        guard let model = try string("tokenizer.ggml.model") else {
            throw fail("no tokenizer.ggml.model in the metadata: the file has no tokenizer, and a tinygpt checkpoint needs one")
        }
        guard let tokens = try strings("tokenizer.ggml.tokens") else { throw fail("no tokenizer.ggml.tokens in the metadata: the file has no vocabulary") }
        var spec = GGUFTokenizerSpec(model: model, tokens: tokens)
        spec.pre = try string("tokenizer.ggml.pre")
        spec.merges = try strings("tokenizer.ggml.merges")
        spec.scores = try array("tokenizer.ggml.scores")?.map { item in
            guard let x = item.number else { throw fail("tokenizer.ggml.scores holds \(item.summary); it must hold numbers") }
            return Float(x)
        }
        spec.tokenTypes = try array("tokenizer.ggml.token_type")?.map { item in
            guard let t = item.integer, let t32 = Int32(exactly: t) else { throw fail("tokenizer.ggml.token_type holds \(item.summary); it must hold integers") }
            return t32
        }
        for (key, count) in [("tokenizer.ggml.scores", spec.scores?.count), ("tokenizer.ggml.token_type", spec.tokenTypes?.count)] {
            if let count, count != tokens.count { throw fail("\(key) has \(count) entries for \(tokens.count) tokens") }
        }
        spec.bosTokenId = try optionalInt(file, "tokenizer.ggml.bos_token_id")
        spec.eosTokenId = try optionalInt(file, "tokenizer.ggml.eos_token_id")
        spec.eotTokenId = try optionalInt(file, "tokenizer.ggml.eot_token_id")
        spec.unknownTokenId = try optionalInt(file, "tokenizer.ggml.unknown_token_id")
        spec.paddingTokenId = try optionalInt(file, "tokenizer.ggml.padding_token_id")
        spec.addBosToken = try bool("tokenizer.ggml.add_bos_token")
        spec.addEosToken = try bool("tokenizer.ggml.add_eos_token")
        spec.addSpacePrefix = try bool("tokenizer.ggml.add_space_prefix")
        return spec
    }

    /// Whether the matrices can stay Q8_0 blocks (tinygpt's int8 format in groups of 32 holds them
    /// exactly: the same levels, the f16 scale as a float32): every block matrix must be Q8_0, with
    /// levels −127…127 and finite scales ≥ 0. Returns why not (nil: they can), and whether the
    /// token embedding (and untied head) can stay Q8_0 too.
    static func quantizedLayout(_ file: GGUFFile, mappings: [GGUFModel.TensorMapping], config m: ModelConfig) -> (reason: String?, embeddings: Bool) {
        var blockTypes: [String: Int] = [:]
        var q8: [GGUFTensorInfo] = []
        for t in mappings where t.cols != nil && t.theirs != "position_embd.weight" {
            let info = file.tensor(named: t.theirs)!
            let isEmbedding = t.theirs == "token_embd.weight" || t.theirs == "output.weight"
            if !isEmbedding { blockTypes[info.type.name, default: 0] += 1 }
            if info.type == .q8_0 { q8.append(info) }
        }
        if blockTypes.keys.contains(where: { $0 != GGMLType.q8_0.name }) {
            let others = blockTypes.filter { $0.key != GGMLType.q8_0.name }.keys.sorted().joined(separator: ", ")
            return ("the block matrices are \(others); tinygpt's int8 groups hold only Q8_0 blocks exactly", false)
        }
        for info in q8 {
            defer { file.release(info) }
            let bytes = file.bytes(of: info)
            for b in 0..<(info.byteCount / GGMLBlocks.q8_0Bytes) {
                let block = b * GGMLBlocks.q8_0Bytes
                let d = HalfFloat.float(half: UInt16(bytes[block]) | UInt16(bytes[block + 1]) << 8)
                if !d.isFinite || d < 0 {
                    return ("tensor '\(info.name)' has a Q8_0 scale of \(d) (block \(b)); tinygpt's int8 scales are finite and ≥ 0", false)
                }
                if bytes[(block + 2)..<(block + GGMLBlocks.q8_0Bytes)].contains(0x80) {
                    return ("tensor '\(info.name)' holds the level −128 (block \(b)); tinygpt's int8 uses −127…127", false)
                }
            }
        }
        let embeddings = file.tensor(named: "token_embd.weight")?.type == .q8_0
            && (m.tieEmbeddings || file.tensor(named: "output.weight")?.type == .q8_0)
        return (nil, embeddings)
    }

    // MARK: write

    /// Writes the checkpoint: float32 tensors, or int8 matrices when the plan keeps Q8_0 blocks
    /// and `dequantize` is false. Tensors are decoded one at a time from the mapped file.
    public static func write(_ plan: Plan, dequantize: Bool, to directory: URL) throws -> Summary {
        let file = plan.file, m = plan.config.model
        var counts: [String: Int] = [:]
        for t in file.tensors { counts[t.type.name, default: 0] += 1 }
        let types = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { (name: $0.key, count: $0.value) }
        let floatReason = dequantize ? "--dequantize" : plan.floatReason
        let keep = floatReason == nil
        let shapes = Dictionary(uniqueKeysWithValues: m.parameterShapes.map { ($0.name, $0) })

        var floats: [String: [Float]] = [:], matrices: [String: QuantizedMatrix] = [:]
        for t in plan.mappings {
            let info = file.tensor(named: t.theirs)!
            defer { file.release(info) }
            let cols = t.cols ?? 1
            let int8 = keep && info.type == .q8_0 && t.ours.allSatisfy { name in
                shapes[name].map { ModelCost.isQuantized($0, embeddings: plan.quantizedEmbeddings) } ?? false
            }
            if int8 {
                let bytes = file.bytes(of: info), rowBytes = cols / 32 * GGMLBlocks.q8_0Bytes
                var start = 0
                for (name, rows) in zip(t.ours, t.rows) {
                    var data = [UInt8](), scales = [Float]()
                    data.reserveCapacity(rows * cols); scales.reserveCapacity(rows * cols / 32)
                    for b in (start * rowBytes / GGMLBlocks.q8_0Bytes)..<((start + rows) * rowBytes / GGMLBlocks.q8_0Bytes) {
                        let block = b * GGMLBlocks.q8_0Bytes
                        scales.append(HalfFloat.float(half: UInt16(bytes[block]) | UInt16(bytes[block + 1]) << 8))
                        data += bytes[(block + 2)..<(block + GGMLBlocks.q8_0Bytes)]
                    }
                    matrices[name] = QuantizedMatrix(format: .int8, rows: rows, cols: cols, groupSize: 32, data: data, scales: scales)
                    start += rows
                }
                continue
            }
            let values = file.floats(of: info)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw FormatError("\(file.path): tensor '\(t.theirs)' holds a non-finite value (\(values[bad]) at flat index \(bad)); the file is damaged")
            }
            if t.ours.count == 1 {
                floats[t.ours[0]] = values
            } else {
                var start = 0
                for (name, rows) in zip(t.ours, t.rows) {
                    floats[name] = Array(values[(start * cols)..<((start + rows) * cols)])
                    start += rows
                }
            }
        }

        let tensors: [SafeTensor], metadata: [String: String]
        if keep {
            let weights = QuantizedWeights(format: .int8, groupSize: 32, quantizedEmbeddings: plan.quantizedEmbeddings,
                                           matrices: matrices, floats: floats)
            tensors = QuantizedCheckpoint.tensors(weights, config: m)
            metadata = QuantizedCheckpoint.metadata(weights)
        } else {
            tensors = m.parameterShapes.map { p in SafeTensor(name: p.name, shape: p.shape, values: floats.removeValue(forKey: p.name)!) }
            metadata = Checkpoint.formatMetadata
        }
        let extra = plan.chatTemplate.map { [Checkpoint.chatTemplateFile: Data($0.utf8)] } ?? [:]
        try Checkpoint.save(tensors: tensors, metadata: metadata, config: plan.config, tokenizerJSON: plan.tokenizerJSON,
                            extraFiles: extra, to: directory)
        return Summary(types: types, floatReason: floatReason, quantizedEmbeddings: keep && plan.quantizedEmbeddings,
                       parameters: m.parameterShapes.reduce(0) { $0 + $1.count })
    }
}
