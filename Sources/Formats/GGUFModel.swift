import Foundation
import Config

/// The two llama.cpp architectures whose models tinygpt represents exactly,
/// and their tensor names, for both directions (import and export).
///
/// - `llama`: pre-RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA. GGUF keeps each head's
///   q and k rows in the interleaved pair order (2i, 2i+1) that llama.cpp
///   rotates: llama.cpp's converter permutes transformers' rotate-half rows back
///   to it, and transformers' GGUF loader permutes them forward again. That pair
///   order is tinygpt's own (RoFormer's), so the rows cross unchanged both ways.
/// - `gpt2`: pre-LayerNorm, learned positions, tanh-GELU, biases; q, k and v
///   are one `attn_qkv` tensor, rows stacked, stored (out, in) like ours.
public enum GGUFModel {
    public enum Architecture: String, CaseIterable { case llama, gpt2 }

    public static var supportedArchitectures: String { Architecture.allCases.map(\.rawValue).joined(separator: ", ") }

    /// The architecture that represents `m` in a GGUF file, or an error naming what it lacks.
    public static func architecture(for m: ModelConfig) throws -> Architecture {
        let family: HuggingFace.Family
        do { family = try HuggingFace.family(for: m) } catch let error as FormatError {
            // The same two families, under llama.cpp's names.
            throw FormatError(error.description.replacingOccurrences(of: "no transformers family represents this config",
                                                                     with: "no GGUF architecture (gpt2, llama) represents this config")
                                               .replacingOccurrences(of: "transformers' GPT-2 and LLaMA are", with: "GPT-2 and LLaMA are"))
        }
        switch family {
        case .gpt2:
            // llama.cpp's GPT-2 computes GELU with the tanh approximation.
            guard m.activation == .gelu_tanh else {
                throw FormatError("llama.cpp's gpt2 architecture computes the tanh GELU; model.activation = \(m.activation.rawValue) has no GGUF form (gelu_tanh)")
            }
            return .gpt2
        case .llama:
            if let s = m.ropeScaling, s.type != .linear {
                throw FormatError("model.rope_scaling \(s.type?.rawValue ?? "without a type") has no GGUF form that llama.cpp computes the same way; only linear scaling is exported")
            }
            return .llama
        }
    }

    /// One GGUF tensor and the tensors of ours it holds, stacked by rows.
    struct TensorMapping {
        let theirs: String
        let ours: [String]
        let rows: [Int]
        /// Columns of a matrix; nil for a vector.
        let cols: Int?

        /// Row-major (rows, cols), or (rows) for a vector.
        var shape: [Int] { cols.map { [rows.reduce(0, +), $0] } ?? [rows.reduce(0, +)] }
        /// ggml's order: fastest first.
        var dimensions: [Int] { shape.reversed() }
    }

    /// Every tensor of an `architecture` file of config `m`, in llama.cpp's order.
    static func tensorMappings(_ architecture: Architecture, _ m: ModelConfig) -> [TensorMapping] {
        let (c, f, v) = (m.dModel, m.feedForwardSize, m.vocabSize!)
        var out: [TensorMapping] = []
        func matrix(_ theirs: String, _ ours: [String], rows: [Int], cols: Int) {
            out.append(TensorMapping(theirs: theirs, ours: ours, rows: rows, cols: cols))
        }
        func vector(_ theirs: String, _ ours: [String], rows: [Int]) {
            out.append(TensorMapping(theirs: theirs, ours: ours, rows: rows, cols: nil))
        }
        matrix("token_embd.weight", ["token_embedding.weight"], rows: [v], cols: c)
        switch architecture {
        case .gpt2:
            // Every GPT-2 tensor is written; a config without biases exports zeros (the same function).
            matrix("position_embd.weight", ["position_embedding.weight"], rows: [m.contextLength], cols: c)
            for i in 0..<m.nLayer {
                let ours = "blocks.\(i).", theirs = "blk.\(i)."
                vector(theirs + "attn_norm.weight", [ours + "attn_norm.weight"], rows: [c])
                vector(theirs + "attn_norm.bias", [ours + "attn_norm.bias"], rows: [c])
                matrix(theirs + "attn_qkv.weight", ["q", "k", "v"].map { ours + "attn.\($0).weight" }, rows: [c, c, c], cols: c)
                vector(theirs + "attn_qkv.bias", ["q", "k", "v"].map { ours + "attn.\($0).bias" }, rows: [c, c, c])
                matrix(theirs + "attn_output.weight", [ours + "attn.out.weight"], rows: [c], cols: c)
                vector(theirs + "attn_output.bias", [ours + "attn.out.bias"], rows: [c])
                vector(theirs + "ffn_norm.weight", [ours + "ffn_norm.weight"], rows: [c])
                vector(theirs + "ffn_norm.bias", [ours + "ffn_norm.bias"], rows: [c])
                matrix(theirs + "ffn_up.weight", [ours + "ffn.up.weight"], rows: [f], cols: c)
                vector(theirs + "ffn_up.bias", [ours + "ffn.up.bias"], rows: [f])
                matrix(theirs + "ffn_down.weight", [ours + "ffn.down.weight"], rows: [c], cols: f)
                vector(theirs + "ffn_down.bias", [ours + "ffn.down.bias"], rows: [c])
            }
            vector("output_norm.weight", ["final_norm.weight"], rows: [c])
            vector("output_norm.bias", ["final_norm.bias"], rows: [c])
        case .llama:
            let kv = m.kvHeads * m.headSize
            for i in 0..<m.nLayer {
                let ours = "blocks.\(i).", theirs = "blk.\(i)."
                func projection(_ name: String, _ our: String, rows: Int, cols: Int) {
                    matrix(theirs + name + ".weight", [ours + our + ".weight"], rows: [rows], cols: cols)
                    if m.bias { vector(theirs + name + ".bias", [ours + our + ".bias"], rows: [rows]) }
                }
                vector(theirs + "attn_norm.weight", [ours + "attn_norm.weight"], rows: [c])
                projection("attn_q", "attn.q", rows: c, cols: c)
                projection("attn_k", "attn.k", rows: kv, cols: c)
                projection("attn_v", "attn.v", rows: kv, cols: c)
                projection("attn_output", "attn.out", rows: c, cols: c)
                vector(theirs + "ffn_norm.weight", [ours + "ffn_norm.weight"], rows: [c])
                projection("ffn_gate", "ffn.gate", rows: f, cols: c)
                projection("ffn_up", "ffn.up", rows: f, cols: c)
                projection("ffn_down", "ffn.down", rows: c, cols: f)
            }
            vector("output_norm.weight", ["final_norm.weight"], rows: [c])
        }
        if !m.tieEmbeddings { matrix("output.weight", ["lm_head.weight"], rows: [v], cols: c) }
        return out
    }
}
