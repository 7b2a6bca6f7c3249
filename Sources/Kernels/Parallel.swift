import Dispatch
import Foundation
import Synchronization

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
        if workers <= 1 || isInsideParallelRegion {
            for i in 0..<count { body(i) }
            return
        }
        // Closure literals passed straight to non-escaping parameters: their
        // contexts stay on the stack (a closure held in a variable, or captured
        // by the escaping Dispatch closure, would be allocated at every call).
        if WorkerPool.shared.run(workers: workers, { w in strided(w, workers, count, body) }) { return }
        // Another thread is using the pool: fall back to Dispatch's threads.
        onDispatchThreads(workers) { w in strided(w, workers, count, body) }
    }

    @inline(__always)
    private static func strided(_ w: Int, _ workers: Int, _ count: Int, _ body: (Int) -> Void) {
        var i = w
        while i < count {
            body(i)
            i += workers
        }
    }

    private static func onDispatchThreads(_ workers: Int, _ share: (Int) -> Void) {
        withoutActuallyEscaping(share) { share in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let outer = pthread_getspecific(nestingKey)
                pthread_setspecific(nestingKey, insideMarker)
                defer { pthread_setspecific(nestingKey, outer) }
                share(w)
            }
        }
    }

    /// Splits 0..<n into chunks of about `grain` items (sizes differing by at
    /// most one), but at least `minimumChunks` of them once n exceeds the grain, and runs
    /// `body(range)` for each. (768 rows of 128 had made 3 chunks: one thread
    /// did two, the other one.) The chunking depends on `n` and `grain` only,
    /// not on the thread count.
    public static func forRanges(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunks = n <= grain ? 1 : min(n, max((n + grain - 1) / max(grain, 1), minimumChunks))
        // Sizes differ by at most one: the first n % chunks chunks get one more.
        let base = n / chunks, extra = n % chunks
        forEach(chunks) { c in
            let lo = c * base + min(c, extra)
            body(lo..<(lo + base + (c < extra ? 1 : 0)))
        }
    }

    /// Fewest chunks `forRanges` cuts a range above its grain into.
    static let minimumChunks = 8

    static var isInsideParallelRegion: Bool { pthread_getspecific(nestingKey) != nil }

    /// Set on a thread while it runs a `forEach` body (always, on pool workers).
    static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    static let insideMarker = UnsafeRawPointer(bitPattern: 1)
}

/// Persistent worker threads for `Parallel.forEach`.
///
/// A training step runs a few hundred parallel regions of 10–500 µs each.
/// Waking a sleeping thread costs about 10 µs (measured with
/// DispatchQueue.concurrentPerform here), so after a job a worker polls its
/// ticket for `spinNanoseconds` before it sleeps; a region then starts in well
/// under a microsecond, as with OpenMP's spinning workers. Only the workers a
/// job needs are handed a ticket, so spare threads (after `Parallel.threads`
/// was lowered) stay asleep.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker polls for the next job before sleeping.
    static let spinNanoseconds: UInt64 = 1_000_000
    /// How long it polls before it also yields its core now and then: the
    /// usual wait between two regions is a few microseconds, and a worker
    /// caught inside sched_yield when its ticket comes starts late.
    static let yieldAfterNanoseconds: UInt64 = 50_000

    /// One pool thread: the caller bumps `ticket` to hand it the current job.
    private final class Worker: @unchecked Sendable {
        let ticket = Atomic<Int>(0)
        let sleeping = Atomic<Bool>(false)
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let padding = (0, 0, 0, 0, 0, 0, 0, 0)  // keep tickets of different workers off one cache line

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }
    }

    /// Workers of the current job that have not finished their share.
    private let pending = Atomic<Int>(0)
    /// One job at a time; a second caller falls back to Dispatch.
    private let inUse = Atomic<Bool>(false)
    private var workers: [Worker] = []
    // The current job: written before the tickets are bumped (release), read by
    // workers after they see theirs (acquire), cleared after all have reported.
    // Handing it over costs one small allocation per region: the thunk that
    // withoutActuallyEscaping makes around the non-escaping closure.
    private var job: ((Int) -> Void)?

    /// Runs `share(w)` for w in 0..<count, share 0 on the calling thread and
    /// share w on pool thread w. Returns false, doing nothing, if the pool is
    /// busy with another caller.
    func run(workers count: Int, _ share: (Int) -> Void) -> Bool {
        guard inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { inUse.store(false, ordering: .releasing) }
        while workers.count < count - 1 { startWorker() }
        withoutActuallyEscaping(share) { share in
            job = share
            pending.store(count - 1, ordering: .relaxed)
            for w in workers.prefix(count - 1) {
                w.ticket.add(1, ordering: .sequentiallyConsistent)
                if w.sleeping.load(ordering: .sequentiallyConsistent) {
                    pthread_mutex_lock(w.mutex)
                    pthread_cond_signal(w.condition)
                    pthread_mutex_unlock(w.mutex)
                }
            }
            pthread_setspecific(Parallel.nestingKey, Parallel.insideMarker)
            share(0)
            pthread_setspecific(Parallel.nestingKey, nil)
            var polls = 0
            while pending.load(ordering: .acquiring) != 0 {
                polls += 1
                if polls > 2_000 { sched_yield() }  // a worker is late (descheduled?): give it the core
            }
            job = nil
        }
        return true
    }

    private func startWorker() {
        let worker = Worker()
        workers.append(worker)
        let share = workers.count
        let thread = Thread { [self] in workerLoop(worker, share: share) }
        thread.name = "tinygpt-worker-\(share)"
        thread.start()
    }

    private func workerLoop(_ worker: Worker, share: Int) {
        pthread_setspecific(Parallel.nestingKey, Parallel.insideMarker)
        var seen = 0
        while true {
            seen = waitForTicket(worker, after: seen)
            job!(share)
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Polls, then sleeps, until the worker's ticket moves past `seen`; returns it.
    private func waitForTicket(_ worker: Worker, after seen: Int) -> Int {
        var t = worker.ticket.load(ordering: .acquiring)
        if t != seen { return t }
        let start = DispatchTime.now().uptimeNanoseconds
        var polls = 0
        while t == seen {
            polls += 1
            if polls & 1023 == 0 {
                let waited = DispatchTime.now().uptimeNanoseconds - start
                if waited > Self.spinNanoseconds {
                    pthread_mutex_lock(worker.mutex)
                    worker.sleeping.store(true, ordering: .sequentiallyConsistent)
                    while worker.ticket.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(worker.condition, worker.mutex) }
                    worker.sleeping.store(false, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(worker.mutex)
                } else if waited > Self.yieldAfterNanoseconds {
                    sched_yield()  // if the machine is oversubscribed, let the thread that will hand out work run
                }
            }
            t = worker.ticket.load(ordering: .acquiring)
        }
        return t
    }
}
