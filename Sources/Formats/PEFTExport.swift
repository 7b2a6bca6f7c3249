import Foundation
import Files
import Autograd
import NN
import Config
import Model

/// Export of an adapter checkpoint as a PEFT LoRA adapter
/// (`adapter_model.safetensors` + `adapter_config.json`) for the transformers
/// model `export --format hf` writes from the same base. PEFT adds
/// (lora_alpha / r) · lora_B(lora_A(x)) to each target module's output, with
/// lora_A.weight (r, in) and lora_B.weight (out, r), as tinygpt's adapters do.
///
/// - LLaMA: one module per projection (q_proj … down_proj). The rows of q and
///   k are permuted per head on export (see `HuggingFace`), so B's rows are too.
/// - GPT-2: q, k and v are one Conv1D `c_attn` (3C outputs). Adapters on n of
///   them become one adapter of rank n·r: A stacks their A's (n·r, C), B places
///   each B in its rows and columns (3C, n·r) and zero elsewhere, and alpha
///   becomes n·alpha (`rank_pattern` / `alpha_pattern`), so the scale stays
///   alpha/r and B·A is exactly the sum of the separate updates. The other
///   modules are `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`; Conv1D stores (in,
///   out), hence `fan_in_fan_out: true` (used by PEFT only when merging).
extension HuggingFace {
    public static let peftWeightsFile = "adapter_model.safetensors", peftConfigFile = "adapter_config.json"

    public static func exportPEFT(model: GPT, config: RunConfig, baseName: String?, to directory: URL) throws {
        if let method = model.unmergeableMethod {
            guard method != .adapter else { throw FormatError(unexportable(.adapter, format: "peft")) }
            return try exportPromptLearning(model: model, config: config, baseName: baseName, to: directory)
        }
        guard let lora = config.lora, model.hasAdapters else {
            throw FormatError("--format peft needs an adapter checkpoint (a run trained with a lora section); this checkpoint has no adapters: use --format hf")
        }
        let m = config.model
        let family = try family(for: m)
        let adapters = Dictionary(uniqueKeysWithValues: model.adapters.map { ($0.weightName, $0.adapter) })
        var tensors: [SafeTensor] = []
        var modules: [String] = []
        var rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]
        func add(_ module: String, a: [Float], aShape: [Int], b: [Float], bShape: [Int]) {
            tensors.append(SafeTensor(name: "base_model.model.\(module).lora_A.weight", shape: aShape, values: a))
            tensors.append(SafeTensor(name: "base_model.model.\(module).lora_B.weight", shape: bShape, values: b))
        }
        let r = lora.rank
        for i in 0..<m.nLayer {
            let ours = "blocks.\(i)."
            func adapter(_ target: LoRATarget) -> LoRAAdapter? {
                let name: String
                switch target {
                case .q: name = "attn.q"
                case .k: name = "attn.k"
                case .v: name = "attn.v"
                case .o: name = "attn.out"
                case .gate: name = "ffn.gate"
                case .up: name = "ffn.up"
                case .down: name = "ffn.down"
                }
                return adapters[ours + name + ".weight"]
            }
            switch family {
            case .llama:
                for target in lora.targetKinds {
                    guard let adapter = adapter(target) else { continue }
                    let module = "model.layers.\(i).\([.gate, .up, .down].contains(target) ? "mlp" : "self_attn").\(target.llamaName)"
                    var b = adapter.b.toArray()
                    if target == .q { b = permuteRows(b, heads: m.nHead, headSize: m.headSize, cols: r) }
                    if target == .k { b = permuteRows(b, heads: m.kvHeads, headSize: m.headSize, cols: r) }
                    add(module, a: adapter.a.toArray(), aShape: adapter.a.shape, b: b, bShape: adapter.b.shape)
                    if i == 0 { modules.append(target.llamaName) }
                }
            case .gpt2:
                let c = m.dModel
                let fused = [LoRATarget.q, .k, .v].enumerated().compactMap { slot, t in adapter(t).map { (slot, $0) } }
                if !fused.isEmpty {
                    let n = fused.count
                    var a: [Float] = [], b = [Float](repeating: 0, count: 3 * c * n * r)
                    for (column, (slot, part)) in fused.enumerated() {
                        a += part.a.toArray()
                        let pb = part.b.toArray()  // (C, r)
                        for row in 0..<c { for k in 0..<r { b[(slot * c + row) * (n * r) + column * r + k] = pb[row * r + k] } }
                    }
                    add("transformer.h.\(i).attn.c_attn", a: a, aShape: [n * r, c], b: b, bShape: [3 * c, n * r])
                    if i == 0 {
                        modules.append("c_attn")
                        if n > 1 { rankPattern["c_attn"] = n * r; alphaPattern["c_attn"] = Double(n) * lora.alpha }
                    }
                }
                for (target, module) in [(LoRATarget.o, "attn.c_proj"), (.up, "mlp.c_fc"), (.down, "mlp.c_proj")] {
                    guard let part = adapter(target) else { continue }
                    add("transformer.h.\(i).\(module)", a: part.a.toArray(), aShape: part.a.shape, b: part.b.toArray(), bShape: part.b.shape)
                    if i == 0 { modules.append(module) }
                }
            }
        }
        let configObject: JSONValue = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": .int(r), "lora_alpha": .number(lora.alpha), "lora_dropout": .number(lora.dropout),
            "target_modules": .array(modules.map { .string($0) }), "bias": "none", "fan_in_fan_out": .bool(family == .gpt2),
            "base_model_name_or_path": baseName.map { .string($0) } ?? nil, "inference_mode": true,
            "rank_pattern": .object(rankPattern.sorted { $0.key < $1.key }.map { (key: $0.key, value: .int($0.value)) }),
            "alpha_pattern": .object(alphaPattern.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) }),
            "init_lora_weights": true, "modules_to_save": nil, "use_rslora": false, "use_dora": false,
        ]
        try Checkpoint.replaceDirectoryAtomically(directory) { temporary in
            try SafeTensors.write(tensors, metadata: ["format": "pt"], to: temporary.appendingPathComponent(peftWeightsFile))
            try configObject.fileData.write(to: temporary.appendingPathComponent(peftConfigFile))
        }
    }
}

/// Export of a prefix- or prompt-tuning checkpoint as PEFT's prompt learning
/// adapter: one tensor `prompt_embeddings` and its `adapter_config.json`.
///
/// - Prompt tuning: the virtual token embeddings (N, d), which PEFT prepends
///   to the input embeddings (positions 0..<N, the real tokens N onwards).
/// - Prefix tuning: the prefixes (N, 2·L·kv) as inference reads them (the
///   MLP's output when prefix_projection trained them), which PEFT views as
///   (N, 2L, n_kv_head, head size) and hands to the model as a KV cache of N
///   positions (the real tokens' positions start at N: PEFT offsets them).
///   LLaMA's exported q and k rows are permuted per head (see `HuggingFace`),
///   so every prefix key is permuted the same way.
extension HuggingFace {
    /// Why a PEFT method's checkpoint cannot be written as `format` (peft, hf or gguf).
    public static func unexportable(_ method: PEFTMethod, format: String) -> String {
        switch method {
        case .adapter where format == "peft":
            return "--format peft: PEFT has no bottleneck (Houlsby) adapter, and one cannot be merged into the base weights (it is nonlinear); the adapter checkpoint is tinygpt's own (adapter.safetensors beside the base)"
        case .adapter:
            return "--format \(format): bottleneck adapters are nonlinear and cannot be merged into the base weights; the adapter checkpoint is tinygpt's own (sample, eval and chat read it)"
        case .prefix_tuning, .prompt_tuning:
            return "--format \(format): \(method.rawValue) adds virtual positions that no plain model holds; export it with --format peft (PEFT's \(method == .prefix_tuning ? "PREFIX_TUNING" : "PROMPT_TUNING") for the base exported with --format hf)"
        case .lora:
            return "--format \(format): LoRA adapters merge; nothing stands in the way"
        }
    }

    static func exportPromptLearning(model: GPT, config: RunConfig, baseName: String?, to directory: URL) throws {
        let m = config.model
        let family = try family(for: m)
        let n = model.virtualPositions
        let tensor: SafeTensor
        var members: [(key: String, value: JSONValue)]
        if let prefixEncoder = model.prefixEncoder, let prefix = config.prefixTuning {
            let kv = prefixEncoder.kvWidth
            var rows = Autograd.noGrad { prefixEncoder.rows() }.toArray()          // (N, 2·L·kv)
            if family == .llama {
                for token in 0..<n {
                    for layer in 0..<m.nLayer {
                        let start = token * 2 * m.nLayer * kv + 2 * layer * kv
                        let permuted = permuteRows(Array(rows[start..<(start + kv)]), heads: m.kvHeads, headSize: m.headSize, cols: 1)
                        rows.replaceSubrange(start..<(start + kv), with: permuted)
                    }
                }
            }
            tensor = SafeTensor(name: "prompt_embeddings", shape: [n, 2 * m.nLayer * kv], values: rows)
            members = [
                ("peft_type", "PREFIX_TUNING"), ("num_virtual_tokens", .int(n)), ("token_dim", .int(kv)),
                ("num_attention_heads", .int(m.kvHeads)), ("encoder_hidden_size", .int(prefix.hiddenSize(model: m))),
                ("prefix_projection", .bool(prefix.prefixProjection)),
            ]
        } else if let prompt = model.promptEmbeddings, let section = config.promptTuning {
            tensor = SafeTensor(name: "prompt_embeddings", shape: prompt.shape, values: prompt.toArray())
            members = [
                ("peft_type", "PROMPT_TUNING"), ("num_virtual_tokens", .int(n)), ("token_dim", .int(m.dModel)),
                ("num_attention_heads", .int(m.nHead)), ("prompt_tuning_init", .string(section.promptTuningInit.rawValue)),
                ("prompt_tuning_init_text", section.promptTuningInit == .TEXT ? .string(section.promptTuningInitText) : nil),
                ("tokenizer_name_or_path", baseName.map { .string($0) } ?? nil),
            ]
        } else {
            throw FormatError("--format peft needs an adapter checkpoint (lora, prefix_tuning or prompt_tuning section)")
        }
        members += [("task_type", "CAUSAL_LM"), ("num_layers", .int(m.nLayer)), ("num_transformer_submodules", .int(1)),
                    ("base_model_name_or_path", baseName.map { .string($0) } ?? nil), ("inference_mode", true)]
        let configObject = JSONValue.object(members)
        try Checkpoint.replaceDirectoryAtomically(directory) { temporary in
            try SafeTensors.write([tensor], metadata: ["format": "pt"], to: temporary.appendingPathComponent(peftWeightsFile))
            try configObject.fileData.write(to: temporary.appendingPathComponent(peftConfigFile))
        }
    }
}
