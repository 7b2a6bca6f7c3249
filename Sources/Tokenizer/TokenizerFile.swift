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

    static func quote(_ s: String) -> String { JSONValue.quote(s) }

    /// The common layout; `model`, `preTokenizer` and `decoder` are JSON text.
    static func document(added: [(Int, String)], preTokenizer: String, decoder: String, model: String) -> String {
        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (k, (id, content)) in added.sorted(by: { $0.0 < $1.0 }).enumerated() {
            s += k == 0 ? "\n" : ",\n"
            s += "    {\"id\": \(id), \"content\": \(quote(content)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        s += added.isEmpty ? "],\n" : "\n  ],\n"
        s += "  \"normalizer\": null,\n  \"pre_tokenizer\": \(preTokenizer),\n  \"post_processor\": null,\n  \"decoder\": \(decoder),\n  \"model\": \(model)\n}\n"
        return s
    }

    static func vocabJSON(_ entries: [String]) -> String {
        var s = "{"
        for (id, str) in entries.enumerated() {
            s += id == 0 ? "\n" : ",\n"
            s += "      \(quote(str)): \(id)"
        }
        return s + "\n    }"
    }
}

extension BPETokenizer {
    /// The vocabulary string of an id: GPT-2's byte-to-unicode form, or a special's own text.
    func vocabString(_ id: Int) -> String { idStrings[id] ?? ByteLevel.encode(tokenBytes[id]) }

    public func jsonString() -> String {
        let strings = (0..<tokenBytes.count).map(vocabString)
        var m = "{\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": \(ignoreMerges),\n    \"vocab\": "
        m += TokenizerFile.vocabJSON(strings)
        m += ",\n    \"merges\": ["
        for (k, (a, b)) in merges.enumerated() {
            m += k == 0 ? "\n" : ",\n"
            m += "      [\(TokenizerFile.quote(strings[a])), \(TokenizerFile.quote(strings[b]))]"
        }
        m += merges.isEmpty ? "]\n  }" : "\n    ]\n  }"
        let byteLevel = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}"
        return TokenizerFile.document(added: specialTokens.map { ($1, $0) }, preTokenizer: byteLevel, decoder: byteLevel, model: m)
    }
}

extension CharTokenizer {
    /// Stored as `WordLevel`: a `Split` pre-tokenizer isolating each code point and a `Fuse`
    /// decoder, so `tokenizers` loads it and encodes the same ids. `unk_token` "<unk>" is
    /// deliberately absent from the vocabulary: unknown characters are errors in both.
    public func jsonString() -> String {
        var strings = chars.map { String(Character($0)) }
        for (s, _) in specialTokens.sorted(by: { $0.value < $1.value }) { strings.append(s) }
        let model = "{\n    \"type\": \"WordLevel\",\n    \"vocab\": \(TokenizerFile.vocabJSON(strings)),\n    \"unk_token\": \"<unk>\"\n  }"
        let pre = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[\\\\s\\\\S]\"}, \"behavior\": \"Isolated\", \"invert\": false}"
        return TokenizerFile.document(added: specialTokens.map { ($1, $0) }, preTokenizer: pre, decoder: "{\"type\": \"Fuse\"}", model: model)
    }
}
