import Foundation
import NN
import Config
import Files
import Model
import Formats
import Kernels

let infoFlags = CommandFlags(
    command: "info", forms: ["(--config FILE [--set section.field=value ...] | --checkpoint DIR) [--json]"],
    about: "Parameters by component, FLOPs per token, memory, and the resolved, validated config.",
    flags: [Flag("config", "FILE", "a run config (default: the built-in defaults)"), .set,
            Flag("checkpoint", "DIR", "a checkpoint or run directory instead of a config"),
            Flag("json", "one JSON object: parameters, components, forward_flops_per_token, config (what scripts read)")])

/// `tinygpt info`: parameter counts, FLOPs per token, memory, and the resolved config.
func runInfoCommand(_ args: [String]) throws {
    guard var a = infoFlags.parse(args) else { return }
    let checkpoint = try a.option("checkpoint")
    let json = a.flag("json")
    var config: RunConfig
    var note: String?
    var quantization: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?
    var stored: (count: WeightCount, mask: PruningMask?)?
    var baseLine: String?
    if let checkpoint {
        let extraSets = try a.options("set"), extraConfig = try a.option("config")
        if !extraSets.isEmpty || extraConfig != nil {
            throw CLIError("info takes either --checkpoint or --config (with --set), not both")
        }
        let directory = try Checkpoint.resolve(checkpoint)
        config = try Checkpoint.loadConfig(from: directory)
        quantization = try QuantizedCheckpoint.quantizationInfo(directory)
        if let base = try Checkpoint.checkedBase(of: directory, config: config) {
            baseLine = "base: \(base.directory.path) (adapters only: the base's weights are read from there; its \(base.record.weightsFile) matches the record)"
        }
        let weights = try Checkpoint.weightsDirectory(of: directory)  // an adapters-only checkpoint's are its base's
        stored = (try WeightCount.count(checkpoint: weights, config: config.model),
                  try PruningMask.load(from: weights, parameters: config.model.parameterShapes))
    } else {
        config = try readConfig(&a)
    }
    try a.finish()
    let runConfig = try config.jsonData()  // as a run takes it: a vocabulary left to the tokenizer stays null
    let vocabulary = config.expectedVocabularySize
    if config.model.vocabSize == nil {
        config.model.vocabSize = vocabulary
        note = config.tokenizer.type != .char
            ? "vocab_size taken from tokenizer.vocab_size (\(vocabulary))"
            : "vocab_size not set: a char tokenizer takes it from the corpus; counted here as \(vocabulary), tinyshakespeare's (set model.vocab_size to change)"
    }
    let resolvedConfig = try config.jsonData()
    let cost = ModelCost(config.model)
    let total = cost.parameters, forward = cost.forwardFLOPsPerToken
    if json {
        let components = JSONValue.object(cost.parametersByComponent.map { (key: $0.component.rawValue, value: JSONValue.int($0.count)) })
        let state = cost.trainingStateBytes(optimizer: config.train.optimizer)
        var report: JSONValue = .object([:])
        report.set("parameters", .int(total))
        report.set("trainable_parameters", .int(config.peftTrainableParameters ?? total))
        report.set("components", components)
        report.set("forward_flops_per_token", .int(forward))
        report.set("training_state_bytes", .int(state.weights + state.gradients + state.optimizer))
        report.set("weight_bytes_per_token", .int(cost.weightBytesPerToken()))
        report.set("kv_cache_bytes_per_token", .int(cost.kvCacheBytesPerToken))
        report.set("note", note.map { .string($0) } ?? .null)
        report.set("config", try JSONParser.parse(Array(runConfig)))
        print(report.serialized())
        return
    }
    let m = cost.model
    let megabytes = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
    if let note { print("note: \(note)") }
    print("parameters: \(grouped(total))")
    if let method = config.peftMethod, let trainable = config.peftTrainableParameters, let detail = config.peftDetail {
        print(String(format: "trainable: %@ (%.2f%% of the base), %@: %@; base weights frozen",
                     grouped(trainable), 100 * Double(trainable) / Double(max(total, 1)), method.rawValue, detail))
    }
    for (component, n) in cost.parametersByComponent where n > 0 || component == .outputHead {
        let label = component == .outputHead && m.tieEmbeddings ? "output head (tied to token embedding)" : component.rawValue
        print("  \(label.padding(toLength: 38, withPad: " ", startingAt: 0)) \(grouped(n).leftPadded(12))  \(String(format: "%5.1f%%", 100 * Double(n) / Double(max(total, 1))))")
    }
    print("FLOPs per token: forward \(grouped(forward)), training ≈ \(grouped(3 * forward)) (forward + backward, at context \(m.contextLength))")
    let state = cost.trainingStateBytes(optimizer: config.train.optimizer)
    print("memory: weights \(megabytes(state.weights)), gradients \(megabytes(state.gradients)), \(config.train.optimizer.rawValue) state \(megabytes(state.optimizer)), total \(megabytes(state.weights + state.gradients + state.optimizer)) before activations")
    if let baseLine { print(baseLine) }
    if let stored { printStoredWeights(stored.count, mask: stored.mask) }
    for line in cost.perTokenLines(quantization: quantization) { print(line) }
    print("resolved config:")
    print(String(decoding: resolvedConfig, as: UTF8.self), terminator: "")
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// `info --checkpoint`: the weights as the file stores them (dtype, non-zero count) and a pruning mask.
func printStoredWeights(_ w: WeightCount, mask: PruningMask?) {
    func share(_ n: Int, of total: Int) -> String { String(format: "%.1f%%", 100 * Double(n) / Double(max(total, 1))) }
    if w.storage != .f32 {
        print("stored as \(w.storage.rawValue.lowercased()): weights \(String(format: "%.2f MB", Double(2 * w.parameters) / 1e6)) on disk, float32 once opened")
    }
    print("non-zero parameters: \(grouped(w.nonZeroParameters)) of \(grouped(w.parameters)) (\(share(w.parameters - w.nonZeroParameters, of: w.parameters)) zero); "
          + "in the blocks' matrices \(grouped(w.nonZeroPrunable)) of \(grouped(w.prunable)) (\(share(w.prunable - w.nonZeroPrunable, of: w.prunable)) zero)")
    if let mask {
        let how = mask.metadata.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("pruning mask: \(grouped(mask.prunedCount)) of \(grouped(mask.count)) weights pruned and kept at zero by training\(how.isEmpty ? "" : " (\(how))")")
    }
}
