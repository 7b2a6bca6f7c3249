/// FNV-1a, 64 bits (Fowler, Noll, Vo): for each byte, hash = (hash XOR byte) × 1099511628211,
/// from the offset basis 14695981039346656037. Not cryptographic: it notices
/// a file or text that changed by accident, which is what tinygpt asks of it.
public struct FNV1a64: Sendable {
    public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01B3

    public var value: UInt64 = offsetBasis

    @inlinable public init() {}

    /// Inlinable, so that a caller's sequence (a string's UTF-8 view) is hashed by specialised code.
    @inlinable public mutating func combine(_ bytes: some Sequence<UInt8>) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* Self.prime }
        value = h
    }

    public mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* Self.prime }
        value = h
    }

    /// The hash of `bytes` alone.
    @inlinable public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h = FNV1a64()
        h.combine(bytes)
        return h.value
    }
}
