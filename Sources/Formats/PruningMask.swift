import Foundation
import Kernels
import Autograd
import NN
import Config

/// Which weights a pruned model keeps: for each pruned parameter, one byte
/// per weight, 1 kept and 0 pruned, in the parameter's shape. A checkpoint
/// made by `tinygpt prune` stores it as `mask.safetensors` (U8 tensors under
/// the parameters' names; metadata: method, scope, sparsity) beside
/// `model.safetensors`, whose pruned weights are zero. Training from such a
/// checkpoint (`--init-from`, `--resume`) zeroes the pruned weights'
/// gradients, so they stay exactly zero, and saves the mask with every
/// checkpoint. Inference needs no mask: the weights themselves are zero.
public struct PruningMask: Equatable, Sendable {
    public static let file = "mask.safetensors"

    /// Parameter name → one byte per value (1 kept, 0 pruned).
    public private(set) var kept: [String: [UInt8]]
    /// How the mask was made (method, scope, sparsity, heads), as written in the file's metadata.
    public var metadata: [String: String]

    public init(kept: [String: [UInt8]], metadata: [String: String]) {
        self.kept = kept
        self.metadata = metadata
    }

    /// Weights under the mask, and how many of them are pruned.
    public var count: Int { kept.values.reduce(0) { $0 + $1.count } }
    public var prunedCount: Int { kept.values.reduce(0) { total, bytes in total + bytes.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } } }

    /// A mask that prunes every weight either mask prunes.
    public func combined(with other: PruningMask) -> PruningMask {
        var out = kept
        for (name, bytes) in other.kept {
            if let mine = out[name] { out[name] = zip(mine, bytes).map { $0 & $1 } } else { out[name] = bytes }
        }
        return PruningMask(kept: out, metadata: metadata)
    }

    /// Zeroes every pruned weight of `parameters`.
    public func apply(to parameters: [Parameter]) {
        for p in parameters { if let bytes = kept[p.name] { zeroPruned(p.tensor.data, bytes) } }
    }

    /// Zeroes the gradient of every pruned weight: the gradient of the masked
    /// network W ⊙ M is M ⊙ ∂L/∂(W ⊙ M). With it, a pruned weight that is
    /// zero stays exactly zero under SGD, Adam and AdamW (zero gradient and
    /// zero moments make a zero update, and decay scales zero), and gradient
    /// clipping measures the live weights only.
    public func maskGradients(of parameters: [Parameter]) {
        for p in parameters {
            if let bytes = kept[p.name], let grad = p.tensor.grad { zeroPruned(grad.data, bytes) }
        }
    }

    private func zeroPruned(_ values: UnsafeMutablePointer<Float>, _ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { kept in
            for i in 0..<kept.count where kept[i] == 0 { values[i] = 0 }
        }
    }

    /// The file's tensors, in `order` (parameter names; others are skipped).
    func tensors(order: [ParameterShape]) -> [SafeTensor] {
        order.compactMap { p in kept[p.name].map { SafeTensor(name: p.name, shape: p.shape, bytes: $0, dtype: .u8) } }
    }

    /// Writes the mask file into a checkpoint directory being written.
    func write(into directory: URL, order: [ParameterShape]) throws {
        try SafeTensors.write(tensors(order: order), metadata: metadata, to: directory.appendingPathComponent(Self.file))
    }

    /// The mask of a checkpoint directory, or nil when it has none. Every
    /// tensor must name a parameter of `parameters`, with its shape, dtype U8,
    /// values 0 or 1, and `values` (the weights, when given) must be zero
    /// wherever the mask prunes.
    public static func load(from directory: URL, parameters: [ParameterShape],
                            values: [String: UnsafeBufferPointer<Float>] = [:]) throws -> PruningMask? {
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let read = try SafeTensors.read(from: url)
        let shapes = Dictionary(parameters.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        var kept: [String: [UInt8]] = [:]
        for t in read.tensors {
            func fail(_ text: String) -> FormatError { FormatError("\(url.path): tensor '\(t.name)' \(text)") }
            guard let shape = shapes[t.name] else { throw fail("is not a parameter of this checkpoint's model") }
            guard t.dtype == .u8, t.shape == shape else {
                throw fail("is \(t.dtype.rawValue) \(describeShape(t.shape)); a mask is U8 of the parameter's shape \(describeShape(shape))")
            }
            if let bad = t.bytes.firstIndex(where: { $0 > 1 }) {
                throw fail("holds \(t.bytes[bad]) at flat index \(bad); a mask holds 1 (kept) or 0 (pruned)")
            }
            if let weights = values[t.name], let bad = t.bytes.indices.first(where: { t.bytes[$0] == 0 && weights[$0] != 0 }) {
                throw fail("prunes flat index \(bad), but the weight there is \(weights[bad]), not 0: the mask and the weights do not belong together")
            }
            kept[t.name] = t.bytes
        }
        return PruningMask(kept: kept, metadata: read.metadata)
    }
}

extension PruningMask {
    /// The weights magnitude pruning considers: the linear weights of the
    /// blocks (q, k, v, out, gate, up, down). The token embedding is a table
    /// looked up, not multiplied; it and the output head are kept whole, as
    /// are norm gains, biases and a position table (few, and sensitive).
    public static func isPrunable(_ p: ParameterShape) -> Bool {
        p.shape.count == 2 && p.name.hasPrefix("blocks.")
    }
}

/// The weights of a checkpoint's file as stored: their dtype, and how many
/// are non-zero, counted in the stored form (F32, F16, BF16, or a quantized
/// checkpoint's int8/int4 levels: a quantized weight is zero when its level
/// is), without converting anything.
public struct WeightCount: Equatable, Sendable {
    /// F32, or F16/BF16 for a half checkpoint (a quantized one: F32, its float tensors' dtype).
    public var storage = SafeTensorsDType.f32
    /// Every parameter, and the ones pruning considers (`PruningMask.isPrunable`).
    public var parameters = 0, nonZeroParameters = 0
    public var prunable = 0, nonZeroPrunable = 0

    /// Counts the weights of `model.safetensors` in `directory` that `config`'s parameters name.
    public static func count(checkpoint directory: URL, config: ModelConfig) throws -> WeightCount {
        let file = try MappedSafeTensors(contentsOf: directory.appendingPathComponent(Checkpoint.weightsFile))
        let int4 = file.metadata[QuantizedCheckpoint.formatKey] == QuantizedFormat.int4.rawValue
        var total = WeightCount()
        total.storage = Checkpoint.storageDType(config.parameterShapes.compactMap { file[$0.name]?.dtype })
        for p in config.parameterShapes {
            guard let entry = file[p.name] else { throw FormatError("\(file.source): missing tensor '\(p.name)'") }
            let bytes = file.bytes(entry)
            var nonZero = 0
            switch entry.dtype {
            case .f32:
                for i in 0..<entry.count where bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7FFF_FFFF != 0 { nonZero += 1 }
            case .f16, .bf16:
                for i in 0..<entry.count where bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7FFF != 0 { nonZero += 1 }
            case .i8:
                for b in bytes where b != 0 { nonZero += 1 }
            case .u8:
                // int4: two offset nibbles per byte, 8 is zero.
                for b in bytes { nonZero += (b & 15 != 8 ? 1 : 0) + (b >> 4 != 8 ? 1 : 0) }
                if !int4 { throw FormatError("\(file.source): tensor '\(p.name)' is U8 in a checkpoint that is not int4") }
            }
            total.parameters += p.count
            total.nonZeroParameters += nonZero
            if PruningMask.isPrunable(p) {
                total.prunable += p.count
                total.nonZeroPrunable += nonZero
            }
        }
        return total
    }
}
