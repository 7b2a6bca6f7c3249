import Foundation
import Files

/// The nonlinearity between a bottleneck adapter's two projections.
public enum AdapterNonlinearity: String, CaseIterable, Sendable {
    case relu, gelu, gelu_tanh, tanh, swish
}

/// Where bottleneck adapters sit in every block: on the attention sublayer's
/// output, on the feed-forward's output, or both (Houlsby et al. 2019).
public enum AdapterPosition: String, CaseIterable, Sendable {
    case attention, feed_forward
}

/// The optional `adapter` section: bottleneck adapters (Houlsby et al. 2019)
/// on the output of each sublayer, before the residual add:
/// y + up(f(down(y))), down d→bottleneck, up bottleneck→d starting at zero.
/// The base weights are frozen. PEFT has no such method, so these names are tinygpt's.
public struct AdapterConfig: Equatable, Sendable, ConfigSection {
    public var bottleneck = 16
    public var nonlinearity = AdapterNonlinearity.relu
    public var positions = ["attention", "feed_forward"]

    public init() {}

    /// The positions in the fixed order attention, feed_forward.
    public var positionKinds: [AdapterPosition] {
        let named = Set(positions.compactMap { AdapterPosition(rawValue: $0) })
        return AdapterPosition.allCases.filter(named.contains)
    }

    static let name = "adapter"
    static let fields: [ConfigField<AdapterConfig>] = [
        .int("bottleneck", \.bottleneck, .between(1, maxWidth), "Bottleneck size r: each adapter projects d_model → r → d_model; at most d_model."),
        .choice("nonlinearity", \.nonlinearity, "The nonlinearity between the down- and up-projection."),
        .strings("positions", \.positions, "Sublayers whose output gets an adapter in every block: attention, feed_forward (Houlsby: both)."),
    ]

    func checkCombinations() throws {
        let allowed = AdapterPosition.allCases.map(\.rawValue).joined(separator: ", ")
        guard !positions.isEmpty else { throw ConfigError("adapter.positions is empty; name at least one of \(allowed)") }
        var seen = Set<String>()
        for name in positions {
            guard AdapterPosition(rawValue: name) != nil else { throw ConfigError("adapter.positions: unknown position '\(name)'; allowed: \(allowed)") }
            guard seen.insert(name).inserted else { throw ConfigError("adapter.positions names '\(name)' twice") }
        }
    }

    public func check(model: ModelConfig) throws {
        guard bottleneck <= model.dModel else {
            throw ConfigError("adapter.bottleneck (\(bottleneck)) exceeds model.d_model (\(model.dModel)); a bottleneck is at most d_model")
        }
    }
}

/// The optional `prefix_tuning` section (Li & Liang 2021, PEFT's
/// PrefixTuningConfig): every layer's attention also reads num_virtual_tokens
/// learned key and value positions. With prefix_projection they are the
/// output of an MLP (embedding (N, kv) → encoder_hidden_size → tanh →
/// 2·layers·kv) during training; checkpoints keep that output.
public struct PrefixTuningConfig: Equatable, Sendable, ConfigSection {
    public var numVirtualTokens = 8
    public var prefixProjection = true
    public var encoderHiddenSize = 0

    public init() {}

    /// encoder_hidden_size, with 0 meaning the K/V width (PEFT's token_dim).
    public func hiddenSize(model: ModelConfig) -> Int { encoderHiddenSize > 0 ? encoderHiddenSize : model.kvHeads * model.headSize }

    static let name = "prefix_tuning"
    static let fields: [ConfigField<PrefixTuningConfig>] = [
        .int("num_virtual_tokens", \.numVirtualTokens, .between(1, maxWidth), "Prefix positions every query attends to in every layer; they take this many of model.context_length."),
        .bool("prefix_projection", \.prefixProjection, "Train the prefixes through an MLP (PEFT's reparameterisation); false trains them directly."),
        .int("encoder_hidden_size", \.encoderHiddenSize, .between(0, maxWidth), "Hidden width of that MLP; 0 = the K/V width (n_kv_head · head size, PEFT's token_dim)."),
    ]
}

/// How prompt tuning's virtual tokens start (PEFT's PromptTuningInit names).
public enum PromptTuningInit: String, CaseIterable, Sendable {
    case RANDOM, TEXT
}

/// The optional `prompt_tuning` section (Lester et al. 2021, PEFT's
/// PromptTuningConfig): num_virtual_tokens learned input embeddings
/// prepended to every sequence; nothing else trains.
public struct PromptTuningConfig: Equatable, Sendable, ConfigSection {
    public var numVirtualTokens = 8
    public var promptTuningInit = PromptTuningInit.RANDOM
    public var promptTuningInitText = ""

    public init() {}

    static let name = "prompt_tuning"
    static let fields: [ConfigField<PromptTuningConfig>] = [
        .int("num_virtual_tokens", \.numVirtualTokens, .between(1, maxWidth), "Learned embeddings prepended to the input; they take this many of model.context_length."),
        .choice("prompt_tuning_init", \.promptTuningInit, "RANDOM: normal with the token embeddings' standard deviation; TEXT: the embeddings of prompt_tuning_init_text's tokens, repeated to fill."),
        .string("prompt_tuning_init_text", \.promptTuningInitText, "The text whose token embeddings start the virtual tokens (prompt_tuning_init = TEXT); at most num_virtual_tokens tokens."),
    ]

    func checkCombinations() throws {
        if promptTuningInit == .TEXT && promptTuningInitText.isEmpty {
            throw ConfigError("prompt_tuning.prompt_tuning_init is TEXT but prompt_tuning_init_text is empty; give the text, or use RANDOM")
        }
    }
}

/// The parameter-efficient method a run trains, if any (at most one section).
public enum PEFTMethod: String, Sendable {
    case lora, adapter, prefix_tuning, prompt_tuning
}

extension RunConfig {
    /// The PEFT sections present, by name.
    var peftSections: [PEFTMethod] {
        var present: [PEFTMethod] = []
        if lora != nil { present.append(.lora) }
        if adapter != nil { present.append(.adapter) }
        if prefixTuning != nil { present.append(.prefix_tuning) }
        if promptTuning != nil { present.append(.prompt_tuning) }
        return present
    }

    /// The one PEFT method of this run, nil when every weight trains.
    public var peftMethod: PEFTMethod? { peftSections.first }

    /// Positions before the real tokens that prefix or prompt tuning adds.
    public var virtualTokens: Int { prefixTuning?.numVirtualTokens ?? promptTuning?.numVirtualTokens ?? 0 }

    /// The real tokens a window holds: model.context_length less the virtual positions.
    public var tokenContextLength: Int { model.contextLength - virtualTokens }

    /// One PEFT section at most, and each fits the model.
    func checkPEFT() throws {
        let present = peftSections
        if present.count > 1 {
            throw ConfigError("sections \(present.map(\.rawValue).joined(separator: " and ")) both choose a parameter-efficient method; keep one (lora, adapter, prefix_tuning or prompt_tuning)")
        }
        try lora?.check(model: model)
        try adapter?.check(model: model)
        if let method = present.first, method != .lora, ![.lm, .sft].contains(train.objective) {
            throw ConfigError("\(method.rawValue) trains with train.objective lm or sft; train.objective is \(train.objective.rawValue) (LoRA serves the other objectives)")
        }
        if let method = present.first, method == .prefix_tuning || method == .prompt_tuning {
            let n = virtualTokens
            guard n < model.contextLength else {
                throw ConfigError("\(method.rawValue).num_virtual_tokens (\(n)) leaves no room in model.context_length (\(model.contextLength)): the virtual tokens and the text share it; use at most \(model.contextLength - 1)")
            }
            if model.attention == .prefix_lm {
                throw ConfigError("\(method.rawValue) needs causal attention; model.attention is prefix_lm")
            }
        }
    }
}

extension RunConfig {
    /// The parameters the PEFT section trains (the base is frozen), counted
    /// from the config alone; nil when every weight trains.
    public var peftTrainableParameters: Int? {
        guard let method = peftMethod else { return nil }
        let m = model, d = m.dModel, layers = m.nLayer, kv = m.kvHeads * m.headSize
        switch method {
        case .lora:
            let l = lora!
            return layers * l.targetKinds.map { (t: LoRATarget) -> Int in
                let (out, inputs) = m.projectionShape(t)
                return l.rank * (out + inputs)
            }.reduce(0, +)
        case .adapter:
            let a = adapter!
            return layers * a.positionKinds.count * (2 * d * a.bottleneck + a.bottleneck + d)
        case .prefix_tuning:
            let p = prefixTuning!, n = p.numVirtualTokens, rows = 2 * layers * kv
            guard p.prefixProjection else { return n * rows }
            let hidden = p.hiddenSize(model: m)
            return n * kv + (kv * hidden + hidden) + (hidden * rows + rows)
        case .prompt_tuning:
            return promptTuning!.numVirtualTokens * d
        }
    }

    /// What the PEFT section sets, for a console line (e.g. "bottleneck 16, relu, after attention and feed_forward").
    public var peftDetail: String? {
        guard let method = peftMethod else { return nil }
        switch method {
        case .lora: return "rank \(lora!.rank), alpha \(String(format: "%g", lora!.alpha)), targets \(lora!.targetKinds.map(\.rawValue).joined(separator: ","))"
        case .adapter: return "bottleneck \(adapter!.bottleneck), \(adapter!.nonlinearity.rawValue), after \(adapter!.positionKinds.map(\.rawValue).joined(separator: " and "))"
        case .prefix_tuning:
            let p = prefixTuning!
            return "\(p.numVirtualTokens) virtual tokens" + (p.prefixProjection ? ", trained through an MLP of width \(p.hiddenSize(model: model)); \(p.numVirtualTokens * 2 * model.nLayer * model.kvHeads * model.headSize) prefix values kept for inference" : "")
        case .prompt_tuning: return "\(promptTuning!.numVirtualTokens) virtual tokens, \(promptTuning!.promptTuningInit.rawValue) init"
        }
    }
}
