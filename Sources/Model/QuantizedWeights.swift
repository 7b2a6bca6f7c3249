import Kernels
import Config

/// A model's weights with its matrices group-wise int8 or int4
/// (`QuantizedMatrix`) and the rest (norm gains, biases, a learned position
/// table) float32: what quantized inference reads. Formats/QuantizedCheckpoint
/// stores it; Generate/InferenceModel runs it.
public struct QuantizedWeights {
    public let format: QuantizedFormat
    public let groupSize: Int
    public let quantizedEmbeddings: Bool
    public let matrices: [String: QuantizedMatrix]
    public let floats: [String: [Float]]

    public init(format: QuantizedFormat, groupSize: Int, quantizedEmbeddings: Bool, matrices: [String: QuantizedMatrix], floats: [String: [Float]]) {
        self.format = format; self.groupSize = groupSize; self.quantizedEmbeddings = quantizedEmbeddings
        self.matrices = matrices; self.floats = floats
    }

    /// Quantizes a float checkpoint's parameters.
    public init(quantizing model: GPT, format: QuantizedFormat, groupSize: Int, embeddings: Bool) {
        var matrices: [String: QuantizedMatrix] = [:], floats: [String: [Float]] = [:]
        for p in model.parameters {
            if ModelCost.isQuantized(ParameterShape(name: p.name, shape: p.tensor.shape), embeddings: embeddings) {
                matrices[p.name] = QuantizedMatrix(quantizing: p.tensor.toArray(), rows: p.tensor.shape[0], cols: p.tensor.shape[1],
                                                   groupSize: groupSize, format: format)
            } else {
                floats[p.name] = p.tensor.toArray()
            }
        }
        self.init(format: format, groupSize: groupSize, quantizedEmbeddings: embeddings, matrices: matrices, floats: floats)
    }
}
