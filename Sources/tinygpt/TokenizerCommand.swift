import Foundation
import Files
import Formats
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

let tokenizerTrainFlags = CommandFlags(
    command: "tokenizer train", forms: ["--data FILE --vocab-size N --out tokenizer.json [--special TOKEN ...] [--type bpe|wordpiece|unigram|char] [--force]"],
    about: "Learns a byte-level BPE (default), WordPiece, Unigram or char vocabulary. See docs/tokenizer.md.",
    flags: [Flag("data", "FILE", "UTF-8 training text (- reads standard input)"),
            Flag("vocab-size", "N", "the vocabulary, specials included (optional for char: the text's distinct characters)"),
            Flag("out", "FILE", "the tokenizer.json to write"), .repeatable("special", "TOKEN", "a special token, kept whole"),
            Flag("type", "bpe|wordpiece|unigram|char", default: "bpe", "the kind of tokenizer"), Flag("force", "replace an existing --out")])
let tokenizerEncodeFlags = CommandFlags(
    command: "tokenizer encode", forms: ["--tokenizer T (--text S | --file F) [--json] [--threads N] [--repeat N]"],
    about: "Prints the ids separated by spaces, or a JSON array with --json. See docs/tokenizer.md.",
    flags: [Flag("tokenizer", "FILE", "a tokenizer.json"), Flag("text", "S", "the text to encode"),
            Flag("file", "F", "the text to encode, from a file (- reads standard input)"), Flag("json", "a JSON array of ids"),
            Flag("threads", "N", "worker threads for BPE, 1...1024, 0 for all (default: all cores)"),
            Flag("repeat", "N", default: 1, "encode N times, 1...1000; with TINYGPT_TIMING=1 the best time goes to stderr")])
let tokenizerDecodeFlags = CommandFlags(
    command: "tokenizer decode", forms: ["--tokenizer T (--ids \"1 2 3\" | --file F)"],
    about: "Prints the text (exactly, no newline added). See docs/tokenizer.md.",
    flags: [Flag("tokenizer", "FILE", "a tokenizer.json"),
            Flag("ids", "IDS", "ids separated by spaces, commas or newlines, or a JSON array"),
            Flag("file", "F", "the ids, from a file (- reads standard input)")])
let tokenizerSubcommands = [("train", tokenizerTrainFlags), ("encode", tokenizerEncodeFlags), ("decode", tokenizerDecodeFlags)]

/// `tinygpt tokenizer train|encode|decode`.
func runTokenizerCommand(_ args: [String]) throws {
    guard let sub = args.first, !sub.hasPrefix("-"), sub != "help" else {
        if args.isEmpty { throw CLIError("tokenizer needs a subcommand: train, encode or decode") }
        print("usage:\n" + tokenizerSubcommands.map { "  tinygpt tokenizer \($0.0) \($0.1.forms[0])" }.joined(separator: "\n")
              + "\nRun `tinygpt tokenizer <subcommand> --help` for its options. See docs/tokenizer.md.")
        return
    }
    guard let flags = tokenizerSubcommands.first(where: { $0.0 == sub })?.1 else {
        throw CLIError("unknown tokenizer subcommand '\(sub)'; expected train, encode or decode")
    }
    guard var a = flags.parse(Array(args.dropFirst())) else { return }
    switch sub {
    case "train": try tokenizerTrain(&a)
    case "encode": try tokenizerEncode(&a)
    default: try tokenizerDecode(&a)
    }
}

/// Reads a UTF-8 text file ("-" is standard input), as every command does.
private func readText(_ path: String, what: String) throws -> String { try TextFile.read(path, what: what) }

private func loadTokenizer(_ a: inout Arguments) throws -> any Tokenizer {
    guard let path = try a.option("tokenizer") else { throw CLIError("--tokenizer FILE is required") }
    return try TokenizerFile.load(from: URL(fileURLWithPath: path))
}

private func tokenizerTrain(_ a: inout Arguments) throws {
    guard let data = try a.option("data") else { throw CLIError("--data FILE is required") }
    guard let out = try a.option("out") else { throw CLIError("--out FILE is required") }
    let specials = try a.options("special")
    let type = try a.value("type")
    let vocabText = try a.option("vocab-size")
    let force = a.flag("force")
    try a.finish()
    let types = ["bpe", "wordpiece", "unigram", "char"]
    guard types.contains(type) else { throw CLIError("--type must be bpe, wordpiece, unigram or char, got '\(type)'") }
    var vocabSize: Int?
    if let vocabText {
        guard let v = Int(vocabText), v >= 1, v <= 1 << 20 else {
            throw CLIError("--vocab-size must be an integer in 1...\(1 << 20), got '\(vocabText)'")
        }
        vocabSize = v
    }
    try checkOutputFile(out, force: force, source: data)
    let text = try readText(data, what: "training file")
    guard !text.isEmpty else { throw CLIError("training file '\(data)' is empty") }
    let start = Date()
    let tokenizer: any Tokenizer
    switch type {
    case "bpe":
        guard let vocabSize else { throw CLIError("--vocab-size N is required for BPE (at least 256 + number of specials)") }
        let minimum = 256 + specials.count
        guard vocabSize >= minimum else {
            throw CLIError("--vocab-size must be at least \(minimum) (256 bytes + \(specials.count) special token(s)), got \(vocabSize)")
        }
        let tty = isatty(2) != 0
        var lastShown = Date.distantPast
        let bpe = try BPETokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials) { done, total in
            guard tty, Date().timeIntervalSince(lastShown) > 0.1 || done == total else { return }
            lastShown = Date()
            fputs("\rtraining: vocab \(done)/\(total)", stderr)
        }
        if tty { fputs("\n", stderr) }
        if bpe.vocabSize < vocabSize {
            printError("tinygpt: note: the corpus has no more pairs to merge; stopped at vocab \(bpe.vocabSize) (\(bpe.merges.count) merges) instead of \(vocabSize)")
        }
        tokenizer = bpe
    case "wordpiece", "unigram":
        guard let vocabSize else { throw CLIError("--vocab-size N is required for \(type)") }
        let tty = isatty(2) != 0
        var lastShown = Date.distantPast
        let show = { (done: Int, total: Int) in
            guard tty, Date().timeIntervalSince(lastShown) > 0.1 || done == total else { return }
            lastShown = Date()
            fputs("\rtraining: \(type == "unigram" ? "EM round" : "vocab") \(done)/\(total)", stderr)
        }
        do {
            tokenizer = type == "wordpiece"
                ? try WordPieceTokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials, progress: show)
                : try UnigramTokenizer.train(text: text, vocabSize: vocabSize, specialTokens: specials, progress: show)
        } catch let e as TokenizerError where e.neededVocabulary != nil {
            throw CLIError("--vocab-size \(vocabSize) is too small for \(type) on '\(data)'; allowed: at least \(e.neededVocabulary!) (\(e.description))")
        }
        if tty { fputs("\n", stderr) }
        if tokenizer.vocabSize < vocabSize {
            printError("tinygpt: note: the corpus gives no more \(type == "wordpiece" ? "pairs to merge" : "pieces"); stopped at vocab \(tokenizer.vocabSize) instead of \(vocabSize)")
        }
    case "char":
        let ct = try CharTokenizer(trainingText: text, specialTokens: specials)
        if let vocabSize, vocabSize < ct.vocabSize {
            throw CLIError("--vocab-size \(vocabSize) is below the char vocabulary of \(ct.vocabSize) (distinct characters + specials)")
        }
        tokenizer = ct
    default:
        throw CLIError("--type must be \(types.joined(separator: ", ")), got '\(type)'")
    }
    let seconds = Date().timeIntervalSince(start)
    // As train and export do, a missing parent directory is made (runs/tok.json on a fresh clone).
    let parent = URL(fileURLWithPath: out).deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
        throw CLIError("cannot write '\(out)': \(plainReason(error))")
    }
    try tokenizer.save(to: URL(fileURLWithPath: out))
    printError("trained \(type) tokenizer: vocab \(tokenizer.vocabSize) in \(String(format: "%.3f", seconds)) s -> \(out)")
}

private func tokenizerEncode(_ a: inout Arguments) throws {
    let tokenizer = try loadTokenizer(&a)
    let json = a.flag("json")
    let threads = try a.threads() ?? ProcessInfo.processInfo.activeProcessorCount
    let text: String
    switch (try a.option("text"), try a.option("file")) {
    case (let t?, nil): text = t
    case (nil, let f?): text = try readText(f, what: "input file")
    case (nil, nil): throw CLIError("encode needs --text S or --file F")
    default: throw CLIError("give either --text or --file, not both")
    }
    let repeats = try a.int("repeat", in: 1...1000)
    try a.finish()
    var ids: [Int] = []
    var seconds = Double.infinity
    for _ in 0..<repeats {  // --repeat: benchmark aid, the best time is reported
        let start = Date()
        if let bpe = tokenizer as? BPETokenizer { ids = bpe.encode(text, threads: threads) } else { ids = try tokenizer.encode(text) }
        seconds = min(seconds, Date().timeIntervalSince(start))
    }
    if ProcessInfo.processInfo.environment["TINYGPT_TIMING"] != nil {
        let mb = Double(text.utf8.count) / 1e6
        printError("encoded \(text.utf8.count) bytes into \(ids.count) tokens in \(String(format: "%.4f", seconds)) s (\(String(format: "%.2f", mb / seconds)) MB/s, \(String(format: "%.3f", Double(text.utf8.count) / Double(max(ids.count, 1)))) bytes/token)")
    }
    StandardOutput.write(String(decoding: formatIds(ids, json: json), as: UTF8.self))
}

private func tokenizerDecode(_ a: inout Arguments) throws {
    let tokenizer = try loadTokenizer(&a)
    let source: String
    switch (try a.option("ids"), try a.option("file")) {
    case (let t?, nil): source = t
    case (nil, let f?): source = try readText(f, what: "ids file")
    case (nil, nil): throw CLIError("decode needs --ids \"1 2 3\" or --file F")
    default: throw CLIError("give either --ids or --file, not both")
    }
    try a.finish()
    let ids = try parseIds(source, vocabSize: tokenizer.vocabSize)
    try tokenizer.validate(ids: ids)
    StandardOutput.write(tokenizer.decode(ids))
}

/// "1 2 3\n" or "[1, 2, 3]\n", built as bytes (String joining is slow for millions of ids).
func formatIds(_ ids: [Int], json: Bool) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(ids.count * 6 + 3)
    if json { out.append(UInt8(ascii: "[")) }
    var digits = [UInt8](repeating: 0, count: 20)
    for (k, id) in ids.enumerated() {
        if k > 0 {
            if json { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: " "))
        }
        var v = id, n = 0
        if v < 0 { out.append(UInt8(ascii: "-")); v = -v }
        repeat { digits[n] = UInt8(48 + v % 10); v /= 10; n += 1 } while v > 0
        while n > 0 { n -= 1; out.append(digits[n]) }
    }
    if json { out.append(UInt8(ascii: "]")) }
    out.append(UInt8(ascii: "\n"))
    return out
}

/// Ids separated by whitespace or by commas ("1 2 3", "1, 2, 3"), optionally
/// inside one pair of brackets ("[1, 2, 3]"), as `encode` prints them.
/// Anything else (nested or stray brackets, empty elements) is refused.
/// A byte scan: fast for millions of ids.
func parseIds(_ source: String, vocabSize: Int) throws -> [Int] {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    var bytes = Array(source.utf8)[...]
    while let b = bytes.first, isSpace(b) { bytes = bytes.dropFirst() }
    while let b = bytes.last, isSpace(b) { bytes = bytes.dropLast() }
    if bytes.first == 0x5B {
        guard bytes.last == 0x5D, bytes.count >= 2 else { throw CLIError("ids: '[' without a closing ']'; give \"1 2 3\" or \"[1, 2, 3]\"") }
        bytes = bytes.dropFirst().dropLast()
    }
    var ids: [Int] = []
    var word: [UInt8] = []
    var commaPending = false  // a comma seen since the last id
    func element() throws {
        guard !word.isEmpty else { return }
        guard word.count <= 18, word.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw CLIError("'\(String(decoding: word, as: UTF8.self))' is not a token id (ids are integers 0...\(vocabSize - 1), separated by spaces or commas)")
        }
        ids.append(word.reduce(0) { $0 * 10 + Int($1 - 48) })
        word.removeAll(keepingCapacity: true)
        commaPending = false
    }
    for b in bytes {
        if isSpace(b) {
            try element()
        } else if b == 0x2C {
            try element()
            guard !ids.isEmpty, !commaPending else { throw CLIError("ids: an empty element before a ','; give \"1 2 3\" or \"[1, 2, 3]\"") }
            commaPending = true
        } else if b == 0x5B || b == 0x5D {
            throw CLIError("ids: a stray '\(b == 0x5B ? "[" : "]")'; give \"1 2 3\" or one list \"[1, 2, 3]\"")
        } else {
            word.append(b)
        }
    }
    try element()
    if commaPending { throw CLIError("ids: a trailing ','; give \"1 2 3\" or \"[1, 2, 3]\"") }
    return ids
}

/// A file a command writes (the tokenizer): a new path, or an existing file
/// only with --force, and never the command's own input or a directory.
func checkOutputFile(_ out: String, force: Bool, source: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) else { return }
    if isDirectory.boolValue { throw CLIError("--out '\(out)' is a directory; give a file path such as tokenizer.json") }
    if OutputDirectory.canonical(out) == OutputDirectory.canonical(source) { throw CLIError("--out '\(out)' is the training file itself; give another path") }
    if !force { throw CLIError("--out '\(out)' already exists; choose another path, or add --force to replace it") }
}
