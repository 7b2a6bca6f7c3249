import Foundation
import Formats
import Tokenizer

/// A checkpoint (or run directory: its best/, else latest/) with its
/// tokenizer, checked by the one vocabulary rule. Every command that reads a
/// checkpoint to use it goes through here.
func loadCheckpointWithTokenizer(_ path: String) throws -> (checkpoint: Checkpoint.Loaded, tokenizer: any Tokenizer) {
    let loaded = try Checkpoint.load(from: try Checkpoint.resolve(path))
    let source = loaded.directory.appendingPathComponent(Checkpoint.tokenizerFile).path
    let tokenizer = try TokenizerFile.load(data: loaded.tokenizerJSON, name: source)
    try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: loaded.model.vocabSize, source: loaded.directory.path)
    return (loaded, tokenizer)
}
