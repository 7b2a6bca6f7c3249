import Foundation
import Kernels

/// Float buffers are recycled by exact size: a training step allocates the
/// same shapes every time, so after the first step every op's output comes
/// from the pool and resident memory stays flat.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private let lock = NSLock()
    /// Buffers obtained from the system (not from the pool) so far.
    private(set) var freshAllocations = 0

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        let p = free[count]?.popLast()
        if let p { lock.unlock(); return p }
        freshAllocations += 1
        lock.unlock()
        return UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        lock.lock()
        free[count, default: []].append(p)
        lock.unlock()
    }
}

/// A contiguous float buffer owned by one or more tensors (reshape shares it).
final class Storage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int, zeroed: Bool) {
        self.count = count
        pointer = BufferPool.shared.take(count)
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { BufferPool.shared.give(pointer, count) }
}

/// How many float buffers have been taken from the system rather than the
/// pool since the program started. Flat across training steps once warm.
public var freshBufferAllocations: Int { BufferPool.shared.freshAllocations }
