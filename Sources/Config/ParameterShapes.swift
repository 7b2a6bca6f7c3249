/// A parameter as the config determines it, without allocating it.
public struct ParameterShape: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
    /// As `Parameter.decays`: matrices and embeddings.
    public var decays: Bool { shape.count >= 2 }
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
}

extension ModelConfig {
    /// Every parameter `GPT(config:)` would create, in the same order and
    /// with the same names and shapes, computed from the config alone: `info`
    /// describes a 7B-parameter config in microseconds. A test holds this
    /// list equal to a built model's parameters for every kind of layer.
    public var parameterShapes: [ParameterShape] {
        let d = dModel, vocab = vocabSize ?? 0, hidden = feedForwardSize, kv = kvHeads * headSize
        var all: [ParameterShape] = []
        func add(_ name: String, _ shape: [Int]) { all.append(ParameterShape(name: name, shape: shape)) }
        func linear(_ prefix: String, _ inputs: Int, _ outputs: Int, bias: Bool) {
            add(prefix + ".weight", [outputs, inputs])
            if bias { add(prefix + ".bias", [outputs]) }
        }
        func norm(_ prefix: String) {
            add(prefix + ".weight", [d])
            if self.norm == .layerNorm && self.bias { add(prefix + ".bias", [d]) }
        }
        add("token_embedding.weight", [vocab, d])
        if position == .learned { add("position_embedding.weight", [contextLength, d]) }
        if position == .t5 { add("relative_attention_bias.weight", [relativeAttentionNumBuckets, nHead]) }
        let (_, gated, learnedBeta) = feedForwardActivation
        for i in 0..<nLayer {
            let block = "blocks.\(i)"
            norm(block + ".attn_norm")
            linear(block + ".attn.q", d, d, bias: bias)
            linear(block + ".attn.k", d, kv, bias: bias)
            linear(block + ".attn.v", d, kv, bias: bias)
            linear(block + ".attn.out", d, d, bias: bias)
            if valueResidual && i > 0 { add(block + ".attn.value_mix", [1]) }
            norm(block + ".ffn_norm")
            if gated { linear(block + ".ffn.gate", d, hidden, bias: bias) }
            linear(block + ".ffn.up", d, hidden, bias: bias)
            linear(block + ".ffn.down", hidden, d, bias: bias)
            if learnedBeta { add(block + ".ffn.swish_beta", [hidden]) }
        }
        if normPosition == .pre { norm("final_norm") }
        if !tieEmbeddings { add("lm_head.weight", [vocab, d]) }
        for i in 0..<valueEmbeddings { add("value_embeddings.\(i).weight", [vocab, kv]) }
        return all
    }

    /// The value embedding table layer `layer` adds to its values, if any: with
    /// N tables, table i serves layer i and layer n_layer − N + i (the first
    /// and last N layers, as the modded-nanogpt speed-run); a layer in both
    /// ranges takes the first.
    public func valueEmbeddingTable(layer: Int) -> Int? {
        if layer < valueEmbeddings { return layer }
        let last = nLayer - valueEmbeddings
        return layer >= last ? layer - last : nil
    }
}
