import Foundation
import ChatTemplate
import Files
import Tokenizer
import Model
import Config
import Formats

/// The kinds of training data, named as TRL names its dataset formats.
public enum DataFormat: String, Sendable {
    /// Plain text: language modelling on random windows.
    case text
    /// JSON Lines of {"prompt": …, "completion": …}.
    case promptCompletion = "prompt-completion"
    /// JSON Lines of {"prompt": …, "chosen": …, "rejected": …} (and, for a reward model, an optional "margin").
    case preference
    /// JSON Lines of {"prompt": …}: prompts to sample completions for (ppo, grpo).
    case promptOnly = "prompt-only"

    /// The objectives that can train on this kind of data; the first is the one
    /// an error suggests. PPO and GRPO use the prompts of any JSON Lines file.
    public var objectives: [TrainingObjective] {
        switch self {
        case .text: return [.lm, .distill]
        case .promptCompletion: return [.sft, .ppo, .grpo, .distill]
        case .preference: return [.dpo, .reward, .ppo, .grpo]
        case .promptOnly: return [.ppo, .grpo]
        }
    }
}

/// One JSON Lines example; `rejected` is nil for prompt–completion data
/// (whose completion is held in `chosen`).
public struct TextExample: Equatable, Sendable {
    public var prompt: String
    public var chosen: String
    public var rejected: String?
    /// A conversation ({"messages": …}) whose last message is the reply to learn; `prompt` and
    /// `chosen` are its rendering through the model's chat template (`ExampleFile.renderConversations`).
    public var messages: [ChatMessage]?
    /// How far the chosen completion should score above the rejected one (a reward model's margin, TRL's field).
    public var margin: Double?
    public init(prompt: String, completion: String) { self.prompt = prompt; chosen = completion; rejected = nil }
    public init(prompt: String, chosen: String, rejected: String, margin: Double? = nil) {
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected; self.margin = margin
    }
    /// A prompt alone (prompt-only data): `chosen` is empty.
    public init(prompt: String) { self.prompt = prompt; chosen = ""; rejected = nil }
}

/// Reading fine-tuning data: the format is chosen from the extension
/// (.jsonl, .json) or, for any other name, from the content (a first line
/// that is a JSON object with a "prompt" key); everything else is plain text.
public enum ExampleFile {
    /// The format of a data file's `text`, decided as above, and its examples (none for plain text).
    public static func read(path: String, text: String) throws -> (format: DataFormat, examples: [TextExample]) {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let looksLikeJSONLines: Bool
        if ext == "jsonl" || ext == "json" {
            looksLikeJSONLines = true
        } else if firstLine.first == "{", case .object(let members)? = try? JSONParser.parse(Array(firstLine.utf8)) {
            looksLikeJSONLines = members.contains { $0.key == "prompt" || $0.key == "messages" }
        } else {
            looksLikeJSONLines = false
        }
        return looksLikeJSONLines ? try parse(path: path, text: text) : (.text, [])
    }

    /// Every example of a JSON Lines file, and its format (from the first
    /// example; every line must have the same keys). Blank lines are skipped.
    /// A malformed line is an error naming the file and the line.
    public static func parse(path: String, text: String) throws -> (format: DataFormat, examples: [TextExample]) {
        var format: DataFormat?
        var examples: [TextExample] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Array(line.utf8.drop { $0 == 32 || $0 == 9 || $0 == 13 })
            if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            func bad(_ why: String) -> TrainingError { TrainingError("data file '\(path)' line \(lineNumber): \(why)") }
            let value: JSONValue
            do { value = try JSONParser.parse(bytes) } catch {
                let why = "\(error)".replacingOccurrences(of: "line 1, column", with: "column")
                throw bad("not valid JSON (\(why)); each line must be one JSON object such as {\"prompt\": \"…\", \"completion\": \"…\"}")
            }
            guard case .object(let members) = value else { throw bad("expected a JSON object, got \(value.summary)") }
            if members.contains(where: { $0.key == "messages" }) {
                if let format, format != .promptCompletion || examples.last?.messages == nil {
                    throw bad("is a conversation (\"messages\"), but the file's first example is \(format.rawValue) without messages; one file holds one format")
                }
                examples.append(try conversation(members, bad: bad))
                format = .promptCompletion
                continue
            }
            if examples.last?.messages != nil { throw bad("has no \"messages\", but the file's first example is a conversation; one file holds one format") }
            var fields: [String: String] = [:]
            var margin: Double?
            for (key, member) in members {
                if key == "margin" {
                    guard let m = member.double, m.isFinite else { throw bad("\"margin\" must be a number, got \(member.summary)") }
                    margin = m
                    continue
                }
                guard ["prompt", "completion", "chosen", "rejected"].contains(key) else {
                    throw bad("unknown key '\(key)'; allowed: prompt with completion (prompt-completion), prompt with chosen and rejected and an optional margin (preference), or prompt alone (prompt-only)")
                }
                guard case .string(let s) = member else { throw bad("\"\(key)\" must be a string, got \(member.summary)") }
                fields[key] = s
            }
            guard fields["prompt"] != nil else {
                throw bad("needs \"prompt\": with \"completion\" (prompt-completion), with \"chosen\" and \"rejected\" (preference), or alone (prompt-only)")
            }
            let lineFormat: DataFormat
            if fields["completion"] != nil { lineFormat = .promptCompletion }
            else if fields["chosen"] != nil || fields["rejected"] != nil || margin != nil { lineFormat = .preference }
            else if let format { lineFormat = format }
            else { lineFormat = .promptOnly }
            if margin != nil && lineFormat != .preference { throw bad("\"margin\" belongs to preference lines (prompt, chosen, rejected)") }
            let needed = lineFormat == .promptCompletion ? ["prompt", "completion"] : lineFormat == .promptOnly ? ["prompt"] : ["prompt", "chosen", "rejected"]
            if let missing = needed.first(where: { fields[$0] == nil }) {
                throw bad("missing \"\(missing)\"; a \(lineFormat.rawValue) line has \(needed.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            if fields.count > needed.count {
                throw bad("mixes prompt-completion and preference keys (\(fields.keys.sorted().joined(separator: ", "))); use prompt+completion or prompt+chosen+rejected")
            }
            if let format, format != lineFormat {
                throw bad("is a \(lineFormat.rawValue) example, but the file's first example is \(format.rawValue); one file holds one format")
            }
            format = lineFormat
            for key in needed.dropFirst() where fields[key]!.isEmpty { throw bad("\"\(key)\" is empty; a completion needs at least one character") }
            switch lineFormat {
            case .promptCompletion: examples.append(TextExample(prompt: fields["prompt"]!, completion: fields["completion"]!))
            case .preference: examples.append(TextExample(prompt: fields["prompt"]!, chosen: fields["chosen"]!, rejected: fields["rejected"]!, margin: margin))
            default: examples.append(TextExample(prompt: fields["prompt"]!))
            }
        }
        guard let format else { throw TrainingError("data file '\(path)' holds no examples (every line is blank)") }
        return (format, examples)
    }

    /// A {"messages": [{"role", "content"}, …]} line, as TRL's conversational format: the last
    /// message is the assistant's reply that is learned; the ones before are its prompt.
    static func conversation(_ members: [(key: String, value: JSONValue)], bad: (String) -> TrainingError) throws -> TextExample {
        if let other = members.first(where: { $0.key != "messages" }) {
            throw bad("unknown key '\(other.key)' beside \"messages\"; a conversation line has \"messages\" only")
        }
        guard case .array(let list)? = members.first?.value, !list.isEmpty else {
            throw bad("\"messages\" must be a non-empty list of {\"role\": …, \"content\": …}")
        }
        var messages: [ChatMessage] = []
        for (n, item) in list.enumerated() {
            guard case .object(let fields) = item, let role = item["role"]?.string, let content = item["content"]?.string,
                  fields.count == 2 else {
                throw bad("message \(n + 1) must be {\"role\": string, \"content\": string}, got \(item.summary)")
            }
            messages.append(ChatMessage(role: role, content: content))
        }
        guard messages.count >= 2, messages.last!.role == "assistant", !messages.last!.content.isEmpty else {
            throw bad("a conversation needs at least two messages, the last a non-empty \"assistant\" reply (the reply is what is learned)")
        }
        var example = TextExample(prompt: "", completion: "")
        example.messages = messages
        return example
    }

    /// Fills each conversation's `prompt` (the messages before the reply, with the template's
    /// generation prompt) and `chosen` (what the full conversation adds after it: the reply and
    /// the template's end of turn) from `template` and its special tokens. Other examples are kept.
    public static func renderConversations(_ examples: inout [TextExample], template: String?, templateOrigin: String,
                                           specialTokens: [String: String], path: String) throws {
        guard examples.contains(where: { $0.messages != nil }) else { return }
        guard let template else {
            throw TrainingError("data file '\(path)' holds conversations (\"messages\"), which are rendered with the model's chat template, but \(templateOrigin) has none (chat_template.jinja); fine-tune an instruct model (--init-from), or write prompt-completion lines")
        }
        let chat: ChatTemplate
        do { chat = try ChatTemplate(template) } catch { throw TrainingError("chat template of \(templateOrigin): \(error)") }
        for i in examples.indices {
            guard let messages = examples[i].messages else { continue }
            let prompt: String, whole: String
            do {
                prompt = try chat.render(Array(messages.dropLast()), addGenerationPrompt: true, specialTokens: specialTokens)
                whole = try chat.render(messages, addGenerationPrompt: false, specialTokens: specialTokens)
            } catch { throw TrainingError("data file '\(path)' example \(i + 1): chat template: \(error)") }
            guard whole.utf8.starts(with: prompt.utf8), whole.utf8.count > prompt.utf8.count else {
                throw TrainingError("data file '\(path)' example \(i + 1): the chat template of \(templateOrigin) renders the conversation so that it does not continue its prompt (the messages before the reply, with the generation prompt); the reply's tokens cannot be found")
            }
            examples[i].prompt = prompt
            examples[i].chosen = String(decoding: whole.utf8.dropFirst(prompt.utf8.count), as: UTF8.self)
        }
    }
}

/// One example as token ids, fitted to the context: `tokens` is the prompt
/// (its first `promptLength` ids) followed by the completion and, when the
/// tokenizer has one, the end-of-text token. Position i predicts token i + 1,
/// and only completion tokens are scored.
public struct TokenizedSequence: Equatable, Sendable {
    public var tokens: [Int32]
    public var promptLength: Int
    public init(tokens: [Int32], promptLength: Int) { self.tokens = tokens; self.promptLength = promptLength }
    /// Completion tokens whose prediction counts (all completion tokens that have a token before them).
    public var scoredCount: Int { tokens.count - max(promptLength, 1) }
}

/// A prompt–completion example, or a preference pair (two sequences with the same prompt).
public struct TokenizedExample: Equatable, Sendable {
    public var chosen: TokenizedSequence
    public var rejected: TokenizedSequence?
    /// A preference pair's margin (reward models), 0 when the data gives none.
    public var margin: Float = 0
}

/// Tokenized examples of both splits, and what fitting them to the context cost.
public struct ExampleSet: Sendable {
    public let format: DataFormat
    public let train: [TokenizedExample]
    public let validation: [TokenizedExample]
    /// Examples whose prompt lost tokens from the left to fit the context.
    public let promptsTruncated: Int
    /// Examples whose completion was cut at the right (it alone was longer than the context).
    public let completionsTruncated: Int
    /// Examples dropped because not one completion token could be scored.
    public let skipped: Int

    /// Tokenizes `examples` and splits them: the last val_fraction of the
    /// examples (at least one) validate, as the text corpus is split. With
    /// `valFraction` nil every example goes to `train` (for scoring).
    public init(format: DataFormat, examples: [TextExample], tokenizer: any Tokenizer, contextLength: Int,
                valFraction: Double?, path: String) throws {
        self.format = format
        let end = SpecialTokenNames.endOfText.lazy.compactMap { tokenizer.id(ofSpecial: $0) }.first.map { Int32($0) }
        var kept: [TokenizedExample] = []
        var truncated = 0, cut = 0, skipped = 0
        for (i, example) in examples.enumerated() {
            func ids(_ text: String) throws -> [Int32] {
                do { return try tokenizer.encode(text).map { Int32($0) } } catch {
                    throw TrainingError("data file '\(path)' example \(i + 1): \(error)")
                }
            }
            let prompt = try ids(example.prompt)
            // A conversation's completion ends with the template's end of turn; others get the end-of-text token.
            let ending = example.messages == nil ? end.map { [$0] } ?? [] : []
            let completions = try ([example.chosen] + (example.rejected.map { [$0] } ?? [])).map { try ids($0) + ending }
            guard let fitted = ExampleSet.fit(prompt: prompt, completions: completions, window: contextLength + 1) else { skipped += 1; continue }
            if fitted.promptTruncated { truncated += 1 }
            if fitted.completionTruncated { cut += 1 }
            kept.append(TokenizedExample(chosen: fitted.sequences[0], rejected: fitted.sequences.count > 1 ? fitted.sequences[1] : nil,
                                         margin: Float(example.margin ?? 0)))
        }
        let needed = valFraction == nil ? 1 : 2
        guard kept.count >= needed else {
            throw TrainingError("data file '\(path)' has \(kept.count) usable example\(kept.count == 1 ? "" : "s") (\(skipped) skipped: no completion token fits model.context_length \(contextLength)); need at least \(needed == 1 ? "1" : "2, one to train and one to validate")")
        }
        let validationCount = valFraction.map { min(kept.count - 1, max(1, Int((Double(kept.count) * $0).rounded()))) } ?? 0
        train = Array(kept[..<(kept.count - validationCount)])
        validation = Array(kept[(kept.count - validationCount)...])
        promptsTruncated = truncated
        completionsTruncated = cut
        self.skipped = skipped
    }

    /// Fits a prompt and its completions (one, or chosen and rejected) into
    /// `window` tokens: the prompt loses tokens from the left, down to one (the
    /// first completion token is predicted from it); a completion still too
    /// long is cut at the right. Nil when some completion would have no scored token.
    static func fit(prompt: [Int32], completions: [[Int32]], window: Int)
        -> (sequences: [TokenizedSequence], promptTruncated: Bool, completionTruncated: Bool)? {
        let longest = completions.map(\.count).max() ?? 0
        let keptPrompt = min(prompt.count, max(window - longest, min(prompt.count, 1)))
        let promptPart = Array(prompt[(prompt.count - keptPrompt)...])
        var sequences: [TokenizedSequence] = [], cut = false
        for completion in completions {
            let room = window - promptPart.count
            if completion.count > room { cut = true }
            let sequence = TokenizedSequence(tokens: promptPart + completion.prefix(max(room, 0)), promptLength: promptPart.count)
            guard sequence.scoredCount >= 1 else { return nil }
            sequences.append(sequence)
        }
        return (sequences, keptPrompt < prompt.count, cut)
    }

    /// Examples already tokenized and fitted (the built-in sets of `bench train`).
    init(format: DataFormat, train: [TokenizedExample], validation: [TokenizedExample]) {
        self.format = format; self.train = train; self.validation = validation
        promptsTruncated = 0; completionsTruncated = 0; skipped = 0
    }

    /// A one-line summary of truncation and skipping for stderr, or nil when nothing was changed.
    public var fittingNote: String? {
        var parts: [String] = []
        if promptsTruncated > 0 { parts.append("\(promptsTruncated) prompt\(promptsTruncated == 1 ? "" : "s") truncated from the left") }
        if completionsTruncated > 0 { parts.append("\(completionsTruncated) completion\(completionsTruncated == 1 ? "" : "s") cut at the right") }
        if skipped > 0 { parts.append("\(skipped) example\(skipped == 1 ? "" : "s") skipped (no completion token fits)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ") + " to fit the context"
    }
}

/// A padded batch of sequences laid out (rows, length): `inputs` and
/// `targets` (next tokens; −100 where nothing is scored: prompt and padding).
public struct SequenceBatch {
    public let inputs: [Int32]
    public let targets: [Int32]
    public let rows: Int
    public let length: Int
    /// Scored targets in the batch.
    public let scoredCount: Int
    /// Each row's prompt length: the inputs a prefix LM attends bidirectionally.
    public let promptLengths: [Int]

    public static let ignored: Int32 = -100

    /// Pads every sequence to the longest (minus one: the last token is only a target).
    public init(_ sequences: [TokenizedSequence]) {
        let length = max(1, sequences.map { $0.tokens.count - 1 }.max() ?? 1)
        var inputs = [Int32](repeating: 0, count: sequences.count * length)
        var targets = [Int32](repeating: SequenceBatch.ignored, count: sequences.count * length)
        var scored = 0
        for (r, sequence) in sequences.enumerated() {
            let t = sequence.tokens
            for i in 0..<(t.count - 1) {
                inputs[r * length + i] = t[i]
                if i + 1 >= sequence.promptLength {
                    targets[r * length + i] = t[i + 1]
                    scored += 1
                }
            }
        }
        self.inputs = inputs; self.targets = targets
        rows = sequences.count; self.length = length; scoredCount = scored
        promptLengths = sequences.map(\.promptLength)
    }
}
