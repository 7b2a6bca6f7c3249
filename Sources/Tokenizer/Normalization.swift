import Foundation

/// The text rewrites of tokenizer.json normalizers, as Hugging Face `tokenizers` does them.
enum Normalization {
    /// NFC; text below U+0300 (no combining marks, no Hangul jamo) is already NFC.
    static func nfc(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0xCC }) { return text }
        return text.precomposedStringWithCanonicalMapping
    }

    /// Each character's full lowercase mapping, one character at a time (as Rust's
    /// `char::to_lowercase`, so a final sigma stays σ).
    static func lowercase(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.lowercased() }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.properties.changesWhenLowercased { out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars) } else { out.append(u) }
        }
        return String(out)
    }

    /// The one `Replace` regex tinygpt runs: ` {2,}`, SentencePiece's "remove extra whitespaces".
    static let spaceRunsRegex = " {2,}"

    static func replaceSpaceRuns(_ text: String, with replacement: String) -> String {
        guard text.contains("  ") else { return text }
        var out = ""
        var spaces = 0
        func flush() {
            if spaces == 1 { out += " " } else if spaces > 1 { out += replacement }
            spaces = 0
        }
        for u in text.unicodeScalars {
            if u == " " { spaces += 1; continue }
            flush()
            out.unicodeScalars.append(u)
        }
        flush()
        return out
    }

    /// `Nmt`: drops the ASCII and C1 controls SentencePiece's nmt_nfkc drops, and maps the
    /// characters it treats as whitespace (tab, newlines, zero-width spaces, BOM, U+2581, U+FFFD, ...) to a space.
    static func nmt(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            switch u.value {
            case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: continue
            case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD: out.append(" ")
            default: out.append(u)
            }
        }
        return String(out)
    }

    /// `BertNormalizer`: drops NUL, U+FFFD and control characters and makes whitespace a space
    /// (`cleanText`); puts spaces around CJK ideographs; removes accents (NFD, then nonspacing
    /// marks dropped); lowercases. In that order, as BERT's reference code.
    static func bert(_ text: String, cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase lower: Bool) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            let v = u.value
            let c = BertCharacters.classes(v)
            if cleanText {
                if v == 0 || v == 0xFFFD || c & BertCharacters.control != 0 { continue }
                if c & BertCharacters.whitespace != 0 { out.append(" "); continue }
            }
            if handleChineseChars && c & BertCharacters.chinese != 0 {
                out.append(" "); out.append(u); out.append(" ")
                continue
            }
            out.append(u)
        }
        var t = String(out)
        if stripAccents {
            var kept = String.UnicodeScalarView()
            for u in t.decomposedStringWithCanonicalMapping.unicodeScalars where BertCharacters.classes(u.value) & BertCharacters.nonspacingMark == 0 {
                kept.append(u)
            }
            t = String(kept)
        }
        return lower ? lowercase(t) : t
    }
}

/// The character classes of BERT's normalizer and pre-tokenizer as `tokenizers` computes them:
/// punctuation (ASCII punctuation, or general category P*), control (Cc, Cf, Co, except tab, LF
/// and CR), nonspacing mark (Mn), from the `unicode_categories` crate's tables, which are Unicode
/// 8.0 (code points assigned later are none of these); whitespace is Rust's `char::is_whitespace`
/// (White_Space) plus tab, LF and CR; Chinese is the CJK ideograph blocks BERT lists.
enum BertCharacters {
    static let punctuation: UInt8 = 1, control: UInt8 = 2, whitespace: UInt8 = 4, nonspacingMark: UInt8 = 8, chinese: UInt8 = 16

    /// The Unicode version of the category tables (`unicode_categories` 0.1).
    static let categoryVersion: (major: Int, minor: Int) = (8, 0)

    /// Code points whose general category in Unicode 8.0 differs from today's (Swift's tables):
    /// their 8.0 class. Found by the test against `tokenizers` over all of Unicode.
    static let categoryChanges: [UInt32: UInt8] = [
        0x166D: punctuation,                 // CANADIAN SYLLABICS CHI SIGN: Po then, So now
        0x111C9: punctuation,                // SHARADA SANDHI MARK: Po then, Mn now
        0x1734: nonspacingMark,              // HANUNOO SIGN PAMUDPOD: Mn then, Mc now
        0x1171E: nonspacingMark,             // AHOM CONSONANT SIGN MEDIAL RA: Mn then, Mc now
        0x1885: 0, 0x1886: 0,                // MONGOLIAN LETTER ALI GALI BALUDA, THREE BALUDA: Lo then, Mn now
        0xA9BD: 0,                           // JAVANESE CONSONANT SIGN KERET: Mc then, Mn now
    ]

    /// Classes of the Basic Multilingual Plane, computed once (thread-safe static initializer), then only read.
    static let bmp: [UInt8] = (0..<0x10000).map { compute(UInt32($0)) }

    @inline(__always)
    static func classes(_ v: UInt32) -> UInt8 { v < 0x10000 ? bmp[Int(v)] : compute(v) }

    static func compute(_ v: UInt32) -> UInt8 {
        guard let u = Unicode.Scalar(v) else { return 0 }
        let p = u.properties
        var c: UInt8 = 0
        if p.isWhitespace || v == 0x09 || v == 0x0A || v == 0x0D { c |= whitespace }
        if isChinese(v) { c |= chinese }
        if (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v) { c |= punctuation }
        if let changed = categoryChanges[v] { return c | changed }
        guard let age = p.age, age.major < categoryVersion.major || (age.major == categoryVersion.major && age.minor <= categoryVersion.minor) else {
            return c
        }
        switch p.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c |= punctuation
        case .control, .format, .privateUse:
            if v != 0x09 && v != 0x0A && v != 0x0D { c |= control }
        case .nonspacingMark:
            c |= nonspacingMark
        default: break
        }
        return c
    }

    static func isChinese(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F, 0x2B920...0x2CEAF,
             0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}
