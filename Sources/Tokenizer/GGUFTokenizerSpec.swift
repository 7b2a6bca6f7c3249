// Placeholder for the merge: branch tokenizers owns this file.
import Foundation
import Files

/// A GGUF file's tokenizer, as its `tokenizer.ggml.*` metadata states it.
public struct GGUFTokenizerSpec: Equatable {
    public var model: String              // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece), ...
    public var pre: String?               // tokenizer.ggml.pre: "default", "gpt2", "llama-bpe", "smollm", "qwen2", ...
    public var tokens: [String]           // tokenizer.ggml.tokens
    public var scores: [Float]?           // tokenizer.ggml.scores
    public var tokenTypes: [Int32]?       // tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
    public var merges: [String]?          // tokenizer.ggml.merges, "left right"
    public var bosTokenId: Int?           // tokenizer.ggml.bos_token_id
    public var eosTokenId: Int?           // tokenizer.ggml.eos_token_id
    public var eotTokenId: Int?           // tokenizer.ggml.eot_token_id
    public var unknownTokenId: Int?       // tokenizer.ggml.unknown_token_id
    public var paddingTokenId: Int?       // tokenizer.ggml.padding_token_id
    public var addBosToken: Bool?         // tokenizer.ggml.add_bos_token
    public var addEosToken: Bool?         // tokenizer.ggml.add_eos_token
    public var addSpacePrefix: Bool?      // tokenizer.ggml.add_space_prefix
    public init(model: String, tokens: [String]) { self.model = model; self.tokens = tokens }  // every other field nil
}

extension TokenizerFile {
    /// GPT-2's pre-tokenizer under the names a GGUF file gives it (llama.cpp calls it "gpt-2").
    private static let gpt2PreNames: Set<String> = ["default", "gpt2", "gpt-2"]

    /// The Hugging Face tokenizer.json equivalent of a GGUF tokenizer (what transformers' GGUF loader builds),
    /// which `TokenizerFile.load` reads with identical ids. Throws TokenizerError naming the field for a tokenizer
    /// it cannot represent (e.g. an unknown `pre`, with the supported list).
    public static func huggingFaceJSON(gguf spec: GGUFTokenizerSpec) throws -> Data {
        guard spec.model == "gpt2" else {
            throw TokenizerError("tokenizer.ggml.model '\(spec.model)' is not supported; supported: gpt2 (byte-level BPE)")
        }
        if let pre = spec.pre, !gpt2PreNames.contains(pre) {
            throw TokenizerError("tokenizer.ggml.pre '\(pre)' is not supported; supported: \(gpt2PreNames.sorted().joined(separator: ", "))")
        }
        if spec.addBosToken == true { throw TokenizerError("tokenizer.ggml.add_bos_token true is not supported (only false)") }
        if spec.addEosToken == true { throw TokenizerError("tokenizer.ggml.add_eos_token true is not supported (only false)") }
        if spec.addSpacePrefix == true { throw TokenizerError("tokenizer.ggml.add_space_prefix true is not supported (only false)") }
        if let types = spec.tokenTypes, types.count != spec.tokens.count {
            throw TokenizerError("tokenizer.ggml.token_type has \(types.count) entries for \(spec.tokens.count) tokens")
        }
        var seen: [String: Int] = [:]
        for (id, token) in spec.tokens.enumerated() {
            if let first = seen.updateValue(id, forKey: token) {
                throw TokenizerError("tokenizer.ggml.tokens: \(JSONValue.quote(token)) is both id \(first) and id \(id)")
            }
        }
        // Control (3) and user-defined (4) tokens are matched whole, before pre-tokenization.
        var added: [(Int, String)] = []
        for (id, type) in (spec.tokenTypes ?? []).enumerated() where type == 3 || type == 4 { added.append((id, spec.tokens[id])) }
        let merges: [JSONValue] = try (spec.merges ?? []).enumerated().map { k, merge in
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw TokenizerError("tokenizer.ggml.merges[\(k)] \(JSONValue.quote(merge)) is not \"left right\"") }
            return [.string(String(parts[0])), .string(String(parts[1]))]
        }
        let model: JSONValue = ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
                                "end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                                "vocab": vocab(spec.tokens), "merges": .array(merges)]
        let byteLevel: JSONValue = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        return Data(document(added: added, preTokenizer: byteLevel, decoder: byteLevel, model: model).utf8)
    }

    /// The GGUF metadata for a tokenizer.json that tinygpt reads (the inverse, for `export --format gguf`);
    /// throws TokenizerError when GGUF cannot represent it (naming why).
    public static func ggufSpec(huggingFaceJSON data: Data) throws -> GGUFTokenizerSpec {
        let tokenizer = try load(data: data)
        guard let bpe = tokenizer as? BPETokenizer else {
            throw TokenizerError("a character-level tokenizer has no GGUF form (llama.cpp reads byte-level BPE and SentencePiece); train with tokenizer.type = bpe")
        }
        if bpe.ignoreMerges { throw TokenizerError("model.ignore_merges true has no GGUF form (only false)") }
        let strings = (0..<bpe.vocabSize).map(bpe.vocabString)
        var spec = GGUFTokenizerSpec(model: "gpt2", tokens: strings)
        spec.pre = "gpt-2"
        let specials = Set(bpe.specialTokens.values)
        spec.tokenTypes = (0..<bpe.vocabSize).map { specials.contains($0) ? 3 : 1 }
        spec.merges = bpe.merges.map { "\(strings[$0.0]) \(strings[$0.1])" }
        spec.eosTokenId = SpecialTokenNames.endOfText.lazy.compactMap { bpe.specialTokens[$0] }.first
        spec.bosTokenId = SpecialTokenNames.beginning.lazy.compactMap { bpe.specialTokens[$0] }.first
        spec.addBosToken = false
        spec.addEosToken = false
        return spec
    }
}
