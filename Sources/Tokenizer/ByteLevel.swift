/// GPT-2's byte ↔ unicode mapping for stored vocabularies: printable bytes
/// (33...126, 161...172, 174...255) stand for themselves; the other 68 bytes map, in byte
/// order, to U+0100, U+0101, ... (so space 0x20 is "Ġ" U+0120).
enum ByteLevel {
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Scalar → byte + 1 for the 324 scalars below U+0144 (0: not in the table).
    static let scalarToByte: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 0x144)
        for b in 0..<256 { table[Int(byteToScalar[b])] = UInt16(b) + 1 }
        return table
    }()

    /// Bytes → the stored vocabulary string.
    static func encode(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }

    /// The stored string → bytes, or nil if some character is not in the table.
    static func decode(_ string: String) -> [UInt8]? {
        var s = string
        return s.withUTF8 { decode($0) }
    }

    /// The same from the string's UTF-8 (valid UTF-8). The table's scalars, all below U+0144,
    /// take one byte or two (a lead byte 0xC2...0xC5).
    static func decode(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let lead = utf8[i]
            let scalar: Int
            if lead < 0x80 {
                scalar = Int(lead); i += 1
            } else if (0xC2...0xC5).contains(lead) && i + 1 < utf8.count {
                scalar = Int(lead & 0x1F) << 6 | Int(utf8[i + 1] & 0x3F); i += 2
            } else {
                return nil
            }
            guard scalar < 0x144, case let b = scalarToByte[scalar], b != 0 else { return nil }
            out.append(UInt8(b - 1))
        }
        return out
    }
}
