import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP/1.1 server on the system's sockets: one thread accepts, one thread
/// per connection reads its requests (keep-alive, under `HTTPLimits`) and
/// hands each to the handler, which answers through the `HTTPConnection`.
/// `shutdown()` stops accepting; requests in flight finish (the drain), idle
/// connections close, and `wait()` returns once every connection is closed.
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = (HTTPRequest, HTTPConnection) -> Void

    public let port: Int
    let listener: Int32
    let wakeRead: Int32, wakeWrite: Int32
    let limits: HTTPLimits
    let maxConnections: Int
    let handler: Handler
    /// The response to a request the server itself refuses (malformed, too large, too slow, too many).
    let failure: (Int, String) -> HTTPResponse
    let state = NSCondition()
    var open = 0
    var stopping = false
    var acceptorRunning = false

    public init(host: String, port: Int, limits: HTTPLimits = HTTPLimits(), maxConnections: Int = 512,
                failure: @escaping (Int, String) -> HTTPResponse, handler: @escaping Handler) throws {
        (listener, self.port) = try Socket.listen(host: host, port: port)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            close(listener)
            throw ServeError("cannot make the server's wake-up pipe: \(String(cString: strerror(errno)))")
        }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
        self.limits = limits
        self.maxConnections = maxConnections
        self.failure = failure
        self.handler = handler
    }

    /// Starts accepting connections on a thread of its own.
    public func start() {
        state.lock(); acceptorRunning = true; state.unlock()
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "serve-accept"
        thread.start()
    }

    /// Stops accepting; in-flight requests finish, then their connections close.
    public func shutdown() {
        state.lock()
        let first = !stopping
        stopping = true
        state.unlock()
        if first { var byte: UInt8 = 1; _ = systemWrite(wakeWrite, &byte, 1) }
    }

    public var isStopping: Bool { state.lock(); defer { state.unlock() }; return stopping }

    /// Waits until the server has stopped accepting and every connection has closed,
    /// or `timeout` seconds pass; true if it drained.
    @discardableResult
    public func wait(timeout: Double = .infinity) -> Bool {
        let deadline = Date(timeIntervalSinceNow: min(timeout, 1e9))
        state.lock()
        defer { state.unlock() }
        while acceptorRunning || open > 0 {
            if !state.wait(until: deadline) { return false }
        }
        return true
    }

    /// Connections open now.
    public var openConnections: Int { state.lock(); defer { state.unlock() }; return open }

    func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            if isStopping || fds[1].revents != 0 { break }
            guard fds[0].revents != 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            Socket.prepare(fd)
            state.lock()
            let admitted = open < maxConnections
            if admitted { open += 1 }
            state.unlock()
            guard admitted else {
                reject(fd, status: 503, "the server has \(maxConnections) connections open; try again shortly")
                continue
            }
            let thread = Thread { [self] in
                serve(HTTPConnection(fd: fd, server: self))
                close(fd)
                state.lock(); open -= 1; state.broadcast(); state.unlock()
            }
            thread.name = "serve-connection"
            thread.stackSize = 1 << 20
            thread.start()
        }
        close(listener)
        state.lock(); acceptorRunning = false; state.broadcast(); state.unlock()
    }

    func reject(_ fd: Int32, status: Int, _ message: String) {
        let connection = HTTPConnection(fd: fd, server: self)
        connection.keepAlive = false
        connection.respond(failure(status, message))
        close(fd)
    }

    /// A connection's requests, one after another, until it closes, fails or the server stops.
    func serve(_ connection: HTTPConnection) {
        while !isStopping {
            let request: HTTPRequest
            do {
                guard let r = try connection.readRequest() else { return }
                request = r
            } catch let f as HTTPFailure {
                connection.keepAlive = false
                connection.respond(failure(f.status, f.message))
                return
            } catch { return }
            connection.begin(keepAlive: request.keepsAlive)
            handler(request, connection)
            if !connection.responded { connection.respond(failure(500, "the handler gave no response")) }
            if !connection.keepAlive || connection.broken { return }
        }
    }
}

/// One client connection, as a handler answers through it: a whole response,
/// or a stream (chunked transfer encoding) written as it is produced.
public final class HTTPConnection {
    let fd: Int32
    unowned let server: HTTPServer
    var buffer: [UInt8] = []
    var keepAlive = true
    private(set) var responded = false
    private(set) var streaming = false
    /// A write failed: the peer is gone.
    public private(set) var broken = false

    init(fd: Int32, server: HTTPServer) {
        self.fd = fd
        self.server = server
    }

    func begin(keepAlive: Bool) {
        self.keepAlive = keepAlive
        responded = false
        streaming = false
    }

    /// The next request, nil when the peer closes (or stays idle past the timeout, or the server stops) between requests.
    func readRequest() throws -> HTTPRequest? {
        let limits = server.limits
        var deadline: Date? = buffer.isEmpty ? nil : Date(timeIntervalSinceNow: limits.readTimeout)
        let idleUntil = Date(timeIntervalSinceNow: limits.readTimeout)
        var head: (request: HTTPRequest, bodyLength: Int)?
        var headEnd = 0
        var continued = false
        while true {
            if head == nil, let end = headTerminator() {
                guard end <= limits.headerBytes else { throw HTTPFailure(status: 431, message: "the request head is over \(limits.headerBytes) bytes") }
                head = try parseRequestHead(buffer[0..<end], limits: limits)
                headEnd = end + 4
            }
            if head == nil && buffer.count > limits.headerBytes + 3 {
                throw HTTPFailure(status: 431, message: "the request head is over \(limits.headerBytes) bytes")
            }
            if let (request, length) = head, buffer.count >= headEnd + length {
                var r = request
                r.body = Array(buffer[headEnd..<(headEnd + length)])
                buffer.removeSubrange(0..<(headEnd + length))
                return r
            }
            // A client that asks (curl does for bodies over 1 KiB) is told to send the body now.
            if let (request, length) = head, length > 0, !continued, request.header("expect")?.lowercased() == "100-continue" {
                continued = true
                send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            // Wait for more bytes, in slices so that a stopping server closes idle connections.
            let limit = deadline ?? idleUntil
            let left = limit.timeIntervalSinceNow
            if left <= 0 {
                if deadline == nil { return nil }
                throw HTTPFailure(status: 408, message: "the request did not arrive within \(limits.readTimeout) s")
            }
            if deadline == nil && server.isStopping { return nil }
            guard Socket.waitReadable(fd, milliseconds: Int(min(left, 0.25) * 1000) + 1) else { continue }
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard n > 0 else {
                if buffer.isEmpty { return nil }
                throw HTTPFailure(status: 400, message: "the connection closed in the middle of a request")
            }
            if deadline == nil { deadline = Date(timeIntervalSinceNow: limits.readTimeout) }
            buffer += chunk[0..<n]
        }
    }

    /// The index of the blank line ending the head, if it has arrived.
    func headTerminator() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// Sends a whole response.
    public func respond(_ response: HTTPResponse) {
        guard !responded else { return }
        responded = true
        let headers = response.headers + [("Content-Length", String(response.body.count))]
        let bytes = HTTPStatus.head(response.status, headers: headers, keepAlive: keepAlive) + response.body
        send(bytes)
    }

    /// Starts a streamed response (chunked); false if the peer is gone.
    @discardableResult
    public func startStream(status: Int, contentType: String, headers: [(String, String)] = []) -> Bool {
        guard !responded else { return false }
        responded = true
        streaming = true
        let all = [("Content-Type", contentType), ("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")] + headers
        return send(HTTPStatus.head(status, headers: all, keepAlive: keepAlive))
    }

    /// Sends one piece of a streamed response; false if the peer is gone.
    @discardableResult
    public func send(chunk: [UInt8]) -> Bool {
        guard streaming, !chunk.isEmpty else { return !broken }
        return send(Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10])
    }

    /// Ends a streamed response.
    public func endStream() {
        guard streaming else { return }
        streaming = false
        send(Array("0\r\n\r\n".utf8))
    }

    /// True when the peer has closed the connection (or a write to it failed).
    public var peerClosed: Bool {
        if broken { return true }
        if Socket.peerClosed(fd) { broken = true }
        return broken
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard !broken else { return false }
        if !bytes.withUnsafeBytes({ Socket.write(fd, $0) }) { broken = true }
        return !broken
    }
}

@inline(__always) func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
