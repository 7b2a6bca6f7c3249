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

    /// Hands every free buffer back to the system.
    func releaseFree() {
        lock.lock()
        for buffers in free.values { for p in buffers { p.deallocate() } }
        free = [:]
        lock.unlock()
    }
}

/// A contiguous float buffer owned by one or more tensors (reshape shares it).
/// It comes from the buffer pool, or is a slice of a `PackedBlock`.
final class Storage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    /// The block this storage is a slice of; nil for a pool buffer.
    let block: PackedBlock?
    /// Set when the buffer goes back to the system rather than the pool on release.
    var releasesToSystem = false

    init(count: Int, zeroed: Bool) {
        self.count = count
        pointer = BufferPool.shared.take(count)
        block = nil
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    init(slice pointer: UnsafeMutablePointer<Float>, count: Int, of block: PackedBlock) {
        self.pointer = pointer; self.count = count; self.block = block
    }

    deinit {
        if block != nil { return }
        if releasesToSystem { pointer.deallocate() } else { BufferPool.shared.give(pointer, count) }
    }
}

/// One allocation holding several tensors back to back (see `Tensor.pack`),
/// aligned to 2 MiB and advised to use huge pages where the system has them.
final class PackedBlock {
    static let hugePage = 1 << 21
    let base: UnsafeMutableRawPointer

    init(bytes: Int) {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.hugePage, max(bytes, 64)) == 0, let raw else { fatalError("PackedBlock: out of memory (\(bytes) bytes)") }
        base = raw
        #if os(Linux)
        // Whole huge pages only, so the tail does not round resident memory up.
        let whole = bytes / Self.hugePage * Self.hugePage
        if whole > 0 { _ = madvise(raw, whole, MADV_HUGEPAGE) }
        #endif
    }

    deinit { free(base) }
}

extension Tensor {
    /// Moves the tensors' values into one allocation, back to back in the
    /// given order (each start aligned to 64 bytes), on huge pages where the
    /// system allows; values are unchanged. Generation at batch 1 streams
    /// every weight once per token: in one block, that is one sequential read
    /// over a few TLB entries instead of a scattered read over thousands of
    /// 4 KiB pages (docs/benchmarks.md). The old buffers go back to the
    /// system, so resident memory does not grow. Raw pointers taken from these
    /// tensors before the call are invalid after it. Tensors already packed
    /// together stay where they are.
    public static func pack(_ tensors: [Tensor]) {
        if arePacked(tensors) { return }
        var seen = Set<ObjectIdentifier>(), unique: [Tensor] = []
        for t in tensors where seen.insert(ObjectIdentifier(t)).inserted { unique.append(t) }
        let aligned = { (count: Int) in (count + 15) / 16 * 16 }
        let block = PackedBlock(bytes: unique.reduce(0) { $0 + aligned($1.count) } * MemoryLayout<Float>.stride)
        var next = block.base.assumingMemoryBound(to: Float.self)
        for t in unique {
            next.initialize(from: t.storage.pointer, count: t.count)
            t.storage.releasesToSystem = true
            t.storage = Storage(slice: next, count: t.count, of: block)
            next += aligned(t.count)
        }
    }

    /// Whether `pack` put these tensors in one block already.
    public static func arePacked(_ tensors: [Tensor]) -> Bool {
        guard let block = tensors.first?.storage.block else { return false }
        return tensors.allSatisfy { $0.storage.block === block }
    }
}

/// How many float buffers have been taken from the system rather than the
/// pool since the program started. Flat across training steps once warm.
public var freshBufferAllocations: Int { BufferPool.shared.freshAllocations }

/// Frees the pooled buffers no tensor holds, for when the shapes change for
/// good (a sequence-length warm-up moving to a longer window): the pool keeps
/// buffers by exact size, so each old window's set would otherwise stay resident.
public func releasePooledBuffers() { BufferPool.shared.releaseFree() }
