import Foundation
import Files
import Generate

/// How `tinygpt serve` listens and answers.
public struct ServeSettings: Sendable {
    public var host = "127.0.0.1"
    /// 0: the system picks a free port (tests).
    public var port = 8080
    /// Sequences decoded together; more wait in the queue.
    public var parallel = 1
    /// Requests to /v1/* must carry `Authorization: Bearer KEY` when set.
    public var apiKey: String?
    public var limits = HTTPLimits()
    public var maxConnections = 512
    public var defaults = RequestDefaults()
    public init() {}
}

/// The OpenAI-compatible API over one model: GET /health, GET /v1/models,
/// POST /v1/chat/completions, POST /v1/completions (whole or streamed as
/// server-sent events), and the chat page at /.
public final class OpenAIServer: @unchecked Sendable {
    public let model: ServedModel
    public let settings: ServeSettings
    public let scheduler: SlotScheduler
    let reader: OpenAIRequestReader
    var http: HTTPServer!
    let created = Int(Date().timeIntervalSince1970)

    public init(model: ServedModel, settings: ServeSettings) throws {
        self.model = model
        self.settings = settings
        guard settings.parallel >= 1 else { throw ServeError("--parallel must be ≥ 1, got \(settings.parallel)") }
        scheduler = try SlotScheduler(model: model, parallel: settings.parallel)
        reader = OpenAIRequestReader(model: model, defaults: settings.defaults)
        http = try HTTPServer(host: settings.host, port: settings.port, limits: settings.limits, maxConnections: settings.maxConnections,
                              failure: { APIError(status: $0, $1).response }, handler: { [unowned self] in handle($0, $1) })
    }

    /// The port listened on (the one the system chose for port 0).
    public var port: Int { http.port }

    public func start() {
        scheduler.start()
        http.start()
    }

    /// Stops accepting, lets the requests in flight finish (up to `drain` seconds), then stops decoding.
    /// True when every connection closed in time.
    @discardableResult
    public func stop(drain: Double = 60) -> Bool {
        http.shutdown()
        let drained = http.wait(timeout: drain)
        scheduler.stop()  // cancels what is left; their connections see the cancellation and close
        if !drained { http.wait(timeout: 5) }
        return drained
    }

    /// Waits for the server to stop (after `stop`, from another thread).
    public func wait() { http.wait() }

    // MARK: routing

    func handle(_ request: HTTPRequest, _ connection: HTTPConnection) {
        let path = request.path
        do {
            switch (request.method, path) {
            case ("GET", "/"), ("GET", "/index.html"):
                connection.respond(HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(chatPage.utf8)))
            case ("GET", "/health"):
                let load = scheduler.load
                connection.respond(HTTPResponse(status: 200, json: JSONValue.object([
                    "status": "ok", "slots": .int(scheduler.parallel), "busy": .int(load.busy), "queued": .int(load.queued)]).serialized()))
            case ("GET", "/v1/models"):
                try authorize(request)
                connection.respond(HTTPResponse(status: 200, json: JSONValue.object([
                    "object": "list", "data": .array([modelEntry])]).serialized()))
            case ("GET", "/v1/models/\(model.name)"):
                try authorize(request)
                connection.respond(HTTPResponse(status: 200, json: modelEntry.serialized()))
            case ("POST", "/v1/chat/completions"), ("POST", "/chat/completions"):
                try authorize(request)
                try generate(try reader.chat(request.body), chat: true, connection)
            case ("POST", "/v1/completions"), ("POST", "/completions"):
                try authorize(request)
                try generate(try reader.completion(request.body), chat: false, connection)
            case (_, "/"), (_, "/health"), (_, "/v1/models"), (_, "/v1/chat/completions"), (_, "/v1/completions"):
                throw APIError(status: 405, "\(request.method) is not allowed on \(path)", code: "method_not_allowed")
            default:
                throw APIError(status: 404, "no endpoint \(request.method) \(path); this server has GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/completions",
                               code: "unknown_url")
            }
        } catch let e as APIError {
            connection.respond(e.response)
        } catch {
            connection.respond(APIError(status: 500, "\(error)").response)
        }
    }

    var modelEntry: JSONValue {
        .object(["id": .string(model.name), "object": "model", "created": .int(created), "owned_by": "tinygpt",
                 "meta": .object(["context_length": .int(model.contextWindow), "vocab_size": .int(model.tokenizer.vocabSize)])])
    }

    func authorize(_ request: HTTPRequest) throws {
        guard let key = settings.apiKey else { return }
        let given = request.header("authorization")
        guard given == "Bearer \(key)" else {
            throw APIError(status: 401, given == nil ? "You didn't provide an API key: send it as 'Authorization: Bearer KEY'." : "Incorrect API key provided.",
                           code: "invalid_api_key")
        }
    }

    // MARK: generation

    /// How a choice ended, in OpenAI's words.
    static func finishReason(_ ending: SequenceDecoder.Ending) -> String { ending == .maxNewTokens ? "length" : "stop" }

    func generate(_ request: GenerationRequest, chat: Bool, _ connection: HTTPConnection) throws {
        let ticket = GenerationTicket()
        guard scheduler.submit(ticket, request.sequences) else {
            throw APIError(status: 503, "the server's queue is full (\(scheduler.queueLimit) sequences waiting); try again shortly", code: "queue_full")
        }
        let id = (chat ? "chatcmpl-" : "cmpl-") + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let object = chat ? "chat.completion" : "text_completion"
        let stamp = Int(Date().timeIntervalSince1970)
        var texts = [String](repeating: "", count: request.n)
        var finished = [(reason: String, tokens: Int)?](repeating: nil, count: request.n)
        func usage() -> JSONValue {
            let completion = finished.reduce(0) { $0 + ($1?.tokens ?? 0) }
            return .object(["prompt_tokens": .int(request.prompt.count), "completion_tokens": .int(completion),
                            "total_tokens": .int(request.prompt.count + completion)])
        }
        func envelope(_ object: String, choices: [JSONValue]) -> JSONValue {
            .object(["id": .string(id), "object": .string(object), "created": .int(stamp), "model": .string(model.name),
                     "system_fingerprint": .null, "choices": .array(choices)])
        }
        func streamChoice(_ index: Int, text: String?, role: Bool = false, finish: String?) -> JSONValue {
            let reason: JSONValue = finish.map { .string($0) } ?? .null
            if chat {
                var delta = JSONValue.object([:])
                if role { delta.set("role", "assistant") }
                if let text { delta.set("content", .string(text)) }
                return .object(["index": .int(index), "delta": delta, "logprobs": .null, "finish_reason": reason])
            }
            return .object(["index": .int(index), "text": .string(text ?? ""), "logprobs": .null, "finish_reason": reason])
        }
        func send(_ value: JSONValue) -> Bool { connection.send(chunk: Array("data: \(value.serialized())\n\n".utf8)) }

        if request.stream {
            guard connection.startStream(status: 200, contentType: "text/event-stream") else { ticket.cancel(); return }
            if chat {
                for i in 0..<request.n where !send(envelope("chat.completion.chunk", choices: [streamChoice(i, text: "", role: true, finish: nil)])) {
                    ticket.cancel(); return
                }
            }
        }
        while finished.contains(where: { $0 == nil }) {
            let events = ticket.take(timeout: 0.1)
            if ticket.cancelled {
                // The server stopped decoding before this request finished.
                if request.stream { connection.endStream(); return }
                throw APIError(status: 503, "the server is stopping; the request was not finished", code: "server_stopping")
            }
            if connection.peerClosed { ticket.cancel(); return }
            for event in events {
                switch event {
                case .text(let choice, let piece):
                    texts[choice] += piece
                    if request.stream,
                       !send(envelope(chat ? "chat.completion.chunk" : "text_completion", choices: [streamChoice(choice, text: piece, finish: nil)])) {
                        ticket.cancel(); return
                    }
                case .finished(let choice, let ending, let tokens):
                    finished[choice] = (OpenAIServer.finishReason(ending), tokens)
                    if request.stream,
                       !send(envelope(chat ? "chat.completion.chunk" : "text_completion",
                                      choices: [streamChoice(choice, text: chat ? nil : "", finish: finished[choice]!.reason)])) {
                        ticket.cancel(); return
                    }
                }
            }
        }
        if request.stream {
            if request.includeUsage {
                var last = envelope(chat ? "chat.completion.chunk" : "text_completion", choices: [])
                last.set("usage", usage())
                guard send(last) else { return }
            }
            guard connection.send(chunk: Array("data: [DONE]\n\n".utf8)) else { return }
            connection.endStream()
            return
        }
        let choices: [JSONValue] = (0..<request.n).map { i in
            let reason = JSONValue.string(finished[i]!.reason)
            if chat {
                return .object(["index": .int(i), "message": .object(["role": "assistant", "content": .string(texts[i])]),
                                "logprobs": .null, "finish_reason": reason])
            }
            return .object(["index": .int(i), "text": .string(texts[i]), "logprobs": .null, "finish_reason": reason])
        }
        var body = envelope(object, choices: choices)
        body.set("usage", usage())
        connection.respond(HTTPResponse(status: 200, json: body.serialized()))
    }
}
