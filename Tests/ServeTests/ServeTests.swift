import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Files
import Model
import Config
import Tokenizer
import ChatTemplate
import Generate
@testable import Serve

/// The server started in this process on an ephemeral loopback port, over a
/// tiny model built in memory, and spoken to through raw sockets (to control
/// framing, limits and disconnects) and URLSession (a standard client).
final class ServeTests: XCTestCase {
    static let chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    static let tokenizer = try! CharTokenizer(trainingText: "abcdefghijklmnopqrstuvwxyz ?!.\n", specialTokens: ["<|im_start|>", "<|im_end|>"])
    static let gpt: GPT = {
        var c = ModelConfig()
        c.vocabSize = tokenizer.vocabSize; c.contextLength = 256; c.nLayer = 2; c.dModel = 16; c.nHead = 4; c.dFF = 32
        c.position = .rope; c.norm = .rmsNorm; c.activation = .swiglu
        return GPT(config: c, seed: 3)
    }()

    func servedModel(endTokenIds: [Int] = []) throws -> ServedModel {
        try ServedModel(name: "tiny", tokenizer: ServeTests.tokenizer, chatTemplate: try ChatTemplate(ServeTests.chatML),
                        endTokenIds: endTokenIds, beginTokenId: nil, makeSource: { InferenceRows { InferenceModel(model: ServeTests.gpt) } })
    }

    var servers: [OpenAIServer] = []

    func startServer(parallel: Int = 2, apiKey: String? = nil, configure: (inout ServeSettings) -> Void = { _ in }) throws -> OpenAIServer {
        var settings = ServeSettings()
        settings.port = 0
        settings.parallel = parallel
        settings.apiKey = apiKey
        settings.limits.readTimeout = 5
        configure(&settings)
        let server = try OpenAIServer(model: try servedModel(), settings: settings)
        server.start()
        servers.append(server)
        return server
    }

    override func tearDown() {
        for s in servers { XCTAssertTrue(s.stop(drain: 10), "the server drains") }
        servers.removeAll()
    }

    // MARK: a raw client

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: JSONValue? { try? JSONParser.parse(Array(body.utf8)) }
    }

    func connect(_ port: Int) throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> Int32 in
            #if canImport(Glibc)
            return Glibc.connect(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size))
            #else
            return Darwin.connect(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size))
            #endif
        } }
        guard status == 0 else { throw ServeError("connect failed: \(errno)") }
        return fd
    }

    func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, 0) }
    }

    /// Everything the server sends until it closes the connection.
    func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    func parse(_ raw: [UInt8]) -> Reply {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return Reply(status: 0, headers: [:], body: text) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return Reply(status: status, headers: headers, body: body)
    }

    func dechunk(_ s: String) -> String {
        var bytes = Array(s.utf8)[...]
        var out: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: 13) {
            let size = Int(String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self), radix: 16) ?? 0
            let start = lineEnd + 2
            if size == 0 { break }
            out += bytes[start..<(start + size)]
            bytes = bytes[(start + size + 2)...]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One request on its own connection (Connection: close).
    func request(_ port: Int, _ method: String, _ path: String, json: String? = nil, headers: [String: String] = [:]) throws -> Reply {
        let fd = try connect(port)
        defer { close(fd) }
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        if let json { text += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n" + json } else { text += "\r\n" }
        write(fd, text)
        return parse(readAll(fd))
    }

    func raw(_ port: Int, _ text: String) throws -> Reply {
        let fd = try connect(port)
        defer { close(fd) }
        write(fd, text)
        return parse(readAll(fd))
    }

    func chat(_ port: Int, _ fields: String, message: String = "hi there") throws -> Reply {
        try request(port, "POST", "/v1/chat/completions", json: #"{"model": "tiny", "messages": [{"role": "user", "content": "\#(message)"}]\#(fields)}"#)
    }

    func assertError(_ reply: Reply, status: Int, param: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.status, status, reply.body, file: file, line: line)
        guard let error = reply.json?["error"] else { return XCTFail("no error object in \(reply.body)", file: file, line: line) }
        XCTAssertNotNil(error["message"]?.string, file: file, line: line)
        XCTAssertNotNil(error["type"]?.string, file: file, line: line)
        XCTAssertNotNil(error["param"], file: file, line: line)
        XCTAssertNotNil(error["code"], file: file, line: line)
        if let param { XCTAssertEqual(error["param"]?.string, param, reply.body, file: file, line: line) }
    }

    /// The data lines of a server-sent event stream, checking that every event is `data: ...` and a blank line.
    func events(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        XCTAssertTrue(body.hasSuffix("\n\n"), "events end with a blank line", file: file, line: line)
        return body.components(separatedBy: "\n\n").dropLast().map { event in
            XCTAssertTrue(event.hasPrefix("data: ") && !event.contains("\n"), "one data line per event: \(event)", file: file, line: line)
            return String(event.dropFirst(6))
        }
    }

    // MARK: tests

    func testSequenceDecoderMatchesGenerator() throws {
        let model = try servedModel()
        var settings = DecodingSettings()
        settings.temperature = 0.9
        let prompt = try ServeTests.tokenizer.encode("a cat sat").map { Int32($0) }
        let generator = Generator(source: try model.makeSource(), tokenizer: ServeTests.tokenizer)
        let expected = generator.sample(prompt: prompt, count: 1, maxNewTokens: 12, settings: settings, seed: 5)[0]
        let decoder = SequenceDecoder(source: try model.makeSource(), prompt: prompt, tokenizer: ServeTests.tokenizer, endTokens: [],
                                      settings: settings, maxNewTokens: 12, seed: 5)
        var text = ""
        while decoder.ending == nil { text += decoder.step() }
        XCTAssertEqual(decoder.generated, expected.tokens)
        XCTAssertEqual(text, expected.text)
        XCTAssertEqual(decoder.ending, .maxNewTokens)
    }

    func testHealthModelsAndChatPage() throws {
        let server = try startServer()
        let health = try request(server.port, "GET", "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json?["status"]?.string, "ok")
        XCTAssertEqual(health.json?["slots"]?.int, 2)
        let models = try request(server.port, "GET", "/v1/models")
        XCTAssertEqual(models.json?["object"]?.string, "list")
        XCTAssertEqual(models.json?["data"]?.array?.first?["id"]?.string, "tiny")
        let page = try request(server.port, "GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.body.contains("/v1/chat/completions") && page.body.contains("stream: true"))
        assertError(try request(server.port, "GET", "/nowhere"), status: 404)
        assertError(try request(server.port, "GET", "/v1/chat/completions"), status: 405)
    }

    func testChatCompletionTextAndUsage() throws {
        let server = try startServer()
        let reply = try chat(server.port, #", "max_tokens": 7, "seed": 11, "temperature": 0.8"#)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = try XCTUnwrap(reply.json)
        XCTAssertEqual(json["object"]?.string, "chat.completion")
        XCTAssertEqual(json["model"]?.string, "tiny")
        let choice = try XCTUnwrap(json["choices"]?.array?.first)
        XCTAssertEqual(choice["finish_reason"]?.string, "length")
        XCTAssertEqual(choice["message"]?["role"]?.string, "assistant")
        let rendered = try ChatTemplate(ServeTests.chatML).render([ChatMessage(role: "user", content: "hi there")], addGenerationPrompt: true)
        let prompt = try ServeTests.tokenizer.encode(rendered).map { Int32($0) }
        XCTAssertEqual(json["usage"]?["prompt_tokens"]?.int, prompt.count)
        XCTAssertEqual(json["usage"]?["completion_tokens"]?.int, 7)
        XCTAssertEqual(json["usage"]?["total_tokens"]?.int, prompt.count + 7)
        // The same tokens as the library's generator with that seed.
        var settings = DecodingSettings()
        settings.temperature = 0.8
        let expected = Generator(source: try servedModel().makeSource(), tokenizer: ServeTests.tokenizer)
            .sample(prompt: prompt, count: 1, maxNewTokens: 7, settings: settings, seed: 11)[0]
        XCTAssertEqual(choice["message"]?["content"]?.string, expected.text)
    }

    func testStreamFramingMatchesTheWholeReply() throws {
        let server = try startServer()
        let whole = try chat(server.port, #", "max_tokens": 9, "seed": 4"#)
        let stream = try chat(server.port, #", "max_tokens": 9, "seed": 4, "stream": true, "stream_options": {"include_usage": true}"#)
        XCTAssertEqual(stream.status, 200)
        XCTAssertEqual(stream.headers["content-type"], "text/event-stream")
        let data = events(stream.body)
        XCTAssertEqual(data.last, "[DONE]")
        let chunks = data.dropLast().compactMap { try? JSONParser.parse(Array($0.utf8)) }
        XCTAssertEqual(chunks.count, data.count - 1, "every event but the last is JSON")
        XCTAssertTrue(chunks.allSatisfy { $0["object"]?.string == "chat.completion.chunk" })
        XCTAssertEqual(chunks.first?["choices"]?.array?.first?["delta"]?["role"]?.string, "assistant")
        let text = chunks.compactMap { $0["choices"]?.array?.first?["delta"]?["content"]?.string }.joined()
        XCTAssertEqual(text, whole.json?["choices"]?.array?.first?["message"]?["content"]?.string)
        let finishes = chunks.compactMap { $0["choices"]?.array?.first?["finish_reason"]?.string }
        XCTAssertEqual(finishes, ["length"])
        let usage = try XCTUnwrap(chunks.last?["usage"])
        XCTAssertEqual(usage["completion_tokens"]?.int, 9)
        XCTAssertEqual(chunks.last?["choices"]?.array?.count, 0)
        XCTAssertEqual(usage["prompt_tokens"]?.int, whole.json?["usage"]?["prompt_tokens"]?.int)
    }

    func testStreamedChoicesAndKeepAliveAfterAStream() throws {
        let server = try startServer()
        let body = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "n": 2, "seed": 3, "stream": true}"#
        let whole = try chat(server.port, #", "max_tokens": 5, "n": 2, "seed": 3"#).json?["choices"]?.array ?? []
        // Two requests on one connection: a stream (chunked), then a health check.
        let fd = try connect(server.port)
        defer { close(fd) }
        write(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
              + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let both = String(decoding: readAll(fd), as: UTF8.self)
        let second = try XCTUnwrap(both.range(of: "HTTP/1.1 200 OK", range: both.index(after: both.startIndex)..<both.endIndex), both)
        XCTAssertTrue(both[second.lowerBound...].contains(#""status":"ok""#))
        let stream = parse(Array(both[..<second.lowerBound].utf8))
        let chunks = events(stream.body).dropLast().compactMap { try? JSONParser.parse(Array($0.utf8)) }
        for i in 0..<2 {
            let mine = chunks.compactMap { $0["choices"]?.array?.first }.filter { $0["index"]?.int == i }
            XCTAssertEqual(mine.first?["delta"]?["role"]?.string, "assistant", "choice \(i) starts with its role")
            XCTAssertEqual(mine.compactMap { $0["finish_reason"]?.string }, ["length"], "choice \(i) finishes once")
            XCTAssertEqual(mine.compactMap { $0["delta"]?["content"]?.string }.joined(), whole[i]["message"]?["content"]?.string)
        }
    }

    func testCompletionsWithSeveralChoicesAndStops() throws {
        let server = try startServer(parallel: 1)
        let reply = try request(server.port, "POST", "/v1/completions", json: #"{"model": "tiny", "prompt": "a cat", "max_tokens": 6, "n": 3, "seed": 2}"#)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = try XCTUnwrap(reply.json)
        XCTAssertEqual(json["object"]?.string, "text_completion")
        let choices = try XCTUnwrap(json["choices"]?.array)
        XCTAssertEqual(choices.map { $0["index"]?.int }, [0, 1, 2])
        XCTAssertEqual(json["usage"]?["completion_tokens"]?.int, 18)
        XCTAssertEqual(json["usage"]?["prompt_tokens"]?.int, 5)
        // Choice i is the request with seed + i alone.
        let third = try request(server.port, "POST", "/v1/completions", json: #"{"prompt": "a cat", "max_tokens": 6, "seed": 4}"#)
        XCTAssertEqual(third.json?["choices"]?.array?.first?["text"]?.string, choices[2]["text"]?.string)
        // A stop string cuts the text and says "stop".
        let text = try XCTUnwrap(choices[0]["text"]?.string)
        let stop = String(text.dropFirst(2).prefix(2))
        let stopped = try request(server.port, "POST", "/v1/completions", json: #"{"prompt": "a cat", "max_tokens": 6, "seed": 2, "stop": [\#(JSONValue.quote(stop))]}"#)
        let first = stopped.json?["choices"]?.array?.first
        XCTAssertEqual(first?["finish_reason"]?.string, "stop")
        XCTAssertEqual(first?["text"]?.string, String(text[..<text.range(of: stop)!.lowerBound]))
    }

    func testConcurrentRequestsGiveTheTokensOfSequentialOnes() throws {
        let server = try startServer(parallel: 3)
        XCTAssertTrue(server.scheduler.batches, "busy slots decode in one batched step")
        let seeds = Array(1...7)
        func body(_ seed: Int) -> String { #"{"messages": [{"role": "user", "content": "who are you?"}], "max_tokens": 12, "seed": \#(seed)}"# }
        let sequential = try seeds.map { try request(server.port, "POST", "/v1/chat/completions", json: body($0)).body }
        final class Box: @unchecked Sendable { var replies = [String](repeating: "", count: 7); let lock = NSLock() }
        let box = Box()
        let port = server.port
        DispatchQueue.concurrentPerform(iterations: seeds.count) { i in
            let r = try? self.request(port, "POST", "/v1/chat/completions", json: body(seeds[i]))
            box.lock.lock(); box.replies[i] = r?.body ?? ""; box.lock.unlock()
        }
        func content(_ s: String) -> String? { (try? JSONParser.parse(Array(s.utf8)))?["choices"]?.array?.first?["message"]?["content"]?.string }
        XCTAssertEqual(box.replies.map(content), sequential.map(content))
        XCTAssertTrue(sequential.allSatisfy { content($0) != nil })
        XCTAssertEqual(Set(sequential.map(content)).count, seeds.count, "different seeds, different replies")
    }

    func testDisconnectMidStreamFreesTheSlot() throws {
        let server = try startServer(parallel: 1)
        let fd = try connect(server.port)
        let body = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10000, "stream": true}"#
        write(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        var buffer = [UInt8](repeating: 0, count: 512)
        XCTAssertGreaterThan(recv(fd, &buffer, buffer.count, 0), 0, "the stream starts")
        let started = Date(timeIntervalSinceNow: 5)
        while server.scheduler.load.busy == 0 && Date() < started { usleep(1000) }
        // On a busy machine the tiny model may finish the whole window before this thread looks; the slot
        // must be free either way, and the next request must be served.
        XCTAssertLessThanOrEqual(server.scheduler.load.busy, 1, "one slot")
        close(fd)
        // The only slot frees long before the 200 or so tokens the window allows.
        let deadline = Date(timeIntervalSinceNow: 5)
        while server.scheduler.load.busy > 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(server.scheduler.load.busy, 0, "the slot is free")
        let next = try chat(server.port, #", "max_tokens": 3"#)
        XCTAssertEqual(next.status, 200)
    }

    func testAPIKey() throws {
        let server = try startServer(apiKey: "sekret")
        assertError(try request(server.port, "GET", "/v1/models"), status: 401)
        let wrong = try request(server.port, "GET", "/v1/models", headers: ["Authorization": "Bearer nope"])
        assertError(wrong, status: 401)
        XCTAssertEqual(wrong.json?["error"]?["code"]?.string, "invalid_api_key")
        assertError(try chat(server.port, ""), status: 401)
        XCTAssertEqual(try request(server.port, "GET", "/v1/models", headers: ["Authorization": "Bearer sekret"]).status, 200)
        XCTAssertEqual(try request(server.port, "GET", "/health").status, 200, "health needs no key")
    }

    func testMalformedRequestsAndLimits() throws {
        let server = try startServer { $0.limits.headerBytes = 1024; $0.limits.bodyBytes = 2048; $0.limits.readTimeout = 0.5 }
        let port = server.port
        assertError(try raw(port, "HELLO\r\n\r\n"), status: 400)
        assertError(try raw(port, "GET /health HTTP/1.1\r\nno colon here\r\n\r\n"), status: 400)
        assertError(try raw(port, "GET /health HTTP/2.0\r\n\r\n"), status: 505)
        assertError(try raw(port, "GET /health HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n"), status: 431)
        assertError(try raw(port, "POST /v1/completions HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"), status: 413)
        assertError(try raw(port, "POST /v1/completions HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"), status: 400)
        assertError(try raw(port, "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), status: 501)
        // A client that sends half a request and waits: 408 after the read timeout.
        assertError(try raw(port, "GET /health HTTP/1.1\r\nHost: x\r\n"), status: 408)
        assertError(try raw(port, "POST /v1/completions HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"prompt\""), status: 408)
        // The API's own refusals.
        assertError(try request(port, "POST", "/v1/completions", json: "{not json"), status: 400)
        assertError(try request(port, "POST", "/v1/completions", json: "[1, 2]"), status: 400)
        assertError(try request(port, "POST", "/v1/completions", json: #"{"prompt": "a", "colour": "red"}"#), status: 400, param: "colour")
        assertError(try request(port, "POST", "/v1/completions", json: #"{"max_tokens": 3}"#), status: 400, param: "prompt")
        assertError(try chat(port, #", "presence_penalty": 0.5"#), status: 400, param: "presence_penalty")
        assertError(try chat(port, #", "frequency_penalty": 1"#), status: 400, param: "frequency_penalty")
        assertError(try chat(port, #", "temperature": 3"#), status: 400, param: "temperature")
        assertError(try chat(port, #", "top_p": 0"#), status: 400, param: "top_p")
        assertError(try chat(port, #", "max_tokens": 0"#), status: 400, param: "max_tokens")
        assertError(try chat(port, #", "n": 99"#), status: 400, param: "n")
        assertError(try chat(port, #", "stop": [1]"#), status: 400, param: "stop")
        assertError(try chat(port, #", "stream_options": {"include_usage": true}"#), status: 400, param: "stream_options")
        assertError(try request(port, "POST", "/v1/chat/completions", json: #"{"messages": [{"role": "robot", "content": "x"}]}"#), status: 400,
                    param: "messages[0].role")
        assertError(try chat(port, "", message: String(repeating: "a", count: 300)), status: 400, param: "messages")
        // Zero penalties are what OpenAI sends by default: accepted. A huge max_tokens stops at the window.
        let huge = try chat(port, #", "presence_penalty": 0, "frequency_penalty": 0, "max_tokens": 100000000"#, message: String(repeating: "a", count: 200))
        XCTAssertEqual(huge.status, 200, huge.body)
        XCTAssertEqual(huge.json?["choices"]?.array?.first?["finish_reason"]?.string, "length")
        let used = (huge.json?["usage"]?["prompt_tokens"]?.int ?? 0) + (huge.json?["usage"]?["completion_tokens"]?.int ?? 0)
        XCTAssertEqual(used, 256, "prompt and reply fill the context window")
        // Expect: 100-continue is answered before the body is sent.
        let asking = try connect(port)
        let body = #"{"prompt": "a", "max_tokens": 2}"#
        write(asking, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        var interim = [UInt8](repeating: 0, count: 64)
        let n = recv(asking, &interim, interim.count, 0)
        XCTAssertEqual(String(decoding: interim.prefix(max(n, 0)), as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
        write(asking, body)
        XCTAssertEqual(parse(readAll(asking)).status, 200)
        close(asking)
        // After all that, the server still answers, on a keep-alive connection too.
        let fd = try connect(port)
        defer { close(fd) }
        write(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let both = String(decoding: readAll(fd), as: UTF8.self)
        XCTAssertEqual(both.components(separatedBy: "HTTP/1.1 200 OK").count, 3, both)
    }

    func testURLSessionClient() throws {
        let server = try startServer(apiKey: "k")
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/v1/chat/completions")!)
        request.httpMethod = "POST"
        request.setValue("Bearer k", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": true}"#.utf8)
        let done = expectation(description: "reply")
        final class Box: @unchecked Sendable { var status = 0; var body = "" }
        let box = Box()
        URLSession.shared.dataTask(with: request) { data, response, _ in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            box.body = String(decoding: data ?? Data(), as: UTF8.self)
            done.fulfill()
        }.resume()
        wait(for: [done], timeout: 20)
        XCTAssertEqual(box.status, 200)
        XCTAssertEqual(events(box.body).last, "[DONE]")
    }

    func testStopDrainsRequestsInFlight() throws {
        var settings = ServeSettings()
        settings.port = 0
        let server = try OpenAIServer(model: try servedModel(), settings: settings)
        server.start()
        let port = server.port
        final class Box: @unchecked Sendable { var reply: Reply? }
        let box = Box()
        let finished = expectation(description: "in-flight request")
        Thread {
            box.reply = try? self.chat(port, #", "max_tokens": 150"#)
            finished.fulfill()
        }.start()
        let deadline = Date(timeIntervalSinceNow: 5)
        while server.scheduler.load.busy == 0 && Date() < deadline { usleep(1000) }
        XCTAssertTrue(server.stop(drain: 30))
        wait(for: [finished], timeout: 30)
        XCTAssertEqual(box.reply?.status, 200)
        XCTAssertEqual(box.reply?.json?["usage"]?["completion_tokens"]?.int, 150)
        XCTAssertThrowsError(try connect(port), "no longer listening")
    }
}
