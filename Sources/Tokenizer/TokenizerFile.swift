import Foundation
import Files
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing the Hugging Face `tokenizer.json` layout (the subset in docs/tokenizer.md).
public enum TokenizerFile {
    /// Loads a tokenizer, detecting byte-level BPE (`model.type` "BPE") or char (`"WordLevel"`).
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
        let root: [String: Any]
        do {
            guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError("\(name): the top level must be a JSON object")
            }
            root = obj
        } catch let e as TokenizerError { throw e } catch {
            throw TokenizerError("\(name): not valid JSON (truncated or malformed): \(reason(error))")
        }
        var r = Reader(name: name)
        return try r.tokenizer(root)
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let d = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return d }
        return ns.localizedDescription
    }

    // MARK: Writing

    /// The common layout of both kinds: `tokenizers`' field order, no normalizer
    /// or post-processor, specials as added tokens.
    static func document(added: [(Int, String)], preTokenizer: JSONValue, decoder: JSONValue, model: JSONValue) -> String {
        let tokens: [JSONValue] = added.sorted { $0.0 < $1.0 }.map { id, content in
            ["id": .int(id), "content": .string(content), "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        let document: JSONValue = ["version": "1.0", "truncation": nil, "padding": nil, "added_tokens": .array(tokens),
                                   "normalizer": nil, "pre_tokenizer": preTokenizer, "post_processor": nil,
                                   "decoder": decoder, "model": model]
        return document.serialized(indent: 2) + "\n"
    }

    static func vocab(_ entries: [String]) -> JSONValue {
        .object(entries.enumerated().map { (key: $0.element, value: .int($0.offset)) })
    }
}

extension BPETokenizer {
    /// The vocabulary string of an id: GPT-2's byte-to-unicode form, or a special's own text.
    func vocabString(_ id: Int) -> String { idStrings[id] ?? ByteLevel.encode(tokenBytes[id]) }

    public func jsonString() -> String {
        let strings = (0..<tokenBytes.count).map(vocabString)
        let model: JSONValue = ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
                                "end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": .bool(ignoreMerges),
                                "vocab": TokenizerFile.vocab(strings),
                                "merges": .array(merges.map { a, b in [.string(strings[a]), .string(strings[b])] })]
        let byteLevel: JSONValue = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        return TokenizerFile.document(added: specialTokens.map { ($1, $0) }, preTokenizer: byteLevel, decoder: byteLevel, model: model)
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
        return TokenizerFile.document(added: specialTokens.map { ($1, $0) }, preTokenizer: pre, decoder: ["type": "Fuse"], model: model)
    }
}
