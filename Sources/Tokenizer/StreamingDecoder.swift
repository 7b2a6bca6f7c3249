/// Turns a stream of token bytes (`decodeBytes` of each new id) into text, holding back a
/// multi-byte character until all its bytes have arrived, so a generator prints each
/// character once, complete. Concatenating every `push` and the final `flush` gives exactly
/// `String(decoding: allBytes, as: UTF8.self)` (invalid bytes → U+FFFD).
public struct StreamingDecoder {
    private var pending: [UInt8] = []

    public init() {}

    /// Adds bytes; returns the text of the characters now complete (possibly "").
    public mutating func push(_ bytes: [UInt8]) -> String {
        pending.append(contentsOf: bytes)
        let cut = completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Everything still held back (an unfinished character becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Bytes that can be decoded now: all but a trailing lead byte whose sequence is not yet
    /// long enough. Cutting just before a lead byte never changes how the bytes decode.
    private func completePrefixLength(_ b: [UInt8]) -> Int {
        var k = b.count - 1
        while k >= 0 && k >= b.count - 4 {
            let c = b[k]
            if c & 0xC0 != 0x80 {
                let need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1
                return b.count - k < need ? k : b.count
            }
            k -= 1
        }
        return b.count
    }
}
