import Foundation
import Files
import Kernels
import NN
import Config
import Model

/// A quantized checkpoint: a checkpoint directory like any other (config.json,
/// tokenizer.json, model.safetensors) whose matrices are group-wise int8 or
/// int4 (see `QuantizedFormat`). For a quantized weight NAME (rows, cols):
///
///     NAME          I8 (rows, cols)   or  U8 (rows, cols/2), int4 packed
///     NAME.scales   F32 (rows, cols/group_size)
///
/// Everything else (norm gains, biases, a learned position table) stays F32
/// under its usual name. The safetensors metadata says
/// quantization = int8|int4 and group_size. docs/formats.md has the details.
public enum QuantizedCheckpoint {
    public static let scalesSuffix = ".scales"
    public static let formatKey = "quantization", groupSizeKey = "group_size", embeddingsKey = "quantized_embeddings"

    /// The group size `quantize` starts from when none is asked for.
    public static let preferredGroupSize = 64

    /// The group size a quantization uses when none is asked for (quantize,
    /// and info's estimate): 64, halved until it divides every quantized row
    /// (runq's rule; 288-wide rows get 32).
    public static func defaultGroupSize(_ config: ModelConfig, format: QuantizedFormat, embeddings: Bool) -> Int {
        let widths = config.parameterShapes.filter { ModelCost.isQuantized($0, embeddings: embeddings) }.map { $0.shape[1] }
        var g = preferredGroupSize
        while g > (format == .int4 ? 2 : 1) && widths.contains(where: { $0 % g != 0 }) { g /= 2 }
        return g
    }

    /// Checks a requested group size against every quantized row; the error names the first misfit.
    public static func checkGroupSize(_ g: Int, _ config: ModelConfig, format: QuantizedFormat, embeddings: Bool) throws {
        guard g >= 1 else { throw FormatError("--group-size must be ≥ 1, got \(g)") }
        if format == .int4 && g % 2 != 0 {
            throw FormatError("--group-size \(g): int4 packs two values per byte, so the group size must be even")
        }
        for p in config.parameterShapes where ModelCost.isQuantized(p, embeddings: embeddings) {
            let cols = p.shape[1]
            if g > cols { throw FormatError("--group-size \(g) is larger than the rows of \(p.name) (\(cols) values); it must divide every row") }
            if cols % g != 0 {
                throw FormatError("--group-size \(g) does not divide the rows of \(p.name) (\(cols) values); choose a divisor of \(cols)")
            }
        }
    }

    public struct Loaded {
        public let weights: QuantizedWeights
        public let config: RunConfig
        public let tokenizerJSON: Data
        public let directory: URL
        /// Notes for the user about how the weights were read (a copy of misaligned data).
        public let notes: [String]
    }

    /// The tensors as written, in the config's parameter order.
    public static func tensors(_ w: QuantizedWeights, config: ModelConfig) -> [SafeTensor] {
        var out: [SafeTensor] = []
        for p in config.parameterShapes {
            if let m = w.matrices[p.name] {
                let shape = m.format == .int8 ? [m.rows, m.cols] : [m.rows, m.cols / 2]
                out.append(SafeTensor(name: p.name, shape: shape, bytes: Array(m.data), dtype: m.format == .int8 ? .i8 : .u8))
                out.append(SafeTensor(name: p.name + scalesSuffix, shape: [m.rows, m.groupsPerRow], values: Array(m.scales)))
            } else {
                out.append(SafeTensor(name: p.name, shape: p.shape, values: w.floats[p.name]!))
            }
        }
        return out
    }

    public static func metadata(_ w: QuantizedWeights) -> [String: String] {
        Checkpoint.formatMetadata.merging([formatKey: w.format.rawValue, groupSizeKey: String(w.groupSize),
                                           embeddingsKey: w.quantizedEmbeddings ? "true" : "false"]) { $1 }
    }

    /// Writes a quantized checkpoint directory (atomically, as `Checkpoint.save`), with any `extraFiles` (name → bytes).
    public static func save(_ w: QuantizedWeights, config: RunConfig, tokenizerJSON: Data, extraFiles: [String: Data] = [:], to directory: URL) throws {
        let tensors = tensors(w, config: config.model)
        let configJSON = try config.jsonData()
        try Checkpoint.replaceDirectoryAtomically(directory) { temporary in
            try SafeTensors.write(tensors, metadata: metadata(w), to: temporary.appendingPathComponent(Checkpoint.weightsFile))
            try configJSON.write(to: temporary.appendingPathComponent(Checkpoint.configFile))
            try tokenizerJSON.write(to: temporary.appendingPathComponent(Checkpoint.tokenizerFile))
            for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) { try data.write(to: temporary.appendingPathComponent(name)) }
        }
    }

    /// The quantization named in a weights file's header ("int8", "int4"),
    /// or nil for a float checkpoint (or an unreadable file), reading only the header.
    public static func quantization(ofWeightsAt url: URL) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let lengthBytes = try? handle.read(upToCount: 8), lengthBytes.count == 8 else { return nil }
        let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(SafeTensors.maxHeaderSize), let header = try? handle.read(upToCount: Int(length)),
              case .object(let members)? = try? JSONParser.parse(Array(header)),
              case .object(let meta)? = members.first(where: { $0.key == "__metadata__" })?.value,
              case .string(let name)? = meta.first(where: { $0.key == formatKey })?.value else { return nil }
        return name
    }

    /// Whether a checkpoint directory holds quantized weights.
    public static func isQuantizedCheckpoint(_ directory: URL) -> Bool {
        quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) != nil
    }

    /// Loads a quantized checkpoint, checking every tensor's name, dtype,
    /// shape and values against the config and the stated quantization.
    public static func load(from directory: URL) throws -> Loaded {
        let config = try Checkpoint.loadConfig(from: directory)
        guard let tokenizerJSON = FileManager.default.contents(atPath: directory.appendingPathComponent(Checkpoint.tokenizerFile).path) else {
            throw FormatError("checkpoint '\(directory.path)' has no readable \(Checkpoint.tokenizerFile)")
        }
        let file = try MappedSafeTensors(contentsOf: directory.appendingPathComponent(Checkpoint.weightsFile))
        _ = try Checkpoint.checkFormatVersion(file.metadata, source: file.source)
        return Loaded(weights: try weights(from: file, config: config.model), config: config,
                      tokenizerJSON: tokenizerJSON, directory: directory, notes: file.notes)
    }

    /// The weights of a mapped file: the integer data and scales are read in
    /// place (the matrices keep the mapping alive), the few float vectors copied.
    public static func weights(from file: MappedSafeTensors, config: ModelConfig) throws -> QuantizedWeights {
        func fail(_ text: String) -> FormatError { FormatError("\(file.source): \(text)") }
        guard let formatName = file.metadata[formatKey] else { throw fail("not a quantized checkpoint (no '\(formatKey)' in its metadata)") }
        guard let format = QuantizedFormat(rawValue: formatName) else {
            throw fail("quantization '\(formatName)' is unknown; expected int8 or int4")
        }
        guard let g = file.metadata[groupSizeKey].flatMap({ Int($0) }), g >= 1 else {
            throw fail("metadata group_size '\(file.metadata[groupSizeKey] ?? "")' must be an integer ≥ 1")
        }
        let embeddings = file.metadata[embeddingsKey] != "false"
        do { try checkGroupSize(g, config, format: format, embeddings: embeddings) } catch let e as FormatError {
            throw fail("metadata group_size: " + e.description.replacingOccurrences(of: "--group-size ", with: ""))
        }
        let expected = config.parameterShapes
        var names = Set(expected.map(\.name))
        for p in expected where ModelCost.isQuantized(p, embeddings: embeddings) { names.insert(p.name + scalesSuffix) }
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            throw fail("unexpected tensor '\(extra.name)' \(describeShape(extra.shape)): not part of this config's \(format.rawValue) model")
        }
        var matrices: [String: QuantizedMatrix] = [:], floats: [String: UnsafeBufferPointer<Float>] = [:]
        // Names, dtypes and shapes first; then every value in one pass on all threads (which also brings the pages in).
        var checks: [(count: Int, scan: (Range<Int>) -> Int?)] = [], failures: [(Int) -> FormatError] = []
        for p in expected {
            guard let entry = file[p.name] else { throw fail("missing tensor '\(p.name)'") }
            guard ModelCost.isQuantized(p, embeddings: embeddings) else {
                guard entry.dtype == .f32, entry.shape == p.shape else {
                    throw fail("tensor '\(p.name)' is \(entry.dtype.rawValue) \(describeShape(entry.shape)); it must be F32 \(describeShape(p.shape))")
                }
                let values = file.floats(entry)
                floats[p.name] = values
                checks.append((values.count, { firstNonFinite(values, in: $0) }))
                failures.append { fail("tensor '\(p.name)' holds a non-finite value at flat index \($0)") }
                continue
            }
            let (rows, cols) = (p.shape[0], p.shape[1])
            let dataShape = format == .int8 ? [rows, cols] : [rows, cols / 2]
            let dtype: SafeTensorsDType = format == .int8 ? .i8 : .u8
            guard entry.dtype == dtype else { throw fail("tensor '\(p.name)' is \(entry.dtype.rawValue); \(format.rawValue) weights are \(dtype.rawValue)") }
            guard entry.shape == dataShape else {
                throw fail("tensor '\(p.name)' has shape \(describeShape(entry.shape)) (\(entry.count) bytes); \(format.rawValue) data of \(describeShape(p.shape)) needs \(describeShape(dataShape))")
            }
            let scaleName = p.name + scalesSuffix
            guard let scales = file[scaleName] else { throw fail("missing tensor '\(scaleName)'") }
            guard scales.dtype == .f32, scales.shape == [rows, cols / g] else {
                throw fail("tensor '\(scaleName)' is \(scales.dtype.rawValue) \(describeShape(scales.shape)); groups of \(g) need F32 \(describeShape([rows, cols / g]))")
            }
            let bytes = file.bytes(entry).bindMemory(to: UInt8.self), scaleValues = file.floats(scales)
            checks.append((bytes.count, { firstOutOfRangeLevel(bytes, format: format, in: $0) }))
            failures.append { bad in
                fail(format == .int8 ? "tensor '\(p.name)' holds −128 at flat index \(bad); symmetric int8 uses −127…127"
                                     : "tensor '\(p.name)' holds the nibble 0 (−8) at byte \(bad); symmetric int4 uses −7…7 (stored 1…15)")
            }
            checks.append((scaleValues.count, { firstNegativeOrNonFinite(scaleValues, in: $0) }))
            failures.append { fail("tensor '\(scaleName)' holds \(scaleValues[$0]) at flat index \($0); scales must be finite and ≥ 0") }
            matrices[p.name] = QuantizedMatrix(format: format, rows: rows, cols: cols, groupSize: g, data: bytes, scales: scaleValues, owner: file)
        }
        if let (check, index) = firstFailure(checks) { throw failures[check](index) }
        return QuantizedWeights(format: format, groupSize: g, quantizedEmbeddings: embeddings, matrices: matrices,
                                floats: floats.mapValues { Array($0) })
    }
}
