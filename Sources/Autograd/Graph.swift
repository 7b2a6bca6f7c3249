import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let notRecordingKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// Recording and replaying the computation graph.
///
/// Each op's output keeps its inputs and a backward function. `backward()`
/// orders the graph with an iterative depth-first search (no recursion, so
/// deep graphs cannot overflow the stack), runs the backward functions from
/// the root towards the leaves, then cuts the graph so its memory is freed.
public enum Autograd {
    /// Per thread: a `noGrad` on one thread (generating an answer) leaves
    /// another (training) recording. The key's slot holds nil while recording.
    static var recording: Bool {
        get { pthread_getspecific(notRecordingKey) == nil }
        set { pthread_setspecific(notRecordingKey, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }

    /// Whether operations currently record themselves for backward.
    public static var isRecording: Bool { recording }

    /// Runs `body` without recording: for inference and evaluation.
    public static func noGrad<T>(_ body: () throws -> T) rethrows -> T {
        let saved = recording
        recording = false
        defer { recording = saved }
        return try body()
    }
}

extension Tensor {
    /// True if this tensor's gradient is needed: a leaf that asks for one or
    /// the output of a recorded op.
    var needsGrad: Bool { requiresGrad || backwardFunction != nil }

    /// Attaches an op's backward to its output if recording and any input needs
    /// a gradient. `backward` receives the output, whose `grad` is set.
    /// `op` names the op for `OpProfiler` (the calling function by default).
    @discardableResult
    func recordOp(_ inputs: [Tensor], op: StaticString = #function, _ backward: @escaping (Tensor) -> Void) -> Tensor {
        if OpProfiler.isEnabled {
            OpProfiler.recordForward(op)
            opName = op
        }
        if Autograd.recording && inputs.contains(where: { $0.needsGrad }) {
            self.inputs = inputs
            self.backwardFunction = backward
        }
        return self
    }

    /// Back-propagates from this scalar: fills `grad` of every leaf that
    /// requires one (adding to what is there) and releases the graph.
    public func backward() {
        require(count == 1, "backward: needs a scalar (one element), got shape \(describe(shape))")
        let order = topologicalOrder()
        let g = gradientBuffer()
        g[0] += 1
        for t in order.reversed() {
            guard let fn = t.backwardFunction, t.grad != nil else { continue }
            if OpProfiler.isEnabled, let op = t.opName { OpProfiler.timeBackward(op) { fn(t) } } else { fn(t) }
        }
        for t in order where t.backwardFunction != nil {
            t.backwardFunction = nil
            t.inputs = []
            t.grad = nil  // intermediate gradients are not kept
        }
    }

    /// Nodes reachable from self that need gradients, inputs before outputs.
    func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if !visited.insert(ObjectIdentifier(t)).inserted { continue }
            stack.append((t, true))
            for input in t.inputs where input.needsGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}
