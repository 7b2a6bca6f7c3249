import Foundation

/// `tokenizer encode --repeat N`, a benchmark aid: the text encoded `repeats`
/// times (a BPE tokenizer on `threads` threads), keeping the best time.
public struct TimedEncoding {
    public let ids: [Int]
    public let bytes: Int
    public let seconds: Double

    public init(_ tokenizer: any Tokenizer, text: String, threads: Int, repeats: Int) throws {
        var ids: [Int] = []
        var seconds = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = Date()
            if let bpe = tokenizer as? BPETokenizer { ids = bpe.encode(text, threads: threads) } else { ids = try tokenizer.encode(text) }
            seconds = min(seconds, Date().timeIntervalSince(start))
        }
        (self.ids, bytes, self.seconds) = (ids, text.utf8.count, seconds)
    }

    /// Bytes, tokens, the best time, MB/s and bytes per token.
    public var line: String {
        let mb = Double(bytes) / 1e6
        return "encoded \(bytes) bytes into \(ids.count) tokens in \(String(format: "%.4f", seconds)) s (\(String(format: "%.2f", mb / seconds)) MB/s, \(String(format: "%.3f", Double(bytes) / Double(max(ids.count, 1)))) bytes/token)"
    }
}
