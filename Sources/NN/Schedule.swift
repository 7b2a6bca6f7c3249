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
