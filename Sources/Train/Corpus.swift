import Foundation
import Files
import Tokenizer
import Config

/// A user-facing problem with the data or the run: one line naming it.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The tokenized training text: the first (1 − val_fraction) of the
/// characters train, the rest validate (as nanoGPT splits).
public struct Corpus {
    public let tokenizer: any Tokenizer
    public let train: [Int32]
    public let validation: [Int32]
    /// Prompt–completion or preference examples (then train and validation are empty).
    public var examples: ExampleSet?
    /// PPO and GRPO: the prompts to sample completions for (then train, validation and examples are empty).
    public var prompts: PromptSet?
    public var format: DataFormat { examples?.format ?? prompts?.format ?? .text }

    public init(tokenizer: any Tokenizer, train: [Int32], validation: [Int32]) {
        self.tokenizer = tokenizer; self.train = train; self.validation = validation
    }

    /// Splits `text` at the character boundary nearest to (1 − valFraction).
    public static func split(_ text: String, valFraction: Double) -> (train: String, validation: String) {
        let scalars = text.unicodeScalars
        let cut = scalars.index(scalars.startIndex, offsetBy: Int((Double(scalars.count) * (1 - valFraction)).rounded()))
        return (String(scalars[..<cut]), String(scalars[cut...]))
    }

    /// Builds the tokenizer the config asks for and tokenizes both splits.
    /// A char vocabulary comes from the whole text (as nanoGPT's, so the
    /// validation split has no unknown characters); BPE, WordPiece and Unigram
    /// learn from the training split only.
    public static func build(text: String, config: RunConfig, progress: ((Int, Int) -> Void)? = nil) throws -> Corpus {
        guard !text.isEmpty else { throw TrainingError("the training text is empty") }
        let (trainText, validationText) = split(text, valFraction: config.data.valFraction)
        let tokenizer: any Tokenizer
        switch config.tokenizer.type {
        case .char:
            tokenizer = try CharTokenizer(trainingText: text, specialTokens: config.tokenizer.specialTokens)
        case .bpe:
            tokenizer = try BPETokenizer.train(text: trainText, vocabSize: config.tokenizer.vocabSize,
                                               specialTokens: config.tokenizer.specialTokens, progress: progress)
        case .wordpiece, .unigram:
            let t = config.tokenizer
            do {
                tokenizer = t.type == .wordpiece
                    ? try WordPieceTokenizer.train(text: trainText, vocabSize: t.vocabSize, specialTokens: t.specialTokens, progress: progress)
                    : try UnigramTokenizer.train(text: trainText, vocabSize: t.vocabSize, specialTokens: t.specialTokens, progress: progress)
            } catch let e as TokenizerError where e.neededVocabulary != nil {
                throw TrainingError("tokenizer.vocab_size \(t.vocabSize) is too small for \(t.type.rawValue) on this corpus; allowed: at least \(e.neededVocabulary!) (\(e.description))")
            }
        }
        return try Corpus(tokenizer: tokenizer, trainText: trainText, validationText: validationText)
    }

    /// Tokenizes both splits with a given tokenizer.
    public init(tokenizer: any Tokenizer, trainText: String, validationText: String) throws {
        self.tokenizer = tokenizer
        train = try tokenizer.encode(trainText).map { Int32($0) }
        validation = try tokenizer.encode(validationText).map { Int32($0) }
    }

    /// Both splits must hold at least one window of context_length + 1 tokens.
    public func check(contextLength: Int) throws {
        if examples != nil || prompts != nil { return }  // fitted to the context when tokenized
        for (name, tokens) in [("training", train), ("validation", validation)] where tokens.count < contextLength + 1 {
            throw TrainingError("the \(name) split has \(tokens.count) tokens, fewer than context_length + 1 = \(contextLength + 1); use more text, a smaller model.context_length, or a different data.val_fraction")
        }
    }
}

/// A cache of token ids beside the run, keyed by a hash of the text and of
/// what decides the tokenization, so a re-run does not re-tokenize.
/// Layout: "TGTOKENS", version (u32), id width in bytes (u32: 2 or 4),
/// key (u64), train count (u64), validation count (u64), ids little-endian.
public enum TokenCache {
    static let magic = Array("TGTOKENS".utf8)

    public static func key(text: String, config: RunConfig) -> UInt64 {
        var hash = FNV1a64()
        hash.combine(text.utf8)
        hash.combine("|\(config.tokenizer.type.rawValue)|\(config.tokenizer.vocabSize)|\(config.tokenizer.specialTokens)|\(config.data.valFraction)".utf8)
        return hash.value
    }

    public static func write(train: [Int32], validation: [Int32], vocabSize: Int, key: UInt64, to url: URL) throws {
        let width = vocabSize <= 65_536 ? 2 : 4
        var data = Data(magic)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        put(UInt32(1)); put(UInt32(width)); put(key); put(UInt64(train.count)); put(UInt64(validation.count))
        for id in train + validation { if width == 2 { put(UInt16(id)) } else { put(UInt32(id)) } }
        try AtomicFile.write(data, to: url)
    }

    /// The cached splits if the file exists, is intact and has this key.
    public static func read(from url: URL, key: UInt64) -> (train: [Int32], validation: [Int32])? {
        guard let data = FileManager.default.contents(atPath: url.path), data.count >= 40,
              Array(data.prefix(8)) == magic else { return nil }
        func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        let width = Int(get(12, UInt32.self))
        guard get(8, UInt32.self) == 1, width == 2 || width == 4, get(16, UInt64.self) == key else { return nil }
        let trainCount = Int(get(24, UInt64.self)), validationCount = Int(get(32, UInt64.self))
        guard trainCount >= 0, validationCount >= 0, data.count == 40 + (trainCount + validationCount) * width else { return nil }
        var ids = [Int32](repeating: 0, count: trainCount + validationCount)
        for i in ids.indices {
            ids[i] = width == 2 ? Int32(get(40 + 2 * i, UInt16.self)) : Int32(bitPattern: get(40 + 4 * i, UInt32.self))
        }
        return (Array(ids[..<trainCount]), Array(ids[trainCount...]))
    }
}
