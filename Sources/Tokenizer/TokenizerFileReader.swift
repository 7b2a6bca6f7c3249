import Foundation
import Files

/// Validates a parsed tokenizer.json against the supported subset, naming any field it refuses.
struct Reader {
    let name: String
    /// `model.vocab` and `model.merges` when they are an object or array: the parse leaves them as
    /// text (in the tree they stand empty), and the readers below take their entries from it.
    var vocabText: JSONText? = nil
    var mergesText: JSONText? = nil

    func fail(_ msg: String) -> TokenizerError { TokenizerError("\(name): \(msg)") }

    func isNull(_ v: JSONValue?) -> Bool { v?.isNull ?? true }

    /// An object (checked to be one), whose members `o[key]` reads.
    func object(_ v: JSONValue?, _ field: String) throws -> JSONValue {
        guard let v else { throw fail("missing field '\(field)'") }
        guard v.members != nil else { throw fail("field '\(field)' must be an object") }
        return v
    }

    func string(_ v: JSONValue?, _ field: String) throws -> String {
        guard let v else { throw fail("missing field '\(field)'") }
        guard let s = v.string else { throw fail("field '\(field)' must be a string") }
        return s
    }

    func bool(_ v: JSONValue?, _ field: String, default d: Bool) throws -> Bool {
        if isNull(v) { return d }
        if let b = v?.bool { return b }
        throw fail("field '\(field)' must be true or false")
    }

    /// A non-negative integer below 2^31, written as an integer or as a float with no fraction (3.0).
    func int(_ v: JSONValue?, _ field: String) throws -> Int {
        guard let v else { throw fail("missing field '\(field)'") }
        if let d = v.double, let i = Int(exactly: d), i >= 0, i < 1 << 31 { return i }
        throw fail("field '\(field)' must be a non-negative integer")
    }

    func onlyKeys(_ o: JSONValue, _ allowed: Set<String>, _ path: String) throws {
        if let k = (o.members ?? []).map(\.key).sorted().first(where: { !allowed.contains($0) }) {
            throw fail("unsupported field '\(path)\(k)'")
        }
    }

    func mustBe(_ o: JSONValue, _ key: String, _ path: String, null: Bool = true, falseOK: Bool = false) throws {
        let v = o[key]
        if isNull(v) { return }
        if falseOK, v?.bool == false { return }
        throw fail("unsupported value of '\(path)\(key)' (only \(falseOK ? "false or null" : "null") is supported)")
    }

    mutating func tokenizer(_ root: JSONValue) throws -> any Tokenizer {
        try onlyKeys(root, ["version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"], "")
        for k in ["truncation", "padding"] { try mustBe(root, k, "") }
        let model = try object(root["model"], "model")
        let type = try string(model["type"], "model.type")

        // added_tokens: split out of the text before pre-tokenization.
        var added = AddedTokens()
        if let raw = root["added_tokens"], !isNull(raw) {
            guard let list = raw.array else { throw fail("field 'added_tokens' must be an array") }
            for (k, item) in list.enumerated() {
                let p = "added_tokens[\(k)]."
                let t = try object(item, "added_tokens[\(k)]")
                try onlyKeys(t, ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"], p)
                try mustBe(t, "single_word", p, falseOK: true)
                let content = try string(t["content"], p + "content")
                if try bool(t["lstrip"], p + "lstrip", default: false) { added.lstrip.insert(content) }
                if try bool(t["rstrip"], p + "rstrip", default: false) { added.rstrip.insert(content) }
                if content.isEmpty { throw fail("'\(p)content' must not be empty") }
                added.ids[content] = try int(t["id"], p + "id")
                if !(try bool(t["special"], p + "special", default: true)) { added.nonSpecial.insert(content) }
                if try bool(t["normalized"], p + "normalized", default: false) { added.normalized.insert(content) }
            }
        }

        switch type {
        case "BPE": return try bpe(root, model, added)
        case "WordPiece": return try wordPiece(root, model, added)
        case "Unigram": return try unigram(root, model, added)
        case "WordLevel":
            try mustBe(root, "normalizer", "")
            return try char(root, model, added.ids)
        default: throw fail("unsupported model.type '\(type)'; supported: BPE (byte-level or SentencePiece-style), WordPiece, Unigram, WordLevel (tinygpt char tokenizer)")
        }
    }

    /// The steps of a component, flattening a `Sequence` (whose list is under `listKey`).
    func steps(_ v: JSONValue?, _ field: String, listKey: String) throws -> [(path: String, object: JSONValue)] {
        if isNull(v) { return [] }
        let o = try object(v, field)
        guard (o["type"]?.string) == "Sequence" else { return [(field, o)] }
        guard let list = o[listKey]?.array else { throw fail("field '\(field).\(listKey)' must be an array") }
        var out: [(String, JSONValue)] = []
        for (k, item) in list.enumerated() { out += try steps(item, "\(field).\(listKey)[\(k)]", listKey: listKey) }
        return out
    }

    func type(_ o: JSONValue, _ path: String) throws -> String { try string(o["type"], path + ".type") }

    /// A literal pattern (`{"String": s}`); a regex pattern is refused.
    func literal(_ o: JSONValue, _ path: String) throws -> String {
        let pattern = try object(o["pattern"], path + ".pattern")
        if let s = pattern["String"]?.string { return s }
        throw fail("unsupported '\(path).pattern' (only a literal {\"String\": ...} is supported here, or {\"Regex\": \" {2,}\"} in a normalizer)")
    }

    func normalizers(_ v: JSONValue?) throws -> [NormalizerStep] {
        try steps(v, "normalizer", listKey: "normalizers").map { path, o in
            switch try type(o, path) {
            case "NFC": return .nfc
            case "NFD": return .nfd
            case "NFKC": return .nfkc
            case "NFKD": return .nfkd
            case "Lowercase": return .lowercase
            case "Nmt": return .nmt
            case "Prepend": return .prepend(try string(o["prepend"], path + ".prepend"))
            case "Replace":
                let content = try string(o["content"], path + ".content")
                let pattern = try object(o["pattern"], path + ".pattern")
                if let regex = pattern["Regex"]?.string, regex == Normalization.spaceRunsRegex { return .replaceSpaceRuns(with: content) }
                return .replace(try literal(o, path), with: content)
            case "BertNormalizer":
                try onlyKeys(o, ["type", "clean_text", "handle_chinese_chars", "strip_accents", "lowercase"], path + ".")
                let strip: Bool? = isNull(o["strip_accents"]) ? nil : try bool(o["strip_accents"], path + ".strip_accents", default: false)
                return .bert(cleanText: try bool(o["clean_text"], path + ".clean_text", default: true),
                             handleChineseChars: try bool(o["handle_chinese_chars"], path + ".handle_chinese_chars", default: true),
                             stripAccents: strip, lowercase: try bool(o["lowercase"], path + ".lowercase", default: true))
            case let t: throw fail("unsupported \(path).type '\(t)'; supported: NFC, NFD, NFKC, NFKD, Lowercase, Nmt, BertNormalizer, Prepend, Replace (literal, or the regex \" {2,}\"), Sequence of these")
            }
        }
    }

    func prependScheme(_ o: JSONValue, _ path: String) throws -> PrependScheme {
        if let s = o["prepend_scheme"]?.string {
            guard let scheme = PrependScheme(rawValue: s) else {
                throw fail("unsupported value '\(s)' of '\(path).prepend_scheme'; supported: first, always, never")
            }
            return scheme
        }
        // Older files: add_prefix_space.
        return try bool(o["add_prefix_space"], path + ".add_prefix_space", default: true) ? .always : .never
    }

    func preTokenizers(_ v: JSONValue?) throws -> [PreTokenizerStep] {
        try steps(v, "pre_tokenizer", listKey: "pretokenizers").map { path, o in
            switch try type(o, path) {
            case "ByteLevel":
                try onlyKeys(o, ["type", "add_prefix_space", "trim_offsets", "use_regex"], path + ".")
                if try bool(o["add_prefix_space"], path + ".add_prefix_space", default: true) {
                    throw fail("unsupported value of '\(path).add_prefix_space' (only false is supported)")
                }
                return .byteLevel(useRegex: try bool(o["use_regex"], path + ".use_regex", default: true))
            case "Split":
                try onlyKeys(o, ["type", "pattern", "behavior", "invert"], path + ".")
                let pattern = try object(o["pattern"], path + ".pattern")
                guard let regex = pattern["Regex"]?.string else {
                    throw fail("unsupported '\(path).pattern' (only the Regex patterns in docs/tokenizer.md are supported)")
                }
                guard let known = SplitPattern(regex: regex) else {
                    throw fail("unsupported regex \(JSONValue.quote(regex)) in '\(path).pattern.Regex'; supported: the patterns of \(SplitPattern.allCases.map(\.rawValue).joined(separator: ", ")) (docs/tokenizer.md)")
                }
                guard (o["behavior"]?.string) == "Isolated" else {
                    throw fail("unsupported value of '\(path).behavior' (only Isolated is supported)")
                }
                if try bool(o["invert"], path + ".invert", default: false) { throw fail("unsupported value of '\(path).invert' (only false is supported)") }
                return .split(known)
            case "Digits":
                try onlyKeys(o, ["type", "individual_digits"], path + ".")
                return .digits(individual: try bool(o["individual_digits"], path + ".individual_digits", default: false))
            case "Metaspace":
                try onlyKeys(o, ["type", "replacement", "prepend_scheme", "add_prefix_space", "split", "str_rep"], path + ".")
                let r = try string(o["replacement"], path + ".replacement")
                guard r.unicodeScalars.count == 1 else { throw fail("'\(path).replacement' must be one character") }
                return .metaspace(replacement: r, prependScheme: try prependScheme(o, path), split: try bool(o["split"], path + ".split", default: true))
            case "WhitespaceSplit": return .whitespaceSplit
            case "BertPreTokenizer": return .bert
            case let t:
                throw fail("unsupported \(path).type '\(t)'; supported: ByteLevel, Split (known regexes), Digits, Metaspace, WhitespaceSplit, BertPreTokenizer, Sequence of these")
            }
        }
    }

    func decoders(_ v: JSONValue?) throws -> [DecoderStep] {
        if isNull(v) { throw fail("missing field 'decoder'") }
        return try steps(v, "decoder", listKey: "decoders").map { path, o in
            switch try type(o, path) {
            case "ByteLevel": return .byteLevel
            case "Replace": return .replace(try literal(o, path), with: try string(o["content"], path + ".content"))
            case "ByteFallback": return .byteFallback
            case "Fuse": return .fuse
            case "Strip":
                let stop = try int(o["stop"] ?? 0, path + ".stop")
                if stop != 0 { throw fail("unsupported value of '\(path).stop' (only 0 is supported)") }
                return .strip(content: try string(o["content"], path + ".content"), start: try int(o["start"] ?? 0, path + ".start"), stop: 0)
            case "Metaspace":
                return .metaspace(replacement: try string(o["replacement"], path + ".replacement"), prependScheme: try prependScheme(o, path))
            case "WordPiece":
                try onlyKeys(o, ["type", "prefix", "cleanup"], path + ".")
                return .wordPiece(prefix: try o["prefix"].map { try string($0, path + ".prefix") } ?? "##",
                                  cleanup: try bool(o["cleanup"], path + ".cleanup", default: true))
            case let t:
                throw fail("unsupported \(path).type '\(t)'; supported: ByteLevel, Replace (literal), ByteFallback, Fuse, Strip, Metaspace, WordPiece, Sequence of these")
            }
        }
    }

    /// What the post-processor adds before a single text. Offsets-only processors add nothing.
    func prefix(_ v: JSONValue?) throws -> [TemplateToken] {
        var out: [TemplateToken] = []
        var templates = 0
        for (path, o) in try steps(v, "post_processor", listKey: "processors") {
            switch try type(o, path) {
            case "ByteLevel": continue  // only adjusts offsets, which tinygpt does not report
            case "TemplateProcessing":
                templates += 1
                guard let single = o["single"]?.array else { throw fail("field '\(path).single' must be an array") }
                let specials = try object(o["special_tokens"] ?? .object([]), path + ".special_tokens")
                var sawSequence = false
                for (k, item) in single.enumerated() {
                    let ip = "\(path).single[\(k)]"
                    let piece = try object(item, ip)
                    if let seq = piece["Sequence"], seq.members != nil {
                        guard (seq["id"]?.string) == "A", !sawSequence else { throw fail("unsupported '\(ip)' (a single template has one $A)") }
                        sawSequence = true
                    } else if let sp = piece["SpecialToken"], sp.members != nil {
                        if sawSequence {
                            throw fail("unsupported '\(ip)': the template adds a token after the text (e.g. EOS); tinygpt supports only tokens before it (BOS)")
                        }
                        let name = try string(sp["id"], ip + ".SpecialToken.id")
                        let entry = try object(specials[name], "\(path).special_tokens[\(JSONValue.quote(name))]")
                        guard let ids = entry["ids"]?.array else { throw fail("field '\(path).special_tokens[\(JSONValue.quote(name))].ids' must be an array") }
                        out.append(TemplateToken(name: name, ids: try ids.map { try int($0, "\(path).special_tokens[\(JSONValue.quote(name))].ids") }))
                    } else {
                        throw fail("unsupported '\(ip)' (expected Sequence or SpecialToken)")
                    }
                }
                if !sawSequence { throw fail("unsupported '\(path).single' (it has no $A)") }
            case let t:
                throw fail("unsupported \(path).type '\(t)'; supported: null, ByteLevel, TemplateProcessing (special tokens before $A), Sequence of these")
            }
        }
        if templates > 1 { throw fail("unsupported post_processor: more than one TemplateProcessing") }
        return out
    }

    /// The pipeline of a BPE file, checked to be one tinygpt runs exactly.
    func pipeline(_ root: JSONValue, _ model: JSONValue) throws -> BPETokenizer.Pipeline {
        var pl = BPETokenizer.Pipeline()
        pl.ignoreMerges = try bool(model["ignore_merges"], "model.ignore_merges", default: false)
        pl.byteFallback = try bool(model["byte_fallback"], "model.byte_fallback", default: false)
        pl.fuseUnknown = try bool(model["fuse_unk"], "model.fuse_unk", default: false)
        if let u = model["unk_token"], !isNull(u) { pl.unknownToken = try string(u, "model.unk_token") }
        pl.normalizers = try normalizers(root["normalizer"])
        pl.preTokenizers = try preTokenizers(root["pre_tokenizer"])
        pl.decoders = try decoders(root["decoder"])
        pl.prefix = try prefix(root["post_processor"])

        let steps = pl.preTokenizers
        if let t = steps.first(where: { $0 == .bert || $0 == .whitespaceSplit }) {
            throw fail("unsupported pre_tokenizer \(t == .bert ? "BertPreTokenizer" : "WhitespaceSplit") with a BPE model; it goes with WordPiece or Unigram")
        }
        if pl.decoders.contains(where: { if case .wordPiece = $0 { return true } else { return false } }) {
            throw fail("unsupported decoder.type 'WordPiece' with a BPE model; it goes with a WordPiece model")
        }
        if let k = steps.firstIndex(where: { if case .byteLevel = $0 { return true } else { return false } }) {
            if k != steps.count - 1 { throw fail("unsupported pre_tokenizer: ByteLevel must come last (after Split or Digits)") }
            if pl.byteFallback { throw fail("unsupported value of 'model.byte_fallback' (true only without a ByteLevel pre_tokenizer)") }
            if pl.decoders != [.byteLevel] { throw fail("unsupported decoder: a ByteLevel pre_tokenizer needs a ByteLevel decoder") }
        } else {
            if pl.decoders.contains(.byteLevel) { throw fail("unsupported decoder: ByteLevel needs a ByteLevel pre_tokenizer") }
            if steps.count > 1 || steps.contains(where: { if case .metaspace = $0 { return false } else { return true } }) {
                throw fail("unsupported pre_tokenizer without ByteLevel: only none or a single Metaspace is supported")
            }
        }
        if steps.dropFirst().contains(where: { if case .metaspace = $0 { return true } else { return false } }) {
            throw fail("unsupported pre_tokenizer: Metaspace must come first")
        }
        return pl
    }

    /// Calls `body` with each `model.vocab` entry in file order: the token's UTF-8 (valid only
    /// during the call) and its id; then refuses an id given twice. Keys are kept as written:
    /// tokens that differ only in Unicode composition ("é" and "e\u{301}"), which SentencePiece
    /// vocabularies can hold, stay two entries.
    func forEachVocabEntry(_ model: JSONValue, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        _ = try object(model["vocab"], "model.vocab")
        // An object there is one the parse left as text.
        guard let vocabText else { return }
        var seen: [Bool] = []
        var twice: (id: Int, token: String)?
        func entry(_ token: UnsafeBufferPointer<UInt8>, _ value: JSONValue) throws {
            let id: Int
            // The field's name is spelled out only for an entry that fails.
            if case .int(let i) = value, i >= 0, i < 1 << 31 { id = i } else {
                id = try int(value, "model.vocab[\(JSONValue.quote(String(decoding: token, as: UTF8.self)))]")
            }
            if id >= seen.count { seen += repeatElement(false, count: id + 1 - seen.count) }
            if seen[id] && twice == nil { twice = (id, String(decoding: token, as: UTF8.self)) }
            seen[id] = true
            try body(token, id)
        }
        try vocabText.withReader { vocab in try vocab.forEachMember { token, value in try entry(token, try value.value()) } }
        if let twice { throw fail("id \(twice.id) is used twice in model.vocab (again by \(JSONValue.quote(twice.token)))") }
    }

    /// `model.vocab` as (token, id), in file order.
    func vocab(_ model: JSONValue) throws -> [(String, Int)] {
        var out: [(String, Int)] = []
        try forEachVocabEntry(model) { token, id in out.append((String(decoding: token, as: UTF8.self), id)) }
        return out
    }

    /// `model.vocab` as a tree (built from its text when the parse left it as text).
    func vocabValue(_ model: JSONValue) throws -> JSONValue? {
        if let vocabText { return try vocabText.value() }
        return model["vocab"]
    }

    func bpe(_ root: JSONValue, _ model: JSONValue, _ added: AddedTokens) throws -> BPETokenizer {
        try onlyKeys(model, ["type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"], "model.")
        if let d = model["dropout"], !isNull(d), d.double != 0 {
            throw fail("unsupported value of 'model.dropout' (only null or 0 is supported)")
        }
        // "" and null mean the same: no prefix or suffix.
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] where !isNull(model[k]) && model[k]?.string != "" {
            throw fail("unsupported value of 'model.\(k)' (only null or \"\" is supported)")
        }
        let pl = try pipeline(root, model)
        let byteLevel = pl.isByteLevel
        let specials = added.ids

        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(vocabText?.count ?? 0)
        var idStrings: [Int: String] = [:]
        var specialNames = [[String]](repeating: [], count: (specials.values.max() ?? -1) + 1)
        for (s, id) in specials { specialNames[id].append(s) }
        // Ids in file order: the parse's index of the vocabulary's keys finds a token's entry, by
        // bytes (distinct tokens may be canonically equivalent strings).
        var ids: [Int] = []
        ids.reserveCapacity(vocabText?.count ?? 0)
        var largestId = -1
        try forEachVocabEntry(model) { token, id in
            ids.append(id)
            largestId = max(largestId, id)
            if id >= tokenBytes.count { tokenBytes += repeatElement([], count: id + 1 - tokenBytes.count) }
            // An added token with this id and this (canonically equal) content keeps its own entry.
            if id < specialNames.count && specialNames[id].contains(String(decoding: token, as: UTF8.self)) { return }
            if !byteLevel {
                tokenBytes[id] = Array(token)
            } else if let b = ByteLevel.decode(token), !b.isEmpty {
                tokenBytes[id] = b
            } else {
                // Not in GPT-2's byte alphabet: `tokenizers` decodes such a token as its UTF-8 text.
                tokenBytes[id] = Array(token); idStrings[id] = String(decoding: token, as: UTF8.self)
            }
        }
        let size = max(largestId, specialNames.count - 1) + 1
        if size > tokenBytes.count { tokenBytes += repeatElement([], count: size - tokenBytes.count) }
        let tokenIds = ids
        /// Looks tokens up in `model.vocab` (none when the file has no vocabulary object).
        func withVocabulary<R>(_ body: (_ vocabId: (UnsafeBufferPointer<UInt8>) -> Int?) throws -> R) rethrows -> R {
            guard let vocabText else { return try body { _ in nil } }
            return try vocabText.withReader { vocab in try body { token in vocab.memberIndex(token).map { tokenIds[$0] } } }
        }
        func vocabId(_ s: String) -> Int? {
            var key = s
            return key.withUTF8 { token in withVocabulary { $0(token) } }
        }
        for (s, id) in specials {
            if let other = vocabId(s), other != id { throw fail("added token \(JSONValue.quote(s)) has id \(id) but model.vocab gives \(other)") }
            tokenBytes[id] = Array(s.utf8)
            if byteLevel { idStrings[id] = s }
        }
        for t in pl.prefix { for id in t.ids where id >= size { throw fail("post_processor token \(JSONValue.quote(t.name)) has id \(id), outside the vocabulary of \(size)") } }

        guard let rawMerges = model["merges"] else { throw fail("missing field 'model.merges'") }
        guard rawMerges.array != nil else { throw fail("field 'model.merges' must be an array") }
        var merges: [(Int, Int)] = []
        merges.reserveCapacity(mergesText?.count ?? 0)
        var k = 0
        try withVocabulary { vocabId in
        /// A merge's two tokens: their ids, or the error naming the first that is not in the vocabulary.
        func merge(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) throws {
            guard let x = vocabId(a), let y = vocabId(b) else {
                let missing = vocabId(a) == nil ? a : b
                throw fail("model.merges[\(k)] uses token \(JSONValue.quote(String(decoding: missing, as: UTF8.self))) that is not in model.vocab")
            }
            merges.append((x, y))
        }
        try mergesText?.withReader { list in try list.forEachElement { m in
            if m.isString {
                // "left right", split at each U+0020 (which is never inside a multi-byte character).
                try m.withStringBytes { line in
                    var spaces = 0, space = 0
                    for i in line.indices where line[i] == 0x20 { spaces += 1; space = i }
                    guard spaces == 1 else { throw fail("model.merges[\(k)] must have exactly 2 tokens, got \(spaces + 1)") }
                    try merge(UnsafeBufferPointer(rebasing: line[..<space]), UnsafeBufferPointer(rebasing: line[(space + 1)...]))
                }
            } else if m.isArray {
                var count = 0, allStrings = true
                var first: JSONTextReader?, second: JSONTextReader?
                m.forEachElement { part in
                    count += 1
                    allStrings = allStrings && part.isString
                    if count == 1 { first = part } else if count == 2 { second = part }
                }
                guard allStrings else { throw fail("model.merges[\(k)] must be \"a b\" or [\"a\", \"b\"]") }
                guard count == 2, let first, let second else { throw fail("model.merges[\(k)] must have exactly 2 tokens, got \(count)") }
                try first.withStringBytes { a in try second.withStringBytes { b in try merge(a, b) } }
            } else {
                throw fail("model.merges[\(k)] must be \"a b\" or [\"a\", \"b\"]")
            }
            k += 1
        } }
        }
        do {
            let tok = try BPETokenizer(tokenBytes: tokenBytes, merges: merges, specialTokens: specials, idStrings: idStrings, pipeline: pl,
                                       nonSpecialTokens: added.nonSpecial, normalizedTokens: added.normalized,
                                       leftStrippingTokens: added.lstrip, rightStrippingTokens: added.rstrip)
            if byteLevel && pl.unknownToken != nil && tok.byteToId.contains(-1) {
                throw TokenizerError("unsupported 'model.unk_token' with bytes missing from a byte-level model.vocab")
            }
            return tok
        } catch let e as TokenizerError {
            throw fail(e.description)
        }
    }

    /// The pipeline of a WordPiece or Unigram file: its steps, none of them byte-level.
    func textPipeline(_ root: JSONValue) throws -> TextPipeline {
        var pl = TextPipeline()
        pl.normalizers = try normalizers(root["normalizer"])
        pl.preTokenizers = try preTokenizers(root["pre_tokenizer"])
        pl.decoders = try decoders(root["decoder"])
        pl.prefix = try prefix(root["post_processor"])
        if pl.preTokenizers.contains(where: { if case .byteLevel = $0 { return true } else { return false } }) {
            throw fail("unsupported pre_tokenizer ByteLevel with a \(try string(root["model"]?["type"], "model.type")) model; ByteLevel goes with BPE")
        }
        if pl.decoders.contains(.byteLevel) { throw fail("unsupported decoder ByteLevel without a ByteLevel pre_tokenizer") }
        return pl
    }

    func wordPiece(_ root: JSONValue, _ model: JSONValue, _ added: AddedTokens) throws -> WordPieceTokenizer {
        try onlyKeys(model, ["type", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word", "vocab"], "model.")
        let pl = try textPipeline(root)
        let entries = try vocab(model)
        var strings = [String?](repeating: nil, count: (entries.map { $0.1 }.max() ?? -1) + 1)
        for (s, id) in entries { strings[id] = s }
        let unk = try model["unk_token"].map { try string($0, "model.unk_token") } ?? "[UNK]"
        let prefix = try model["continuing_subword_prefix"].map { try string($0, "model.continuing_subword_prefix") } ?? "##"
        let maxChars = try model["max_input_chars_per_word"].map { try int($0, "model.max_input_chars_per_word") } ?? 100
        for t in pl.prefix { for id in t.ids where id >= max(strings.count, (added.ids.values.max() ?? -1) + 1) {
            throw fail("post_processor token \(JSONValue.quote(t.name)) has id \(id), outside the vocabulary")
        } }
        do {
            return try WordPieceTokenizer(vocab: strings, unknownToken: unk, continuingSubwordPrefix: prefix, maxInputCharsPerWord: maxChars,
                                          pipeline: pl, added: added)
        } catch let e as TokenizerError {
            throw fail(e.description)
        }
    }

    func unigram(_ root: JSONValue, _ model: JSONValue, _ added: AddedTokens) throws -> UnigramTokenizer {
        try onlyKeys(model, ["type", "unk_id", "vocab", "byte_fallback"], "model.")
        let pl = try textPipeline(root)
        guard let raw = try vocabValue(model) else { throw fail("missing field 'model.vocab'") }
        guard let list = raw.array else { throw fail("field 'model.vocab' must be an array of [piece, score] pairs") }
        var pieces: [String] = [], scores: [Double] = []
        pieces.reserveCapacity(list.count); scores.reserveCapacity(list.count)
        for (k, item) in list.enumerated() {
            guard case .array(let pair) = item, pair.count == 2, case .string(let piece) = pair[0],
                  let score = pair[1].double, score.isFinite else {
                throw fail("model.vocab[\(k)] must be a [piece, score] pair (a string and a finite number)")
            }
            pieces.append(piece); scores.append(score)
        }
        let unk: Int? = isNull(model["unk_id"]) ? nil : try int(model["unk_id"], "model.unk_id")
        for t in pl.prefix { for id in t.ids where id >= max(pieces.count, (added.ids.values.max() ?? -1) + 1) {
            throw fail("post_processor token \(JSONValue.quote(t.name)) has id \(id), outside the vocabulary")
        } }
        do {
            return try UnigramTokenizer(pieces: pieces, scores: scores, unknownId: unk,
                                        byteFallback: try bool(model["byte_fallback"], "model.byte_fallback", default: false), pipeline: pl, added: added)
        } catch let e as TokenizerError {
            throw fail(e.description)
        }
    }

    func char(_ root: JSONValue, _ model: JSONValue, _ specials: [String: Int]) throws -> CharTokenizer {
        try onlyKeys(model, ["type", "vocab", "unk_token"], "model.")
        let pre = try object(root["pre_tokenizer"], "pre_tokenizer")
        let pattern = pre["pattern"]?["Regex"]?.string
        guard (pre["type"]?.string) == "Split", pattern == "[\\s\\S]", (pre["behavior"]?.string) == "Isolated",
              (try? bool(pre["invert"], "invert", default: false)) == false else {
            throw fail("unsupported pre_tokenizer for WordLevel; only tinygpt's char layout (Split on \"[\\\\s\\\\S]\", Isolated) is supported")
        }
        let dec = try object(root["decoder"], "decoder")
        guard (dec["type"]?.string) == "Fuse" else { throw fail("unsupported decoder.type '\(dec["type"]?.string ?? "null")'; only Fuse is supported with WordLevel") }
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
