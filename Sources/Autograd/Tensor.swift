import Kernels

/// A contiguous, row-major Float32 n-d array that can take part in automatic
/// differentiation. Operations (see the Ops files) return new tensors and, when
/// gradients are recorded, remember how to send gradients back to their inputs.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    /// Replaced only by `Tensor.pack`.
    var storage: Storage

    /// Leaves (parameters, inputs) that ask for a gradient get `grad` filled by `backward()`.
    public var requiresGrad: Bool
    /// The gradient of the last `backward()` root with respect to this tensor,
    /// accumulated over calls until `zeroGrad()`. Same shape as the tensor.
    public var grad: Tensor?
    /// Optional label for error messages and checkpoints.
    public var name: String?

    /// The graph: inputs of the op that produced this tensor, and that op's
    /// backward, which reads `self.grad` and accumulates into the inputs' grads.
    var inputs: [Tensor] = []
    var backwardFunction: ((Tensor) -> Void)?
    /// The op that produced this tensor, kept only while `OpProfiler` is on.
    var opName: StaticString?

    init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        Tensor.checkShape(shape)
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), zeroed: true), requiresGrad: requiresGrad)
    }

    /// A tensor holding `values` (row-major), which must have shape's element count.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        Tensor.checkShape(shape)
        let n = shape.reduce(1, *)
        require(values.count == n, "Tensor: \(values.count) values do not fill shape \(shape) (\(n) elements)")
        self.init(shape: shape, storage: Storage(count: n, zeroed: false), requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: n) }
    }

    /// A scalar (shape []).
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// Normal(mean, std) entries from a seeded generator.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    generator: inout RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.data[i] = mean + std * generator.normal() }
        return t
    }

    /// Uniform[low, high) entries from a seeded generator.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     generator: inout RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.data[i] = low + (high - low) * generator.uniform() }
        return t
    }

    /// A tensor whose contents the caller fills immediately (op outputs).
    convenience init(uninitialized shape: [Int], requiresGrad: Bool = false) {
        Tensor.checkShape(shape)
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), zeroed: false), requiresGrad: requiresGrad)
    }

    static func checkShape(_ shape: [Int]) {
        require(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
    }

    /// Raw element storage. Valid while the tensor lives.
    public var data: UnsafeMutablePointer<Float> { storage.pointer }

    public var rank: Int { shape.count }

    /// A copy of the elements, row-major.
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        require(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return data[0]
    }

    public subscript(flat i: Int) -> Float {
        get { require(i >= 0 && i < count, "Tensor index \(i) out of range 0..<\(count)"); return data[i] }
        set { require(i >= 0 && i < count, "Tensor index \(i) out of range 0..<\(count)"); data[i] = newValue }
    }

    /// Copies values from another tensor of the same element count.
    public func copy(from other: Tensor) {
        require(other.count == count, "copy: shapes \(other.shape) and \(shape) differ in size")
        data.update(from: other.data, count: count)
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Sets `grad` to zero (keeps its buffer).
    public func zeroGrad() { grad?.fill(0) }

    /// The gradient buffer, created as zeros on first use.
    func gradientBuffer() -> UnsafeMutablePointer<Float> {
        if let g = grad { return g.data }
        let g = Tensor(zeros: shape)
        grad = g
        return g.data
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = (0..<min(count, 8)).map { String(data[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// Formats a shape for error messages: (2, 3, 4).
func describe(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }
