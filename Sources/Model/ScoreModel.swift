import Foundation
import Kernels
import Autograd
import NN
import Config

/// A transformer that gives a number instead of next-token logits: a GPT's
/// final hidden states through one linear layer of one output without bias
/// ("score", as transformers' `…ForSequenceClassification` with one label).
/// A reward model reads the score at each sequence's last token; PPO's value
/// model reads it at every position. The GPT's own output projection is kept
/// but not used.
public final class ScoreModel {
    public let base: GPT
    /// (1, d_model).
    public let head: Tensor

    /// The name of the head's weight in checkpoints (and transformers').
    public static let headName = "score.weight"

    public init(base: GPT, head: Tensor) {
        require(head.shape == [1, base.config.dModel], "ScoreModel: the head must be (1, \(base.config.dModel)), got \(head.shape)")
        self.base = base
        self.head = head
        head.requiresGrad = true
    }

    /// A head initialised as transformers initialises one (normal, std 0.02),
    /// or zero (`zero`: a value model that starts by predicting 0).
    public convenience init(base: GPT, seed: UInt64, zero: Bool = false) {
        var generator = RandomGenerator(seed: seed)
        let head = zero ? Tensor(zeros: [1, base.config.dModel], requiresGrad: true)
                        : Tensor.randomNormal([1, base.config.dModel], std: 0.02, generator: &generator, requiresGrad: true)
        self.init(base: base, head: head)
    }

    /// The head as a named parameter.
    public var headParameter: Parameter { Parameter(name: ScoreModel.headName, tensor: head) }

    /// Every parameter: the base's, then the head.
    public var parameters: [Parameter] { base.parameters + [headParameter] }

    /// Each sequence's score at its last token: `ids` (B, T) right-padded,
    /// `last[b]` the position of sequence b's last token → (B).
    public func scores(_ ids: [Int32], batch: Int, length: Int, last: [Int], dropout: Dropout? = nil) -> Tensor {
        require(last.count == batch && last.allSatisfy { $0 >= 0 && $0 < length }, "ScoreModel: last positions \(last) for (batch \(batch), length \(length))")
        let hidden = base.hiddenStates(ids, batch: batch, length: length, dropout: dropout)        // (B, T, C)
        let picked = hidden.rows(last.enumerated().map { $0.offset * length + $0.element })       // (B, C)
        return linear(picked, weight: head).reshaped([batch])                                      // (B)
    }

    /// The score at every position: (B, T).
    public func values(_ ids: [Int32], batch: Int, length: Int, dropout: Dropout? = nil) -> Tensor {
        let hidden = base.hiddenStates(ids, batch: batch, length: length, dropout: dropout)        // (B, T, C)
        return linear(hidden, weight: head).reshaped([batch, length])                              // (B, T)
    }
}
