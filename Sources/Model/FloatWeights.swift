import Kernels

/// Float32 parameters by name, read in place: pointers into storage that
/// `owner` keeps alive (a mapped checkpoint file). What a float checkpoint
/// opened for inference hands to Generate's `InferenceModel`.
public struct FloatWeights: @unchecked Sendable {
    public let tensors: [String: UnsafePointer<Float>]
    public let owner: AnyObject

    public init(tensors: [String: UnsafePointer<Float>], owner: AnyObject) {
        self.tensors = tensors
        self.owner = owner
    }
}
