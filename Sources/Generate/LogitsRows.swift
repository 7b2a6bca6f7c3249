import Foundation
import Files
import Autograd
import Config
import Tokenizer

extension LanguageModel {
    /// `logits`: the model's logits at every position of the ids in `idsText`
    /// (as `TokenIdText` reads them), as JSON: one row of vocab_size numbers per
    /// id, under the config with `overrides` (model.rope_scaling) applied. Past
    /// the trained context only for positions that extrapolate (as eval --context).
    public func logitsJSON(ids idsText: String, overrides: [String]) throws -> String {
        var run = config
        try run.apply(overrides: overrides)
        try run.validate()
        let v = vocabSize
        let ids = try TokenIdText.parse(idsText, vocabSize: v).map { id -> Int32 in
            guard id < v else { throw UsageError("--ids: \(id) is not a token id in 0..<\(v)") }
            return Int32(id)
        }
        guard !ids.isEmpty else { throw UsageError("--ids: need at least one id") }
        if ids.count > run.model.contextLength && !run.model.position.extrapolates {
            throw UsageError("--ids: \(ids.count) ids exceed the trained context length \(run.model.contextLength), and learned positions have no embedding past it")
        }
        let logits = try positionLogits(model: run.model, context: ids.count, batch: 1).logits(ids, 1, ids.count).toArray()
        let rows = (0..<ids.count).map { t in "[" + logits[(t * v)..<((t + 1) * v)].map { String($0) }.joined(separator: ",") + "]" }
        return "[" + rows.joined(separator: ",\n") + "]"
    }
}
