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

/// A float checkpoint mapped for inference (see `Checkpoint.map`) with its
/// tokenizer, checked by the same vocabulary rule; prints the loader's notes.
func mapCheckpointWithTokenizer(_ path: String) throws -> (checkpoint: Checkpoint.Mapped, tokenizer: any Tokenizer) {
    let mapped = try Checkpoint.map(from: try Checkpoint.resolve(path))
    for note in mapped.notes { printError("tinygpt: note: " + note) }
    let source = mapped.directory.appendingPathComponent(Checkpoint.tokenizerFile).path
    let tokenizer = try TokenizerFile.load(data: mapped.tokenizerJSON, name: source)
    try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: mapped.config.model.vocabSize!, source: mapped.directory.path)
    return (mapped, tokenizer)
}
