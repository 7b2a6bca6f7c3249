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

private func loadTokenizer(_ a: inout Arguments) throws -> any Tokenizer {
    guard let path = try a.option("tokenizer") else { throw CLIError("--tokenizer FILE is required") }
    return try TokenizerFile.load(from: URL(fileURLWithPath: path))
}

private func tokenizerTrain(_ a: inout Arguments) throws {
    guard let data = try a.option("data") else { throw CLIError("--data FILE is required") }
    guard let out = try a.option("out") else { throw CLIError("--out FILE is required") }
    var request = TokenizerFileTraining.Request(dataPath: data, out: out)
    request.specialTokens = try a.options("special")
    request.kind = try a.value("type")
    let vocabText = try a.option("vocab-size")
    request.force = a.flag("force")
    try a.finish()
    guard TokenizerTraining.kinds.contains(request.kind) else { throw CLIError("--type must be bpe, wordpiece, unigram or char, got '\(request.kind)'") }
    if let vocabText {
        guard let v = Int(vocabText), v >= 1, v <= 1 << 20 else {
            throw CLIError("--vocab-size must be an integer in 1...\(1 << 20), got '\(vocabText)'")
        }
        request.vocabSize = v
    }
    let tty = isatty(2) != 0
    var lastShown = Date.distantPast
    let (tokenizer, note, seconds) = try TokenizerFileTraining.run(request) { unit, done, total in
        guard tty, Date().timeIntervalSince(lastShown) > 0.1 || done == total else { return }
        lastShown = Date()
        fputs("\rtraining: \(unit) \(done)/\(total)", stderr)
    }
    if tty && request.kind != "char" { fputs("\n", stderr) }
    if let note { printNote(note) }
    printError("trained \(request.kind) tokenizer: vocab \(tokenizer.vocabSize) in \(String(format: "%.3f", seconds)) s -> \(out)")
}

private func tokenizerEncode(_ a: inout Arguments) throws {
    let tokenizer = try loadTokenizer(&a)
    let json = a.flag("json")
    let threads = try a.threads() ?? ProcessInfo.processInfo.activeProcessorCount
    let text = try textOrFile(&a, "text", what: "input file", missing: "encode needs --text S or --file F")
    let repeats = try a.int("repeat", in: 1...1000)
    try a.finish()
    let encoded = try TimedEncoding(tokenizer, text: text, threads: threads, repeats: repeats)
    if ProcessInfo.processInfo.environment["TINYGPT_TIMING"] != nil { printError(encoded.line) }
    StandardOutput.write(String(decoding: TokenIdText.format(encoded.ids, json: json), as: UTF8.self))
}

private func tokenizerDecode(_ a: inout Arguments) throws {
    let tokenizer = try loadTokenizer(&a)
    let source = try textOrFile(&a, "ids", what: "ids file", missing: "decode needs --ids \"1 2 3\" or --file F")
    try a.finish()
    let ids = try TokenIdText.parse(source, vocabSize: tokenizer.vocabSize)
    try tokenizer.validate(ids: ids)
    StandardOutput.write(tokenizer.decode(ids))
}

/// `--NAME VALUE` or `--file F` (a UTF-8 file, - for standard input), exactly one of them.
private func textOrFile(_ a: inout Arguments, _ name: String, what: String, missing: String) throws -> String {
    switch (try a.option(name), try a.option("file")) {
    case (let t?, nil): return t
    case (nil, let f?): return try TextFile.read(f, what: what)
    case (nil, nil): throw CLIError(missing)
    default: throw CLIError("give either --\(name) or --file, not both")
    }
}
