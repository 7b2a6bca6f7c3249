import Foundation
import Files

/// The projections a LoRA adapter can attach to, by the names of tinygpt's
/// parameters (blocks.N.attn.q …); the Hugging Face LLaMA names (q_proj, …)
/// are accepted as synonyms.
public enum LoRATarget: String, CaseIterable, Sendable {
    case q, k, v, o, gate, up, down

    /// The LLaMA / PEFT module name of this projection.
    public var llamaName: String {
        switch self {
        case .q: return "q_proj"
        case .k: return "k_proj"
        case .v: return "v_proj"
        case .o: return "o_proj"
        case .gate: return "gate_proj"
        case .up: return "up_proj"
        case .down: return "down_proj"
        }
    }

    /// A target by its tinygpt or LLaMA name.
    public init?(name: String) {
        guard let target = LoRATarget(rawValue: name) ?? LoRATarget.allCases.first(where: { $0.llamaName == name }) else { return nil }
        self = target
    }
}

/// The optional `lora` section: when present, training freezes the base
/// weights and trains low-rank adapters on the `targets` of every block.
/// Defaults are PEFT's LoraConfig defaults (r 8, lora_alpha 8, dropout 0,
/// the query and value projections).
public struct LoRAConfig: Equatable, Sendable, ConfigSection {
    public var rank = 8
    public var alpha = 8.0
    public var dropout = 0.0
    public var targets = ["q", "v"]

    public init() {}

    /// The targets, resolved to their kinds, in the fixed order q, k, v, o, gate, up, down.
    public var targetKinds: [LoRATarget] {
        let named = Set(targets.compactMap { LoRATarget(name: $0) })
        return LoRATarget.allCases.filter(named.contains)
    }

    /// alpha / rank, the factor on B·A.
    public var scale: Float { Float(alpha / Double(rank)) }

    static let name = "lora"
    static let fields: [ConfigField<LoRAConfig>] = [
        .int("rank", \.rank, .between(1, maxWidth), "Adapter rank r (PEFT's r); at most the smaller side of every targeted projection."),
        .number("alpha", \.alpha, .greaterThan(0), "Scaling numerator: the adapter adds (alpha / rank) · B·A (PEFT's lora_alpha)."),
        .number("dropout", \.dropout, .halfOpen(0, 1), "Dropout on the adapter's input during training (PEFT's lora_dropout)."),
        .strings("targets", \.targets, "Projections to adapt in every block: q, k, v, o (attention) and gate, up, down (feed-forward; gate only with swiglu/geglu/reglu/glu). LLaMA names q_proj … down_proj are accepted."),
    ]

    func checkCombinations() throws {
        let allowed = LoRATarget.allCases.map(\.rawValue).joined(separator: ", ")
        guard !targets.isEmpty else { throw ConfigError("lora.targets is empty; name at least one of \(allowed)") }
        var seen = Set<LoRATarget>()
        for name in targets {
            guard let target = LoRATarget(name: name) else {
                throw ConfigError("lora.targets: unknown target '\(name)'; allowed: \(allowed) (or q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)")
            }
            guard seen.insert(target).inserted else { throw ConfigError("lora.targets names '\(target.rawValue)' twice") }
        }
    }

    /// Rules that involve the model: gate needs a gated feed-forward, and the
    /// rank may not exceed the smaller side of any targeted projection.
    /// `RunConfig.validate` runs them (with --init-from, once the checkpoint's model is in place).
    public func check(model: ModelConfig) throws {
        let kinds = targetKinds
        if kinds.contains(.gate), !model.activation.feedForward.gated {
            throw ConfigError("lora.targets: 'gate' needs a gated feed-forward (model.activation swiglu, geglu, reglu or glu), not \(model.activation.rawValue)")
        }
        for target in kinds {
            let (out, inputs) = model.projectionShape(target)
            guard rank <= min(out, inputs) else {
                throw ConfigError("lora.rank (\(rank)) exceeds the \(target.rawValue) projection's smaller side (\(out) × \(inputs)); use at most \(min(out, inputs))")
            }
        }
    }
}

extension ModelConfig {
    /// (out, in) of a projection's weight in every block.
    public func projectionShape(_ target: LoRATarget) -> (out: Int, in: Int) {
        let kv = kvHeads * headSize
        switch target {
        case .q, .o: return (dModel, dModel)
        case .k, .v: return (kv, dModel)
        case .gate, .up: return (feedForwardSize, dModel)
        case .down: return (dModel, feedForwardSize)
        }
    }
}
