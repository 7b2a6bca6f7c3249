import Foundation
import Autograd
import NN
import Model

/// What generation asks of a model: next-token logits for a few sequences
/// that advance together, each row with its own KV cache. Two kinds serve:
/// `InferenceRows` (the per-token path, one `InferenceModel` per sequence,
/// float32 or quantized weights) and `BatchedModel` (a `GPT` through
/// autograd's ops, all rows in one forward pass: several rows, scaled RoPE).
///
/// When a sequence reaches the context window, the window slides: the last
/// half of it is kept and the cache is rebuilt from it, so the model always
/// sees positions 0..<window (what it was trained on).
public protocol LogitsSource: AnyObject {
    var vocabSize: Int { get }
    var contextWindow: Int { get }
    /// Runs each sequence (its last `contextWindow` tokens) from an empty cache;
    /// each row's logits after its last token.
    func prefill(_ sequences: [[Int32]]) -> [[Float]]
    /// Feeds each sequence's newest token (its earlier ones are cached).
    func advance(_ sequences: [[Int32]]) -> [[Float]]
    /// Row i continues row `parents[i]` of the previous call (rows may repeat): beam search.
    func reorder(_ parents: [Int])
    /// One sequence whose first `reused` tokens row 0's cache holds (a conversation that grew):
    /// feeds the rest and returns the logits after the last. Where the cache cannot keep a
    /// prefix (`reusesCache` false) the whole sequence is read again.
    func extend(_ sequence: [Int32], reusing reused: Int) -> [Float]
    var reusesCache: Bool { get }
    /// false: no KV cache is kept between tokens; each new token recomputes
    /// the window the cache would hold (and itself) from scratch. The same
    /// tokens come out; the cost grows with the window instead of staying flat
    /// (`sample --no-kv-cache`).
    var usesKeyValueCache: Bool { get set }
    /// The first `promptLength` tokens of each sequence are its prompt: a
    /// prefix LM (model.attention = prefix_lm) reads them bidirectionally, as
    /// far as they are still in the window.
    var promptLength: Int { get set }
}

extension LogitsSource {
    /// The window a cache holding `held` positions would hold after one more token:
    /// one more, or its last half once full.
    func recomputedWindow(held: Int) -> Int { held >= contextWindow ? max(1, contextWindow / 2) : held + 1 }
}

/// The per-token path: one `InferenceModel` per sequence (llama2.c's
/// `forward(token, pos)`), made on demand and kept for reuse. It does not
/// serve prefix LMs (`InferenceModel.supports`), so `promptLength` changes nothing.
public final class InferenceRows: LogitsSource {
    let make: () -> InferenceModel
    var rows: [InferenceModel] = []
    var spare: [InferenceModel] = []
    public let contextWindow: Int
    public let vocabSize: Int
    public var reusesCache: Bool { usesKeyValueCache }
    public var usesKeyValueCache = true
    public var promptLength = 0

    public init(_ make: @escaping () -> InferenceModel) {
        self.make = make
        let first = make()
        contextWindow = first.contextWindow
        vocabSize = first.vocabSize
        spare = [first]
    }

    public func take() -> InferenceModel { spare.popLast() ?? make() }

    public func prefill(_ sequences: [[Int32]]) -> [[Float]] {
        while rows.count < sequences.count { rows.append(take()) }
        while rows.count > sequences.count { spare.append(rows.removeLast()) }
        return zip(rows, sequences).map { model, sequence in
            model.reset()
            return sequence.isEmpty ? [] : Array(model.prefill(Array(sequence.suffix(contextWindow))))
        }
    }

    public func advance(_ sequences: [[Int32]]) -> [[Float]] {
        if !usesKeyValueCache { return prefill(sequences.map { Array($0.suffix(recomputedWindow(held: rows[0].length))) }) }
        if rows[0].length >= contextWindow { return prefill(sequences.map { Array($0.suffix(max(1, contextWindow / 2))) }) }
        return zip(rows, sequences).map { Array($0.next($1.last!)) }
    }

    public func reorder(_ parents: [Int]) {
        let next = parents.map { parent -> InferenceModel in
            let model = take()
            model.copyState(from: rows[parent])
            return model
        }
        spare += rows
        rows = next
    }

    public func extend(_ sequence: [Int32], reusing reused: Int) -> [Float] {
        guard let model = rows.first, reused > 0, reused < sequence.count, reused <= model.length,
              sequence.count <= contextWindow else { return prefill([sequence])[0] }
        while rows.count > 1 { spare.append(rows.removeLast()) }
        model.rewind(to: reused)
        return Array(model.prefill(Array(sequence[reused...])))
    }
}

/// A `GPT` with one KV cache per layer: the rows advance together through one
/// batched forward pass per step.
public final class BatchedModel: LogitsSource {
    public let model: GPT
    let caches: [KeyValueCache]
    public var vocabSize: Int { model.vocabSize }
    /// The real tokens a window holds (prefix or prompt tuning's virtual positions take the rest).
    public var contextWindow: Int { model.tokenWindow }
    public var reusesCache: Bool { false }
    public var usesKeyValueCache = true
    public var promptLength = 0

    public init(_ model: GPT) {
        self.model = model
        caches = model.makeCaches()
    }

    public func prefill(_ sequences: [[Int32]]) -> [[Float]] {
        for c in caches { c.clear() }
        let window = sequences.map { Array($0.suffix(contextWindow)) }
        let length = window[0].count
        let prefixes = model.config.attention == .prefix_lm
            ? zip(sequences, window).map { max(0, promptLength - ($0.count - $1.count)) } : nil
        return Autograd.noGrad {
            lastPositions(model(window.flatMap { $0 }, batch: window.count, length: length, offset: 0, caches: caches,
                                prefixLengths: prefixes),
                          batch: window.count, length: length)
        }
    }

    public func advance(_ sequences: [[Int32]]) -> [[Float]] {
        let cached = caches[0].length - model.virtualPositions   // real tokens cached
        if !usesKeyValueCache { return prefill(sequences.map { Array($0.suffix(recomputedWindow(held: cached))) }) }
        if cached >= contextWindow { return prefill(sequences.map { Array($0.suffix(max(1, contextWindow / 2))) }) }
        return Autograd.noGrad {
            lastPositions(model(sequences.map { $0.last! }, batch: sequences.count, length: 1, offset: cached, caches: caches),
                          batch: sequences.count, length: 1)
        }
    }

    public func reorder(_ parents: [Int]) { for c in caches { c.reorder(rows: parents) } }

    public func extend(_ sequence: [Int32], reusing reused: Int) -> [Float] { prefill([sequence])[0] }

    func lastPositions(_ logits: Tensor, batch: Int, length: Int) -> [[Float]] {
        let v = vocabSize
        return (0..<batch).map { b in Array(UnsafeBufferPointer(start: logits.data + ((b * length) + length - 1) * v, count: v)) }
    }
}
