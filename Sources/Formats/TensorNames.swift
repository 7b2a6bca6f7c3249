import Foundation
import Config

/// Every tensor of our GPT under the names transformers and llama.cpp give it: one table for
/// both formats, which hold the same tensors in the same order and differ in names and in
/// transformers' layouts.
enum TensorNames {
    struct Entry {
        let huggingFace: String, gguf: String
        /// Ours, stacked by rows (GPT-2's c_attn and attn_qkv hold q, k and v), and the rows of each.
        let ours: [String], rows: [Int]
        /// Columns of a matrix; nil for a vector.
        let cols: Int?
        /// How transformers stores it; GGUF stores our layout.
        let layout: HuggingFace.TensorMapping.Layout
    }

    /// The tensors of a `family` model of config `m`, in the order both formats write them.
    static func table(_ family: HuggingFace.Family, _ m: ModelConfig) -> [Entry] {
        let (c, f, v) = (m.dModel, m.feedForwardSize, m.vocabSize!)
        var out: [Entry] = []
        func matrix(_ huggingFace: String, _ gguf: String, _ ours: [String], rows: [Int], cols: Int, _ layout: HuggingFace.TensorMapping.Layout = .same) {
            out.append(Entry(huggingFace: huggingFace, gguf: gguf, ours: ours, rows: rows, cols: cols, layout: layout))
        }
        func vector(_ huggingFace: String, _ gguf: String, _ ours: [String], rows: [Int], _ layout: HuggingFace.TensorMapping.Layout = .same) {
            out.append(Entry(huggingFace: huggingFace, gguf: gguf, ours: ours, rows: rows, cols: nil, layout: layout))
        }
        switch family {
        case .gpt2:
            // Every GPT-2 tensor is written; a config without biases exports zeros (the same function).
            matrix("transformer.wte.weight", "token_embd.weight", ["token_embedding.weight"], rows: [v], cols: c)
            matrix("transformer.wpe.weight", "position_embd.weight", ["position_embedding.weight"], rows: [m.contextLength], cols: c)
            for i in 0..<m.nLayer {
                let ours = "blocks.\(i).", hf = "transformer.h.\(i).", gg = "blk.\(i)."
                let qkv = ["q", "k", "v"]
                vector(hf + "ln_1.weight", gg + "attn_norm.weight", [ours + "attn_norm.weight"], rows: [c])
                vector(hf + "ln_1.bias", gg + "attn_norm.bias", [ours + "attn_norm.bias"], rows: [c])
                matrix(hf + "attn.c_attn.weight", gg + "attn_qkv.weight", qkv.map { ours + "attn.\($0).weight" }, rows: [c, c, c], cols: c, .transposed)
                vector(hf + "attn.c_attn.bias", gg + "attn_qkv.bias", qkv.map { ours + "attn.\($0).bias" }, rows: [c, c, c])
                matrix(hf + "attn.c_proj.weight", gg + "attn_output.weight", [ours + "attn.out.weight"], rows: [c], cols: c, .transposed)
                vector(hf + "attn.c_proj.bias", gg + "attn_output.bias", [ours + "attn.out.bias"], rows: [c])
                vector(hf + "ln_2.weight", gg + "ffn_norm.weight", [ours + "ffn_norm.weight"], rows: [c])
                vector(hf + "ln_2.bias", gg + "ffn_norm.bias", [ours + "ffn_norm.bias"], rows: [c])
                matrix(hf + "mlp.c_fc.weight", gg + "ffn_up.weight", [ours + "ffn.up.weight"], rows: [f], cols: c, .transposed)
                vector(hf + "mlp.c_fc.bias", gg + "ffn_up.bias", [ours + "ffn.up.bias"], rows: [f])
                matrix(hf + "mlp.c_proj.weight", gg + "ffn_down.weight", [ours + "ffn.down.weight"], rows: [c], cols: f, .transposed)
                vector(hf + "mlp.c_proj.bias", gg + "ffn_down.bias", [ours + "ffn.down.bias"], rows: [c])
            }
            vector("transformer.ln_f.weight", "output_norm.weight", ["final_norm.weight"], rows: [c])
            vector("transformer.ln_f.bias", "output_norm.bias", ["final_norm.bias"], rows: [c])
        case .llama:
            let kv = m.kvHeads * m.headSize
            matrix("model.embed_tokens.weight", "token_embd.weight", ["token_embedding.weight"], rows: [v], cols: c)
            for i in 0..<m.nLayer {
                let ours = "blocks.\(i).", hf = "model.layers.\(i).", gg = "blk.\(i)."
                func projection(_ huggingFace: String, _ gguf: String, _ our: String, rows: Int, cols: Int, _ layout: HuggingFace.TensorMapping.Layout = .same) {
                    matrix(hf + huggingFace + ".weight", gg + gguf + ".weight", [ours + our + ".weight"], rows: [rows], cols: cols, layout)
                    if m.bias { vector(hf + huggingFace + ".bias", gg + gguf + ".bias", [ours + our + ".bias"], rows: [rows], layout) }
                }
                vector(hf + "input_layernorm.weight", gg + "attn_norm.weight", [ours + "attn_norm.weight"], rows: [c])
                projection("self_attn.q_proj", "attn_q", "attn.q", rows: c, cols: c, .rotaryRows(heads: m.nHead))
                projection("self_attn.k_proj", "attn_k", "attn.k", rows: kv, cols: c, .rotaryRows(heads: m.kvHeads))
                projection("self_attn.v_proj", "attn_v", "attn.v", rows: kv, cols: c)
                projection("self_attn.o_proj", "attn_output", "attn.out", rows: c, cols: c)
                vector(hf + "post_attention_layernorm.weight", gg + "ffn_norm.weight", [ours + "ffn_norm.weight"], rows: [c])
                projection("mlp.gate_proj", "ffn_gate", "ffn.gate", rows: f, cols: c)
                projection("mlp.up_proj", "ffn_up", "ffn.up", rows: f, cols: c)
                projection("mlp.down_proj", "ffn_down", "ffn.down", rows: c, cols: f)
            }
            vector("model.norm.weight", "output_norm.weight", ["final_norm.weight"], rows: [c])
        }
        if !m.tieEmbeddings { matrix("lm_head.weight", "output.weight", ["lm_head.weight"], rows: [v], cols: c) }
        return out
    }
}
