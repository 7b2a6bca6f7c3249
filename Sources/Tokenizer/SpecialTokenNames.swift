/// The names by which a tokenizer's end-of-text and beginning-of-text
/// specials are recognised, in order of preference (GPT-2's one token serves
/// both). Generation stops at the first, and HF export declares both.
public enum SpecialTokenNames {
    public static let endOfText = ["<|endoftext|>", "</s>", "<eos>", "<|eos|>"]
    public static let beginning = ["<|endoftext|>", "<s>", "<bos>", "<|bos|>"]
}

extension Tokenizer {
    /// The ids that end generation: every id the model declares (its end of text and end of
    /// turn), else the end-of-text special found by name, else none.
    public func endTokens(declared: [Int]) -> Set<Int32> {
        if !declared.isEmpty { return Set(declared.map { Int32($0) }) }
        return Set(SpecialTokenNames.endOfText.lazy.compactMap { self.id(ofSpecial: $0) }.prefix(1).map { Int32($0) })
    }

    /// The id a sequence begins with: the one the model declares, else a beginning special found by name.
    public func beginToken(declared: Int?) -> Int32? {
        (declared ?? SpecialTokenNames.beginning.lazy.compactMap { self.id(ofSpecial: $0) }.first).map { Int32($0) }
    }

    /// The `bos_token` and `eos_token` strings a chat template reads, from the model's declared
    /// ids (config tokenizer.eos_token_ids, bos_token_id) or the specials found by name.
    public func templateSpecialTokens(endTokenIds: [Int], beginTokenId: Int?) -> [String: String] {
        func text(_ id: Int) -> String { specialTokens.first { $0.value == id }?.key ?? decode([id]) }
        var out: [String: String] = [:]
        if let begin = beginToken(declared: beginTokenId) { out["bos_token"] = text(Int(begin)) }
        let end = endTokenIds.first ?? SpecialTokenNames.endOfText.lazy.compactMap { self.id(ofSpecial: $0) }.first
        if let end { out["eos_token"] = text(end) }
        return out
    }
}
