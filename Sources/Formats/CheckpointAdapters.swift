import Foundation
import NN
import Config
import Model

/// An adapter checkpoint (a run whose config has a PEFT section: lora,
/// adapter, prefix_tuning or prompt_tuning) holds, besides the usual files,
/// `adapter.safetensors`: the trainable PEFT parameters, F32 (`GPT.adapterParameters`:
/// LoRA's "blocks.N.attn.q.lora_A" / "….lora_B", the bottleneck adapters'
/// "blocks.N.attn_adapter.down.weight" …, "prefix_tuning.…", "prompt_tuning.embeddings"),
/// and prefix tuning's computed prefixes when an MLP makes them
/// ("prefix_tuning.prefixes", what PEFT stores). A run started from a base
/// checkpoint (`--init-from`) saves adapters only: `base.json` names the base
/// (`CheckpointBase`); a run on a freshly initialised base, which exists
/// nowhere else, keeps it in `model.safetensors` beside the adapters, and
/// such a checkpoint loads with no record to check.
extension Checkpoint {
    public static let adapterFile = "adapter.safetensors"

    static func adapterTensors(_ model: GPT) -> [SafeTensor] {
        model.adapterParameters.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
            + model.peftDerivedTensors.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
    }

    /// Attaches the modules the config's PEFT section describes and fills
    /// them from the directory's adapter file; checks names, shapes and values.
    static func loadAdapters(into model: GPT, config: RunConfig, directory: URL) throws {
        guard let method = config.peftMethod else { return }
        let url = directory.appendingPathComponent(adapterFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FormatError("checkpoint '\(directory.path)': its config has a \(method.rawValue) section but there is no \(adapterFile)")
        }
        let file = try SafeTensors.read(from: url)
        model.attachPEFT(config, seed: 0)
        let section = method.rawValue
        let expected = model.adapterParameters + model.peftDerivedTensors.map { Parameter(name: $0.name, tensor: $0.tensor) }
        let names = Set(expected.map(\.name))
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            throw FormatError("\(url.path): unexpected tensor '\(extra.name)' \(describeShape(extra.shape)): not a parameter of this config's \(section) section")
        }
        for p in expected {
            guard let entry = file[p.name] else {
                throw FormatError("\(url.path): missing tensor '\(p.name)' (the \(section) section needs shape \(describeShape(p.tensor.shape)))")
            }
            guard entry.dtype == .f32, entry.shape == p.tensor.shape else {
                throw FormatError("\(url.path): tensor '\(p.name)' is \(entry.dtype.rawValue) \(describeShape(entry.shape)); the \(section) section needs F32 \(describeShape(p.tensor.shape))")
            }
            if let bad = entry.values.firstIndex(where: { !$0.isFinite }) {
                throw FormatError("\(url.path): tensor '\(p.name)' holds a non-finite value (\(entry.values[bad]) at flat index \(bad))")
            }
            entry.values.withUnsafeBufferPointer { p.tensor.data.update(from: $0.baseAddress!, count: $0.count) }
        }
    }
}
