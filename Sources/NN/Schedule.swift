import Foundation

public enum ScheduleKind: String, CaseIterable, Sendable {
    case cosine, linear, constant
}

/// Learning rate at a step (0-based): linear warmup to `peak` over
/// `warmupSteps` (as nanoGPT: peak·(step+1)/(warmup+1)), then decay to
/// `minimum` at `totalSteps` by a half cosine, a straight line, or not at all.
public struct LearningRateSchedule: Equatable, Sendable {
    public var kind: ScheduleKind
    public var peak: Float
    public var minimum: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: ScheduleKind, peak: Float, minimum: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind; self.peak = peak; self.minimum = minimum
        self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps + 1) }
        if kind == .constant { return peak }
        if step >= totalSteps || totalSteps <= warmupSteps { return minimum }
        let progress = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
        let coefficient = kind == .cosine ? 0.5 * (1 + cos(Double.pi * progress)) : 1 - progress
        return minimum + Float(coefficient) * (peak - minimum)
    }
}

/// Sequence-length warm-up: the training windows of step s (0-based) are
/// start + (full − start)·s/steps tokens, rounded down to a multiple of
/// `multiple` but never below `start`, and the full context from `steps` on.
/// A function of the step alone, so a resumed run trains the same lengths.
public struct SequenceLengthSchedule: Equatable, Sendable {
    /// Lengths move in steps of 8 tokens (the kernels' SIMD width), not one token at a time.
    public static let multiple = 8
    public var start: Int
    public var full: Int
    public var steps: Int

    public init(start: Int, full: Int, steps: Int) { self.start = start; self.full = full; self.steps = steps }

    public func length(at step: Int) -> Int {
        guard steps > 0, step < steps, start < full else { return full }
        let raw = start + (full - start) * step / steps
        return min(full, max(start, raw / Self.multiple * Self.multiple))
    }
}
