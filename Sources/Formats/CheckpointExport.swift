import Foundation
import Files
import Config
import Tokenizer

/// `export`: a checkpoint as a Hugging Face transformers directory (adapters
/// merged), PEFT adapters, or one GGUF file, with generation settings from the
/// checkpoint's sample section (or a config's) and RoPE scaling if asked.
public enum CheckpointExport {
    public struct Request {
        public var checkpoint: String
        public var out: String
        /// hf, peft or gguf.
        public var format = "hf"
        public var force = false
        /// A config whose sample section becomes generation_config.json.
        public var configPath: String?
        /// sample.* and model.rope_scaling assignments.
        public var overrides: [String] = []
        /// peft: recorded as base_model_name_or_path.
        public var baseName: String?
        /// gguf: the matrices' type (default f32).
        public var weightType: String?
        public init(checkpoint: String, out: String) { (self.checkpoint, self.out) = (checkpoint, out) }
    }

    /// Checks the request against the checkpoint, writes the export, and returns
    /// the line that says what was written and how to load it.
    public static func run(_ r: Request, note: @escaping (String) -> Void) throws -> String {
        let format = r.format
        guard format == "hf" || format == "peft" || format == "gguf" else {
            throw UsageError("--format must be hf (Hugging Face transformers), peft (LoRA adapters) or gguf (llama.cpp), got '\(format)'")
        }
        if r.weightType != nil && format != "gguf" { throw UsageError("--type sets the weights of a gguf export; --format is \(format)") }
        if r.baseName != nil && format != "peft" { throw UsageError("--base names the base model of a peft export; --format is \(format)") }
        for assignment in r.overrides where !assignment.hasPrefix("sample.") && !assignment.hasPrefix("model.rope_scaling") {
            throw UsageError("--set \(assignment): export takes sample.* settings (generation_config.json) and model.rope_scaling; the checkpoint fixes the rest")
        }
        let (loaded, tokenizer) = try Checkpoint.loadWithTokenizer(r.checkpoint)
        var run = loaded.config
        if let configPath = r.configPath { run.sample = try RunConfig.sampleSection(ofConfig: configPath, note: note) }
        try run.apply(overrides: r.overrides)
        try run.validate()
        let model = try Checkpoint.model(loaded, under: run.model)
        if format != "hf" && Checkpoint.isScoreModel(loaded.directory) {
            throw UsageError("'\(r.checkpoint)' is a reward model (a score head, no next-token output); export it with --format hf (…ForSequenceClassification)")
        }
        if let method = model.unmergeableMethod, format != "peft" || method == .adapter {
            throw UsageError(HuggingFace.unexportable(method, format: format))
        }
        let sources = [r.checkpoint, loaded.directory.path]
        if format == "gguf" {
            let names = GGUFExport.WeightType.allCases.map(\.rawValue)
            guard let weightType = GGUFExport.WeightType(rawValue: r.weightType ?? "f32") else {
                throw UsageError("--type must be one of \(names.joined(separator: ", ")), got '\(r.weightType ?? "")'")
            }
            return try GGUFExport.export(loaded, model: model, config: run, type: weightType, out: r.out, force: r.force, sources: sources)
        }
        try OutputDirectory.check(r.out, force: r.force, sources: sources, note: note)
        let family = try HuggingFace.family(for: run.model)
        let out = r.out
        if format == "peft" {
            guard model.hasAdapters else {
                throw UsageError("\(loaded.directory.path) has no LoRA adapters (its config has no lora section), so there is nothing to export as peft; use --format hf")
            }
            try HuggingFace.exportPEFT(model: model, config: run, baseName: r.baseName, to: URL(fileURLWithPath: out))
            let kind = run.prefixTuning != nil ? "prefix tuning" : run.promptTuning != nil ? "prompt tuning" : "LoRA adapter"
            return "wrote \(out) (PEFT \(kind) for \(family == .gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM")); load it with PeftModel.from_pretrained(base, \"\(out)\") on the base exported with --format hf"
        }
        let merged = model.hasAdapters
        if merged { model.mergeAdapters() }  // W + (alpha/r)·B·A: a plain transformers model
        let scoreHead = try Checkpoint.scoreHead(in: loaded.directory)
        try HuggingFace.export(model: model, config: run, tokenizerJSON: loaded.tokenizerJSON, specialTokens: tokenizer.specialTokens,
                               chatTemplate: try Checkpoint.chatTemplate(in: loaded.directory), scoreHead: scoreHead, dtype: loaded.storage,
                               to: URL(fileURLWithPath: out))
        let half = loaded.storage == .f32 ? "" : ", \(loaded.storage.rawValue.lowercased()) weights"
        if scoreHead != nil {
            let name = HuggingFace.sequenceClassificationName(family)
            return "wrote \(out) (\(name), one label: a reward model\(merged ? ", LoRA adapters merged" : "")\(half)); load it with AutoModelForSequenceClassification.from_pretrained(\"\(out)\") and score one sequence at a time (no pad_token_id)"
        }
        return "wrote \(out) (\(family == .gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM")\(merged ? ", LoRA adapters merged" : "")\(half)); load it with AutoModelForCausalLM.from_pretrained(\"\(out)\")"
    }
}
