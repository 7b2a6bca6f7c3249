import Foundation
import NN
import Config
import Model

/// An adapter checkpoint (a run whose config has a `lora` section) holds,
/// besides the usual files, `adapter.safetensors`: every adapter's A (r, in)
/// and B (out, r), F32, named "blocks.N.attn.q.lora_A" / "….lora_B".
/// `model.safetensors` is then the frozen base, copied unchanged from the
/// model training started from, so the checkpoint is whole by itself.
extension Checkpoint {
    public static let adapterFile = "adapter.safetensors"

    static func adapterTensors(_ model: GPT) -> [SafeTensor] {
        model.adapterParameters.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray()) }
    }

    /// Attaches the adapters the config's `lora` section describes and fills
    /// them from the directory's adapter file; checks names, shapes and values.
    static func loadAdapters(into model: GPT, lora: LoRAConfig, directory: URL) throws {
        let url = directory.appendingPathComponent(adapterFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FormatError("checkpoint '\(directory.path)': its config has a lora section but there is no \(adapterFile)")
        }
        let file = try SafeTensors.read(from: url)
        model.attachAdapters(lora, seed: 0)
        let expected = model.adapterParameters
        let names = Set(expected.map(\.name))
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            throw FormatError("\(url.path): unexpected tensor '\(extra.name)' \(describeShape(extra.shape)): not an adapter of this config's lora section")
        }
        for p in expected {
            guard let entry = file[p.name] else {
                throw FormatError("\(url.path): missing tensor '\(p.name)' (the lora section needs shape \(describeShape(p.tensor.shape)))")
            }
            guard entry.dtype == .f32, entry.shape == p.tensor.shape else {
                throw FormatError("\(url.path): tensor '\(p.name)' is \(entry.dtype.rawValue) \(describeShape(entry.shape)); the lora section needs F32 \(describeShape(p.tensor.shape))")
            }
            if let bad = entry.values.firstIndex(where: { !$0.isFinite }) {
                throw FormatError("\(url.path): tensor '\(p.name)' holds a non-finite value (\(entry.values[bad]) at flat index \(bad))")
            }
            entry.values.withUnsafeBufferPointer { p.tensor.data.update(from: $0.baseAddress!, count: $0.count) }
        }
    }
}
