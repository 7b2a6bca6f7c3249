import Foundation

/// One HTTP/1.1 request as the server reads it (RFC 9112): the request line,
/// the header fields (names lowercased), and a body of Content-Length bytes.
public struct HTTPRequest {
    public var method: String
    /// The request target without its query.
    public var path: String
    public var version: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let key = name.lowercased()
        return headers.first { $0.name == key }?.value
    }

    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepsAlive: Bool {
        let connection = header("connection")?.lowercased() ?? ""
        if version == "HTTP/1.0" { return connection.contains("keep-alive") }
        return !connection.contains("close")
    }
}

/// A request the server answers with an error status instead of a handler's response.
struct HTTPFailure: Error {
    let status: Int
    let message: String
}

/// The limits a request is read under.
public struct HTTPLimits: Sendable {
    /// Request line and header fields together, in bytes (431 beyond).
    public var headerBytes = 16 * 1024
    /// Body, in bytes (413 beyond).
    public var bodyBytes = 4 * 1024 * 1024
    /// How long one request may take to arrive, from its first byte (408 beyond),
    /// and how long an idle keep-alive connection is kept.
    public var readTimeout: Double = 30
    public init() {}
}

/// Parses a request's head (request line and header fields, without the
/// blank line that ends it). Throws 400 for anything malformed, 501 for a
/// body framing this server does not read (Transfer-Encoding), 505 for a
/// version other than 1.0/1.1, 413 for a declared body over the limit.
func parseRequestHead(_ head: ArraySlice<UInt8>, limits: HTTPLimits) throws -> (request: HTTPRequest, bodyLength: Int) {
    guard let text = String(bytes: head, encoding: .utf8) else { throw HTTPFailure(status: 400, message: "the request head is not UTF-8 text") }
    var lines = text.components(separatedBy: "\r\n")
    let requestLine = lines.removeFirst()
    let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter && $0.isUppercase }), parts[1].hasPrefix("/") || parts[1] == "*" else {
        throw HTTPFailure(status: 400, message: "malformed request line '\(requestLine.prefix(80))'; expected METHOD /path HTTP/1.1")
    }
    let version = String(parts[2])
    guard version.hasPrefix("HTTP/") else { throw HTTPFailure(status: 400, message: "malformed request line: no HTTP version") }
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
        throw HTTPFailure(status: 505, message: "HTTP version \(version) is not supported; this server speaks HTTP/1.1")
    }
    var headers: [(name: String, value: String)] = []
    for line in lines {
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
              !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) else {
            throw HTTPFailure(status: 400, message: "malformed header field '\(line.prefix(80))'")
        }
        headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    let target = String(parts[1])
    let path = String(target.prefix(while: { $0 != "?" }))
    let request = HTTPRequest(method: String(parts[0]), path: path, version: version, headers: headers, body: [])
    if request.header("transfer-encoding") != nil {
        throw HTTPFailure(status: 501, message: "request bodies with Transfer-Encoding are not supported; send Content-Length")
    }
    let lengths = headers.filter { $0.name == "content-length" }.map(\.value)
    guard Set(lengths).count <= 1 else { throw HTTPFailure(status: 400, message: "conflicting Content-Length headers") }
    var bodyLength = 0
    if let value = lengths.first {
        guard !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(value) else {
            throw HTTPFailure(status: 400, message: "Content-Length must be a decimal integer, got '\(value.prefix(40))'")
        }
        guard n <= limits.bodyBytes else {
            throw HTTPFailure(status: 413, message: "the request body is \(n) bytes; this server takes at most \(limits.bodyBytes)")
        }
        bodyLength = n
    }
    return (request, bodyLength)
}

/// A response with a complete body.
public struct HTTPResponse {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.headers = [("Content-Type", contentType)] + headers
        self.body = body
    }

    public init(status: Int, json: String, headers: [(String, String)] = []) {
        self.init(status: status, contentType: "application/json", body: Array(json.utf8), headers: headers)
    }
}

enum HTTPStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }

    static func head(_ status: Int, headers: [(String, String)], keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        return Array(text.utf8)
    }
}
