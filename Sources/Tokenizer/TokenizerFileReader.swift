import Foundation
import Files

/// Validates a parsed tokenizer.json against the supported subset, naming any field it refuses.
struct Reader {
    let name: String

    func fail(_ msg: String) -> TokenizerError { TokenizerError("\(name): \(msg)") }

    func isNull(_ v: Any?) -> Bool { v == nil || v is NSNull }

    func object(_ v: Any?, _ field: String) throws -> [String: Any] {
        guard let v else { throw fail("missing field '\(field)'") }
        guard let o = v as? [String: Any] else { throw fail("field '\(field)' must be an object") }
        return o
    }

    func string(_ v: Any?, _ field: String) throws -> String {
        guard let v else { throw fail("missing field '\(field)'") }
        guard let s = v as? String else { throw fail("field '\(field)' must be a string") }
        return s
    }

    func bool(_ v: Any?, _ field: String, default d: Bool) throws -> Bool {
        if isNull(v) { return d }
        if let b = v as? Bool { return b }
        throw fail("field '\(field)' must be true or false")
    }

    func int(_ v: Any?, _ field: String) throws -> Int {
        guard let v else { throw fail("missing field '\(field)'") }
        if let n = v as? NSNumber, let i = Int(exactly: n.doubleValue), i >= 0, i < 1 << 31 { return i }
        throw fail("field '\(field)' must be a non-negative integer")
    }

    func onlyKeys(_ o: [String: Any], _ allowed: Set<String>, _ path: String) throws {
        if let k = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw fail("unsupported field '\(path)\(k)'")
        }
    }

    func mustBe(_ o: [String: Any], _ key: String, _ path: String, null: Bool = true, falseOK: Bool = false) throws {
        let v = o[key]
        if isNull(v) { return }
        if falseOK, (try? bool(v, key, default: false)) == false { return }
        throw fail("unsupported value of '\(path)\(key)' (only \(falseOK ? "false or null" : "null") is supported)")
    }

    mutating func tokenizer(_ root: [String: Any]) throws -> any Tokenizer {
        try onlyKeys(root, ["version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"], "")
        for k in ["truncation", "padding", "normalizer"] { try mustBe(root, k, "") }
        let model = try object(root["model"], "model")
        let type = try string(model["type"], "model.type")

        // added_tokens: split out of the text before pre-tokenization.
        var specials: [String: Int] = [:]
        if let raw = root["added_tokens"], !isNull(raw) {
            guard let list = raw as? [Any] else { throw fail("field 'added_tokens' must be an array") }
            for (k, item) in list.enumerated() {
                let p = "added_tokens[\(k)]."
                let t = try object(item, "added_tokens[\(k)]")
                try onlyKeys(t, ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"], p)
                for f in ["single_word", "lstrip", "rstrip"] { try mustBe(t, f, p, falseOK: true) }
                let content = try string(t["content"], p + "content")
                if content.isEmpty { throw fail("'\(p)content' must not be empty") }
                specials[content] = try int(t["id"], p + "id")
            }
        }

        switch type {
        case "BPE": return try bpe(root, model, specials)
        case "WordLevel": return try char(root, model, specials)
        default: throw fail("unsupported model.type '\(type)'; supported: BPE (byte-level), WordLevel (tinygpt char tokenizer)")
        }
    }

    func vocab(_ model: [String: Any]) throws -> [(String, Int)] {
        let v = try object(model["vocab"], "model.vocab")
        var out: [(String, Int)] = []
        out.reserveCapacity(v.count)
        for (s, id) in v { out.append((s, try int(id, "model.vocab[\(JSONValue.quote(s))]"))) }
        var seen = Set<Int>()
        for (s, id) in out where !seen.insert(id).inserted { throw fail("id \(id) is used twice in model.vocab (again by \(JSONValue.quote(s)))") }
        return out
    }

    func bpe(_ root: [String: Any], _ model: [String: Any], _ specials: [String: Int]) throws -> BPETokenizer {
        try onlyKeys(model, ["type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"], "model.")
        for k in ["dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"] { try mustBe(model, k, "model.") }
        try mustBe(model, "byte_fallback", "model.", falseOK: true)
        let ignoreMerges = try bool(model["ignore_merges"], "model.ignore_merges", default: false)

        let pre = try object(root["pre_tokenizer"], "pre_tokenizer")
        guard (pre["type"] as? String) == "ByteLevel" else {
            throw fail("unsupported pre_tokenizer.type '\(pre["type"] ?? "null")'; only ByteLevel is supported with BPE")
        }
        try onlyKeys(pre, ["type", "add_prefix_space", "trim_offsets", "use_regex"], "pre_tokenizer.")
        if try bool(pre["add_prefix_space"], "pre_tokenizer.add_prefix_space", default: true) {
            throw fail("unsupported value of 'pre_tokenizer.add_prefix_space' (only false is supported)")
        }
        if !(try bool(pre["use_regex"], "pre_tokenizer.use_regex", default: true)) {
            throw fail("unsupported value of 'pre_tokenizer.use_regex' (only true is supported)")
        }
        let dec = try object(root["decoder"], "decoder")
        guard (dec["type"] as? String) == "ByteLevel" else {
            throw fail("unsupported decoder.type '\(dec["type"] ?? "null")'; only ByteLevel is supported with BPE")
        }
        if let pp = root["post_processor"], !isNull(pp) {
            // ByteLevel post-processing only adjusts offsets, which tinygpt does not report.
            guard let o = pp as? [String: Any], (o["type"] as? String) == "ByteLevel" else {
                throw fail("unsupported post_processor (only null or ByteLevel is supported)")
            }
        }

        let entries = try vocab(model)
        let size = max((entries.map { $0.1 }.max() ?? -1), (specials.values.max() ?? -1)) + 1
        var tokenBytes = [[UInt8]](repeating: [], count: size)
        var idStrings: [Int: String] = [:]
        var idOf: [String: Int] = [:]
        for (s, id) in entries {
            idOf[s] = id
            if specials[s] == id { continue }
            if let b = ByteLevel.decode(s), !b.isEmpty {
                tokenBytes[id] = b
            } else {
                // Not in GPT-2's byte alphabet: `tokenizers` decodes such a token as its UTF-8 text.
                tokenBytes[id] = Array(s.utf8); idStrings[id] = s
            }
        }
        for (s, id) in specials {
            if let other = idOf[s], other != id { throw fail("added token \(JSONValue.quote(s)) has id \(id) but model.vocab gives \(other)") }
            tokenBytes[id] = Array(s.utf8); idStrings[id] = s
        }

        guard let rawMerges = model["merges"] else { throw fail("missing field 'model.merges'") }
        guard let list = rawMerges as? [Any] else { throw fail("field 'model.merges' must be an array") }
        var merges: [(Int, Int)] = []
        merges.reserveCapacity(list.count)
        for (k, m) in list.enumerated() {
            let parts: [String]
            if let s = m as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let a = m as? [Any], a.allSatisfy({ $0 is String }) {
                parts = a.map { $0 as! String }
            } else {
                throw fail("model.merges[\(k)] must be \"a b\" or [\"a\", \"b\"]")
            }
            guard parts.count == 2 else { throw fail("model.merges[\(k)] must have exactly 2 tokens, got \(parts.count)") }
            guard let a = idOf[parts[0]], let b = idOf[parts[1]] else {
                throw fail("model.merges[\(k)] uses token \(JSONValue.quote(idOf[parts[0]] == nil ? parts[0] : parts[1])) that is not in model.vocab")
            }
            merges.append((a, b))
        }
        do {
            return try BPETokenizer(tokenBytes: tokenBytes, merges: merges, specialTokens: specials, ignoreMerges: ignoreMerges, idStrings: idStrings)
        } catch let e as TokenizerError {
            throw fail(e.description)
        }
    }

    func char(_ root: [String: Any], _ model: [String: Any], _ specials: [String: Int]) throws -> CharTokenizer {
        try onlyKeys(model, ["type", "vocab", "unk_token"], "model.")
        let pre = try object(root["pre_tokenizer"], "pre_tokenizer")
        let pattern = (pre["pattern"] as? [String: Any])?["Regex"] as? String
        guard (pre["type"] as? String) == "Split", pattern == "[\\s\\S]", (pre["behavior"] as? String) == "Isolated",
              (try? bool(pre["invert"], "invert", default: false)) == false else {
            throw fail("unsupported pre_tokenizer for WordLevel; only tinygpt's char layout (Split on \"[\\\\s\\\\S]\", Isolated) is supported")
        }
        let dec = try object(root["decoder"], "decoder")
        guard (dec["type"] as? String) == "Fuse" else { throw fail("unsupported decoder.type '\(dec["type"] ?? "null")'; only Fuse is supported with WordLevel") }
        try mustBe(root, "post_processor", "")
        var chars: [(Int, Unicode.Scalar)] = []
        for (s, id) in try vocab(model) {
            if let sid = specials[s] {
                if sid != id { throw fail("added token \(JSONValue.quote(s)) has id \(id) but model.vocab gives \(sid)") }
                continue
            }
            let us = s.unicodeScalars
            guard us.count == 1, let u = us.first else {
                throw fail("model.vocab entry \(JSONValue.quote(s)) is not a single character")
            }
            chars.append((id, u))
        }
        chars.sort { $0.0 < $1.0 }
        for (k, c) in chars.enumerated() where c.0 != k {
            throw fail("character ids in model.vocab must be 0...\(chars.count - 1) without gaps; missing \(k)")
        }
        do {
            return try CharTokenizer(chars: chars.map { $0.1 }, specialTokens: specials)
        } catch let e as TokenizerError {
            throw fail(e.description)
        }
    }
}
