import Foundation
import Files
import Kernels
import Autograd
import NN
import Config
import Model
import Tokenizer

/// A checkpoint is a directory:
///
///     model.safetensors   the weights, F32 (or F16/BF16: a half checkpoint), named as `GPT.parameters`
///     config.json         the resolved run config
///     tokenizer.json      the tokenizer (Hugging Face format), kept as bytes
///     chat_template.jinja the chat template, for models that have one (optional)
///
/// plus whatever extra files the trainer adds (optimizer state, progress).
/// An adapter checkpoint trained on a base checkpoint holds no
/// `model.safetensors`: `base.json` names the base instead (CheckpointBase.swift).
/// Directories are replaced atomically: written complete under a temporary
/// name beside the target, then renamed into place.
public enum Checkpoint {
    public static let weightsFile = "model.safetensors"
    public static let configFile = "config.json"
    public static let tokenizerFile = "tokenizer.json"
    /// The model's chat template (Jinja text, as Hugging Face's chat_template.jinja), when it has one.
    public static let chatTemplateFile = "chat_template.jinja"
    /// The extra files that carry a chat template into a checkpoint (none without one).
    public static func chatTemplateFiles(_ template: String?) -> [String: Data] {
        template.map { [chatTemplateFile: Data($0.utf8)] } ?? [:]
    }

    /// The chat template a checkpoint directory holds, or nil when it has none.
    public static func chatTemplate(in directory: URL) throws -> String? {
        let url = directory.appendingPathComponent(chatTemplateFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw FormatError("cannot read '\(url.path)'") }
        guard let text = String(data: data, encoding: .utf8) else { throw FormatError("\(url.path) is not UTF-8 text") }
        return text
    }

    /// Version 2: sinusoidal positions scale the token embeddings by √d_model (version 1 did not).
    static let formatVersion = 2
    static let formatMetadata = ["format": "tinygpt", "format_version": String(formatVersion)]

    /// The format version a weights file states (1 when it states none: files
    /// written before versions were), refused when it is not a number or is
    /// newer than this build reads: its meaning may have changed.
    public static func checkFormatVersion(_ metadata: [String: String], source: String) throws -> Int {
        guard let text = metadata["format_version"] else { return 1 }
        guard let version = Int(text), version >= 1 else {
            throw FormatError("\(source): format_version '\(text)' in its metadata is not a version number (this build reads 1 to \(formatVersion))")
        }
        guard version <= formatVersion else {
            throw FormatError("\(source): format_version \(version) is newer than this build of tinygpt reads (1 to \(formatVersion)); use the tinygpt that wrote it, or a newer one")
        }
        return version
    }

    /// Writes `model`, `config` and the tokenizer to `directory`, with any
    /// `extraFiles` (name → bytes) and `extraTensors` (name → safetensors
    /// contents), and whole checkpoints in subdirectories (`inner`, by name:
    /// a PPO run keeps its reward and value models there). `dtype` stores the
    /// weights as F32, or as F16/BF16 (a half checkpoint, rounded to nearest
    /// even; `checkRepresentable` first); `mask` adds a pruned model's mask.
    /// With `base`, a model with adapters is saved adapters-only: `base.json`
    /// names the checkpoint whose weights are the frozen base (and its mask).
    public static func save(model: GPT, config: RunConfig, tokenizerJSON: Data,
                            extraFiles: [String: Data] = [:], extraTensors: [String: [SafeTensor]] = [:],
                            inner: [String: InnerCheckpoint] = [:], dtype: SafeTensorsDType = .f32, mask: PruningMask? = nil,
                            base: CheckpointBase? = nil, to directory: URL) throws {
        var outer = InnerCheckpoint(model: model, config: config, tokenizerJSON: tokenizerJSON, extraFiles: extraFiles, extraTensors: extraTensors)
        outer.dtype = dtype
        outer.mask = mask
        outer.base = base
        for checkpoint in [outer] + inner.values { _ = try checkpoint.config.jsonData() }  // every config valid before anything is written
        try replaceDirectoryAtomically(directory) { temporary in
            try outer.write(into: temporary, target: directory)
            for (name, checkpoint) in inner.sorted(by: { $0.key < $1.key }) {
                let subdirectory = temporary.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: subdirectory, withIntermediateDirectories: false)
                try checkpoint.write(into: subdirectory, target: directory.appendingPathComponent(name))
            }
        }
    }

    /// The contents of one checkpoint directory, for `save`.
    public struct InnerCheckpoint {
        public var model: GPT
        public var config: RunConfig
        public var tokenizerJSON: Data
        public var extraFiles: [String: Data] = [:]
        public var extraTensors: [String: [SafeTensor]] = [:]
        public var dtype: SafeTensorsDType = .f32
        public var mask: PruningMask?
        /// The base of an adapter model saved adapters-only.
        public var base: CheckpointBase?

        public init(model: GPT, config: RunConfig, tokenizerJSON: Data, extraFiles: [String: Data] = [:], extraTensors: [String: [SafeTensor]] = [:]) {
            self.model = model; self.config = config; self.tokenizerJSON = tokenizerJSON
            self.extraFiles = extraFiles; self.extraTensors = extraTensors
        }

        /// Writes into `directory`, which becomes `target` (base.json records the base relative to it).
        func write(into directory: URL, target: URL) throws {
            if let base, model.hasAdapters {
                try base.write(into: directory, target: target)
            } else {
                let weights = model.parameters.map { SafeTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.toArray(), dtype: dtype) }
                try SafeTensors.write(weights, metadata: formatMetadata, to: directory.appendingPathComponent(weightsFile))
                try mask?.write(into: directory, order: config.model.parameterShapes)
            }
            if model.hasAdapters { try SafeTensors.write(adapterTensors(model), metadata: formatMetadata, to: directory.appendingPathComponent(adapterFile)) }
            try config.jsonData().write(to: directory.appendingPathComponent(configFile))
            try tokenizerJSON.write(to: directory.appendingPathComponent(tokenizerFile))
            for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
                try data.write(to: directory.appendingPathComponent(name))
            }
            for (name, tensors) in extraTensors.sorted(by: { $0.key < $1.key }) {
                try SafeTensors.write(tensors, to: directory.appendingPathComponent(name))
            }
        }
    }

    /// Writes a checkpoint whose tensors are already in their stored form (an
    /// imported model, float or quantized), in order, with `metadata`.
    public static func save(tensors: [SafeTensor], metadata: [String: String], config: RunConfig, tokenizerJSON: Data,
                            extraFiles: [String: Data] = [:], to directory: URL) throws {
        try save(layouts: tensors.map(\.layout), metadata: metadata, config: config, tokenizerJSON: tokenizerJSON, extraFiles: extraFiles,
                 to: directory) { weightsURL in try SafeTensors.write(tensors, metadata: metadata, to: weightsURL) }
    }

    /// Writes a checkpoint whose tensors are produced one at a time, in their
    /// stored form (`SafeTensors.write(layouts:…)`): an import that never holds the whole model.
    public static func save(layouts: [SafeTensorLayout], metadata: [String: String], config: RunConfig, tokenizerJSON: Data,
                            extraFiles: [String: Data] = [:], to directory: URL,
                            data: @escaping (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try save(layouts: layouts, metadata: metadata, config: config, tokenizerJSON: tokenizerJSON, extraFiles: extraFiles, to: directory) { weightsURL in
            try SafeTensors.write(layouts: layouts, metadata: metadata, to: weightsURL, data: data)
        }
    }

    private static func save(layouts: [SafeTensorLayout], metadata: [String: String], config: RunConfig, tokenizerJSON: Data,
                             extraFiles: [String: Data], to directory: URL, weights: (URL) throws -> Void) throws {
        let configJSON = try config.jsonData()
        try replaceDirectoryAtomically(directory) { temporary in
            try weights(temporary.appendingPathComponent(weightsFile))
            try configJSON.write(to: temporary.appendingPathComponent(configFile))
            try tokenizerJSON.write(to: temporary.appendingPathComponent(tokenizerFile))
            for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
                try data.write(to: temporary.appendingPathComponent(name))
            }
        }
    }

    /// A loaded checkpoint: the model with its weights, its config, and its tokenizer's JSON.
    public struct Loaded {
        public let model: GPT
        public let config: RunConfig
        public let tokenizerJSON: Data
        public let directory: URL
        /// How the weights are stored: F32, or F16/BF16 for a half checkpoint (read as float32).
        public var storage: SafeTensorsDType = .f32
        /// A pruned model's mask (`mask.safetensors`), checked against the weights.
        public var mask: PruningMask? = nil
        /// An adapters-only checkpoint's base: where it was found, and its record.
        public var base: (directory: URL, record: CheckpointBase)? = nil
    }

    /// A half checkpoint's dtype when every one of `dtypes` is that one half
    /// format; F32 otherwise (a checkpoint tinygpt writes uses one dtype).
    public static func storageDType(_ dtypes: [SafeTensorsDType]) -> SafeTensorsDType {
        guard let first = dtypes.first, first.halfFloat != nil, dtypes.allSatisfy({ $0 == first }) else { return .f32 }
        return first
    }

    /// Refuses a model whose weights `dtype` cannot hold (beyond f16's ±65504,
    /// which would become infinities), naming the first such weight, before anything is written.
    public static func checkRepresentable(_ model: GPT, as dtype: SafeTensorsDType) throws {
        guard let half = dtype.halfFloat else { return }
        let limit = half.greatestFiniteMagnitude
        for p in model.parameters {
            let values = UnsafeBufferPointer(start: p.tensor.data, count: p.tensor.count)
            // Values that round down to the largest finite half are kept; the rest would be infinite.
            if let bad = values.firstIndex(where: { abs($0) > limit && half.isNonFinite(half.bits($0)) }) {
                throw FormatError("tensor '\(p.name)' holds \(values[bad]) at flat index \(bad), beyond \(half.rawValue)'s largest finite value \(limit); "
                                      + (half == .f16 ? "bf16 keeps float32's range (with 8 bits of precision)" : "keep float32"))
            }
        }
    }

    /// Loads a checkpoint directory, validating every tensor against the config.
    /// An adapters-only checkpoint loads its base first (found, its shape and
    /// fingerprint checked), as the model `--init-from` started from: a LoRA
    /// base merged.
    public static func load(from directory: URL) throws -> Loaded { try load(from: directory, depth: 0, model: nil) }

    /// `model`: the config to build the model under, when it is an adapter
    /// checkpoint's base (same parameters; settings such as the context may differ).
    private static func load(from directory: URL, depth: Int, model modelConfig: ModelConfig?) throws -> Loaded {
        let config = try loadConfig(from: directory)
        let tokenizerURL = directory.appendingPathComponent(tokenizerFile)
        guard let tokenizerJSON = FileManager.default.contents(atPath: tokenizerURL.path) else {
            throw FormatError("checkpoint '\(directory.path)' has no readable \(tokenizerFile)")
        }
        if let base = try checkedBase(of: directory, config: config) {
            guard depth < maxBaseDepth else {
                throw FormatError("checkpoint '\(directory.path)': its bases name each other in a loop (more than \(maxBaseDepth) deep)")
            }
            // The base's weights, built under this checkpoint's model settings (baseDirectory checked the parameters match).
            let loadedBase = try load(from: base.directory, depth: depth + 1, model: modelConfig ?? config.model)
            let model = loadedBase.model
            if let method = model.unmergeableMethod {
                throw FormatError("checkpoint '\(directory.path)': its base '\(base.directory.path)' has \(method.rawValue) modules, which do not merge into a plain model; a base is a plain or LoRA checkpoint")
            }
            if model.hasAdapters { model.mergeAdapters() }
            try loadAdapters(into: model, config: config, directory: directory)
            return Loaded(model: model, config: config, tokenizerJSON: tokenizerJSON, directory: directory, mask: loadedBase.mask, base: base)
        }
        let file = try SafeTensors.read(from: directory.appendingPathComponent(weightsFile))
        if let quantization = file.metadata[QuantizedCheckpoint.formatKey] {
            throw FormatError("\(directory.path) is a quantized (\(quantization)) checkpoint: it can be sampled, evaluated and inspected, "
                                  + "but training, resuming, importing weights from it and export need the float checkpoint it was quantized from")
        }
        let version = try checkFormatVersion(file.metadata, source: directory.appendingPathComponent(weightsFile).path)
        if config.model.position == .sinusoidal, version < 2 {
            throw FormatError("\(directory.path) was trained before sinusoidal positions followed the paper (token embeddings × √d_model); "
                                  + "its outputs would change, so it is refused: train it again")
        }
        let model = GPT(config: modelConfig ?? config.model, seed: 0)
        try assign(file, to: model, source: directory.appendingPathComponent(weightsFile).path)
        let values = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, UnsafeBufferPointer(start: UnsafePointer($0.tensor.data), count: $0.tensor.count)) })
        let mask = try PruningMask.load(from: directory, parameters: config.model.parameterShapes, values: values)
        try loadAdapters(into: model, config: config, directory: directory)
        return Loaded(model: model, config: config, tokenizerJSON: tokenizerJSON, directory: directory,
                      storage: storageDType(file.tensors.map(\.dtype)), mask: mask)
    }

    /// A float checkpoint opened for inference: its weights read in place from
    /// the mapped `model.safetensors` (see `MappedSafeTensors`), so opening
    /// costs the time to map and check it, and the weights are in memory once.
    public struct Mapped {
        public let weights: FloatWeights
        public let config: RunConfig
        public let tokenizerJSON: Data
        public let directory: URL
        /// Notes for the user about how the weights were read (a copy of misaligned data).
        public let notes: [String]
        /// How the weights are stored: F32, or F16/BF16 (converted to float32 once, on opening).
        public var storage: SafeTensorsDType = .f32
    }

    /// Opens a float checkpoint for inference, with the checks `load` makes
    /// (every tensor present, none extra, F32, F16 or BF16, shapes, finite values). An
    /// adapter checkpoint (a `lora` section) needs its adapters merged: `load` it.
    public static func map(from directory: URL) throws -> Mapped {
        let config = try loadConfig(from: directory)
        let tokenizerURL = directory.appendingPathComponent(tokenizerFile)
        guard let tokenizerJSON = FileManager.default.contents(atPath: tokenizerURL.path) else {
            throw FormatError("checkpoint '\(directory.path)' has no readable \(tokenizerFile)")
        }
        guard config.peftMethod == nil else {
            throw FormatError("\(directory.path) is an adapter checkpoint; it is loaded (LoRA merged), not mapped")
        }
        let file = try MappedSafeTensors(contentsOf: directory.appendingPathComponent(weightsFile))
        let source = file.source
        _ = try checkFormatVersion(file.metadata, source: source)
        if let quantization = file.metadata[QuantizedCheckpoint.formatKey] {
            throw FormatError("\(source) holds quantized (\(quantization)) weights; open it as a quantized checkpoint")
        }
        if config.model.position == .sinusoidal, try checkFormatVersion(file.metadata, source: source) < 2 {
            throw FormatError("\(directory.path) was trained before sinusoidal positions followed the paper (token embeddings × √d_model); "
                                  + "its outputs would change, so it is refused: train it again")
        }
        let expected = config.model.parameterShapes
        let names = Set(expected.map(\.name))
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            throw FormatError("\(source): unexpected tensor '\(extra.name)' \(describeShape(extra.shape)): not part of this config's model")
        }
        var tensors: [String: UnsafePointer<Float>] = [:]
        var checked: [(name: String, values: UnsafeBufferPointer<Float>)] = []
        for p in expected {
            guard let entry = file[p.name] else {
                throw FormatError("\(source): missing tensor '\(p.name)' (the config needs shape \(describeShape(p.shape)))")
            }
            guard entry.dtype.isFloat else {
                throw FormatError("\(source): tensor '\(p.name)' is \(entry.dtype.rawValue); tinygpt checkpoints store F32, F16 or BF16")
            }
            guard entry.shape == p.shape else {
                throw FormatError("\(source): tensor '\(p.name)' has shape \(describeShape(entry.shape)) but the config needs \(describeShape(p.shape))")
            }
            let values = file.floats(entry)
            checked.append((p.name, values))
            tensors[p.name] = values.baseAddress!
        }
        // One pass over every value, on all threads: it also brings the file's pages in.
        if let (i, bad) = firstFailure(checked.map { t in (t.values.count, { firstNonFinite(t.values, in: $0) }) }) {
            let (name, values) = checked[i]
            throw FormatError("\(source): tensor '\(name)' holds a non-finite value (\(values[bad]) at flat index \(bad)); the checkpoint is damaged or came from a diverged run")
        }
        return Mapped(weights: FloatWeights(tensors: tensors, owner: file), config: config, tokenizerJSON: tokenizerJSON,
                      directory: directory, notes: file.notes, storage: storageDType(expected.compactMap { file[$0.name]?.dtype }))
    }

    /// The config stored in a checkpoint directory.
    public static func loadConfig(from directory: URL) throws -> RunConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError("checkpoint directory '\(directory.path)' does not exist")
        }
        let url = directory.appendingPathComponent(configFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FormatError("checkpoint '\(directory.path)' has no \(configFile) (incomplete or not a checkpoint)")
        }
        let config: RunConfig
        do { config = try RunConfig.load(from: url) } catch let error as ConfigError where !error.description.contains(url.path) {
            throw FormatError("\(url.path): \(error)")  // a rule across fields (validate) names no file itself
        }
        guard config.model.vocabSize != nil else {
            throw FormatError("\(url.path): model.vocab_size is missing; a checkpoint's config must be resolved")
        }
        return config
    }

    /// Copies tensors into the model's parameters; reports the first tensor
    /// that is missing, unexpected, or of the wrong shape or dtype.
    public static func assign(_ file: SafeTensorsFile, to model: GPT, source: String) throws {
        let expected = model.parameters
        let names = Set(expected.map(\.name))
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            throw FormatError("\(source): unexpected tensor '\(extra.name)' \(describeShape(extra.shape)): not part of this config's model")
        }
        for p in expected {
            guard let entry = file[p.name] else {
                throw FormatError("\(source): missing tensor '\(p.name)' (the config needs shape \(describeShape(p.tensor.shape)))")
            }
            guard entry.dtype.isFloat else {
                throw FormatError("\(source): tensor '\(p.name)' is \(entry.dtype.rawValue); tinygpt checkpoints store F32, F16 or BF16")
            }
            guard entry.shape == p.tensor.shape else {
                throw FormatError("\(source): tensor '\(p.name)' has shape \(describeShape(entry.shape)) but the config needs \(describeShape(p.tensor.shape))")
            }
            try requireFinite(entry.values, tensor: p.name, source: source)
            entry.values.withUnsafeBufferPointer { p.tensor.data.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// Refuses a tensor holding a NaN or an infinity, naming it and the first
    /// bad index: weights, optimizer moments and reference scores alike are
    /// checked on load, so a damaged file stops a command at once rather than
    /// a run some steps later.
    public static func requireFinite(_ values: [Float], tensor name: String, source: String) throws {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw FormatError("\(source): tensor '\(name)' holds a non-finite value (\(values[bad]) at flat index \(bad)); the checkpoint is damaged or came from a diverged run")
    }

    /// The one vocabulary rule, applied wherever a model meets its tokenizer
    /// (sample, eval, logits, export, import): the sizes must be equal, so
    /// every id the model can produce decodes and every id the tokenizer
    /// makes has an embedding.
    public static func checkVocabulary(tokenizer: Int, model: Int, source: String) throws {
        guard tokenizer == model else {
            throw FormatError("\(source): the tokenizer has \(tokenizer) tokens but the model's vocabulary has \(model); they must be equal"
                                  + (tokenizer < model ? " (a model padded beyond its tokenizer is not supported)" : ""))
        }
    }

    /// A run directory holds `best/` and `latest/`; a checkpoint directory
    /// holds the files themselves. Returns the checkpoint to use: the
    /// directory itself, else its `best`, else its `latest`.
    public static func resolve(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        let fm = FileManager.default
        if holdsCheckpoint(url) { return url }
        for sub in [RunDirectory.bestName, RunDirectory.latestName] where holdsCheckpoint(url.appendingPathComponent(sub)) {
            return url.appendingPathComponent(sub)
        }
        guard fm.fileExists(atPath: path) else { throw FormatError("checkpoint '\(path)' does not exist") }
        throw FormatError("'\(path)' is neither a checkpoint (no \(weightsFile) or \(CheckpointBase.file)) nor a run directory (no best/ or latest/)")
    }

    /// Writes a directory under a temporary name, then renames it over `target`.
    /// Callers decide whether `target` may be replaced (`OutputDirectory.check`);
    /// this only makes the replacement atomic.
    public static func replaceDirectoryAtomically(_ target: URL, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = target.deletingLastPathComponent()
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let temporary = parent.appendingPathComponent(".\(target.lastPathComponent)\(temporaryMark)\(tag)")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw FormatError("cannot write '\(target.path)': \(plainReason(error))")
        }
        do { try fill(temporary) } catch {
            try? fm.removeItem(at: temporary)
            let domain = (error as NSError).domain
            guard domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain else {
                // Name the directory the user knows, not the temporary one.
                throw FormatError("\(error)".replacingOccurrences(of: temporary.path, with: target.path))
            }
            throw FormatError("cannot write '\(target.path)': \(plainReason(error))")
        }
        // rename(2) cannot replace a non-empty directory, so the old one steps
        // aside first; a crash in between leaves it under `.NAME.old-*`, which
        // `recoverInterruptedReplacements` puts back.
        let old = parent.appendingPathComponent(".\(target.lastPathComponent)\(oldMark)\(tag)")
        let hadOld = fm.fileExists(atPath: target.path)
        if hadOld { guard rename(target.path, old.path) == 0 else { throw FormatError("cannot move aside '\(target.path)': \(posixReason(errno))") } }
        guard rename(temporary.path, target.path) == 0 else {
            let reason = posixReason(errno)
            if hadOld { _ = rename(old.path, target.path) }
            try? fm.removeItem(at: temporary)
            throw FormatError("cannot write '\(target.path)': \(reason)")
        }
        if hadOld { try? fm.removeItem(at: old) }
    }

    static let temporaryMark = ".tmp-", oldMark = ".old-"

    /// After a crash: removes the half-written `.NAME.tmp-PID-*` directories
    /// (and files) in `directory` and the `.NAME.old-PID-*` copies, first
    /// renaming an old copy back to NAME when NAME itself is missing (a crash
    /// between the two renames). Only leftovers of processes that are no
    /// longer running, and with `name`, only those of NAME. Returns one line
    /// per action, for the user.
    public static func recoverInterruptedReplacements(in directory: URL, only name: String? = nil) -> [String] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: directory.path) else { return [] }
        var notes: [String] = []
        func target(of entry: String, mark: String) -> String? {
            guard entry.hasPrefix("."), let range = entry.range(of: mark, options: .backwards) else { return nil }
            let target = String(entry[entry.index(after: entry.startIndex)..<range.lowerBound])
            guard !target.isEmpty, name == nil || target == name else { return nil }
            // PID-RANDOM: a writer that is still running owns its leftovers.
            if let pid = Int32(entry[range.upperBound...].prefix(while: { $0 != "-" })), pid > 0, pid != getpid(),
               kill(pid, 0) == 0 || errno == EPERM {
                return nil
            }
            return target
        }
        for entry in entries.sorted() {
            if let name = target(of: entry, mark: oldMark) {
                let original = directory.appendingPathComponent(name), old = directory.appendingPathComponent(entry)
                if !fm.fileExists(atPath: original.path), rename(old.path, original.path) == 0 {
                    notes.append("recovered \(name)/ from \(entry), left by a save that was interrupted")
                } else if (try? fm.removeItem(at: old)) != nil {
                    notes.append("removed \(entry), left by a save that was interrupted")
                }
            }
        }
        for entry in entries.sorted() where target(of: entry, mark: temporaryMark) != nil {
            if (try? fm.removeItem(at: directory.appendingPathComponent(entry))) != nil {
                notes.append("removed \(entry), a half-written save")
            }
        }
        return notes
    }
}

func describeShape(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }

extension Checkpoint {
    /// A checkpoint (or run directory: its best/, else latest/) loaded with its
    /// tokenizer, checked by the one vocabulary rule: for what works on the
    /// stored model itself (export, quantize, a DPO reference). Inference opens
    /// a `LanguageModel` instead.
    public static func loadWithTokenizer(_ path: String) throws -> (checkpoint: Loaded, tokenizer: any Tokenizer) {
        let loaded = try load(from: try resolve(path))
        let source = loaded.directory.appendingPathComponent(tokenizerFile).path
        let tokenizer = try TokenizerFile.load(data: loaded.tokenizerJSON, name: source)
        try checkVocabulary(tokenizer: tokenizer.vocabSize, model: loaded.model.vocabSize, source: loaded.directory.path)
        return (loaded, tokenizer)
    }

    /// The loaded model under `newModel`, which may differ from the stored
    /// model config only in rope_scaling (adapters kept, not merged).
    public static func model(_ loaded: Loaded, under newModel: ModelConfig) throws -> GPT {
        try newModel.checkInferenceChange(from: loaded.config.model)
        return newModel == loaded.config.model ? loaded.model : loaded.model.withPositions(newModel)
    }
}
