import Foundation
import Files
import ChatTemplate
import Generate

/// An error as OpenAI's API reports it: a status code and
/// `{"error": {"message", "type", "param", "code"}}`.
public struct APIError: Error, Equatable {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, _ message: String, type: String? = nil, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type ?? APIError.type(for: status)
        self.param = param
        self.code = code
    }

    static func type(for status: Int) -> String {
        switch status {
        case 401: return "authentication_error"
        case 404: return "not_found_error"
        case 429: return "rate_limit_error"
        case 500...: return status == 503 ? "server_overloaded" : "server_error"
        default: return "invalid_request_error"
        }
    }

    static func invalid(_ param: String, _ message: String) -> APIError {
        APIError(status: 400, message, param: param, code: "invalid_value")
    }

    public var json: JSONValue {
        .object(["error": .object(["message": .string(message), "type": .string(type),
                                   "param": param.map { .string($0) } ?? .null, "code": code.map { .string($0) } ?? .null])])
    }

    public var response: HTTPResponse { HTTPResponse(status: status, json: json.serialized()) }
}

/// The server's defaults for what a request leaves out (from `serve`'s sampling flags).
public struct RequestDefaults: Sendable {
    public var settings = DecodingSettings()
    public var maxTokens = 256
    public var stop: [String] = []
    /// nil: a request without a seed gets a random one.
    public var seed: UInt64?
    public init() {}
}

/// A completion request, checked: the prompt's tokens and how to decode each of its `n` choices.
public struct GenerationRequest {
    public var prompt: [Int32]
    public var settings: DecodingSettings
    /// What the request asked for, and what fits in the context window after the prompt.
    public var maxTokens: Int
    public var stop: [String]
    public var seed: UInt64
    public var n: Int
    public var stream: Bool
    public var includeUsage: Bool

    /// Choice i decodes with seed + i, so choices differ and each can be reproduced alone.
    public var sequences: [SequenceRequest] {
        (0..<n).map { SequenceRequest(prompt: prompt, settings: settings, maxNewTokens: maxTokens, seed: seed &+ UInt64($0), stop: stop) }
    }
}

/// Reads the JSON bodies of /v1/chat/completions and /v1/completions as OpenAI documents them.
/// Fields it cannot honour are refused by name rather than ignored.
public struct OpenAIRequestReader {
    public let model: ServedModel
    public let defaults: RequestDefaults
    /// The most choices (`n`) one request may ask for.
    public let maxChoices: Int

    public init(model: ServedModel, defaults: RequestDefaults, maxChoices: Int = 8) {
        self.model = model
        self.defaults = defaults
        self.maxChoices = maxChoices
    }

    static let sharedFields: Set<String> = ["model", "temperature", "top_p", "max_tokens", "stop", "seed", "n", "stream", "stream_options",
                                            "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "user",
                                            "top_k", "min_p", "repetition_penalty", "min_tokens"]
    static let chatFields = sharedFields.union(["messages", "max_completion_tokens", "top_logprobs", "response_format", "tools", "tool_choice",
                                                "parallel_tool_calls", "store", "metadata"])
    static let completionFields = sharedFields.union(["prompt", "echo", "suffix", "best_of"])

    public func chat(_ body: [UInt8]) throws -> GenerationRequest {
        let json = try object(body, fields: OpenAIRequestReader.chatFields)
        guard let template = model.chatTemplate else {
            throw APIError(status: 400, "model '\(model.name)' has no chat template (chat_template.jinja in its checkpoint); use /v1/completions with a prompt",
                           param: "messages", code: "no_chat_template")
        }
        guard let list = json["messages"]?.array else {
            throw APIError(status: 400, json["messages"] == nil ? "'messages' is a required property" : "'messages' must be an array of messages",
                           param: "messages", code: json["messages"] == nil ? "missing_required_parameter" : "invalid_type")
        }
        guard !list.isEmpty else { throw APIError.invalid("messages", "'messages' must hold at least one message") }
        var messages: [ChatMessage] = []
        for (i, m) in list.enumerated() {
            guard let role = m["role"]?.string else { throw APIError.invalid("messages[\(i)].role", "messages[\(i)] needs a 'role' string") }
            guard ["system", "developer", "user", "assistant"].contains(role) else {
                throw APIError.invalid("messages[\(i)].role", "messages[\(i)].role '\(role)' is not one of system, developer, user, assistant")
            }
            messages.append(ChatMessage(role: role == "developer" ? "system" : role, content: try content(m["content"], index: i)))
        }
        try refuse(json, "tools", unless: { $0.isNull || $0.array?.isEmpty == true }, "tools are not supported: tinygpt models answer in text")
        try refuse(json, "tool_choice", unless: { $0.isNull || $0.string == "none" }, "tool_choice is not supported: tinygpt models answer in text")
        try refuse(json, "response_format", unless: { $0.isNull || $0["type"]?.string == "text" }, "response_format other than {\"type\": \"text\"} is not supported")
        try refuse(json, "top_logprobs", unless: { $0.isNull }, "top_logprobs is not supported")
        let text: String
        do { text = try template.render(messages, addGenerationPrompt: true, specialTokens: model.specialTokens) } catch {
            throw APIError(status: 400, "the chat template refuses these messages: \(error)", param: "messages", code: "invalid_messages")
        }
        let prompt = try encode(text, addingSpecialTokens: false, param: "messages")
        let maxTokens = try json["max_completion_tokens"].map { try positiveInt($0, "max_completion_tokens") }
        return try generation(json, prompt: prompt, maxTokens: maxTokens)
    }

    public func completion(_ body: [UInt8]) throws -> GenerationRequest {
        let json = try object(body, fields: OpenAIRequestReader.completionFields)
        let text: String
        switch json["prompt"] {
        case .string(let s)?: text = s
        case .array(let a)? where a.count == 1 && a[0].string != nil: text = a[0].string!
        case nil: throw APIError(status: 400, "'prompt' is a required property", param: "prompt", code: "missing_required_parameter")
        default: throw APIError.invalid("prompt", "'prompt' must be a string (or an array of one string)")
        }
        try refuse(json, "echo", unless: { $0.isNull || $0.bool == false }, "echo is not supported")
        try refuse(json, "suffix", unless: { $0.isNull }, "suffix (insertion) is not supported")
        try refuse(json, "best_of", unless: { $0.isNull || $0.int == 1 }, "best_of is not supported (use n)")
        // A prompt gets what the tokenizer's post-processor adds (a BOS), as `tinygpt sample` does.
        var prompt = try encode(text, addingSpecialTokens: true, param: "prompt")
        if prompt.isEmpty { prompt = [model.startToken] }
        return try generation(json, prompt: prompt, maxTokens: nil)
    }

    // MARK: the pieces

    func object(_ body: [UInt8], fields: Set<String>) throws -> JSONValue {
        let json: JSONValue
        do { json = try JSONParser.parse(body) } catch {
            throw APIError(status: 400, "the request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard let members = json.members else { throw APIError(status: 400, "the request body must be a JSON object", code: "invalid_json") }
        if let unknown = members.first(where: { !fields.contains($0.key) }) {
            throw APIError(status: 400, "Unrecognized request argument supplied: \(unknown.key)", param: unknown.key, code: "unknown_parameter")
        }
        return json
    }

    func content(_ value: JSONValue?, index: Int) throws -> String {
        switch value {
        case .string(let s)?: return s
        case .null?, nil: return ""
        case .array(let parts)?:
            return try parts.map { part -> String in
                guard part["type"]?.string == "text", let text = part["text"]?.string else {
                    throw APIError.invalid("messages[\(index)].content", "messages[\(index)].content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported")
                }
                return text
            }.joined()
        default: throw APIError.invalid("messages[\(index)].content", "messages[\(index)].content must be a string or an array of text parts")
        }
    }

    func encode(_ text: String, addingSpecialTokens: Bool, param: String) throws -> [Int32] {
        do { return try model.tokenizer.encode(text, addingSpecialTokens: addingSpecialTokens).map { Int32($0) } } catch {
            throw APIError(status: 400, "the tokenizer cannot encode the \(param): \(error)", param: param, code: "invalid_value")
        }
    }

    func refuse(_ json: JSONValue, _ key: String, unless accepted: (JSONValue) -> Bool, _ message: String) throws {
        if let v = json[key], !accepted(v) { throw APIError(status: 400, message, param: key, code: "unsupported_parameter") }
    }

    func number(_ v: JSONValue, _ key: String, in range: ClosedRange<Double>, open lower: Bool = false) throws -> Double {
        guard let d = v.double, range.contains(d), !(lower && d == range.lowerBound) else {
            throw APIError.invalid(key, "'\(key)' must be a number in \(lower ? "(" : "[")\(range.lowerBound), \(range.upperBound)], got \(v.summary)")
        }
        return d
    }

    func positiveInt(_ v: JSONValue, _ key: String) throws -> Int {
        guard let n = v.int, n >= 1 else { throw APIError.invalid(key, "'\(key)' must be an integer ≥ 1, got \(v.summary)") }
        return n
    }

    /// The sampling fields shared by both endpoints, on top of the server's defaults.
    func generation(_ json: JSONValue, prompt: [Int32], maxTokens chatMax: Int?) throws -> GenerationRequest {
        let window = model.contextWindow
        guard prompt.count < window else {
            throw APIError(status: 400, "This model's maximum context length is \(window) tokens. However, your prompt is \(prompt.count) tokens (with room for one reply token needed).",
                           param: json["messages"] != nil ? "messages" : "prompt", code: "context_length_exceeded")
        }
        var settings = defaults.settings
        for key in ["presence_penalty", "frequency_penalty"] {
            if let v = json[key], !v.isNull, v.double != 0 {
                throw APIError(status: 400, "\(key) is not supported by tinygpt: its samplers have repetition_penalty (transformers' multiplicative penalty on tokens already in the sequence) and no additive presence or frequency penalty",
                               param: key, code: "unsupported_parameter")
            }
        }
        try refuse(json, "logit_bias", unless: { $0.isNull || $0.members?.isEmpty == true }, "logit_bias is not supported")
        try refuse(json, "logprobs", unless: { $0.isNull || $0.bool == false }, "logprobs is not supported")
        if let v = json["temperature"], !v.isNull {
            let t = try number(v, "temperature", in: 0...2)
            settings.greedy = t == 0
            if t > 0 { settings.temperature = t }
        }
        if let v = json["top_p"], !v.isNull { settings.topP = try number(v, "top_p", in: 0...1, open: true) }
        if let v = json["min_p"], !v.isNull { settings.minP = try number(v, "min_p", in: 0...1) }
        if let v = json["top_k"], !v.isNull {
            guard let k = v.int, k >= 0 else { throw APIError.invalid("top_k", "'top_k' must be an integer ≥ 0, got \(v.summary)") }
            settings.topK = k
        }
        if let v = json["repetition_penalty"], !v.isNull {
            settings.repetitionPenalty = Float(try number(v, "repetition_penalty", in: 0...100, open: true))
        }
        if let v = json["min_tokens"], !v.isNull {
            guard let k = v.int, k >= 0 else { throw APIError.invalid("min_tokens", "'min_tokens' must be an integer ≥ 0, got \(v.summary)") }
            settings.minNewTokens = k
        }
        var asked = defaults.maxTokens
        if let v = json["max_tokens"], !v.isNull { asked = try positiveInt(v, "max_tokens") }
        if let chatMax { asked = chatMax }
        var stop = defaults.stop
        switch json["stop"] {
        case nil, .null?: break
        case .string(let s)?: stop = [s]
        case .array(let a)? where a.count <= 16 && a.allSatisfy({ $0.string != nil }): stop = a.map { $0.string! }
        default: throw APIError.invalid("stop", "'stop' must be a string or an array of up to 16 strings")
        }
        if stop.contains("") { throw APIError.invalid("stop", "'stop' strings must not be empty") }
        var seed = defaults.seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        if let v = json["seed"], !v.isNull {
            guard let s = v.int else { throw APIError.invalid("seed", "'seed' must be an integer, got \(v.summary)") }
            seed = UInt64(bitPattern: Int64(s))
        }
        var n = 1
        if let v = json["n"], !v.isNull {
            guard let k = v.int, (1...maxChoices).contains(k) else { throw APIError.invalid("n", "'n' must be an integer in 1...\(maxChoices), got \(v.summary)") }
            n = k
        }
        var stream = false
        if let v = json["stream"], !v.isNull {
            guard let b = v.bool else { throw APIError.invalid("stream", "'stream' must be true or false, got \(v.summary)") }
            stream = b
        }
        var includeUsage = false
        if let v = json["stream_options"], !v.isNull {
            guard stream else { throw APIError.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true") }
            guard let members = v.members, members.allSatisfy({ $0.key == "include_usage" }) else {
                throw APIError.invalid("stream_options", "'stream_options' takes {\"include_usage\": true|false} only")
            }
            includeUsage = v["include_usage"]?.bool ?? false
        }
        return GenerationRequest(prompt: prompt, settings: settings, maxTokens: min(asked, window - prompt.count), stop: stop,
                                 seed: seed, n: n, stream: stream, includeUsage: includeUsage)
    }
}
