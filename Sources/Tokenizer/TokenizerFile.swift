import Foundation
import Files
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing the Hugging Face `tokenizer.json` layout (the subset in docs/tokenizer.md).
public enum TokenizerFile {
    /// Loads a tokenizer, detecting its kind from `model.type`: "BPE", "WordPiece", "Unigram" or
    /// "WordLevel" (tinygpt's char layout).
    public static func load(from url: URL) throws -> any Tokenizer {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw TokenizerError("tokenizer file '\(url.path)' is a directory; give a tokenizer.json file")
        }
        let data = try TextFile.bytes(url.path, what: "tokenizer file")
        return try load(data: data, name: url.lastPathComponent)
    }

    /// Loads from the bytes of a tokenizer.json; `name` is used in error messages.
    public static func load(data: Data, name: String = "tokenizer.json") throws -> any Tokenizer {
        let document: JSONDocument
        do {
            // The vocabulary and merges, most of the file, are read from the text into the tokenizer's tables.
            document = try JSONParser.parse(data, deferring: [["model", "vocab"], ["model", "merges"]])
        } catch let e as FileError {
            throw TokenizerError("\(name): not valid JSON (truncated or malformed): \(e.description)")
        }
        guard document.root.members != nil else { throw TokenizerError("\(name): the top level must be a JSON object") }
        var r = Reader(name: name, vocabText: document.deferred[0], mergesText: document.deferred[1])
        return try r.tokenizer(document.root)
    }

    /// The tokens of a merge written "left right", split at each U+0020 (by scalars: a token
    /// that starts with a combining mark would join the space into one Character).
    static func mergeParts(_ line: String) -> [String] {
        line.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
    }

    // MARK: Writing

    /// An added token as written in `added_tokens`.
    struct AddedToken { var id: Int; var content: String; var special = true; var normalized = false; var lstrip = false; var rstrip = false }

    /// The common layout of all kinds, in `tokenizers`' field order.
    static func document(added: [AddedToken], normalizer: JSONValue = .null, preTokenizer: JSONValue, postProcessor: JSONValue = .null,
                         decoder: JSONValue, model: JSONValue) -> String {
        let tokens: [JSONValue] = added.sorted { $0.id < $1.id }.map { t in
            ["id": .int(t.id), "content": .string(t.content), "single_word": false, "lstrip": .bool(t.lstrip), "rstrip": .bool(t.rstrip),
             "normalized": .bool(t.normalized), "special": .bool(t.special)]
        }
        let document: JSONValue = ["version": "1.0", "truncation": nil, "padding": nil, "added_tokens": .array(tokens),
                                   "normalizer": normalizer, "pre_tokenizer": preTokenizer, "post_processor": postProcessor,
                                   "decoder": decoder, "model": model]
        return document.serialized(indent: 2) + "\n"
    }

    /// `vocab` as an object in id order; `nil` entries (unused ids) are left out.
    static func vocab(_ entries: [String?]) -> JSONValue {
        .object(entries.enumerated().compactMap { id, s in s.map { (key: $0, value: JSONValue.int(id)) } })
    }
}

extension BPETokenizer {
    /// The vocabulary string of an id: GPT-2's byte-to-unicode form (byte-level), the token's own
    /// text (SentencePiece-style, specials), nil for an unused id.
    func vocabString(_ id: Int) -> String? {
        if let s = idStrings[id] { return s }
        if tokenBytes[id].isEmpty { return nil }
        return isByteLevel ? ByteLevel.encode(tokenBytes[id]) : String(decoding: tokenBytes[id], as: UTF8.self)
    }

    public func jsonString() -> String {
        let strings = (0..<tokenBytes.count).map(vocabString)
        let p = pipeline
        let model: JSONValue = ["type": "BPE", "dropout": nil, "unk_token": p.unknownToken.map { .string($0) } ?? .null,
                                "continuing_subword_prefix": nil, "end_of_word_suffix": nil, "fuse_unk": .bool(p.fuseUnknown),
                                "byte_fallback": .bool(p.byteFallback), "ignore_merges": .bool(p.ignoreMerges),
                                "vocab": TokenizerFile.vocab(strings),
                                "merges": .array(merges.map { a, b in [.string(strings[a] ?? ""), .string(strings[b] ?? "")] })]
        let added = specialTokens.map { content, id in
            TokenizerFile.AddedToken(id: id, content: content, special: !nonSpecialTokens.contains(content), normalized: normalizedTokens.contains(content),
                                     lstrip: leftStrippingTokens.contains(content), rstrip: rightStrippingTokens.contains(content))
        }
        return TokenizerFile.document(added: added, normalizer: p.normalizerJSON, preTokenizer: p.preTokenizerJSON,
                                      postProcessor: p.postProcessorJSON, decoder: p.decoderJSON, model: model)
    }
}

extension CharTokenizer {
    /// Stored as `WordLevel`: a `Split` pre-tokenizer isolating each code point and a `Fuse`
    /// decoder, so `tokenizers` loads it and encodes the same ids. `unk_token` "<unk>" is
    /// deliberately absent from the vocabulary: unknown characters are errors in both.
    public func jsonString() -> String {
        var strings = chars.map { String(Character($0)) }
        for (s, _) in specialTokens.sorted(by: { $0.value < $1.value }) { strings.append(s) }
        let model: JSONValue = ["type": "WordLevel", "vocab": TokenizerFile.vocab(strings), "unk_token": "<unk>"]
        let pre: JSONValue = ["type": "Split", "pattern": ["Regex": "[\\s\\S]"], "behavior": "Isolated", "invert": false]
        return TokenizerFile.document(added: specialTokens.map { TokenizerFile.AddedToken(id: $1, content: $0) }, preTokenizer: pre,
                                      decoder: ["type": "Fuse"], model: model)
    }
}
