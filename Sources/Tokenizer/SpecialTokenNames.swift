/// The names by which a tokenizer's end-of-text and beginning-of-text
/// specials are recognised, in order of preference (GPT-2's one token serves
/// both). Generation stops at the first, and HF export declares both.
public enum SpecialTokenNames {
    public static let endOfText = ["<|endoftext|>", "</s>", "<eos>", "<|eos|>"]
    public static let beginning = ["<|endoftext|>", "<s>", "<bos>", "<|bos|>"]
}
