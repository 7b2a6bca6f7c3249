import Foundation
import Files
import Kernels
import Config

/// A file's size and hash, cheap to check again: FNV-1a 64 of each 16 MiB
/// chunk (the chunks hashed in parallel), then FNV-1a 64 of those hashes,
/// 8 bytes each, little-endian, in order. Fixed chunks make it the same on
/// any number of threads.
public struct FileFingerprint: Equatable, Sendable {
    public static let chunkBytes = 16 << 20
    public let bytes: Int
    public let hash: UInt64

    public init(bytes: Int, hash: UInt64) { self.bytes = bytes; self.hash = hash }

    /// The fingerprint of `buffer`'s bytes.
    public init(_ buffer: UnsafeRawBufferPointer) {
        let chunks = (buffer.count + Self.chunkBytes - 1) / Self.chunkBytes
        let hashes = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(chunks, 1))
        defer { hashes.deallocate() }
        Parallel.forEach(chunks) { c in
            let start = c * Self.chunkBytes
            var h = FNV1a64()
            h.combine(UnsafeRawBufferPointer(rebasing: buffer[start..<min(start + Self.chunkBytes, buffer.count)]))
            hashes[c] = h.value
        }
        var total = FNV1a64()
        for c in 0..<chunks { withUnsafeBytes(of: hashes[c].littleEndian) { total.combine($0) } }
        self.init(bytes: buffer.count, hash: total.value)
    }

    /// The fingerprint of the file at `url`, read through a read-only mapping.
    public init(contentsOf url: URL) throws {
        self = try withReadOnlyMapping(of: url) { FileFingerprint($0) }
    }

    /// The hash as 16 hex digits.
    public var hex: String {
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// `base.json`: the record an adapters-only checkpoint keeps of the base it
/// was trained on, instead of a copy of the base's weights. Loading finds
/// the base (at `absolute`, else at `relative` from the checkpoint, so a
/// base moved together with its adapters is still found), checks that its
/// model has the same parameters, and that its weights file has the size
/// and hash recorded, before reading it.
///
///     {"path": "runs/base", "absolute": "/home/me/runs/base/best", "relative": "../../base/best",
///      "weights_file": "model.safetensors", "weights_bytes": 8123456, "weights_fnv1a64": "…",
///      "fingerprint": "fnv1a64 of 16 MiB chunks"}
public struct CheckpointBase: Equatable, Sendable {
    public static let file = "base.json"
    static let fingerprintRule = "fnv1a64 of 16 MiB chunks"

    /// The path as the user gave it (`--init-from`), for messages.
    public var path: String
    /// The base checkpoint directory, absolute (a run directory resolved to its best/ or latest/).
    public var absolute: String
    /// The base relative to the checkpoint that records it; nil until written or read.
    public var relative: String?
    /// The file whose bytes decide the base's weights: `model.safetensors`, or
    /// `adapter.safetensors` when the base is itself an adapters-only LoRA
    /// checkpoint (its own base record is checked when it loads).
    public var weightsFile: String
    public var fingerprint: FileFingerprint

    /// The record of `directory` (a checkpoint, resolved) as the base of a new
    /// adapter run started with `--init-from given`; reads its weights file once.
    public init(given: String, directory: URL) throws {
        path = given
        absolute = directory.standardizedFileURL.path
        let fm = FileManager.default
        weightsFile = fm.fileExists(atPath: directory.appendingPathComponent(Checkpoint.weightsFile).path) ? Checkpoint.weightsFile : Checkpoint.adapterFile
        fingerprint = try FileFingerprint(contentsOf: directory.appendingPathComponent(weightsFile))
    }

    init(path: String, absolute: String, relative: String?, weightsFile: String, fingerprint: FileFingerprint) {
        self.path = path; self.absolute = absolute; self.relative = relative
        self.weightsFile = weightsFile; self.fingerprint = fingerprint
    }

    /// The record in `checkpoint`, or nil when it has none (a checkpoint that holds its own weights).
    public static func read(from checkpoint: URL) throws -> CheckpointBase? {
        let url = checkpoint.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw FormatError("cannot read '\(url.path)'") }
        let object: JSONValue
        do { object = try JSONParser.parse(data) } catch { throw FormatError("\(url.path): not valid JSON: \(error)") }
        func field(_ name: String) throws -> String {
            guard let value = object[name]?.string, !value.isEmpty else {
                throw FormatError("\(url.path): needs \"\(name)\" (a string); the file was edited or damaged")
            }
            return value
        }
        guard let bytes = object["weights_bytes"]?.int, bytes >= 0, let hash = UInt64(try field("weights_fnv1a64"), radix: 16) else {
            throw FormatError("\(url.path): needs \"weights_bytes\" (an integer ≥ 0) and \"weights_fnv1a64\" (16 hex digits); the file was edited or damaged")
        }
        let rule = try field("fingerprint")
        guard rule == fingerprintRule else {
            throw FormatError("\(url.path): fingerprint '\(rule)' is not one this build checks (\(fingerprintRule)); use the tinygpt that wrote it, or a newer one")
        }
        let weightsFile = try field("weights_file")
        guard [Checkpoint.weightsFile, Checkpoint.adapterFile].contains(weightsFile) else {
            throw FormatError("\(url.path): weights_file '\(weightsFile)' must be \(Checkpoint.weightsFile) or \(Checkpoint.adapterFile)")
        }
        return CheckpointBase(path: try field("path"), absolute: try field("absolute"), relative: object["relative"]?.string,
                              weightsFile: weightsFile, fingerprint: FileFingerprint(bytes: bytes, hash: hash))
    }

    /// Writes the record into `checkpoint` (or the temporary directory that
    /// becomes `target`, a sibling of it), with the path relative to `target`.
    func write(into checkpoint: URL, target: URL) throws {
        let object: JSONValue = ["path": .string(path), "absolute": .string(absolute),
                                 "relative": .string(Self.relativePath(from: target, to: URL(fileURLWithPath: absolute))),
                                 "weights_file": .string(weightsFile), "weights_bytes": .int(fingerprint.bytes),
                                 "weights_fnv1a64": .string(fingerprint.hex), "fingerprint": .string(Self.fingerprintRule)]
        try object.fileData.write(to: checkpoint.appendingPathComponent(Self.file))
    }

    /// `to` as a path relative to the directory `from` (both made absolute).
    static func relativePath(from: URL, to: URL) -> String {
        let a = from.standardizedFileURL.pathComponents, b = to.standardizedFileURL.pathComponents
        var common = 0
        while common < min(a.count, b.count) && a[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: a.count - common) + b[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The base directory of `checkpoint`: `absolute` when a checkpoint is
    /// there, else `relative` from `checkpoint`; refused when neither holds one.
    func locate(for checkpoint: URL) throws -> URL {
        var candidates = [URL(fileURLWithPath: absolute)]
        if let relative, !relative.hasPrefix("/") {
            candidates.append(checkpoint.appendingPathComponent(relative).standardizedFileURL)
        }
        if let found = candidates.first(where: Checkpoint.holdsCheckpoint) { return found }
        let given = path == absolute ? "'\(path)'" : "'\(path)' (\(absolute))"
        throw FormatError("checkpoint '\(checkpoint.path)' names its base \(given), which does not exist; it holds adapters only and needs "
                              + "the base it was trained on: put the base back there, or write its new path as \"absolute\" in "
                              + "\(checkpoint.appendingPathComponent(Self.file).path)")
    }

    /// Refuses a base whose weights file differs from the recorded one in size or hash.
    func checkFingerprint(_ base: URL, for checkpoint: URL) throws {
        let url = base.appendingPathComponent(weightsFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FormatError("checkpoint '\(checkpoint.path)' names its base '\(base.path)', which has no \(weightsFile) (the file its record fingerprints)")
        }
        let now = try FileFingerprint(contentsOf: url)
        guard now != fingerprint else { return }
        let change = now.bytes != fingerprint.bytes ? "\(fingerprint.bytes) bytes then, \(now.bytes) now" : "same size, different bytes"
        throw FormatError("checkpoint '\(checkpoint.path)': its base '\(base.path)' changed since the adapters were trained "
                              + "(\(weightsFile): \(change)); the adapters only fit the base they were trained on: restore it, or train them again on this one")
    }
}

extension Checkpoint {
    /// Whether `directory` is a checkpoint: it holds its weights, or the record of its base.
    public static func holdsCheckpoint(_ directory: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: directory.appendingPathComponent(weightsFile).path)
            || fm.fileExists(atPath: directory.appendingPathComponent(CheckpointBase.file).path)
    }

    /// The base directory of an adapters-only checkpoint, found and checked
    /// to have the same parameters as `config`'s model (names and shapes);
    /// nil for a checkpoint that holds its own weights. Reads configs only:
    /// the weights' fingerprint is `load`'s to check.
    public static func baseDirectory(of directory: URL, config: RunConfig) throws -> (directory: URL, record: CheckpointBase)? {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(weightsFile).path) { return nil }
        guard let record = try CheckpointBase.read(from: directory) else { return nil }
        guard let method = config.peftMethod else {
            throw FormatError("checkpoint '\(directory.path)' has a \(CheckpointBase.file) but no \(weightsFile), and its config has no PEFT section "
                                  + "(lora, adapter, prefix_tuning, prompt_tuning): only adapter checkpoints keep their base elsewhere")
        }
        let base = try record.locate(for: directory)
        let baseConfig = try loadConfig(from: base)
        let mine = config.model.parameterShapes, theirs = baseConfig.model.parameterShapes
        if mine != theirs {
            let detail: String
            if let i = (0..<min(mine.count, theirs.count)).first(where: { (i: Int) -> Bool in mine[i].name != theirs[i].name || mine[i].shape != theirs[i].shape }) {
                let (a, b) = (mine[i], theirs[i])
                detail = a.name == b.name ? "tensor '\(a.name)' is \(describeShape(b.shape)) there but \(describeShape(a.shape)) here"
                                          : "it has tensor '\(b.name)' where the adapters' model has '\(a.name)'"
            } else {
                detail = "it has \(theirs.count) tensors, the adapters' model \(mine.count)"
            }
            throw FormatError("checkpoint '\(directory.path)': its base '\(base.path)' is a model of another shape (\(detail)); "
                                  + "the \(method.rawValue) adapters need the base they were trained on")
        }
        return (base, record)
    }

    /// `baseDirectory`, with the base's weights fingerprint checked as well (reads them once).
    public static func checkedBase(of directory: URL, config: RunConfig) throws -> (directory: URL, record: CheckpointBase)? {
        guard let base = try baseDirectory(of: directory, config: config) else { return nil }
        try base.record.checkFingerprint(base.directory, for: directory)
        return base
    }

    /// The directory that holds the weights a checkpoint computes with: itself,
    /// or (adapters only) its base's, followed to a checkpoint that holds `model.safetensors`.
    public static func weightsDirectory(of directory: URL) throws -> URL {
        var current = directory
        for _ in 0..<maxBaseDepth {
            guard let (base, _) = try baseDirectory(of: current, config: try loadConfig(from: current)) else { return current }
            current = base
        }
        throw FormatError("checkpoint '\(directory.path)': its bases name each other in a loop (more than \(maxBaseDepth) deep)")
    }

    static let maxBaseDepth = 16
}
