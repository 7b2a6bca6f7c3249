import Foundation
import Kernels
import Model
import Tokenizer
import Train

let evalUsage = """
    usage: tinygpt eval --checkpoint DIR --data FILE [--stride S] [--json] [--threads N]

    Scores every token of FILE after the first with sliding windows of the
    model's context (stride S, default half the context) and prints the number
    of scored tokens, mean cross-entropy, perplexity and bits per byte.
    """

func runEvalCommand(_ args: [String]) throws {
    var a = Arguments(args)
    if a.flag("help") { print(evalUsage); return }
    guard let checkpointPath = try a.option("checkpoint") else { throw CLIError("--checkpoint DIR is required") }
    guard let dataPath = try a.option("data") else { throw CLIError("--data FILE is required") }
    let strideText = try a.option("stride")
    let json = a.flag("json")
    let threads = try a.threads()
    try a.finish()
    if let threads { Parallel.threads = threads }

    let (loaded, tokenizer) = try loadCheckpointWithTokenizer(checkpointPath)
    let context = loaded.config.model.contextLength
    var stride = max(1, context / 2)
    if let strideText {
        guard let s = Int(strideText), s >= 1, s <= context else {
            throw CLIError("--stride must be an integer in 1...\(context) (the context length), got '\(strideText)'")
        }
        stride = s
    }
    guard FileManager.default.fileExists(atPath: dataPath) else { throw CLIError("data file '\(dataPath)' does not exist") }
    let text = try TextFile.read(dataPath, what: "data file")
    let ids = try tokenizer.encode(text).map { Int32($0) }
    guard ids.count >= 2 else { throw CLIError("data file '\(dataPath)' has \(ids.count) token(s); need at least 2 to score") }
    let result = evaluate(model: loaded.model, ids: ids, textBytes: text.utf8.count, stride: stride)
    if json {
        print("{\"tokens\":\(result.tokens),\"loss\":\(result.loss),\"perplexity\":\(result.perplexity),\"bits_per_byte\":\(result.bitsPerByte)}")
    } else {
        print(String(format: "tokens %d | loss %.4f | perplexity %.3f | bits per byte %.4f", result.tokens, result.loss, result.perplexity, result.bitsPerByte))
    }
}
