import Dispatch
import Foundation

/// How many threads the kernels may use, and the one way they split work.
///
/// Work is cut into chunks whose boundaries depend only on the problem size,
/// never on the thread count; each chunk owns its outputs. So results are
/// identical for any thread count, and no two threads write the same memory.
public enum Parallel {
    /// Number of worker threads. Defaults to the number of active cores.
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for every i in 0..<count, spread over `threads` workers.
    /// Worker w takes chunks w, w+T, w+2T, ... (static, so no shared counter).
    /// Called from inside another `forEach` (e.g. a matmul per attention head),
    /// it runs serially on the calling worker: the outer split already uses the cores.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 || pthread_getspecific(nestingKey) != nil {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let outer = pthread_getspecific(nestingKey)
                pthread_setspecific(nestingKey, insideMarker)
                defer { pthread_setspecific(nestingKey, outer) }
                var i = w
                while i < count {
                    body(i)
                    i += workers
                }
            }
        }
    }

    /// Set on a thread while it runs a `forEach` body.
    static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    static let insideMarker = UnsafeRawPointer(bitPattern: 1)

    /// Splits 0..<n into chunks of at least `grain` items (about 4 per thread
    /// for balance) and runs `body(range)` for each. The chunking depends on
    /// `n` and `grain` only, not on the thread count.
    public static func forRanges(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunk = max(grain, 1)
        let chunks = (n + chunk - 1) / chunk
        forEach(chunks) { c in
            let lo = c * chunk
            body(lo..<min(n, lo + chunk))
        }
    }
}
