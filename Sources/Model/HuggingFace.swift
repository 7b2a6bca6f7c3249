import Foundation
import Files
import Kernels
import Autograd
import NN

/// Export to and import from Hugging Face `transformers` checkpoints for the
/// two families that can represent a tinygpt model exactly:
///
/// - GPT-2 (`GPT2LMHeadModel`): pre-LayerNorm, learned positions, MHA, a plain
///   feed-forward. GPT-2's linear layers are `Conv1D`, whose weights are
///   stored (in, out): the transpose of ours; q, k and v are one `c_attn`.
///   A config without biases exports zero biases (the same function).
/// - LLaMA (`LlamaForCausalLM`): pre-RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA.
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
        if ![.relu, .gelu, .gelu_tanh, .swish].contains(m.activation) { gpt2.append("a plain activation (got \(m.activation.rawValue))") }
        if m.norm != .rmsNorm { llama.append("norm rmsnorm (got \(m.norm.rawValue))") }
        if m.position != .rope { llama.append("position rope (got \(m.position.rawValue))") }
        if m.activation != .swiglu { llama.append("activation swiglu (got \(m.activation.rawValue))") }
        if m.normPosition == .deepnorm {
            // Neither family has a post-norm block, let alone DeepNorm's α·x residual.
            throw InteropError("model.norm_position = deepnorm cannot be exported: transformers' GPT-2 and LLaMA are pre-norm and have no post-norm residual LN(α·x + f(x)) (α = (2N)^(1/4)), so no config.json reproduces it")
        }
        if m.normPosition != .pre {
            gpt2.append("norm_position pre (got \(m.normPosition.rawValue))")
            llama.append("norm_position pre (got \(m.normPosition.rawValue))")
        }
        if gpt2.isEmpty { return .gpt2 }
        if llama.isEmpty { return .llama }
        throw InteropError("no transformers family represents this config: GPT-2 needs \(gpt2.joined(separator: ", ")); LLaMA needs \(llama.joined(separator: ", "))")
    }

    // MARK: export

    /// Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json
    /// and generation_config.json so that `AutoModelForCausalLM` and
    /// `AutoTokenizer` load `directory`.
    public static func export(model: GPT, config: RunConfig, tokenizerJSON: Data, specialTokens: [String: Int], to directory: URL) throws {
        let m = config.model
        let family = try family(for: m)
        let weights = family == .gpt2 ? gpt2Weights(model) : llamaWeights(model)
        let hfConfig = family == .gpt2 ? gpt2Config(m) : llamaConfig(m)
        let endId = SpecialTokenNames.endOfText.lazy.compactMap { specialTokens[$0] }.first
        let startId = SpecialTokenNames.beginning.lazy.compactMap { specialTokens[$0] }.first
        var configObject = hfConfig
        if let endId { configObject["eos_token_id"] = endId }
        if let startId { configObject["bos_token_id"] = startId }
        var tokenizerConfig: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": m.contextLength,
                                              "clean_up_tokenization_spaces": false]
        if let endId, let name = specialTokens.first(where: { $0.value == endId })?.key { tokenizerConfig["eos_token"] = name }
        if let startId, let name = specialTokens.first(where: { $0.value == startId })?.key { tokenizerConfig["bos_token"] = name }
        let s = config.sample
        var generation: [String: Any] = ["max_new_tokens": s.maxNewTokens, "do_sample": s.strategy == .sample && !s.isGreedy,
                                         "repetition_penalty": s.repetitionPenalty, "transformers_version": "4.0.0"]
        if s.strategy == .sample {
            generation["temperature"] = s.temperature
            generation["top_k"] = s.topK
            generation["top_p"] = s.topP
            if s.minP > 0 { generation["min_p"] = s.minP }
        }
        if s.strategy == .beam {
            // "never": the exact stopping rule tinygpt's beam search uses (transformers' default, false, is a heuristic).
            generation["num_beams"] = s.beamWidth; generation["length_penalty"] = s.lengthPenalty; generation["early_stopping"] = "never"
        }
        if s.noRepeatNgram > 0 { generation["no_repeat_ngram_size"] = s.noRepeatNgram }
        if let endId { generation["eos_token_id"] = endId }
        if let startId { generation["bos_token_id"] = startId }
        try Checkpoint.replaceDirectoryAtomically(directory) { temporary in
            try SafeTensors.write(weights, metadata: ["format": "pt"], to: temporary.appendingPathComponent("model.safetensors"))
            try json(configObject).write(to: temporary.appendingPathComponent("config.json"))
            try tokenizerJSON.write(to: temporary.appendingPathComponent("tokenizer.json"))
            try json(tokenizerConfig).write(to: temporary.appendingPathComponent("tokenizer_config.json"))
            try json(generation).write(to: temporary.appendingPathComponent("generation_config.json"))
        }
    }

    static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    static func gpt2Config(_ m: ModelConfig) -> [String: Any] {
        let activation: String
        switch m.activation {
        case .gelu_tanh: activation = "gelu_new"
        case .gelu: activation = "gelu"
        case .relu: activation = "relu"
        default: activation = "silu"
        }
        return ["architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": m.vocabSize!,
                "n_positions": m.contextLength, "n_ctx": m.contextLength, "n_embd": m.dModel, "n_layer": m.nLayer,
                "n_head": m.nHead, "n_inner": m.feedForwardSize, "activation_function": activation,
                "resid_pdrop": m.dropout, "embd_pdrop": m.dropout, "attn_pdrop": 0.0, "layer_norm_epsilon": m.normEps,
                "initializer_range": 0.02, "tie_word_embeddings": m.tieEmbeddings, "torch_dtype": "float32",
                "scale_attn_weights": true, "use_cache": true]
    }

    static func llamaConfig(_ m: ModelConfig) -> [String: Any] {
        var config = llamaBaseConfig(m)
        if let scaling = m.ropeScaling { config["rope_scaling"] = ropeScalingObject(scaling, contextLength: m.contextLength) }
        return config
    }

    /// rope_scaling as transformers reads it; yarn's original length written out.
    static func ropeScalingObject(_ s: RopeScaling, contextLength: Int) -> [String: Any] {
        var resolved = s
        if s.type == .yarn, s.originalMaxPositionEmbeddings == nil { resolved.originalMaxPositionEmbeddings = contextLength }
        let object = (try? JSONSerialization.jsonObject(with: Data(resolved.json.serialized().utf8))) as? [String: Any]
        return object ?? [:]
    }

    /// A config.json's rope_scaling (or transformers 5's rope_parameters) as
    /// tinygpt's: nil for plain RoPE ("default"); `theta` takes its rope_theta.
    static func ropeScaling(from hf: [String: Any], path: String, theta: inout Double) throws -> RopeScaling? {
        guard let raw = hf["rope_scaling"] ?? hf["rope_parameters"], !(raw is NSNull) else { return nil }
        guard var object = raw as? [String: Any] else { throw InteropError("\(path)/config.json: rope_scaling must be an object") }
        if let t = object.removeValue(forKey: "rope_theta") { theta = (t as? Double) ?? (t as? Int).map(Double.init) ?? theta }
        if let p = object.removeValue(forKey: "partial_rotary_factor"), (p as? Double ?? (p as? Int).map(Double.init)) != 1 {
            throw InteropError("\(path)/config.json: rope_scaling.partial_rotary_factor \(p) is not supported (tinygpt rotates every feature)")
        }
        let type = (object["rope_type"] ?? object["type"]) as? String ?? "default"
        if type == "default" { return nil }
        guard RopeType(rawValue: type) != nil else {
            throw InteropError("\(path)/config.json: rope_scaling.rope_type '\(type)' is not supported (linear, dynamic, yarn)")
        }
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            return try RopeScaling(json: try JSONParser.parse(Array(data)), key: "rope_scaling")
        } catch let error as ConfigError {
            throw InteropError("\(path)/config.json: \(error.description)")
        }
    }

    static func llamaBaseConfig(_ m: ModelConfig) -> [String: Any] {
        ["architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": m.vocabSize!,
         "hidden_size": m.dModel, "intermediate_size": m.feedForwardSize, "num_hidden_layers": m.nLayer,
         "num_attention_heads": m.nHead, "num_key_value_heads": m.kvHeads, "head_dim": m.headSize,
         "max_position_embeddings": m.contextLength, "rms_norm_eps": m.normEps, "rope_theta": m.ropeTheta,
         "hidden_act": "silu", "tie_word_embeddings": m.tieEmbeddings, "attention_bias": m.bias, "mlp_bias": m.bias,
         "attention_dropout": 0.0, "initializer_range": 0.02, "torch_dtype": "float32", "use_cache": true]
    }

    /// Our parameters by name, as (shape, values).
    static func table(_ model: GPT) -> [String: (shape: [Int], values: [Float])] {
        Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, ($0.tensor.shape, $0.tensor.toArray())) })
    }

    static func transposed(_ values: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = values[r * cols + c] } }
        return out
    }

    static func gpt2Weights(_ model: GPT) -> [SafeTensor] {
        let p = table(model), m = model.config
        let (c, f) = (m.dModel, m.feedForwardSize)
        func get(_ name: String, _ shape: [Int]) -> [Float] { p[name]?.values ?? [Float](repeating: 0, count: shape.reduce(1, *)) }
        var out = [SafeTensor(name: "transformer.wte.weight", shape: [m.vocabSize!, c], values: get("token_embedding.weight", [0])),
                   SafeTensor(name: "transformer.wpe.weight", shape: [m.contextLength, c], values: get("position_embedding.weight", [0]))]
        for i in 0..<m.nLayer {
            let ours = "blocks.\(i).", theirs = "transformer.h.\(i)."
            let qkv = get(ours + "attn.q.weight", [c, c]) + get(ours + "attn.k.weight", [c, c]) + get(ours + "attn.v.weight", [c, c])
            out += [
                SafeTensor(name: theirs + "ln_1.weight", shape: [c], values: get(ours + "attn_norm.weight", [c])),
                SafeTensor(name: theirs + "ln_1.bias", shape: [c], values: get(ours + "attn_norm.bias", [c])),
                SafeTensor(name: theirs + "attn.c_attn.weight", shape: [c, 3 * c], values: transposed(qkv, rows: 3 * c, cols: c)),
                SafeTensor(name: theirs + "attn.c_attn.bias", shape: [3 * c],
                           values: get(ours + "attn.q.bias", [c]) + get(ours + "attn.k.bias", [c]) + get(ours + "attn.v.bias", [c])),
                SafeTensor(name: theirs + "attn.c_proj.weight", shape: [c, c], values: transposed(get(ours + "attn.out.weight", [c, c]), rows: c, cols: c)),
                SafeTensor(name: theirs + "attn.c_proj.bias", shape: [c], values: get(ours + "attn.out.bias", [c])),
                SafeTensor(name: theirs + "ln_2.weight", shape: [c], values: get(ours + "ffn_norm.weight", [c])),
                SafeTensor(name: theirs + "ln_2.bias", shape: [c], values: get(ours + "ffn_norm.bias", [c])),
                SafeTensor(name: theirs + "mlp.c_fc.weight", shape: [c, f], values: transposed(get(ours + "ffn.up.weight", [f, c]), rows: f, cols: c)),
                SafeTensor(name: theirs + "mlp.c_fc.bias", shape: [f], values: get(ours + "ffn.up.bias", [f])),
                SafeTensor(name: theirs + "mlp.c_proj.weight", shape: [f, c], values: transposed(get(ours + "ffn.down.weight", [c, f]), rows: c, cols: f)),
                SafeTensor(name: theirs + "mlp.c_proj.bias", shape: [c], values: get(ours + "ffn.down.bias", [c])),
            ]
        }
        out += [SafeTensor(name: "transformer.ln_f.weight", shape: [c], values: get("final_norm.weight", [c])),
                SafeTensor(name: "transformer.ln_f.bias", shape: [c], values: get("final_norm.bias", [c]))]
        if !m.tieEmbeddings { out.append(SafeTensor(name: "lm_head.weight", shape: [m.vocabSize!, c], values: get("lm_head.weight", [0]))) }
        return out
    }

    /// Row order for one projection's heads: theirs[h·D + j] = ours[h·D + perm[j]].
    static func rotaryRowPermutation(headSize d: Int) -> [Int] {
        (0..<d).map { j in j < d / 2 ? 2 * j : 2 * (j - d / 2) + 1 }
    }

    /// Reorders rows (each `cols` wide) head by head: out row h·D + j = in row h·D + perm[j].
    static func permuteRows(_ values: [Float], heads: Int, headSize d: Int, cols: Int, inverse: Bool) -> [Float] {
        let perm = rotaryRowPermutation(headSize: d)
        var out = values
        for h in 0..<heads {
            for j in 0..<d {
                let (to, from) = inverse ? (h * d + perm[j], h * d + j) : (h * d + j, h * d + perm[j])
                for c in 0..<cols { out[to * cols + c] = values[from * cols + c] }
            }
        }
        return out
    }

    static func llamaWeights(_ model: GPT) -> [SafeTensor] {
        let p = table(model), m = model.config
        let (c, d) = (m.dModel, m.headSize)
        var out = [SafeTensor(name: "model.embed_tokens.weight", shape: p["token_embedding.weight"]!.shape, values: p["token_embedding.weight"]!.values)]
        for i in 0..<m.nLayer {
            let ours = "blocks.\(i).", theirs = "model.layers.\(i)."
            func put(_ name: String, _ from: String, permuteHeads: Int? = nil) {
                guard let (shape, values) = p[ours + from] else { return }
                let cols = shape.count == 2 ? shape[1] : 1
                let v = permuteHeads.map { permuteRows(values, heads: $0, headSize: d, cols: cols, inverse: false) } ?? values
                out.append(SafeTensor(name: theirs + name, shape: shape, values: v))
            }
            put("input_layernorm.weight", "attn_norm.weight")
            put("self_attn.q_proj.weight", "attn.q.weight", permuteHeads: m.nHead)
            put("self_attn.q_proj.bias", "attn.q.bias", permuteHeads: m.nHead)
            put("self_attn.k_proj.weight", "attn.k.weight", permuteHeads: m.kvHeads)
            put("self_attn.k_proj.bias", "attn.k.bias", permuteHeads: m.kvHeads)
            put("self_attn.v_proj.weight", "attn.v.weight"); put("self_attn.v_proj.bias", "attn.v.bias")
            put("self_attn.o_proj.weight", "attn.out.weight"); put("self_attn.o_proj.bias", "attn.out.bias")
            put("post_attention_layernorm.weight", "ffn_norm.weight")
            put("mlp.gate_proj.weight", "ffn.gate.weight"); put("mlp.gate_proj.bias", "ffn.gate.bias")
            put("mlp.up_proj.weight", "ffn.up.weight"); put("mlp.up_proj.bias", "ffn.up.bias")
            put("mlp.down_proj.weight", "ffn.down.weight"); put("mlp.down_proj.bias", "ffn.down.bias")
        }
        out.append(SafeTensor(name: "model.norm.weight", shape: [c], values: p["final_norm.weight"]!.values))
        if !m.tieEmbeddings { out.append(SafeTensor(name: "lm_head.weight", shape: p["lm_head.weight"]!.shape, values: p["lm_head.weight"]!.values)) }
        return out
    }

    // MARK: import

    /// Reads a transformers directory (GPT-2 or LLaMA, one model.safetensors,
    /// a tokenizer.json) into a model, its config, and the tokenizer's JSON.
    public static func load(from directory: URL) throws -> (model: GPT, config: RunConfig, tokenizerJSON: Data) {
        let fm = FileManager.default
        let path = directory.path
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InteropError("'\(path)' is not a directory")
        }
        if fm.fileExists(atPath: directory.appendingPathComponent("model.safetensors.index.json").path) {
            throw InteropError("\(path) holds a sharded checkpoint (model.safetensors.index.json); only a single model.safetensors is supported")
        }
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: weightsURL.path) else {
            let bin = fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
            throw InteropError(bin ? "\(path) has only pytorch_model.bin (a pickle); save it with safe_serialization=True to get model.safetensors"
                                   : "\(path) has no model.safetensors")
        }
        guard let configData = fm.contents(atPath: directory.appendingPathComponent("config.json").path),
              let hf = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any] else {
            throw InteropError("\(path)/config.json is missing or not a JSON object")
        }
        guard let tokenizerJSON = fm.contents(atPath: directory.appendingPathComponent("tokenizer.json").path) else {
            throw InteropError("\(path) has no tokenizer.json (only the fast-tokenizer file format is supported)")
        }
        let modelType = hf["model_type"] as? String ?? "(none)"
        var run = RunConfig()
        var m = ModelConfig()
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = hf[key] as? Int { return v }
            if let fallback, hf[key] == nil || hf[key] is NSNull { return fallback }
            throw InteropError("\(path)/config.json: '\(key)' must be an integer, got \(hf[key].map { "\($0)" } ?? "nothing")")
        }
        func number(_ key: String, _ fallback: Double) -> Double { (hf[key] as? Double) ?? (hf[key] as? Int).map(Double.init) ?? fallback }
        switch modelType {
        case "gpt2":
            m.dModel = try int("n_embd")
            m.nLayer = try int("n_layer"); m.nHead = try int("n_head"); m.nKVHead = m.nHead
            m.contextLength = try int("n_positions"); m.dFF = try int("n_inner", 4 * m.dModel)
            m.norm = .layerNorm; m.position = .learned; m.normEps = number("layer_norm_epsilon", 1e-5)
            switch hf["activation_function"] as? String ?? "gelu_new" {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": m.activation = .gelu_tanh
            case "gelu": m.activation = .gelu
            case "relu": m.activation = .relu
            case "silu", "swish": m.activation = .swish
            case let other: throw InteropError("\(path)/config.json: activation_function '\(other)' is not supported (gelu_new, gelu, relu, silu)")
            }
            m.bias = true
            m.tieEmbeddings = hf["tie_word_embeddings"] as? Bool ?? true
        case "llama":
            m.dModel = try int("hidden_size")
            m.nLayer = try int("num_hidden_layers"); m.nHead = try int("num_attention_heads")
            m.nKVHead = try int("num_key_value_heads", m.nHead); m.dFF = try int("intermediate_size")
            m.contextLength = try int("max_position_embeddings")
            if let headDim = hf["head_dim"] as? Int, headDim * m.nHead != m.dModel {
                throw InteropError("\(path)/config.json: head_dim \(headDim) × \(m.nHead) heads ≠ hidden_size \(m.dModel); tinygpt needs d_model = n_head · head size")
            }
            if let act = hf["hidden_act"] as? String, act != "silu" { throw InteropError("\(path)/config.json: hidden_act '\(act)' is not supported (silu)") }
            m.norm = .rmsNorm; m.position = .rope; m.activation = .swiglu
            m.normEps = number("rms_norm_eps", 1e-6); m.ropeTheta = number("rope_theta", 10_000)
            m.ropeScaling = try ropeScaling(from: hf, path: path, theta: &m.ropeTheta)
            m.bias = (hf["attention_bias"] as? Bool ?? false) || (hf["mlp_bias"] as? Bool ?? false)
            if (hf["attention_bias"] as? Bool ?? false) != (hf["mlp_bias"] as? Bool ?? false) {
                throw InteropError("\(path)/config.json: attention_bias and mlp_bias differ; tinygpt has one bias switch")
            }
            m.tieEmbeddings = hf["tie_word_embeddings"] as? Bool ?? false
        default:
            throw InteropError("\(path)/config.json: model_type '\(modelType)' is not supported (gpt2, llama)")
        }
        m.vocabSize = try int("vocab_size")
        m.normPosition = .pre
        m.dropout = 0
        run.model = m
        run.tokenizer.type = (String(decoding: tokenizerJSON, as: UTF8.self).contains("\"WordLevel\"")) ? .char : .bpe
        run.tokenizer.vocabSize = max(m.vocabSize!, 256)
        do { try run.validate() } catch { throw InteropError("\(path)/config.json gives an invalid tinygpt config: \(error)") }

        let file = try SafeTensors.read(from: weightsURL)
        let model = GPT(config: run.model, seed: 0)
        let converted = modelType == "gpt2" ? try fromGPT2(file, model: model, source: weightsURL.path)
                                             : try fromLlama(file, model: model, source: weightsURL.path)
        try Checkpoint.assign(converted, to: model, source: weightsURL.path)
        return (model, run.resolved(), tokenizerJSON)
    }

    static func entry(_ file: SafeTensorsFile, _ name: String, _ shape: [Int], _ source: String) throws -> [Float] {
        guard let e = file[name] else { throw InteropError("\(source): missing tensor '\(name)' (shape \(describeShape(shape)) expected from config.json)") }
        guard e.shape == shape else {
            throw InteropError("\(source): tensor '\(name)' has shape \(describeShape(e.shape)) but config.json implies \(describeShape(shape))")
        }
        guard e.dtype.byteCount > 1 else { throw InteropError("\(source): tensor '\(name)' is \(e.dtype.rawValue); only F32, F16 and BF16 weights can be imported") }
        return e.values
    }

    static func fromGPT2(_ file: SafeTensorsFile, model: GPT, source: String) throws -> SafeTensorsFile {
        let m = model.config
        let (c, f) = (m.dModel, m.feedForwardSize)
        // Some files name tensors without the "transformer." prefix.
        let prefix = file["transformer.wte.weight"] != nil ? "transformer." : ""
        func get(_ name: String, _ shape: [Int]) throws -> [Float] { try entry(file, prefix + name, shape, source) }
        var out: [SafeTensorsFile.Entry] = []
        func add(_ name: String, _ shape: [Int], _ values: [Float]) { out.append(.init(name: name, dtype: .f32, shape: shape, values: values)) }
        add("token_embedding.weight", [m.vocabSize!, c], try get("wte.weight", [m.vocabSize!, c]))
        add("position_embedding.weight", [m.contextLength, c], try get("wpe.weight", [m.contextLength, c]))
        for i in 0..<m.nLayer {
            let ours = "blocks.\(i).", theirs = "h.\(i)."
            let qkv = transposed(try get(theirs + "attn.c_attn.weight", [c, 3 * c]), rows: c, cols: 3 * c)  // (3C, C)
            let qkvBias = try get(theirs + "attn.c_attn.bias", [3 * c])
            add(ours + "attn_norm.weight", [c], try get(theirs + "ln_1.weight", [c]))
            add(ours + "attn_norm.bias", [c], try get(theirs + "ln_1.bias", [c]))
            for (k, name) in ["q", "k", "v"].enumerated() {
                add(ours + "attn.\(name).weight", [c, c], Array(qkv[(k * c * c)..<((k + 1) * c * c)]))
                add(ours + "attn.\(name).bias", [c], Array(qkvBias[(k * c)..<((k + 1) * c)]))
            }
            add(ours + "attn.out.weight", [c, c], transposed(try get(theirs + "attn.c_proj.weight", [c, c]), rows: c, cols: c))
            add(ours + "attn.out.bias", [c], try get(theirs + "attn.c_proj.bias", [c]))
            add(ours + "ffn_norm.weight", [c], try get(theirs + "ln_2.weight", [c]))
            add(ours + "ffn_norm.bias", [c], try get(theirs + "ln_2.bias", [c]))
            add(ours + "ffn.up.weight", [f, c], transposed(try get(theirs + "mlp.c_fc.weight", [c, f]), rows: c, cols: f))
            add(ours + "ffn.up.bias", [f], try get(theirs + "mlp.c_fc.bias", [f]))
            add(ours + "ffn.down.weight", [c, f], transposed(try get(theirs + "mlp.c_proj.weight", [f, c]), rows: f, cols: c))
            add(ours + "ffn.down.bias", [c], try get(theirs + "mlp.c_proj.bias", [c]))
        }
        add("final_norm.weight", [c], try get("ln_f.weight", [c]))
        add("final_norm.bias", [c], try get("ln_f.bias", [c]))
        if !m.tieEmbeddings { add("lm_head.weight", [m.vocabSize!, c], try entry(file, "lm_head.weight", [m.vocabSize!, c], source)) }
        return SafeTensorsFile(metadata: [:], tensors: out)
    }

    static func fromLlama(_ file: SafeTensorsFile, model: GPT, source: String) throws -> SafeTensorsFile {
        let m = model.config
        let (c, f, d, kv) = (m.dModel, m.feedForwardSize, m.headSize, m.kvHeads * m.headSize)
        var out: [SafeTensorsFile.Entry] = []
        func add(_ name: String, _ shape: [Int], _ values: [Float]) { out.append(.init(name: name, dtype: .f32, shape: shape, values: values)) }
        add("token_embedding.weight", [m.vocabSize!, c], try entry(file, "model.embed_tokens.weight", [m.vocabSize!, c], source))
        for i in 0..<m.nLayer {
            let ours = "blocks.\(i).", theirs = "model.layers.\(i)."
            func get(_ name: String, _ shape: [Int]) throws -> [Float] { try entry(file, theirs + name, shape, source) }
            func unpermute(_ v: [Float], _ heads: Int, _ cols: Int) -> [Float] { permuteRows(v, heads: heads, headSize: d, cols: cols, inverse: true) }
            add(ours + "attn_norm.weight", [c], try get("input_layernorm.weight", [c]))
            add(ours + "attn.q.weight", [c, c], unpermute(try get("self_attn.q_proj.weight", [c, c]), m.nHead, c))
            add(ours + "attn.k.weight", [kv, c], unpermute(try get("self_attn.k_proj.weight", [kv, c]), m.kvHeads, c))
            add(ours + "attn.v.weight", [kv, c], try get("self_attn.v_proj.weight", [kv, c]))
            add(ours + "attn.out.weight", [c, c], try get("self_attn.o_proj.weight", [c, c]))
            add(ours + "ffn_norm.weight", [c], try get("post_attention_layernorm.weight", [c]))
            add(ours + "ffn.gate.weight", [f, c], try get("mlp.gate_proj.weight", [f, c]))
            add(ours + "ffn.up.weight", [f, c], try get("mlp.up_proj.weight", [f, c]))
            add(ours + "ffn.down.weight", [c, f], try get("mlp.down_proj.weight", [c, f]))
            if m.bias {
                add(ours + "attn.q.bias", [c], unpermute(try get("self_attn.q_proj.bias", [c]), m.nHead, 1))
                add(ours + "attn.k.bias", [kv], unpermute(try get("self_attn.k_proj.bias", [kv]), m.kvHeads, 1))
                add(ours + "attn.v.bias", [kv], try get("self_attn.v_proj.bias", [kv]))
                add(ours + "attn.out.bias", [c], try get("self_attn.o_proj.bias", [c]))
                add(ours + "ffn.gate.bias", [f], try get("mlp.gate_proj.bias", [f]))
                add(ours + "ffn.up.bias", [f], try get("mlp.up_proj.bias", [f]))
                add(ours + "ffn.down.bias", [c], try get("mlp.down_proj.bias", [c]))
            }
        }
        add("final_norm.weight", [c], try entry(file, "model.norm.weight", [c], source))
        if !m.tieEmbeddings { add("lm_head.weight", [m.vocabSize!, c], try entry(file, "lm_head.weight", [m.vocabSize!, c], source)) }
        return SafeTensorsFile(metadata: [:], tensors: out)
    }
}

public struct InteropError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
