import Foundation
import Files
import Kernels
import Autograd
import NN
import Config
import Model
import Tokenizer

/// Export to and import from Hugging Face `transformers` checkpoints for the
/// two families that can represent a tinygpt model exactly:
///
/// - GPT-2 (`GPT2LMHeadModel`): pre-LayerNorm, learned positions, MHA, a plain
///   feed-forward (activation_function gelu_new, gelu, relu, silu, sigmoid or
///   tanh). GPT-2's linear layers are `Conv1D`, whose weights are
///   stored (in, out): the transpose of ours; q, k and v are one `c_attn`.
///   A config without biases exports zero biases (the same function).
/// - LLaMA (`LlamaForCausalLM`): pre-RMSNorm, RoPE, SwiGLU (hidden_act silu) or
///   GLU (hidden_act sigmoid), MHA/GQA/MQA.
///   transformers rotates feature i with feature i + D/2 of each head; tinygpt
///   (as the RoFormer paper) rotates the pairs (2i, 2i+1) by the same angles.
///   So the q and k projection rows of each head are permuted on the way out
///   (ours 2i → theirs i, ours 2i+1 → theirs i + D/2) and back on the way in.
public enum HuggingFace {
    public enum Family: String { case gpt2, llama }

    /// The family that represents `config`, or an error naming what neither can.
    public static func family(for m: ModelConfig) throws -> Family {
        var gpt2: [String] = [], llama: [String] = []
        if m.norm != .layerNorm { gpt2.append("norm layernorm (got \(m.norm.rawValue))") }
        if m.position != .learned { gpt2.append("position learned (got \(m.position.rawValue))") }
        if m.kvHeads != m.nHead { gpt2.append("n_kv_head = n_head (got \(m.kvHeads) of \(m.nHead))") }
        if ![.relu, .gelu, .gelu_tanh, .swish, .sigmoid, .tanh].contains(m.activation) { gpt2.append("a plain activation (got \(m.activation.rawValue))") }
        if m.norm != .rmsNorm { llama.append("norm rmsnorm (got \(m.norm.rawValue))") }
        if m.position != .rope { llama.append("position rope (got \(m.position.rawValue))") }
        if ![.swiglu, .glu].contains(m.activation) { llama.append("activation swiglu or glu (got \(m.activation.rawValue))") }
        if m.attention == .prefix_lm {
            throw FormatError("model.attention = prefix_lm cannot be exported: transformers' GPT-2 and LLaMA attend causally at every position and have no prompt seen bidirectionally, so no config.json reproduces it")
        }
        if [.swish, .swiglu].contains(m.activation), m.swishBeta != .fixed(1) {
            var beta = "learnable"
            if case .fixed(let b) = m.swishBeta { beta = "\(b)" }
            throw FormatError("model.swish_beta = \(beta) cannot be exported: transformers' silu is Swish with β = 1 and no config.json sets another β")
        }
        if m.qkNorm {
            throw FormatError("model.qk_norm cannot be exported: transformers' GPT-2 and LLaMA do not normalise queries and keys (families that do, such as OLMo-2 and Qwen3, train a gain tinygpt's gain-free QK-norm does not have), so no config.json reproduces it")
        }
        if m.valueResidual {
            throw FormatError("model.value_residual cannot be exported: transformers' GPT-2 and LLaMA use each layer's own values (no mix with the first layer's), so no config.json reproduces it")
        }
        if m.valueEmbeddings > 0 {
            throw FormatError("model.value_embeddings = \(m.valueEmbeddings) cannot be exported: transformers' GPT-2 and LLaMA have no token embedding added to the values, so no config.json reproduces it")
        }
        if let cap = m.logitSoftcap {
            throw FormatError("model.logit_softcap = \(cap) cannot be exported: transformers' GPT-2 and LLaMA return the head's logits uncapped (only Gemma 2's final_logit_softcapping caps them, and Gemma 2's block differs from both), so no config.json reproduces it")
        }
        if m.normPosition == .deepnorm {
            // Neither family has a post-norm block, let alone DeepNorm's α·x residual.
            throw FormatError("model.norm_position = deepnorm cannot be exported: transformers' GPT-2 and LLaMA are pre-norm and have no post-norm residual LN(α·x + f(x)) (α = (2N)^(1/4)), so no config.json reproduces it")
        }
        if m.normPosition != .pre {
            gpt2.append("norm_position pre (got \(m.normPosition.rawValue))")
            llama.append("norm_position pre (got \(m.normPosition.rawValue))")
        }
        if gpt2.isEmpty { return .gpt2 }
        if llama.isEmpty { return .llama }
        throw FormatError("no transformers family represents this config: GPT-2 needs \(gpt2.joined(separator: ", ")); LLaMA needs \(llama.joined(separator: ", "))")
    }

    // MARK: export

    /// Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json
    /// and generation_config.json so that `AutoModelForCausalLM` and
    /// `AutoTokenizer` load `directory`; with a chat template, chat_template.jinja
    /// too (and the same text in tokenizer_config.json, for older transformers).
    /// The end and beginning ids are the config's (tokenizer.eos_token_ids,
    /// tokenizer.bos_token_id), else the tokenizer's specials found by name.
    /// With `scoreHead` (a reward model's (1, d_model) head), the model is
    /// `GPT2ForSequenceClassification` / `LlamaForSequenceClassification` with
    /// one label: the base's weights and `score.weight` instead of the output
    /// projection, for `AutoModelForSequenceClassification`.
    /// `dtype` F16 or BF16 writes the weights in that format (a half checkpoint's own), and says so in config.json's torch_dtype.
    public static func export(model: GPT, config: RunConfig, tokenizerJSON: Data, specialTokens: [String: Int], chatTemplate: String? = nil,
                              scoreHead: [Float]? = nil, dtype: SafeTensorsDType = .f32, to directory: URL) throws {
        let m = config.model
        let family = try family(for: m)
        try Checkpoint.checkRepresentable(model, as: dtype)
        var weights = theirTensors(model, family: family, dtype: dtype)
        var hfConfig = family == .gpt2 ? gpt2Config(m) : llamaConfig(m)
        hfConfig.set("torch_dtype", .string(dtype == .f16 ? "float16" : dtype == .bf16 ? "bfloat16" : "float32"))
        if let scoreHead {
            weights = weights.filter { $0.name != "lm_head.weight" } + [SafeTensor(name: "score.weight", shape: [1, m.dModel], values: scoreHead, dtype: dtype)]
            hfConfig.set("architectures", [.string(sequenceClassificationName(family))])
            hfConfig.set("id2label", ["0": "LABEL_0"])
            hfConfig.set("label2id", ["LABEL_0": 0])
        }
        let endIds = config.tokenizer.eosTokenIds.isEmpty
            ? SpecialTokenNames.endOfText.lazy.compactMap { specialTokens[$0] }.prefix(1).map { $0 } : config.tokenizer.eosTokenIds
        let startId = config.tokenizer.bosTokenId ?? SpecialTokenNames.beginning.lazy.compactMap { specialTokens[$0] }.first
        // One id as a number, several as a list (both are what transformers reads).
        let endValue: JSONValue = endIds.isEmpty ? nil : endIds.count == 1 ? .int(endIds[0]) : .array(endIds.map { .int($0) })
        var configObject = hfConfig
        // null, not absent: absent, transformers assumes its family's ids (GPT-2 50256, LLaMA 1 and 2),
        // which this vocabulary may not have.
        configObject.set("eos_token_id", endValue)
        configObject.set("bos_token_id", startId.map { .int($0) } ?? nil)
        var tokenizerConfig: JSONValue = ["tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": .int(m.contextLength),
                                          "clean_up_tokenization_spaces": false]
        func name(_ id: Int) -> String? { specialTokens.filter { $0.value == id }.keys.sorted().first }
        if let endId = endIds.first, let name = name(endId) { tokenizerConfig.set("eos_token", .string(name)) }
        if let startId, let name = name(startId) { tokenizerConfig.set("bos_token", .string(name)) }
        if let chatTemplate { tokenizerConfig.set("chat_template", .string(chatTemplate)) }
        let s = config.sample
        var generation: JSONValue = ["max_new_tokens": .int(s.maxNewTokens), "do_sample": .bool(s.strategy == .sample && !s.isGreedy),
                                     "repetition_penalty": .number(s.repetitionPenalty), "transformers_version": "4.0.0"]
        if s.strategy == .sample {
            generation.set("temperature", .number(s.temperature))
            generation.set("top_k", .int(s.topK))
            generation.set("top_p", .number(s.topP))
            if s.minP > 0 { generation.set("min_p", .number(s.minP)) }
        }
        if s.strategy == .beam {
            // early_stopping as transformers spells it: "never", true or false (its default, false, is a heuristic).
            generation.set("num_beams", .int(s.beamWidth)); generation.set("length_penalty", .number(s.lengthPenalty))
            generation.set("early_stopping", s.earlyStopping == .never ? "never" : .bool(s.earlyStopping == .onceWidthFinished))
        }
        if s.noRepeatNgram > 0 { generation.set("no_repeat_ngram_size", .int(s.noRepeatNgram)) }
        if s.minNewTokens > 0 { generation.set("min_new_tokens", .int(s.minNewTokens)) }
        if !endIds.isEmpty { generation.set("eos_token_id", endValue) }
        if let startId { generation.set("bos_token_id", .int(startId)) }
        try Checkpoint.replaceDirectoryAtomically(directory) { temporary in
            try SafeTensors.write(weights, metadata: ["format": "pt"], to: temporary.appendingPathComponent("model.safetensors"))
            try configObject.fileData.write(to: temporary.appendingPathComponent("config.json"))
            try tokenizerJSON.write(to: temporary.appendingPathComponent("tokenizer.json"))
            try tokenizerConfig.fileData.write(to: temporary.appendingPathComponent("tokenizer_config.json"))
            try generation.fileData.write(to: temporary.appendingPathComponent("generation_config.json"))
            if let chatTemplate { try Data(chatTemplate.utf8).write(to: temporary.appendingPathComponent(Checkpoint.chatTemplateFile)) }
        }
    }

    /// The transformers class of a reward model of this family.
    public static func sequenceClassificationName(_ family: Family) -> String {
        family == .gpt2 ? "GPT2ForSequenceClassification" : "LlamaForSequenceClassification"
    }

    static func gpt2Config(_ m: ModelConfig) -> JSONValue {
        let activation: String
        switch m.activation {
        case .gelu_tanh: activation = "gelu_new"
        case .gelu: activation = "gelu"
        case .relu: activation = "relu"
        case .sigmoid: activation = "sigmoid"
        case .tanh: activation = "tanh"
        default: activation = "silu"
        }
        return ["architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": .int(m.vocabSize!),
                "n_positions": .int(m.contextLength), "n_ctx": .int(m.contextLength), "n_embd": .int(m.dModel), "n_layer": .int(m.nLayer),
                "n_head": .int(m.nHead), "n_inner": .int(m.feedForwardSize), "activation_function": .string(activation),
                "resid_pdrop": .number(m.dropout), "embd_pdrop": .number(m.dropout), "attn_pdrop": 0.0, "layer_norm_epsilon": .number(m.normEps),
                "initializer_range": 0.02, "tie_word_embeddings": .bool(m.tieEmbeddings), "torch_dtype": "float32",
                "scale_attn_weights": true, "use_cache": true]
    }

    static func llamaConfig(_ m: ModelConfig) -> JSONValue {
        var config = llamaBaseConfig(m)
        if let scaling = m.ropeScaling { config.set("rope_scaling", ropeScalingObject(scaling, contextLength: m.contextLength)) }
        return config
    }

    /// rope_scaling as transformers reads it; yarn's original length written out.
    static func ropeScalingObject(_ s: RopeScaling, contextLength: Int) -> JSONValue {
        var resolved = s
        if s.type == .yarn, s.originalMaxPositionEmbeddings == nil { resolved.originalMaxPositionEmbeddings = contextLength }
        return resolved.json
    }

    /// A config.json's rope_scaling (or transformers 5's rope_parameters) as
    /// tinygpt's: nil for plain RoPE ("default"); `theta` takes its rope_theta.
    static func ropeScaling(from hf: JSONValue, path: String, theta: inout Double) throws -> RopeScaling? {
        guard let raw = hf["rope_scaling"] ?? hf["rope_parameters"], !raw.isNull else { return nil }
        guard let members = raw.members else { throw FormatError("\(path)/config.json: rope_scaling must be an object") }
        if let t = raw["rope_theta"] { theta = t.double ?? theta }
        if let p = raw["partial_rotary_factor"], p.double != 1 {
            throw FormatError("\(path)/config.json: rope_scaling.partial_rotary_factor \(p.summary) is not supported (tinygpt rotates every feature)")
        }
        let type = (raw["rope_type"] ?? raw["type"])?.string ?? "default"
        if type == "default" { return nil }
        guard RopeType(rawValue: type) != nil else {
            throw FormatError("\(path)/config.json: rope_scaling.rope_type '\(type)' is not supported (linear, dynamic, yarn)")
        }
        let object = JSONValue.object(members.filter { $0.key != "rope_theta" && $0.key != "partial_rotary_factor" })
        do {
            return try RopeScaling(json: object, key: "rope_scaling")
        } catch let error as ConfigError {
            throw FormatError("\(path)/config.json: \(error.description)")
        }
    }

    static func llamaBaseConfig(_ m: ModelConfig) -> JSONValue {
        ["architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": .int(m.vocabSize!),
         "hidden_size": .int(m.dModel), "intermediate_size": .int(m.feedForwardSize), "num_hidden_layers": .int(m.nLayer),
         "num_attention_heads": .int(m.nHead), "num_key_value_heads": .int(m.kvHeads), "head_dim": .int(m.headSize),
         "max_position_embeddings": .int(m.contextLength), "rms_norm_eps": .number(m.normEps), "rope_theta": .number(m.ropeTheta),
         "hidden_act": m.activation == .glu ? "sigmoid" : "silu", "tie_word_embeddings": .bool(m.tieEmbeddings), "attention_bias": .bool(m.bias), "mlp_bias": .bool(m.bias),
         "attention_dropout": 0.0, "initializer_range": 0.02, "torch_dtype": "float32", "use_cache": true]
    }

    // MARK: tensor names (the table, shared with GGUF, is TensorNames), for both directions

    /// One of their tensors and the tensors of ours it holds.
    struct TensorMapping {
        enum Layout {
            case same
            /// GPT-2's Conv1D stores (in, out): the transpose of our (out, in).
            case transposed
            /// LLaMA's q and k rows, head by head, in transformers' rotary order.
            case rotaryRows(heads: Int)
        }
        let theirs: String
        /// Ours, stacked by rows (GPT-2's c_attn holds q, k and v), and the rows of each.
        let ours: [String], rows: [Int]
        /// Columns of a matrix; nil for a vector.
        let cols: Int?
        var layout = Layout.same

        var ourShape: [Int] { cols.map { [rows.reduce(0, +), $0] } ?? [rows.reduce(0, +)] }
        var theirShape: [Int] {
            if case .transposed = layout, let cols { return [cols, rows.reduce(0, +)] }
            return ourShape
        }

        /// Our stacked values as theirs.
        func toTheirs(_ values: [Float]) -> [Float] {
            switch layout {
            case .same: return values
            case .transposed: return HuggingFace.transposed(values, rows: rows.reduce(0, +), cols: cols ?? 1)
            case .rotaryRows(let heads): return HuggingFace.permuteRows(values, heads: heads, headSize: rows[0] / heads, cols: cols ?? 1)
            }
        }
    }

    /// Every tensor of a `family` checkpoint of config `m`, and which of ours it holds.
    static func tensorMappings(_ family: Family, _ m: ModelConfig) -> [TensorMapping] {
        TensorNames.table(family, m).map { TensorMapping(theirs: $0.huggingFace, ours: $0.ours, rows: $0.rows, cols: $0.cols, layout: $0.layout) }
    }

    /// The model's parameters under their names, in their layout.
    static func theirTensors(_ model: GPT, family: Family, dtype: SafeTensorsDType = .f32) -> [SafeTensor] {
        let ours = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor) })
        return tensorMappings(family, model.config).map { t in
            let stacked = zip(t.ours, t.rows).flatMap { name, r in
                ours[name]?.toArray() ?? [Float](repeating: 0, count: r * (t.cols ?? 1))
            }
            return SafeTensor(name: t.theirs, shape: t.theirShape, values: t.toTheirs(stacked), dtype: dtype)
        }
    }

    static func transposed(_ values: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = values[r * cols + c] } }
        return out
    }

    /// Row order for one projection's heads: theirs[h·D + j] = ours[h·D + perm[j]].
    static func rotaryRowPermutation(headSize d: Int) -> [Int] {
        (0..<d).map { j in j < d / 2 ? 2 * j : 2 * (j - d / 2) + 1 }
    }

    /// Reorders rows (each `cols` wide) head by head: out row h·D + j = in row h·D + perm[j].
    static func permuteRows(_ values: [Float], heads: Int, headSize d: Int, cols: Int) -> [Float] {
        let perm = rotaryRowPermutation(headSize: d)
        var out = values
        for h in 0..<heads {
            for j in 0..<d {
                for c in 0..<cols { out[(h * d + j) * cols + c] = values[(h * d + perm[j]) * cols + c] }
            }
        }
        return out
    }

    // MARK: import

    /// A transformers directory (GPT-2 or LLaMA, one model.safetensors, a
    /// tokenizer.json) opened for import: its config as tinygpt's, and its
    /// weights file mapped and checked against that config (every tensor
    /// present with its shape and a float dtype, none unused), so that each of
    /// our tensors can then be produced one at a time, in its stored dtype.
    struct Source {
        let config: RunConfig
        let tokenizerJSON: Data
        let file: MappedSafeTensors
        /// Our tensors in parameter order: the mapping that holds each, and which of its parts it is.
        let tensors: [(mapping: TensorMapping, part: Int, entry: MappedSafeTensors.Entry)]
        /// F16 or BF16 when every weight used is stored so, else F32.
        let dtype: SafeTensorsDType
    }

    /// Reads a transformers directory into a model, its config, and the tokenizer's JSON.
    public static func load(from directory: URL) throws -> (model: GPT, config: RunConfig, tokenizerJSON: Data) {
        let source = try open(directory)
        let model = GPT(config: source.config.model, seed: 0)
        for (p, t) in zip(model.parameters, source.tensors) {
            let stored = try source.stored(t, as: t.entry.dtype)
            stored.withUnsafeBytes { SafeTensors.decode($0.baseAddress!, count: p.tensor.count, dtype: t.entry.dtype, into: p.tensor.data) }
        }
        return (model, source.config, source.tokenizerJSON)
    }

    static func open(_ directory: URL) throws -> Source {
        let fm = FileManager.default
        let path = directory.path
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError("'\(path)' is not a directory")
        }
        if fm.fileExists(atPath: directory.appendingPathComponent("model.safetensors.index.json").path) {
            throw FormatError("\(path) holds a sharded checkpoint (model.safetensors.index.json); only a single model.safetensors is supported")
        }
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: weightsURL.path) else {
            let bin = fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
            throw FormatError(bin ? "\(path) has only pytorch_model.bin (a pickle); save it with safe_serialization=True to get model.safetensors"
                                   : "\(path) has no model.safetensors")
        }
        guard let configData = fm.contents(atPath: directory.appendingPathComponent("config.json").path),
              let hf = try? JSONParser.parse(Array(configData)), hf.members != nil else {
            throw FormatError("\(path)/config.json is missing or not a JSON object")
        }
        guard let tokenizerJSON = fm.contents(atPath: directory.appendingPathComponent("tokenizer.json").path) else {
            throw FormatError("\(path) has no tokenizer.json (only the fast-tokenizer file format is supported)")
        }
        let modelType = hf["model_type"]?.string ?? "(none)"
        var run = RunConfig()
        var m = ModelConfig()
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = hf[key]?.int { return v }
            if let fallback, hf[key]?.isNull ?? true { return fallback }
            throw FormatError("\(path)/config.json: '\(key)' must be an integer, got \(hf[key]?.summary ?? "nothing")")
        }
        func number(_ key: String, _ fallback: Double) -> Double { hf[key]?.double ?? fallback }
        switch modelType {
        case "gpt2":
            m.dModel = try int("n_embd")
            m.nLayer = try int("n_layer"); m.nHead = try int("n_head"); m.nKVHead = m.nHead
            m.contextLength = try int("n_positions"); m.dFF = try int("n_inner", 4 * m.dModel)
            m.norm = .layerNorm; m.position = .learned; m.normEps = number("layer_norm_epsilon", 1e-5)
            switch hf["activation_function"]?.string ?? "gelu_new" {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": m.activation = .gelu_tanh
            case "gelu": m.activation = .gelu
            case "relu": m.activation = .relu
            case "silu", "swish": m.activation = .swish
            case "sigmoid": m.activation = .sigmoid
            case "tanh": m.activation = .tanh
            case let other: throw FormatError("\(path)/config.json: activation_function '\(other)' is not supported (gelu_new, gelu, relu, silu, sigmoid, tanh)")
            }
            m.bias = true
            m.tieEmbeddings = hf["tie_word_embeddings"]?.bool ?? true
        case "llama":
            m.dModel = try int("hidden_size")
            m.nLayer = try int("num_hidden_layers"); m.nHead = try int("num_attention_heads")
            m.nKVHead = try int("num_key_value_heads", m.nHead); m.dFF = try int("intermediate_size")
            m.contextLength = try int("max_position_embeddings")
            if let headDim = hf["head_dim"]?.int, headDim * m.nHead != m.dModel {
                throw FormatError("\(path)/config.json: head_dim \(headDim) × \(m.nHead) heads ≠ hidden_size \(m.dModel); tinygpt needs d_model = n_head · head size")
            }
            switch hf["hidden_act"]?.string ?? "silu" {
            case "silu": m.activation = .swiglu
            case "sigmoid": m.activation = .glu
            case let act: throw FormatError("\(path)/config.json: hidden_act '\(act)' is not supported (silu, sigmoid)")
            }
            m.norm = .rmsNorm; m.position = .rope
            m.normEps = number("rms_norm_eps", 1e-6); m.ropeTheta = number("rope_theta", 10_000)
            m.ropeScaling = try ropeScaling(from: hf, path: path, theta: &m.ropeTheta)
            m.bias = (hf["attention_bias"]?.bool ?? false) || (hf["mlp_bias"]?.bool ?? false)
            if (hf["attention_bias"]?.bool ?? false) != (hf["mlp_bias"]?.bool ?? false) {
                throw FormatError("\(path)/config.json: attention_bias and mlp_bias differ; tinygpt has one bias switch")
            }
            m.tieEmbeddings = hf["tie_word_embeddings"]?.bool ?? false
        default:
            throw FormatError("\(path)/config.json: model_type '\(modelType)' is not supported (gpt2, llama)")
        }
        m.vocabSize = try int("vocab_size")
        m.normPosition = .pre
        m.dropout = 0
        run.model = m
        run.tokenizer.type = (String(decoding: tokenizerJSON, as: UTF8.self).contains("\"WordLevel\"")) ? .char : .bpe
        run.tokenizer.vocabSize = max(m.vocabSize!, 256)
        (run.tokenizer.eosTokenIds, run.tokenizer.bosTokenId) = try declaredIds(in: directory, vocabulary: m.vocabSize!)
        do { try run.validate() } catch { throw FormatError("\(path)/config.json gives an invalid tinygpt config: \(error)") }

        let resolved = run.resolved()
        let file = try MappedSafeTensors(contentsOf: weightsURL)
        let tensors = try ourTensors(file, family: modelType == "gpt2" ? .gpt2 : .llama, config: resolved.model)
        return Source(config: resolved, tokenizerJSON: tokenizerJSON, file: file, tensors: tensors,
                      dtype: Checkpoint.storageDType(tensors.map(\.entry.dtype)))
    }


    /// Each of our tensors (in parameter order) with the mapping and source tensor that hold it.
    static func ourTensors(_ file: MappedSafeTensors, family: Family, config m: ModelConfig)
        throws -> [(mapping: TensorMapping, part: Int, entry: MappedSafeTensors.Entry)] {
        var byName: [String: (TensorMapping, Int, MappedSafeTensors.Entry)] = [:]
        var used = Set<String>()
        for t in tensorMappings(family, m) {
            // Some GPT-2 files name tensors without the "transformer." prefix.
            let unprefixed = t.theirs.hasPrefix("transformer.") ? String(t.theirs.dropFirst("transformer.".count)) : t.theirs
            let name = file[t.theirs] == nil && file[unprefixed] != nil ? unprefixed : t.theirs
            guard let e = file[name] else {
                throw FormatError("\(file.source): missing tensor '\(name)' (shape \(describeShape(t.theirShape)) expected from config.json)")
            }
            guard e.shape == t.theirShape else {
                throw FormatError("\(file.source): tensor '\(name)' has shape \(describeShape(e.shape)) but config.json implies \(describeShape(t.theirShape))")
            }
            guard e.dtype.isFloat else {
                throw FormatError("\(file.source): tensor '\(name)' is \(e.dtype.rawValue); only F32, F16 and BF16 weights can be imported")
            }
            used.insert(name)
            for (part, our) in t.ours.enumerated() { byName[our] = (t, part, e) }
        }
        try checkEveryTensorUsed(file, used: used, config: m)
        return m.parameterShapes.map { p in
            let (mapping, part, entry) = byName[p.name]!
            return (mapping, part, entry)
        }
    }

    /// A weight the model of config.json does not use is an error (a config
    /// with fewer layers than the file would otherwise drop the rest). Not
    /// weights: GPT-2's causal-mask buffers (`attn.bias`, `attn.masked_bias`)
    /// and LLaMA's `rotary_emb.inv_freq`, which transformers recomputes; and
    /// an `lm_head.weight` equal to the embedding it is tied to.
    static func checkEveryTensorUsed(_ file: MappedSafeTensors, used: Set<String>, config m: ModelConfig) throws {
        let buffers = [".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq"]
        var unused = file.tensors.filter { !used.contains($0.name) && !buffers.contains(where: $0.name.hasSuffix) }
        if m.tieEmbeddings, let head = unused.firstIndex(where: { $0.name == "lm_head.weight" }),
           let embedding = ["transformer.wte.weight", "wte.weight", "model.embed_tokens.weight"].lazy.compactMap({ file[$0] }).first,
           embedding.shape == unused[head].shape, embedding.dtype.isFloat, unused[head].dtype.isFloat,
           embedding.dtype == unused[head].dtype ? file.bytes(embedding).elementsEqual(file.bytes(unused[head]))
                                                 : SafeTensors.floats(file.bytes(embedding), from: 0, count: embedding.count, dtype: embedding.dtype)
                                                   == SafeTensors.floats(file.bytes(unused[head]), from: 0, count: embedding.count, dtype: unused[head].dtype) {
            unused.remove(at: head)
        }
        guard let first = unused.first else { return }
        let more = unused.count > 1 ? " and \(unused.count - 1) more (\(unused.dropFirst().prefix(3).map { "'\($0.name)'" }.joined(separator: ", "))\(unused.count > 4 ? ", …" : ""))" : ""
        throw FormatError("\(file.source): tensor '\(first.name)' \(describeShape(first.shape))\(more) \(unused.count > 1 ? "are" : "is") not used by the model config.json describes "
                              + "(\(m.nLayer) layers, d_model \(m.dModel)\(m.tieEmbeddings ? ", tied embeddings" : "")); config.json and the weights disagree")
    }
}

extension HuggingFace.Source {
    /// One of our tensors in `dtype`, gathered from its source tensor in the
    /// mapped file (split, transposed or row-permuted as the mapping says)
    /// without converting when the dtypes agree; refuses a non-finite value.
    /// The source tensor's pages leave memory afterwards (they reload if read again).
    func stored(_ t: (mapping: HuggingFace.TensorMapping, part: Int, entry: MappedSafeTensors.Entry), as dtype: SafeTensorsDType) throws -> [UInt8] {
        let m = t.mapping, rows = m.rows[t.part], cols = m.cols ?? 1
        let rowOffset = m.rows[..<t.part].reduce(0, +), stackedRows = m.rows.reduce(0, +)
        // Source element of our (r, c), as a flat index of their tensor.
        var sourceRow: [Int] = Array(rowOffset..<(rowOffset + rows))
        if case .rotaryRows(let heads) = m.layout {
            // Our row h·D + perm[j] is their row h·D + j.
            let d = rows / heads, perm = HuggingFace.rotaryRowPermutation(headSize: d)
            for h in 0..<heads { for j in 0..<d { sourceRow[h * d + perm[j]] = h * d + j } }
        }
        let transposed: Bool
        if case .transposed = m.layout { transposed = true } else { transposed = false }
        let source = file.bytes(t.entry).baseAddress!, size = t.entry.dtype.byteCount, count = rows * cols
        var gathered = [UInt8](repeating: 0, count: count * size)
        gathered.withUnsafeMutableBytes { out in
            let out = out.baseAddress!
            for r in 0..<rows {
                if transposed {
                    for c in 0..<cols { (out + (r * cols + c) * size).copyMemory(from: source + (c * stackedRows + sourceRow[r]) * size, byteCount: size) }
                } else {
                    (out + r * cols * size).copyMemory(from: source + sourceRow[r] * cols * size, byteCount: cols * size)
                }
            }
        }
        file.release(t.entry)
        let floats = gathered.withUnsafeBytes { SafeTensors.floats($0, from: 0, count: count, dtype: t.entry.dtype) }
        if let bad = floats.firstIndex(where: { !$0.isFinite }) {
            throw FormatError("\(file.source): tensor '\(t.entry.name)' (our '\(t.mapping.ours[t.part])') holds a non-finite value (\(floats[bad]) at our flat index \(bad)); the checkpoint is damaged or came from a diverged run")
        }
        if dtype == t.entry.dtype { return gathered }
        return floats.withUnsafeBufferPointer { x in
            [UInt8](unsafeUninitializedCapacity: count * dtype.byteCount) { o, initialized in
                if count > 0 {
                    if let half = dtype.halfFloat { half.encode(x.baseAddress!, count: count, into: o.baseAddress!) }
                    else { UnsafeMutableRawPointer(o.baseAddress!).copyMemory(from: x.baseAddress!, byteCount: 4 * count) }
                }
                initialized = count * dtype.byteCount
            }
        }
    }
}

