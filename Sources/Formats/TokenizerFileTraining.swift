import Foundation
import Files
import Tokenizer

/// `tokenizer train`: a tokenizer trained on a text file and written as
/// tokenizer.json, with the output checked before any work is done.
public enum TokenizerFileTraining {
    public struct Request {
        public var dataPath: String
        public var out: String
        /// One of `TokenizerTraining.kinds`.
        public var kind = "bpe"
        public var vocabSize: Int?
        public var specialTokens: [String] = []
        public var force = false
        public init(dataPath: String, out: String) { (self.dataPath, self.out) = (dataPath, out) }
    }

    /// Checks `out`, reads the text ("-" is standard input), trains (`progress`
    /// as `TokenizerTraining.train`), makes a missing parent directory (as train
    /// and export do: runs/tok.json on a fresh clone) and writes the tokenizer.
    /// Returns it, the trainer's note, and the seconds training took.
    public static func run(_ r: Request, progress: @escaping (String, Int, Int) -> Void) throws
        -> (tokenizer: any Tokenizer, note: String?, seconds: Double) {
        try checkOutput(r.out, force: r.force, source: r.dataPath)
        let text = try TextFile.read(r.dataPath, what: "training file")
        guard !text.isEmpty else { throw UsageError("training file '\(r.dataPath)' is empty") }
        let start = Date()
        let (tokenizer, note) = try TokenizerTraining.train(kind: r.kind, text: text, dataPath: r.dataPath, vocabSize: r.vocabSize,
                                                            specialTokens: r.specialTokens, progress: progress)
        let seconds = Date().timeIntervalSince(start)
        let parent = URL(fileURLWithPath: r.out).deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw UsageError("cannot write '\(r.out)': \(plainReason(error))")
        }
        try tokenizer.save(to: URL(fileURLWithPath: r.out))
        return (tokenizer, note, seconds)
    }

    /// The tokenizer file: a new path, or an existing file only with --force,
    /// and never the training file itself or a directory.
    static func checkOutput(_ out: String, force: Bool, source: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue { throw UsageError("--out '\(out)' is a directory; give a file path such as tokenizer.json") }
        if OutputDirectory.canonical(out) == OutputDirectory.canonical(source) { throw UsageError("--out '\(out)' is the training file itself; give another path") }
        if !force { throw UsageError("--out '\(out)' already exists; choose another path, or add --force to replace it") }
    }
}
