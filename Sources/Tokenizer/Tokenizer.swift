/// Tokenizers: byte-level BPE and character-level. This module imports no other tinygpt module.
public protocol Tokenizer {}
