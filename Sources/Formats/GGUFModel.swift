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
        let family: HuggingFace.Family = architecture == .gpt2 ? .gpt2 : .llama
        return TensorNames.table(family, m).map { TensorMapping(theirs: $0.gguf, ours: $0.ours, rows: $0.rows, cols: $0.cols) }
    }
}
