import Foundation
import NN
import Config
import Model
import Formats
import Kernels

/// `tinygpt info (--config C [--set k=v ...] | --checkpoint DIR)`: parameter
/// counts, FLOPs per token, memory, and the resolved config.
func runInfoCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") {
        print("usage: tinygpt info (--config FILE [--set section.field=value ...] | --checkpoint DIR)")
        return
    }
    let checkpoint = try a.option("checkpoint")
    var config: RunConfig
    var note: String?
    var quantization: (format: QuantizedFormat, groupSize: Int, embeddings: Bool)?
    var stored: (count: WeightCount, mask: PruningMask?)?
    if let checkpoint {
        let extraSets = try a.options("set"), extraConfig = try a.option("config")
        if !extraSets.isEmpty || extraConfig != nil {
            throw CLIError("info takes either --checkpoint or --config (with --set), not both")
        }
        let directory = try Checkpoint.resolve(checkpoint)
        config = try Checkpoint.loadConfig(from: directory)
        quantization = try quantizationInfo(directory)
        stored = (try WeightCount.count(checkpoint: directory, config: config.model),
                  try PruningMask.load(from: directory, parameters: config.model.parameterShapes))
    } else {
        config = try readConfig(&a)
    }
    try a.finish()
    if config.model.vocabSize == nil {
        let assumed = config.expectedVocabularySize
        config.model.vocabSize = assumed
        note = config.tokenizer.type == .bpe
            ? "vocab_size taken from tokenizer.vocab_size (\(assumed))"
            : "vocab_size not set: a char tokenizer takes it from the corpus; counted here as \(assumed), tinyshakespeare's (set model.vocab_size to change)"
    }
    let m = config.model
    var groups: [(String, Int)] = [("token embedding", 0), ("position embedding", 0), ("attention", 0),
                                   ("feed-forward", 0), ("norms", 0), ("output head", 0)]
    func add(_ group: Int, _ n: Int) { groups[group].1 += n }
    var matmulWeights = 0
    for p in m.parameterShapes {
        let n = p.count
        switch p.name {
        case let s where s.hasPrefix("token_embedding"): add(0, n)
        case let s where s.hasPrefix("position_embedding"): add(1, n)
        case let s where s.contains("norm"): add(4, n)
        case let s where s.contains(".attn."): add(2, n); if p.decays { matmulWeights += n }
        case let s where s.contains(".ffn."): add(3, n); if p.decays { matmulWeights += n }
        default: add(5, n); matmulWeights += n
        }
    }
    let total = groups.map(\.1).reduce(0, +)
    let vocab = m.vocabSize!
    let headWeights = m.tieEmbeddings ? vocab * m.dModel : 0  // a tied head still multiplies
    // Forward: 2 FLOPs per multiply-add of every weight, plus attention's
    // scores and weighted sum (2·2·T·C per layer at full context T).
    let forward = 2 * (matmulWeights + headWeights) + 4 * m.nLayer * m.contextLength * m.dModel
    let megabytes = { (floats: Int) in String(format: "%.1f MB", Double(floats) * 4 / 1_048_576) }

    if let note { print("note: \(note)") }
    print("parameters: \(grouped(total))")
    for (name, n) in groups where n > 0 || name == "output head" {
        let label = name == "output head" && m.tieEmbeddings ? "output head (tied to token embedding)" : name
        print("  \(label.padding(toLength: 38, withPad: " ", startingAt: 0)) \(grouped(n).leftPadded(12))  \(String(format: "%5.1f%%", 100 * Double(n) / Double(max(total, 1))))")
    }
    print("FLOPs per token: forward \(grouped(forward)), training ≈ \(grouped(3 * forward)) (forward + backward, at context \(m.contextLength))")
    let optimizerFloats = config.train.optimizer == .sgd ? total : 2 * total
    print("memory: weights \(megabytes(total)), gradients \(megabytes(total)), \(config.train.optimizer.rawValue) state \(megabytes(optimizerFloats)), total \(megabytes(2 * total + optimizerFloats)) before activations")
    if let stored { printStoredWeights(stored.count, mask: stored.mask) }
    printPerTokenBytes(m, quantization: quantization)
    print("resolved config:")
    print(String(decoding: try config.jsonData(), as: UTF8.self), terminator: "")
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
