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
    guard TokenizerTraining.kinds.contains(type) else { throw CLIError("--type must be bpe, wordpiece, unigram or char, got '\(type)'") }
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
    let tty = isatty(2) != 0
    var lastShown = Date.distantPast
    let (tokenizer, note) = try TokenizerTraining.train(kind: type, text: text, dataPath: data, vocabSize: vocabSize, specialTokens: specials) { unit, done, total in
        guard tty, Date().timeIntervalSince(lastShown) > 0.1 || done == total else { return }
        lastShown = Date()
        fputs("\rtraining: \(unit) \(done)/\(total)", stderr)
    }
    if tty && type != "char" { fputs("\n", stderr) }
    if let note { printError("tinygpt: note: \(note)") }
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
    StandardOutput.write(String(decoding: TokenIdText.format(ids, json: json), as: UTF8.self))
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
    let ids = try TokenIdText.parse(source, vocabSize: tokenizer.vocabSize)
    try tokenizer.validate(ids: ids)
    StandardOutput.write(tokenizer.decode(ids))
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
