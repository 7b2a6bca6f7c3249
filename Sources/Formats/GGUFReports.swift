import Foundation
import Files
import Model
import Config

extension GGUFImport {
    /// `import --format gguf`: a llama.cpp model file as a checkpoint at
    /// `out`. Everything is checked (architecture, hyperparameters,
    /// tokenizer, tensor names, types and shapes) before any tensor data is
    /// read; the report lines come once the checkpoint is written, so a
    /// refusal stays one line.
    public static func importFile(_ from: String, out: String, dequantize: Bool) throws -> [String] {
        let file = try GGUFFile(path: from)
        let plan = try GGUFImport.plan(file)
        let summary = try GGUFImport.write(plan, dequantize: dequantize, to: URL(fileURLWithPath: out))
        let m = plan.config.model
        let types = plan.file.tensors.count
        var lines = ["read \(from): GGUF v\(file.version), architecture \(plan.architecture.rawValue), \(types) tensors, "
                     + "\(m.nLayer) layers, d_model \(m.dModel), \(m.nHead) heads (\(m.kvHeads) key/value), vocabulary \(m.vocabSize.map(String.init) ?? "?")"]
        let spec = plan.tokenizerSpec
        let ends = plan.config.tokenizer.eosTokenIds.map { "\($0) \(spec.tokens[$0])" }
        lines.append("tokenizer: \(spec.model)\(spec.pre.map { " (pre-tokenizer \($0))" } ?? ""), \(spec.tokens.count) tokens; "
                     + "end tokens: \(ends.isEmpty ? "none stated" : ends.joined(separator: ", "))"
                     + (plan.chatTemplate != nil ? "; chat template → \(Checkpoint.chatTemplateFile)" : ""))
        let kinds = summary.types.map { "\($0.name) ×\($0.count)" }.joined(separator: ", ")
        if let reason = summary.floatReason {
            lines.append("weights (\(kinds)): dequantized to float32 (\(reason))")
        } else {
            lines.append("weights (\(kinds)): Q8_0 matrices kept as int8 in groups of 32 (exact)"
                         + (summary.quantizedEmbeddings ? ", the embedding too" : "; the embedding as float32") + "; norms float32")
        }
        lines.append("wrote checkpoint \(out): \(grouped(summary.parameters)) parameters")
        return lines
    }
}

extension GGUFExport {
    /// `export --format gguf`: the loaded checkpoint's `model` (adapters
    /// merged) as one file llama.cpp loads; returns the report line.
    public static func export(_ loaded: Checkpoint.Loaded, model: GPT, config: RunConfig, type weightType: WeightType, out: String, force: Bool,
                              sources: [String]) throws -> String {
        try OutputFile.check(out, force: force, sources: sources)
        let merged = model.hasAdapters
        if merged { model.mergeAdapters() }  // W + (alpha/r)·B·A: a plain model
        let template = try chatTemplate(in: loaded.directory)
        let directory = loaded.directory
        let name = ["best", "latest"].contains(directory.lastPathComponent) ? directory.deletingLastPathComponent().lastPathComponent : directory.lastPathComponent
        let summary = try write(model: model, config: config, tokenizerJSON: loaded.tokenizerJSON, chatTemplate: template,
                                name: name, type: weightType, to: URL(fileURLWithPath: out))
        let kinds = summary.types.map { "\($0.name) ×\($0.count)" }.joined(separator: ", ")
        return "wrote \(out) (GGUF, architecture \(summary.architecture.rawValue), \(kinds)\(merged ? ", LoRA adapters merged" : "")"
            + "; end tokens \(summary.eosTokenIds.isEmpty ? "none" : summary.eosTokenIds.map(String.init).joined(separator: ", "))"
            + (summary.hasChatTemplate ? "; chat template" : "") + "); run it with llama.cpp: llama-cli -m \(out)"
    }
}
