import Foundation
import Files
import Generate
import ChatTemplate

let chatFlags = CommandFlags(
    command: "chat", forms: ["--checkpoint DIR [--system TEXT] [--message TEXT] [options]"],
    about: """
        Talks to the model through its own chat template (DIR/chat_template.jinja, which import keeps); each reply
        ends at the model's end tokens (config tokenizer.eos_token_ids).
        """,
    flags: [Flag("checkpoint", "DIR", "the checkpoint to talk to"), Flag("system", "TEXT", "the system message"),
            Flag("message", "TEXT", "answer TEXT once; standard output is the reply alone"),
            Flag("strategy", "greedy|sample", "how each token is chosen")] + SamplingOptions.commonFlags,
    notes: """
        Without --message: on a terminal, a conversation; Enter sends a line, the reply streams, Ctrl-C ends the
        reply, Ctrl-D ends the chat. Otherwise each line of standard input is a message, answered in turn.
        Sampling flags as in tinygpt sample (one reply: greedy or sample). Semantics: docs/chat.md.
        example: tinygpt chat --checkpoint smollm2 --message "What is the capital of France?" --strategy greedy
        """)

/// Set by Ctrl-C (SIGINT); read and cleared by the chat loop.
let chatInterrupted: UnsafeMutablePointer<sig_atomic_t> = {
    let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    flag.pointee = 0
    return flag
}()

func runChatCommand(_ args: [String]) throws {
    guard var a = chatFlags.parse(args) else { return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required (tinygpt chat --help shows every option)") }
    let system = try a.option("system"), message = try a.option("message")
    let options = try SamplingOptions(&a, command: "chat")
    try a.finish()

    // The template is read and checked before the weights are.
    let (directory, template) = try ChatSession.template(ofCheckpoint: checkpointPath)
    let opened = try OpenedForGeneration(checkpointPath, options: options) { $0.sample.numSamples = 1 }
    let s = opened.run.sample
    if s.strategy == .beam { throw CLIError("chat writes one reply token by token: --strategy greedy or sample (beam search is tinygpt sample's)") }
    let specials = ChatSession.specialTokens(tokenizer: opened.tokenizer, endTokenIds: opened.run.tokenizer.eosTokenIds,
                                             beginTokenId: opened.run.tokenizer.bosTokenId)
    let session: ChatSession
    do { session = try ChatSession(generator: opened.generator, template: template, specialTokens: specials, system: system) }
    catch let e as TemplateError { throw CLIError("\(e)") }

    let settings = DecodingSettings(s)
    func answer(_ text: String) throws {
        let reply = try session.reply(to: text, maxNewTokens: s.maxNewTokens, settings: settings, seed: UInt64(bitPattern: Int64(s.seed)),
                                      stop: s.stop, interrupted: { chatInterrupted.pointee != 0 }, onText: { StandardOutput.write($0) })
        print("")
        StandardOutput.flush()
        if reply.droppedMessages > 0 {
            printNote("the conversation outgrew the context window (\(opened.generator.contextWindow) tokens); its oldest \(reply.droppedMessages) messages were left out")
        }
        if reply.ending == .contextFull { printNote("the reply stopped at the end of the context window") }
        if reply.ending == .interrupted { printError("(reply interrupted)") }
    }

    if let message { return try answer(message) }
    guard isatty(STDIN_FILENO) != 0 else {
        // Not a terminal: each line is the user's next message.
        while let line = readLine() {
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { try answer(line) }
        }
        if ferror(stdin) != 0 { throw CLIError("cannot read the messages from standard input: \(posixReason(errno))") }
        return
    }
    _ = chatInterrupted  // made before a signal can need it
    printError("chat with \(directory.path) (\(opened.tokenizer.vocabSize)-token vocabulary, context \(opened.generator.contextWindow)); Enter sends, Ctrl-C stops a reply, Ctrl-D ends")
    while true {
        fputs("> ", stderr)
        chatInterrupted.pointee = 0
        catchInterrupts(restartingReads: false)  // Ctrl-C while typing abandons the line
        let typed = readTerminalLine()
        catchInterrupts(restartingReads: true)  // and while a reply is written, only ends the reply
        switch typed {
        case .end:
            fputs("\n", stderr)
            return
        case .interrupted:
            fputs("\n", stderr)
        case .line(let line):
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            do { try answer(line) } catch let e as ChatError { printError("tinygpt: error: \(e)") } catch let e as TemplateError { printError("tinygpt: error: \(e)") }
        }
    }
}

enum TypedLine { case line(String), interrupted, end }

/// One line from the terminal, read with read(2) so that Ctrl-C (a read interrupted with
/// `chatInterrupted` set) abandons it; Ctrl-D on an empty line ends the input.
func readTerminalLine() -> TypedLine {
    var bytes: [UInt8] = []
    var byte: UInt8 = 0
    while true {
        let n = read(STDIN_FILENO, &byte, 1)
        if n == 1 {
            if byte == UInt8(ascii: "\n") { return .line(String(decoding: bytes, as: UTF8.self)) }
            bytes.append(byte)
        } else if n == 0 {
            return bytes.isEmpty ? .end : .line(String(decoding: bytes, as: UTF8.self))
        } else if errno == EINTR {
            if chatInterrupted.pointee != 0 { return .interrupted }
        } else {
            return .end
        }
    }
}
/// Ctrl-C sets `chatInterrupted` instead of ending the program. Without restarting, a read
/// waiting for a line returns at once (and the line is abandoned).
func catchInterrupts(restartingReads: Bool) {
    var action = sigaction()
    #if canImport(Darwin)
    action.__sigaction_u.__sa_handler = { _ in chatInterrupted.pointee = 1 }
    #else
    action.__sigaction_handler.sa_handler = { _ in chatInterrupted.pointee = 1 }
    #endif
    sigemptyset(&action.sa_mask)
    action.sa_flags = restartingReads ? Int32(SA_RESTART) : 0
    sigaction(SIGINT, &action, nil)
}
