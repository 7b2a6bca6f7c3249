import Kernels
import Autograd
import NN
import Config

// LoRA on a GPT: adapters hang on the block projections a `LoRAConfig` names
// (see NN/LoRA.swift); the base weights stay as they are and, when training
// adapters, receive no gradient.

extension TransformerBlock {
    /// The projection a target names, with its parameter-name prefix inside the block.
    func projection(_ target: LoRATarget) -> (Linear, name: String)? {
        switch target {
        case .q: return (attention.query, "attn.q")
        case .k: return (attention.key, "attn.k")
        case .v: return (attention.value, "attn.v")
        case .o: return (attention.output, "attn.out")
        case .gate: return feedForward.gate.map { ($0, "ffn.gate") }
        case .up: return (feedForward.up, "ffn.up")
        case .down: return (feedForward.down, "ffn.down")
        }
    }

    /// Every projection that carries an adapter, in target order.
    var adapted: [(Linear, LoRAAdapter, name: String)] {
        LoRATarget.allCases.compactMap { target in
            guard let (layer, name) = projection(target), let adapter = layer.adapter else { return nil }
            return (layer, adapter, name)
        }
    }
}

extension GPT {
    /// Attaches fresh adapters (B = 0, A Kaiming-uniform from `seed`) to the
    /// targeted projections of every block, block by block in target order.
    public func attachAdapters(_ lora: LoRAConfig, seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        for block in blocks {
            for target in lora.targetKinds {
                guard let (layer, _) = block.projection(target) else { continue }
                layer.adapter = LoRAAdapter(inFeatures: layer.weight.shape[1], outFeatures: layer.weight.shape[0],
                                            rank: lora.rank, alpha: Float(lora.alpha), generator: &generator)
            }
        }
    }

    /// Whether any PEFT module is attached: LoRA adapters, or those of GPTPEFT.swift.
    public var hasAdapters: Bool { blocks.contains { !$0.adapted.isEmpty } || unmergeableMethod != nil }

    /// The trainable parameters of a PEFT run: the LoRA adapters', named
    /// "blocks.N.attn.q.lora_A" / "….lora_B" (the base weight they adapt is
    /// "blocks.N.attn.q.weight"), then the other methods' (`peftModuleParameters`).
    public var adapterParameters: [Parameter] {
        var all: [Parameter] = []
        for (i, block) in blocks.enumerated() {
            for (_, adapter, name) in block.adapted { all += adapter.parameters(prefixed: "blocks.\(i).\(name)") }
        }
        return all + peftModuleParameters
    }

    /// (base weight name, adapter) for every adapted projection, in parameter order.
    public var adapters: [(weightName: String, adapter: LoRAAdapter)] {
        blocks.enumerated().flatMap { i, block in block.adapted.map { ("blocks.\(i).\($0.name).weight", $0.1) } }
    }

    /// Stops gradients into every base parameter (training adapters only).
    public func freezeBase() { for p in parameters { p.tensor.requiresGrad = false } }

    /// The dropout every adapter applies to its input: set for training steps, nil otherwise.
    public func setAdapterDropout(_ dropout: Dropout?) {
        for block in blocks { for (_, adapter, _) in block.adapted { adapter.dropout = dropout } }
    }

    /// Adds scale·B·A into each adapted weight and removes the adapters:
    /// the plain model that computes what the adapted one did. Only LoRA
    /// merges: callers refuse a model with an `unmergeableMethod` first.
    public func mergeAdapters() {
        for block in blocks {
            for (layer, adapter, _) in block.adapted {
                let delta = adapter.delta()
                for i in 0..<layer.weight.count { layer.weight.data[i] += delta[i] }
                layer.adapter = nil
            }
        }
    }

    /// Puts `other`'s adapters (the same objects) on this model's matching projections.
    func shareAdapters(from other: GPT) {
        for (mine, theirs) in zip(blocks, other.blocks) {
            for target in LoRATarget.allCases {
                guard let (layer, _) = mine.projection(target), let (source, _) = theirs.projection(target) else { continue }
                layer.adapter = source.adapter
            }
        }
        sharePEFTModules(from: other)
    }
}
