import Kernels
import Autograd
import NN
import Config

// The PEFT methods beside LoRA on a GPT (see Config/ConfigPEFT.swift):
// bottleneck adapters in the blocks, prefix tuning's keys and values in
// every layer's attention, prompt tuning's embeddings ahead of the tokens.
// The base weights stay as they are; like LoRA adapters, these parameters
// are not in `parameters` but in `adapterParameters`.

extension AdapterNonlinearity {
    public var activation: Activation {
        switch self {
        case .relu: return .relu
        case .gelu: return .gelu
        case .gelu_tanh: return .geluTanh
        case .tanh: return .tanh
        case .swish: return .swish(beta: 1)
        }
    }
}

extension GPT {
    /// Attaches fresh modules for the run's PEFT section (LoRA included),
    /// drawn from `seed`. `initTokens` are prompt tuning's TEXT tokens
    /// (repeated to fill num_virtual_tokens, as PEFT does).
    public func attachPEFT(_ config: RunConfig, seed: UInt64, initTokens: [Int32] = []) {
        if let lora = config.lora { attachAdapters(lora, seed: seed) }
        var generator = RandomGenerator(seed: seed)
        let d = self.config.dModel
        if let adapter = config.adapter {
            let positions = adapter.positionKinds
            for block in blocks {
                if positions.contains(.attention) {
                    block.attentionAdapter = BottleneckAdapter(modelSize: d, bottleneck: adapter.bottleneck,
                                                               activation: adapter.nonlinearity.activation, generator: &generator)
                }
                if positions.contains(.feed_forward) {
                    block.feedForwardAdapter = BottleneckAdapter(modelSize: d, bottleneck: adapter.bottleneck,
                                                                 activation: adapter.nonlinearity.activation, generator: &generator)
                }
            }
        }
        if let prefix = config.prefixTuning {
            let m = self.config
            prefixEncoder = PrefixEncoder(virtualTokens: prefix.numVirtualTokens, layers: m.nLayer, kvWidth: m.kvHeads * m.headSize,
                                          projectionHidden: prefix.prefixProjection ? prefix.hiddenSize(model: m) : nil, generator: &generator)
        }
        if let prompt = config.promptTuning {
            let n = prompt.numVirtualTokens
            let table = tokenEmbedding.weight
            var values: [Float]
            if prompt.promptTuningInit == .TEXT && !initTokens.isEmpty {
                values = []
                for i in 0..<n {
                    let id = Int(initTokens[i % initTokens.count])
                    values += UnsafeBufferPointer(start: table.data + id * d, count: d)
                }
            } else {
                // The token embeddings' own scale: PEFT's nn.Embedding default, N(0, 1), would dwarf a table of std 0.02.
                let all = UnsafeBufferPointer(start: table.data, count: table.count)
                let mean = all.reduce(0.0) { $0 + Double($1) } / Double(max(all.count, 1))
                let variance = all.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(max(all.count, 1))
                values = Tensor.randomNormal([n, d], std: Float(variance.squareRoot()), generator: &generator).toArray()
            }
            promptEmbeddings = Tensor(values, shape: [n, d], requiresGrad: true)
        }
    }

    /// Positions ahead of the real tokens: prefix or prompt tuning's N, else 0.
    public var virtualPositions: Int { prefixEncoder?.virtualTokens ?? promptEmbeddings?.shape[0] ?? 0 }

    /// The real tokens a window holds: the context window less the virtual positions.
    public var tokenWindow: Int { contextWindow - virtualPositions }

    /// The PEFT method whose modules are attached and cannot be merged into the
    /// base weights (bottleneck adapters are nonlinear; prefixes and prompts add positions).
    public var unmergeableMethod: PEFTMethod? {
        if blocks.contains(where: { $0.attentionAdapter != nil || $0.feedForwardAdapter != nil }) { return .adapter }
        if prefixEncoder != nil { return .prefix_tuning }
        if promptEmbeddings != nil { return .prompt_tuning }
        return nil
    }

    /// The parameters of the bottleneck adapters, prefix encoder and prompt
    /// embeddings, named "blocks.N.attn_adapter.down.weight", "prefix_tuning.…",
    /// "prompt_tuning.embeddings".
    var peftModuleParameters: [Parameter] {
        var all: [Parameter] = []
        for (i, block) in blocks.enumerated() {
            if let a = block.attentionAdapter { all += a.parameters(prefixed: "blocks.\(i).attn_adapter") }
            if let a = block.feedForwardAdapter { all += a.parameters(prefixed: "blocks.\(i).ffn_adapter") }
        }
        if let prefixEncoder { all += prefixEncoder.parameters(prefixed: "prefix_tuning") }
        if let promptEmbeddings { all.append(Parameter(name: "prompt_tuning.embeddings", tensor: promptEmbeddings)) }
        return all
    }

    /// What a checkpoint stores beyond the trainable parameters: prefix
    /// tuning's prefixes as the MLP computes them (what inference and PEFT read).
    public var peftDerivedTensors: [(name: String, tensor: Tensor)] {
        guard let prefixEncoder, prefixEncoder.projection != nil else { return [] }
        return [(PrefixEncoder.prefixesName, Autograd.noGrad { prefixEncoder.rows() })]
    }

    /// Puts `other`'s bottleneck adapters, prefix encoder and prompt embeddings (the same objects) on this model.
    func sharePEFTModules(from other: GPT) {
        for (mine, theirs) in zip(blocks, other.blocks) {
            mine.attentionAdapter = theirs.attentionAdapter
            mine.feedForwardAdapter = theirs.feedForwardAdapter
        }
        prefixEncoder = other.prefixEncoder
        promptEmbeddings = other.promptEmbeddings
    }
}

extension PrefixEncoder {
    /// The checkpoint name of the computed prefixes (N, 2·L·kv) when an MLP makes them.
    public static let prefixesName = "prefix_tuning.prefixes"
}
