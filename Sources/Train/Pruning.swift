import Foundation
import Files
import Kernels
import Autograd
import NN
import Config
import Model
import Formats
import Tokenizer

/// How `tinygpt prune` chooses the weights it sets to zero.
public enum PruningMethod: String, CaseIterable, Sendable {
    /// Unstructured: the weights of smallest magnitude among the blocks' matrices (`PruningMask.isPrunable`).
    case magnitude
    /// Structured: whole attention heads, least important first by Michel et al.'s (2019) score.
    case heads
}

/// Where the ranking is made: over the whole model, or within each layer.
public enum PruningScope: String, CaseIterable, Sendable {
    /// One ranking for all the prunable weights (or heads): layers lose different shares.
    case global
    /// Each matrix (magnitude) or each layer's heads (heads) loses the same share.
    case layer
}

/// One pruning: method, scope and sparsity (the share of the prunable
/// weights, or of all heads, set to zero).
public struct PruningRequest: Equatable, Sendable {
    public var method: PruningMethod
    public var scope: PruningScope
    public var sparsity: Double

    public init(method: PruningMethod, scope: PruningScope, sparsity: Double) {
        self.method = method; self.scope = scope; self.sparsity = sparsity
    }

    /// Refuses a sparsity outside [0, 1), before anything is read.
    public static func checkSparsity(_ s: Double) throws {
        guard s.isFinite, s >= 0, s < 1 else {
            throw TrainingError("--sparsity \(s) is outside [0, 1): it is the share of weights set to zero, from 0 (none) up to but not including 1 (all)")
        }
    }

    /// How many of `count` things a sparsity prunes: the nearest whole number (ties to even).
    public static func prunedCount(_ sparsity: Double, of count: Int) -> Int {
        Int((sparsity * Double(count)).rounded(.toNearestOrEven))
    }

    /// Refuses what this request cannot do to a model of `m`, before any
    /// weight is read: a sparsity outside [0, 1), and for heads, taking every
    /// head of some layer (a layer keeps at least one).
    public func check(_ m: ModelConfig) throws {
        try Self.checkSparsity(sparsity)
        guard method == .heads else { return }
        let h = m.nHead, total = m.nLayer * h
        let limit = scope == .layer ? h - 1 : m.nLayer * (h - 1)
        let asked = scope == .layer ? Self.prunedCount(sparsity, of: h) : Self.prunedCount(sparsity, of: total)
        guard asked > limit else { return }
        // The largest sparsity that still leaves each layer a head.
        let unit = scope == .layer ? Double(h) : Double(total)
        let below = (Double(limit) + 0.5) / unit
        throw TrainingError(scope == .layer
            ? "--sparsity \(sparsity) prunes \(asked) of the \(h) heads in every layer (n_head \(h)); each layer keeps at least one head, so at most \(limit): give --sparsity below \(String(format: "%.3g", below))"
            : "--sparsity \(sparsity) prunes \(asked) of the \(total) heads (\(m.nLayer) layers × \(h)), which would leave some layer without a head; each layer keeps at least one, so at most \(limit): give --sparsity below \(String(format: "%.3g", below))")
    }

    /// What the mask file records about how it was made.
    var metadata: [String: String] {
        ["method": method.rawValue, "scope": scope.rawValue, "sparsity": String(sparsity)]
    }
}

public enum Pruning {
    // MARK: magnitude

    /// The mask that zeroes the `sparsity` share of the prunable weights of
    /// smallest |w|: over all of them (global) or in each matrix (layer).
    /// Exactly round(sparsity × count) weights are pruned; weights of equal
    /// magnitude at the threshold are taken in parameter and index order.
    public static func magnitudeMask(_ model: GPT, sparsity: Double, scope: PruningScope) -> PruningMask {
        let prunable = model.parameters.filter { PruningMask.isPrunable(ParameterShape(name: $0.name, shape: $0.tensor.shape)) }
        let groups: [[Parameter]] = scope == .global ? [prunable] : prunable.map { [$0] }
        var kept: [String: [UInt8]] = [:]
        for group in groups {
            let count = group.reduce(0) { $0 + $1.tensor.count }
            let k = PruningRequest.prunedCount(sparsity, of: count)
            var magnitudes = [Float]()
            magnitudes.reserveCapacity(count)
            for p in group { magnitudes += UnsafeBufferPointer(start: p.tensor.data, count: p.tensor.count).map(abs) }
            let threshold: Float = k == 0 ? -1 : { magnitudes.sort(); return magnitudes[k - 1] }()
            var ties = k - magnitudes.prefix(k).reduce(0) { $0 + ($1 < threshold ? 1 : 0) }  // how many at the threshold go
            for p in group {
                kept[p.name] = (0..<p.tensor.count).map { i in
                    let m = abs(p.tensor.data[i])
                    if m < threshold { return 0 }
                    if m == threshold && ties > 0 { ties -= 1; return 0 }
                    return 1
                }
            }
        }
        return PruningMask(kept: kept, metadata: [:])
    }

    // MARK: heads (Michel, Levy & Neubig 2019, "Are Sixteen Heads Really Better than One?")

    /// Each head's importance I_h = E_x |∂L(x)/∂ξ_h|: the expected sensitivity
    /// of the loss to a mask variable ξ_h multiplying head h's output, at ξ = 1,
    /// with x one window of `windows` (each `length + 1` tokens: inputs and
    /// targets). Head h's output enters the block only through the columns
    /// h·D..<(h+1)·D of the output projection W_o, so scaling it by ξ_h scales
    /// those columns, and ∂L/∂ξ_h = Σ over those columns of W_o ⊙ ∂L/∂W_o:
    /// one backward pass per window, no change to the model. (layer, head).
    public static func headImportance(_ model: GPT, windows: [[Int32]]) -> [[Double]] {
        let c = model.config, d = c.headSize, width = c.dModel
        let byName = Dictionary(model.parameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let outs = (0..<c.nLayer).compactMap { byName["blocks.\($0).attn.out.weight"] }
        require(outs.count == c.nLayer, "headImportance: every block has an attention output projection")
        var importance = [[Double]](repeating: [Double](repeating: 0, count: c.nHead), count: c.nLayer)
        for window in windows {
            for p in model.parameters { p.tensor.grad = nil }
            let inputs = Array(window.dropLast()), targets = Array(window.dropFirst())
            model.loss(inputs, targets: targets, batch: 1, length: inputs.count).backward()
            for (l, w) in outs.enumerated() {
                guard let g = w.grad else { continue }
                for h in 0..<c.nHead {
                    var sensitivity = 0.0
                    for row in 0..<width {
                        for j in (h * d)..<((h + 1) * d) { sensitivity += Double(w.data[row * width + j]) * Double(g.data[row * width + j]) }
                    }
                    importance[l][h] += abs(sensitivity)
                }
            }
        }
        for p in model.parameters { p.tensor.grad = nil }
        return importance.map { $0.map { $0 / Double(max(windows.count, 1)) } }
    }

    /// The heads to prune, per layer. Global: Michel et al. normalise each
    /// layer's scores by their ℓ2 norm, then prune the lowest across the
    /// model, passing over a layer's last head. Layer: the same number in
    /// every layer, the lowest within it. Ties go to the lower layer, then head.
    public static func headsToPrune(importance: [[Double]], sparsity: Double, scope: PruningScope) -> [[Int]] {
        let layers = importance.count, heads = importance.first?.count ?? 0
        var pruned = [[Int]](repeating: [], count: layers)
        if scope == .layer {
            let k = PruningRequest.prunedCount(sparsity, of: heads)
            for l in 0..<layers {
                pruned[l] = importance[l].indices.sorted { (importance[l][$0], $0) < (importance[l][$1], $1) }.prefix(k).sorted()
            }
            return pruned
        }
        let normalized = importance.map { scores -> [Double] in
            let norm = scores.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? scores.map { $0 / norm } : scores
        }
        var order: [(score: Double, layer: Int, head: Int)] = []
        for l in 0..<layers { for h in 0..<heads { order.append((normalized[l][h], l, h)) } }
        order.sort { ($0.score, $0.layer, $0.head) < ($1.score, $1.layer, $1.head) }
        var remaining = PruningRequest.prunedCount(sparsity, of: layers * heads)
        for item in order where remaining > 0 && pruned[item.layer].count < heads - 1 {
            pruned[item.layer].append(item.head)
            remaining -= 1
        }
        return pruned.map { $0.sorted() }
    }

    /// The mask that removes the given heads: head h's query rows (and bias)
    /// and its columns of the output projection; a key/value head's rows once
    /// every query head that reads it (GQA/MQA) is pruned.
    public static func headMask(_ m: ModelConfig, heads: [[Int]]) -> PruningMask {
        let d = m.headSize, width = m.dModel, group = m.nHead / m.kvHeads
        var kept: [String: [UInt8]] = [:]
        func rows(_ name: String, _ count: Int, cols: Int, _ ranges: [Range<Int>]) {
            var bytes = [UInt8](repeating: 1, count: count * cols)
            for r in ranges { for row in r { for c in 0..<cols { bytes[row * cols + c] = 0 } } }
            kept[name] = bytes
        }
        for (l, pruned) in heads.enumerated() where !pruned.isEmpty {
            let b = "blocks.\(l).attn."
            let queryRows = pruned.map { ($0 * d)..<(($0 + 1) * d) }
            // A key/value head goes once every query head reading it is pruned.
            let emptiedGroups: [Int] = (0..<m.kvHeads).filter { (g: Int) -> Bool in
                let readers: Range<Int> = (g * group)..<((g + 1) * group)
                return readers.allSatisfy { pruned.contains($0) }
            }
            let kvRows: [Range<Int>] = emptiedGroups.map { (g: Int) -> Range<Int> in (g * d)..<((g + 1) * d) }
            rows(b + "q.weight", width, cols: width, queryRows)
            var out = [UInt8](repeating: 1, count: width * width)
            for row in 0..<width { for r in queryRows { for j in r { out[row * width + j] = 0 } } }
            kept[b + "out.weight"] = out
            if !kvRows.isEmpty {
                rows(b + "k.weight", m.kvHeads * d, cols: width, kvRows)
                rows(b + "v.weight", m.kvHeads * d, cols: width, kvRows)
            }
            if m.bias {
                rows(b + "q.bias", width, cols: 1, queryRows)
                if !kvRows.isEmpty {
                    rows(b + "k.bias", m.kvHeads * d, cols: 1, kvRows)
                    rows(b + "v.bias", m.kvHeads * d, cols: 1, kvRows)
                }
            }
        }
        return PruningMask(kept: kept, metadata: [:])
    }

    /// Up to `limit` non-overlapping windows of `length + 1` tokens from the
    /// start of `ids` (shorter when the text is: one window of all of it).
    public static func windows(_ ids: [Int32], length: Int, limit: Int) -> [[Int32]] {
        let span = min(length + 1, ids.count)
        guard span >= 2 else { return [] }
        return stride(from: 0, through: ids.count - span, by: span).prefix(limit).map { Array(ids[$0..<($0 + span)]) }
    }
}

/// A float checkpoint opened for pruning: its model (an adapter checkpoint's
/// merged), config, tokenizer, and the mask it already has, if any.
public struct PruningSource {
    public let loaded: Checkpoint.Loaded
    public let config: RunConfig
    public let tokenizer: any Tokenizer

    /// The config-level checks, then the weights: `check` runs on the
    /// checkpoint's config before any weight is read.
    public init(checkpoint path: String, check: (RunConfig) throws -> Void = { _ in }) throws {
        let directory = try Checkpoint.resolve(path)
        if let q = QuantizedCheckpoint.quantization(ofWeightsAt: directory.appendingPathComponent(Checkpoint.weightsFile)) {
            throw TrainingError("\(directory.path) is quantized (\(q)); prune the float checkpoint it was made from")
        }
        try check(try Checkpoint.loadConfig(from: directory))
        (loaded, tokenizer) = try Checkpoint.loadWithTokenizer(directory.path)
        if let method = loaded.model.unmergeableMethod {
            throw TrainingError("\(directory.path) has \(method.rawValue) modules, which do not merge into the base weights; prune the base checkpoint it was trained from")
        }
        var config = loaded.config
        if loaded.model.hasAdapters {  // pruned as the model it computes
            loaded.model.mergeAdapters()
            config.lora = nil
        }
        self.config = config
    }

    /// The plain text of `path` as token ids, refused when it is not text or too short to score.
    public func tokens(ofText path: String) throws -> [Int32] {
        guard FileManager.default.fileExists(atPath: path) else { throw TrainingError("data file '\(path)' does not exist") }
        let text = try TextFile.read(path, what: "data file")
        let (format, _) = try ExampleFile.read(path: path, text: text)
        guard format == .text else { throw TrainingError("'\(path)' holds \(format.rawValue) examples; head importance is measured on plain text") }
        let ids = try tokenizer.encode(text).map { Int32($0) }
        guard ids.count >= 2 else { throw TrainingError("data file '\(path)' has \(ids.count) token(s); head importance needs at least 2") }
        return ids
    }

    /// Michel et al.'s head importance over up to `windows` windows of the context length from `ids`.
    public func headImportance(_ ids: [Int32], windows: Int) -> [[Double]] {
        Pruning.headImportance(loaded.model, windows: Pruning.windows(ids, length: config.model.contextLength, limit: windows))
    }

    /// A copy of the model pruned as `request` asks (heads ranked by
    /// `importance`), its mask (combined with the checkpoint's own), and the heads pruned.
    public func pruned(_ request: PruningRequest, importance: [[Double]]?) throws -> (model: GPT, mask: PruningMask, heads: [[Int]]?) {
        let model = GPT(config: config.model, seed: 0)
        for (mine, theirs) in zip(model.parameters, loaded.model.parameters) { mine.tensor.copy(from: theirs.tensor) }
        var mask: PruningMask, heads: [[Int]]? = nil
        var metadata = request.metadata
        switch request.method {
        case .magnitude:
            mask = Pruning.magnitudeMask(model, sparsity: request.sparsity, scope: request.scope)
        case .heads:
            guard let importance else { throw TrainingError("--method heads needs the heads' importance, measured on a text (--data FILE)") }
            let chosen = Pruning.headsToPrune(importance: importance, sparsity: request.sparsity, scope: request.scope)
            mask = Pruning.headMask(config.model, heads: chosen)
            heads = chosen
            metadata["heads"] = chosen.enumerated().filter { !$0.element.isEmpty }
                .map { "\($0.offset):" + $0.element.map(String.init).joined(separator: ",") }.joined(separator: " ")
        }
        if let previous = loaded.mask { mask = previous.combined(with: mask) }
        mask.metadata = metadata
        mask.apply(to: model.parameters)
        return (model, mask, heads)
    }

    /// Writes a pruned model as a checkpoint beside its mask, in the source's storage dtype.
    public func save(_ model: GPT, mask: PruningMask, to out: URL) throws {
        try Checkpoint.save(model: model, config: config, tokenizerJSON: loaded.tokenizerJSON,
                            extraFiles: Checkpoint.chatTemplateFiles(try Checkpoint.chatTemplate(in: loaded.directory)),
                            dtype: loaded.storage, mask: mask, to: out)
    }
}

/// `tinygpt prune`: every refusal first (sparsity, heads per layer, the
/// output directory, the data), then the weights, the ranking, and one
/// checkpoint written atomically.
public enum PruneRun {
    public struct Request {
        public var checkpoint: String
        public var out: String
        public var pruning: PruningRequest
        /// Text whose loss ranks the heads (`heads` only).
        public var dataPath: String?
        /// Windows of that text, of the context length, the importance averages over.
        public var windows = Request.defaultWindows
        public static let defaultWindows = 32
        public var force = false
        public init(checkpoint: String, out: String, pruning: PruningRequest) {
            self.checkpoint = checkpoint; self.out = out; self.pruning = pruning
        }
    }

    public struct Result {
        /// Weights under the mask, and how many are pruned (with any the checkpoint had pruned already).
        public let masked: Int, pruned: Int
        /// Heads pruned per layer, and every head's importance (`heads`).
        public let heads: [[Int]]?
        public let importance: [[Double]]?
    }

    /// Checks that hold without the checkpoint: the sparsity, and the data the method needs.
    public static func checkArguments(_ r: Request) throws {
        try PruningRequest.checkSparsity(r.pruning.sparsity)
        if r.pruning.method == .heads && r.dataPath == nil {
            throw TrainingError("--method heads needs --data FILE: the text whose loss ranks the heads (each head's importance is the loss's sensitivity to it)")
        }
        if r.pruning.method == .magnitude && r.dataPath != nil {
            throw TrainingError("--data is read by --method heads only; magnitude pruning looks at the weights alone")
        }
        guard r.windows >= 1 else { throw TrainingError("--windows must be ≥ 1, got \(r.windows)") }
    }

    public static func run(_ r: Request, note: (String) -> Void) throws -> Result {
        try checkArguments(r)
        let source = try PruningSource(checkpoint: r.checkpoint) { config in
            try r.pruning.check(config.model)
            try OutputDirectory.check(r.out, force: r.force, sources: [r.checkpoint, try Checkpoint.resolve(r.checkpoint).path, r.dataPath].compactMap { $0 },
                                      note: note)
            if let data = r.dataPath, !FileManager.default.fileExists(atPath: data) { throw TrainingError("data file '\(data)' does not exist") }
        }
        let importance = try r.dataPath.map { source.headImportance(try source.tokens(ofText: $0), windows: r.windows) }
        let (model, mask, heads) = try source.pruned(r.pruning, importance: importance)
        try source.save(model, mask: mask, to: URL(fileURLWithPath: r.out))
        return Result(masked: mask.count, pruned: mask.prunedCount, heads: heads, importance: importance)
    }
}
