import Foundation
import Kernels
import Autograd
import Model

/// The result of scoring a text.
public struct EvaluationResult: Equatable {
    /// Tokens scored (every token after the first).
    public let tokens: Int
    /// Mean cross-entropy in nats per scored token.
    public let loss: Double
    /// exp(loss).
    public var perplexity: Double { exp(loss) }
    /// Total nats / ln 2 / bytes of text: comparable across tokenizers.
    public let bitsPerByte: Double
    /// Loss by position inside the window, when asked for.
    public var byPosition: PositionLosses? = nil
}

/// Refuses a metric that is NaN or infinite: a model whose outputs overflow
/// (one huge weight is enough) gives no loss worth printing, and `nan`
/// printed with exit status 0 would pass for a result.
public func requireFinite(_ value: Double, _ metric: String, of model: String) throws {
    guard !value.isFinite else { return }
    throw TrainingError("\(metric) of \(model) is \(value.isNaN ? "nan" : "\(value)"): the model's outputs are not finite numbers (a weight so large that its products overflow float32); the checkpoint is damaged or came from a diverging run")
}

/// Scores every token of `ids` after the first, each exactly once, with
/// sliding windows of `context` tokens (default: the model's context window):
/// window k starts at k·stride and scores only the tokens no earlier window
/// scored, so each token sees at least context − stride tokens of context
/// once the windows are full (all of them before that). Windows of equal
/// length are batched. `byPosition` also sums the loss of each position
/// inside the window (position t predicts from t + 1 tokens).
public func evaluate(model: GPT, ids: [Int32], textBytes: Int, stride: Int, context: Int? = nil, batch: Int = 8,
                     byPosition: Bool = false, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> EvaluationResult {
    evaluate(logits: { model($0, batch: $1, length: $2) }, contextWindow: model.contextWindow, ids: ids, textBytes: textBytes,
             stride: stride, context: context, batch: batch, byPosition: byPosition, progress: progress)
}

/// As above, for any model given as `logits(ids, batch, length)` → (B, T, V)
/// (a quantized checkpoint's per-token model). `progress` hears the windows
/// scored so far and their number, after each batch.
public func evaluate(logits logitsOf: ([Int32], Int, Int) -> Tensor, contextWindow: Int, ids: [Int32], textBytes: Int, stride: Int,
                     context: Int? = nil, batch: Int = 8, byPosition: Bool = false,
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> EvaluationResult {
    let context = context ?? contextWindow
    require(context >= 1 && context <= contextWindow, "context must be in 1...the model's context window")
    require(stride >= 1 && stride <= context, "stride must be in 1...context")
    require(ids.count >= 2, "need at least two tokens to score")
    // (start, length, first scored offset inside the window)
    var windows: [(start: Int, length: Int, firstScored: Int)] = []
    var scoredUpTo = 0  // targets 1...scoredUpTo are done (target i = ids[i])
    var start = 0
    while scoredUpTo < ids.count - 1 {
        let length = min(context, ids.count - 1 - start)
        let end = start + length  // this window predicts targets start+1 ... end
        windows.append((start, length, scoredUpTo - start))
        scoredUpTo = end
        start += stride
    }
    var totalNats = 0.0, scored = 0
    var positions = byPosition ? PositionLosses(length: context) : nil
    var i = 0
    Autograd.noGrad {
        while i < windows.count {
            var group = [windows[i]]
            while group.count < batch, i + group.count < windows.count, windows[i + group.count].length == windows[i].length {
                group.append(windows[i + group.count])
            }
            let length = windows[i].length
            var inputs: [Int32] = [], targets: [Int32] = []
            for w in group {
                inputs += ids[w.start..<(w.start + length)]
                for t in 0..<length { targets.append(t >= w.firstScored ? ids[w.start + t + 1] : -100) }
            }
            let counted = targets.filter { $0 != -100 }.count
            let logits = logitsOf(inputs, group.count, length)
            if positions != nil {
                totalNats += positions!.add(logits: logits, targets: targets, length: length)
            } else {
                totalNats += Double(crossEntropy(logits, targets: targets).item) * Double(counted)
            }
            scored += counted
            i += group.count
            progress?(i, windows.count)
        }
    }
    return EvaluationResult(tokens: scored, loss: totalNats / Double(scored), bitsPerByte: totalNats / log(2) / Double(max(textBytes, 1)),
                            byPosition: positions)
}
