import Foundation
import Files
import Config
import Formats

/// `tinygpt prune --sweep`: validation perplexity against sparsity for every
/// method and scope, from one checkpoint, without writing any checkpoint.
/// Heads are ranked on the training split of the text and every pruned model
/// is scored on its validation split (the checkpoint's data.val_fraction, so
/// a model trained on the same file is scored on text it never saw).
public enum PruningSweep {
    public struct Request {
        public var checkpoint: String
        public var dataPath: String
        public var sparsities: [Double]
        /// Windows of the training split that head importance averages over.
        public var windows = PruneRun.Request.defaultWindows
        public init(checkpoint: String, dataPath: String, sparsities: [Double]) {
            self.checkpoint = checkpoint; self.dataPath = dataPath; self.sparsities = sparsities
        }
    }

    /// One pruned model's figures; nil perplexity: this sparsity takes a layer's last head (not measured).
    public struct Row: Equatable {
        public let method: PruningMethod, scope: PruningScope, sparsity: Double
        /// What was pruned: the share of the prunable weights (magnitude) or of
        /// all heads (heads), which rounding to whole heads can move off `sparsity`.
        public let prunedShare: Double
        /// Share of the blocks' matrices' weights that are zero after pruning.
        public let zeroShare: Double
        public let perplexity: Double?
    }

    public struct Result {
        public let rows: [Row]
        public let validationTokens: Int

        /// The rows as a Markdown table, one line per sparsity asked, one column
        /// per method and scope; a cell whose pruned share differs (whole heads) gives it in brackets; — : not possible.
        public var table: String {
            let columns = PruningMethod.allCases.flatMap { m in PruningScope.allCases.map { (m, $0) } }
            var lines = ["| sparsity | " + columns.map { "\($0.0.rawValue) \($0.1.rawValue)" }.joined(separator: " | ") + " |",
                         "|---:|" + String(repeating: "---:|", count: columns.count)]
            for s in Array(Set(rows.map(\.sparsity))).sorted() {
                let cells = columns.map { c -> String in
                    guard let row = rows.first(where: { $0.method == c.0 && $0.scope == c.1 && $0.sparsity == s }) else { return "" }
                    guard let ppl = row.perplexity else { return "—" }
                    let shown = String(format: "%.2f", ppl)
                    return abs(row.prunedShare - s) < 1e-3 ? shown : shown + String(format: " (%.3g)", row.prunedShare)
                }
                lines.append("| \(s) | " + cells.joined(separator: " | ") + " |")
            }
            return lines.joined(separator: "\n")
        }

        /// Validation perplexity against the share pruned, one line per method and scope.
        public func svg(title: String) -> String {
            let columns = PruningMethod.allCases.flatMap { m in PruningScope.allCases.map { (m, $0) } }
            let series = columns.enumerated().compactMap { k, c -> LinePlot.Series? in
                var points: [(x: Double, y: Double)] = []
                for r in rows where r.method == c.0 && r.scope == c.1 {  // two sparsities can round to the same heads
                    if let p = r.perplexity, !points.contains(where: { $0.x == r.prunedShare }) { points.append((r.prunedShare, p)) }
                }
                return points.isEmpty ? nil : .init("\(c.0.rawValue), \(c.1.rawValue)", color: LinePlot.palette[k % LinePlot.palette.count], points: points)
            }
            var plot = LinePlot(title: title, xLabel: "sparsity (magnitude: share of the blocks' weights; heads: share of heads)",
                                yLabel: "validation perplexity", series: series)
            plot.xIncludes = [1]
            plot.legend = .below
            return plot.svg()
        }
    }

    /// Refuses sparsities outside [0, 1) and an empty list, before anything is read.
    public static func checkArguments(_ r: Request) throws {
        guard !r.sparsities.isEmpty else { throw TrainingError("--sweep needs at least one sparsity, e.g. --sweep 0,0.2,0.4,0.6,0.8") }
        for s in r.sparsities { try PruningRequest.checkSparsity(s) }
        guard r.windows >= 1 else { throw TrainingError("--windows must be ≥ 1, got \(r.windows)") }
    }

    public static func run(_ r: Request, progress: (String) -> Void = { _ in }) throws -> Result {
        try checkArguments(r)
        guard FileManager.default.fileExists(atPath: r.dataPath) else { throw TrainingError("data file '\(r.dataPath)' does not exist") }
        let source = try PruningSource(checkpoint: r.checkpoint)
        let text = try TextFile.read(r.dataPath, what: "data file")
        let (train, validation) = Corpus.split(text, valFraction: source.config.data.valFraction)
        let trainIDs = try source.tokenizer.encode(train).map { Int32($0) }
        let validationIDs = try source.tokenizer.encode(validation).map { Int32($0) }
        guard validationIDs.count >= 2 else {
            throw TrainingError("the validation split of '\(r.dataPath)' (data.val_fraction \(source.config.data.valFraction)) has \(validationIDs.count) token(s); the sweep needs at least 2")
        }
        guard trainIDs.count >= 2 else { throw TrainingError("the training split of '\(r.dataPath)' has \(trainIDs.count) token(s); head importance needs at least 2") }
        let importance = source.headImportance(trainIDs, windows: r.windows)
        let context = source.config.model.contextLength, bytes = validation.utf8.count
        var rows: [Row] = []
        for method in PruningMethod.allCases {
            for scope in PruningScope.allCases {
                for s in r.sparsities.sorted() {
                    let request = PruningRequest(method: method, scope: scope, sparsity: s)
                    if (try? request.check(source.config.model)) == nil {  // more heads than the layers have: a gap in the table
                        rows.append(Row(method: method, scope: scope, sparsity: s, prunedShare: .nan, zeroShare: .nan, perplexity: nil))
                        continue
                    }
                    let (model, mask, heads) = try source.pruned(request, importance: importance)
                    let m = source.config.model
                    let share = heads.map { Double($0.reduce(0) { $0 + $1.count }) / Double(m.nLayer * m.nHead) }
                        ?? Double(mask.prunedCount) / Double(max(mask.count, 1))
                    let matrices = model.parameters.filter { PruningMask.isPrunable(ParameterShape(name: $0.name, shape: $0.tensor.shape)) }
                    let total = matrices.reduce(0) { $0 + $1.tensor.count }
                    let zero = matrices.reduce(0) { n, p in n + UnsafeBufferPointer(start: p.tensor.data, count: p.tensor.count).filter { $0 == 0 }.count }
                    let result = evaluate(model: model, ids: validationIDs, textBytes: bytes, stride: max(1, context / 2))
                    rows.append(Row(method: method, scope: scope, sparsity: s, prunedShare: share, zeroShare: Double(zero) / Double(max(total, 1)),
                                    perplexity: result.perplexity))
                    progress(String(format: "%@ %@ sparsity %g: %.1f%% pruned, %.1f%% of the blocks' weights zero, validation perplexity %.3f",
                                    method.rawValue, scope.rawValue, s, 100 * share, 100 * rows.last!.zeroShare, result.perplexity))
                }
            }
        }
        return Result(rows: rows, validationTokens: validationIDs.count)
    }
}
