import Foundation
import Files
import Model
import Config
import Tokenizer

/// What a transformers directory says about chat, besides weights and vocabulary:
///
/// - the ids that end generation and the one that begins a sequence:
///   generation_config.json `eos_token_id` (an id or a list: end of text and
///   end of turn) and `bos_token_id`, else config.json's; and
///   tokenizer_config.json's `eos_token` / `bos_token` (names, or AddedToken
///   objects with a `content`), looked up in the tokenizer;
/// - the chat template: chat_template.jinja, else tokenizer_config.json's
///   `chat_template` (a string, or a list of named templates: "default").
///
/// A tinygpt checkpoint keeps them as config tokenizer.eos_token_ids and
/// tokenizer.bos_token_id, and the file chat_template.jinja.
extension HuggingFace {
    /// The end and beginning ids generation_config.json (else config.json) declares.
    static func declaredIds(in directory: URL, vocabulary: Int) throws -> (end: [Int], begin: Int?) {
        let path = directory.path
        var end: [Int] = [], begin: Int? = nil
        let generation = try jsonObject(directory.appendingPathComponent("generation_config.json"))
        func ids(_ value: JSONValue?, _ key: String, _ file: String) throws -> [Int] {
            switch value {
            case nil, .null?: return []
            case .int(let i)?: return [i]
            case .array(let items)?:
                return try items.map { item in
                    guard case .int(let i) = item else { throw FormatError("\(path)/\(file): \(key) must be an id or a list of ids, got \(value!.summary)") }
                    return i
                }
            case let other?: throw FormatError("\(path)/\(file): \(key) must be an id or a list of ids, got \(other.summary)")
            }
        }
        if let generation {
            end = try ids(member(generation, "eos_token_id"), "eos_token_id", "generation_config.json")
            begin = try ids(member(generation, "bos_token_id"), "bos_token_id", "generation_config.json").first
        }
        // transformers takes the model config's ids when the generation config has none.
        if let model = try jsonObject(directory.appendingPathComponent("config.json")) {
            if end.isEmpty { end = try ids(member(model, "eos_token_id"), "eos_token_id", "config.json") }
            if begin == nil { begin = try ids(member(model, "bos_token_id"), "bos_token_id", "config.json").first }
        }
        var unique: [Int] = []
        for id in end where !unique.contains(id) { unique.append(id) }
        for id in unique + (begin.map { [$0] } ?? []) where id < 0 || id >= vocabulary {
            throw FormatError("\(path): special token id \(id) (generation_config.json or config.json) is not a token of this model, whose vocab_size is \(vocabulary)")
        }
        return (unique, begin)
    }

    /// The ids of tokenizer_config.json's `eos_token` and `bos_token`, looked up in `tokenizer`.
    static func namedIds(in directory: URL, tokenizer: any Tokenizer) throws -> (end: Int?, begin: Int?) {
        guard let config = try jsonObject(directory.appendingPathComponent("tokenizer_config.json")) else { return (nil, nil) }
        func id(_ key: String) throws -> Int? {
            let name: String
            switch member(config, key) {
            case nil, .null?: return nil
            case .string(let s)?: name = s
            case .object(let fields)? where fields.contains(where: { if case .string = $0.value { return $0.key == "content" }; return false }):
                guard case .string(let s)? = fields.first(where: { $0.key == "content" })?.value else { return nil }
                name = s  // an AddedToken object
            case let other?: throw FormatError("\(directory.path)/tokenizer_config.json: \(key) must be a token's text, got \(other.summary)")
            }
            if let special = tokenizer.id(ofSpecial: name) { return special }
            if let ids = try? tokenizer.encode(name), ids.count == 1 { return ids[0] }
            throw FormatError("\(directory.path)/tokenizer_config.json: \(key) '\(name)' is not a single token of tokenizer.json")
        }
        return (try id("eos_token"), try id("bos_token"))
    }

    /// The chat template a transformers directory carries, if any; a note when it has templates but none a chat uses.
    public static func chatTemplate(in directory: URL) throws -> (template: String?, note: String?) {
        let file = directory.appendingPathComponent(Checkpoint.chatTemplateFile)
        if FileManager.default.fileExists(atPath: file.path) {
            guard let data = FileManager.default.contents(atPath: file.path) else { throw FormatError("cannot read '\(file.path)'") }
            guard let text = String(data: data, encoding: .utf8) else { throw FormatError("\(file.path) is not UTF-8 text") }
            return (text, nil)
        }
        guard let config = try jsonObject(directory.appendingPathComponent("tokenizer_config.json")) else { return (nil, nil) }
        switch member(config, "chat_template") {
        case nil, .null?:
            return (nil, nil)
        case .string(let s)?:
            return (s, nil)
        case .array(let items)?:
            var named: [(String, String)] = []
            for item in items {
                guard case .object(let fields) = item, case .string(let name)? = fields.first(where: { $0.key == "name" })?.value,
                      case .string(let template)? = fields.first(where: { $0.key == "template" })?.value else {
                    throw FormatError("\(directory.path)/tokenizer_config.json: chat_template lists must hold {\"name\": …, \"template\": …} objects")
                }
                named.append((name, template))
            }
            if let chosen = named.first(where: { $0.0 == "default" }) { return (chosen.1, nil) }
            return (nil, "tokenizer_config.json has chat templates named \(named.map { "'\($0.0)'" }.joined(separator: ", ")) but none named 'default', so the checkpoint has no chat template")
        case let other?:
            throw FormatError("\(directory.path)/tokenizer_config.json: chat_template must be a string or a list of named templates, got \(other.summary)")
        }
    }

    /// Imports a transformers directory as a tinygpt checkpoint at `out`: weights, tokenizer,
    /// the ids that end and begin generation, and the chat template. The tokenizer and the
    /// small files are checked before the weights are read. Returns notes for the user.
    public static func importCheckpoint(from directory: URL, to out: URL) throws -> (parameters: Int, notes: [String]) {
        let source = directory.appendingPathComponent("tokenizer.json").path
        guard let tokenizerJSON = FileManager.default.contents(atPath: source) else {
            throw FormatError("\(directory.path) has no tokenizer.json (only the fast-tokenizer file format is supported)")
        }
        let tokenizer = try TokenizerFile.load(data: tokenizerJSON, name: source)
        let (template, note) = try chatTemplate(in: directory)
        let named = try namedIds(in: directory, tokenizer: tokenizer)
        let weights = try open(directory)
        var config = weights.config
        let shapes = config.model.parameterShapes
        try Checkpoint.checkVocabulary(tokenizer: tokenizer.vocabSize, model: config.model.vocabSize!, source: directory.path)
        if let end = named.end, !config.tokenizer.eosTokenIds.contains(end) { config.tokenizer.eosTokenIds.append(end) }
        if config.tokenizer.bosTokenId == nil { config.tokenizer.bosTokenId = named.begin }
        // Streamed: one tensor at a time from the mapped file to the new one, in the file's
        // dtype when all its weights share a half format (so a bf16 model stays bf16).
        let dtype = weights.dtype
        try Checkpoint.save(layouts: shapes.map { SafeTensorLayout(name: $0.name, shape: $0.shape, dtype: dtype) }, metadata: Checkpoint.formatMetadata,
                            config: config, tokenizerJSON: tokenizerJSON, extraFiles: Checkpoint.chatTemplateFiles(template), to: out) { i, emit in
            try weights.stored(weights.tensors[i], as: dtype).withUnsafeBytes(emit)
        }
        var notes = note.map { [$0] } ?? []
        if dtype != .f32 { notes.append("the weights stay \(dtype.rawValue.lowercased()), as the file stores them (a half checkpoint: docs/formats.md)") }
        return (shapes.map(\.count).reduce(0, +), notes)
    }

    static func jsonObject(_ url: URL) throws -> [(key: String, value: JSONValue)]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw FormatError("cannot read '\(url.path)'") }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(Array(data)) } catch { throw FormatError("\(url.path) is not valid JSON: \(error)") }
        guard case .object(let members) = parsed else { throw FormatError("\(url.path) is not a JSON object") }
        return members
    }

    static func member(_ object: [(key: String, value: JSONValue)], _ key: String) -> JSONValue? {
        object.first { $0.key == key }?.value
    }
}
