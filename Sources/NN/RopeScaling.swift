import Foundation
import Kernels

/// How RoPE's frequencies are stretched to reach past the trained length.
public enum RopeType: String, CaseIterable, Sendable {
    /// Position interpolation (Chen et al. 2023): every frequency divided by the factor.
    case linear
    /// Dynamic NTK-aware scaling: the base grows with the sequence once it passes the trained length.
    case dynamic
    /// YaRN (Peng et al. 2023): interpolate low frequencies, keep high ones, ramp between; temper attention.
    case yarn
}

/// RoPE scaling in Hugging Face transformers' vocabulary (`rope_scaling` in
/// a config.json) and with its formulas (transformers' modeling_rope_utils).
/// Members are optional so that `--set` can assemble it field by field;
/// `ModelConfig` validation requires `type` and `factor`.
public struct RopeScaling: Equatable, Sendable {
    public var type: RopeType?
    public var factor: Double?
    /// yarn: the length the model was trained at; nil = the model's context length.
    public var originalMaxPositionEmbeddings: Int?
    /// yarn: rotations over the original length above which a frequency is kept (default 32).
    public var betaFast: Double?
    /// yarn: rotations below which a frequency is fully interpolated (default 1).
    public var betaSlow: Double?
    /// yarn: the factor on cos and sin; nil = 0.1·ln(factor) + 1 (or the mscale ratio).
    public var attentionFactor: Double?
    public var mscale: Double?
    public var mscaleAllDim: Double?
    /// yarn: round the ramp's ends to whole dimensions (default true).
    public var truncate: Bool?

    public init(type: RopeType? = nil, factor: Double? = nil) {
        self.type = type
        self.factor = factor
    }

    /// The members only yarn reads.
    public static let yarnOnly = ["original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor", "mscale",
                                  "mscale_all_dim", "truncate"]
}

/// Everything attention needs to rotate queries and keys with scaled RoPE.
public struct ScaledRotary: Equatable, Sendable {
    public let theta: Float
    public let headSize: Int
    public let scaling: RopeScaling
    /// The length the model was trained at (transformers' max_position_embeddings):
    /// dynamic scaling starts past it; yarn's default original length.
    public let trainedLength: Int

    public init(theta: Float, headSize: Int, scaling: RopeScaling, trainedLength: Int) {
        self.theta = theta; self.headSize = headSize; self.scaling = scaling; self.trainedLength = trainedLength
    }

    /// Whether the frequencies depend on how long the sequence is (dynamic).
    public var dependsOnLength: Bool { scaling.type == .dynamic }

    /// Plain RoPE's inverse frequencies, as the RoPE kernel uses them.
    static func plain(theta: Double, headSize d: Int) -> [Double] { rotaryInverseFrequencies(theta: theta, headSize: d) }

    /// Inverse frequencies (D/2) and the factor on cos and sin for a sequence
    /// whose positions run to `sequenceLength` − 1 (only dynamic reads it).
    public func frequencies(sequenceLength: Int) -> (inverse: [Double], attentionFactor: Double) {
        let d = headSize, base = Double(theta)
        let factor = scaling.factor ?? 1
        switch scaling.type ?? .linear {
        case .linear:
            return (ScaledRotary.plain(theta: base, headSize: d).map { $0 / factor }, 1)
        case .dynamic:
            // base' = θ · (F·L/L0 − (F − 1))^(D/(D−2)) with L = max(length, L0).
            guard sequenceLength > trainedLength else { return (ScaledRotary.plain(theta: base, headSize: d), 1) }
            let l = Double(sequenceLength), l0 = Double(trainedLength)
            let grown = base * pow(factor * l / l0 - (factor - 1), Double(d) / Double(d - 2))
            return (ScaledRotary.plain(theta: grown, headSize: d), 1)
        case .yarn:
            return yarn(base: base, factor: factor)
        }
    }

    /// YaRN: dimensions that turn fewer than beta_slow times over the original
    /// length are interpolated (÷ factor), those that turn more than beta_fast
    /// times are kept, and a linear ramp blends the ones between.
    func yarn(base: Double, factor: Double) -> ([Double], Double) {
        let s = scaling, d = Double(headSize)
        func mscale(_ scale: Double, _ m: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }
        let attention: Double
        if let given = s.attentionFactor {
            attention = given
        } else if let m = s.mscale, let all = s.mscaleAllDim, m != 0, all != 0 {
            attention = mscale(factor, m) / mscale(factor, all)
        } else {
            attention = mscale(factor)
        }
        let original = Double(s.originalMaxPositionEmbeddings ?? trainedLength)
        func correctionDimension(_ rotations: Double) -> Double {
            d * log(original / (rotations * 2 * Double.pi)) / (2 * log(base))
        }
        var low = correctionDimension(s.betaFast ?? 32), high = correctionDimension(s.betaSlow ?? 1)
        if s.truncate ?? true { low = low.rounded(.down); high = high.rounded(.up) }
        low = max(low, 0); high = min(high, d - 1)
        if low == high { high += 0.001 }
        let extrapolation = ScaledRotary.plain(theta: base, headSize: headSize)
        let inverse = extrapolation.enumerated().map { i, kept -> Double in
            let ramp = min(max((Double(i) - low) / (high - low), 0), 1)   // 0: keep, 1: interpolate
            let interpolated = kept / factor
            // kept·(1 − ramp) + interpolated·ramp, written so that factor 1 gives `kept` exactly.
            return kept + (interpolated - kept) * ramp
        }
        return (inverse, attention)
    }
}
