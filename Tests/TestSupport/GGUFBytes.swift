/// Finds fields in a GGUF file's bytes, so tests can damage one on purpose
/// (a tensor's type or offset, a metadata string) without a GGUF library.
public enum GGUFBytes {
    static func u64(_ n: Int) -> [UInt8] { (0..<8).map { UInt8((UInt64(n) >> (8 * UInt64($0))) & 0xFF) } }

    /// Where `pattern` first occurs at or after `from`.
    static func find(_ pattern: [UInt8], in bytes: [UInt8], from: Int = 0) -> Int? {
        guard pattern.count <= bytes.count else { return nil }
        var i = from
        while i + pattern.count <= bytes.count {
            if bytes[i] == pattern[0] && Array(bytes[i..<(i + pattern.count)]) == pattern { return i }
            i += 1
        }
        return nil
    }

    /// Byte positions of tensor `name`'s u32 type and u64 offset in its tensor info.
    public static func tensorInfoFields(_ bytes: [UInt8], name: String) -> (type: Int, offset: Int)? {
        let key = u64(name.utf8.count) + Array(name.utf8)
        // The tensor infos follow the metadata; a name could also appear as a string there, so take the last match.
        var start: Int? = nil, from = 0
        while let i = find(key, in: bytes, from: from) { start = i; from = i + 1 }
        guard let s = start else { return nil }
        var p = s + key.count
        let dims = Int(bytes[p]) | Int(bytes[p + 1]) << 8
        p += 4 + 8 * dims
        return (p, p + 4)
    }

    /// The byte range of metadata string `key`'s value (after its u64 length).
    public static func stringValue(_ bytes: [UInt8], key: String) -> Range<Int>? {
        let pattern = u64(key.utf8.count) + Array(key.utf8) + [8, 0, 0, 0]
        guard let i = find(pattern, in: bytes) else { return nil }
        let p = i + pattern.count
        let length = (0..<8).reduce(0) { $0 | Int(bytes[p + $1]) << (8 * $1) }
        return (p + 8)..<(p + 8 + length)
    }

    /// Writes `value` little-endian at `position`.
    public static func store<T: FixedWidthInteger>(_ value: T, at position: Int, in bytes: inout [UInt8]) {
        for k in 0..<MemoryLayout<T>.size { bytes[position + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }
}
