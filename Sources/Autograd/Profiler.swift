import Dispatch

/// Wall time per op, forward and backward, for `tinygpt bench train --profile`.
///
/// Off by default; when on, an op's forward time is the time since the
/// previous op finished (or since `mark()`), so the model code between ops is
/// charged to the op that follows it, and each backward function is timed
/// alone. Ops are named by the function that records them (`linear(_:weight:bias:adding:)`).
public enum OpProfiler {
    public struct Entry {
        public var forwardNanoseconds: UInt64 = 0
        public var backwardNanoseconds: UInt64 = 0
        public var forwardCalls = 0
        public var backwardCalls = 0
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var entries: [String: Entry] = [:]
    nonisolated(unsafe) static var lastMark: UInt64 = 0

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Starts the clock for the next op's forward (call before a step).
    public static func mark() { lastMark = now() }

    public static func reset() { entries = [:] }

    static func recordForward(_ op: StaticString) {
        let t = now()
        let elapsed = t - lastMark
        update(op) { $0.forwardNanoseconds += elapsed; $0.forwardCalls += 1 }
        lastMark = t
    }

    static func timeBackward(_ op: StaticString, _ body: () -> Void) {
        let start = now()
        body()
        let elapsed = now() - start
        update(op) { $0.backwardNanoseconds += elapsed; $0.backwardCalls += 1 }
    }

    private static func update(_ op: StaticString, _ change: (inout Entry) -> Void) {
        change(&entries[op.description, default: Entry()])
    }
}
