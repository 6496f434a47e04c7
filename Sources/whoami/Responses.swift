import Glibc

/// Set once from `--name` before any connection thread starts.
nonisolated(unsafe) var upstreamName = "whoami"
/// Set once from `--log`: print "request: <request line>" for every head received, so tests can
/// prove that a rejected request never reached the upstream.
nonisolated(unsafe) var logRequests = false

/// What to do with a connection after a response.
enum Outcome {
    case keepGoing  // read the next (possibly pipelined) request
    case close      // close gracefully
    case done       // the socket is already closed
}

/// Serves requests on one connection until it closes, then closes the socket.
func serve(_ c: Connection) {
    while true {
        switch c.readHead() {
        case .closed:
            c.closeGracefully()
            return
        case .tooLarge:
            _ = c.write(errorResponse(431, "request head too large"))
            c.closeGracefully()
            return
        case .head(let bytes):
            if logRequests {
                let line = bytes.prefix { $0 != 13 && $0 != 10 }
                let text = "request: " + String(decoding: line, as: UTF8.self) + "\n"
                _ = text.withCString { fputs($0, stdout) }
                fflush(stdout)
            }
            let request: Request
            do {
                request = try parseRequest(bytes)
            } catch {
                let bad = error as? BadRequest ?? BadRequest(status: 400, reason: "bad request")
                _ = c.write(errorResponse(bad.status, bad.reason))
                c.closeGracefully()
                return
            }
            switch handle(request, c) {
            case .keepGoing: continue
            case .close: c.closeGracefully(); return
            case .done: return
            }
        }
    }
}

// MARK: - Endpoints

func handle(_ req: Request, _ c: Connection) -> Outcome {
    let path = req.path
    if path == "/reset" {
        c.reset()
        return .done
    }
    if path == "/ws" { return webSocket(req, c) }

    if req.framing != .none && req.expectsContinue {
        guard c.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .close }
    }
    var body = FNV1a64()
    guard c.readBody(req.framing, { body.update($0) }) else {
        // Early EOF or broken chunked framing; try to say so, then give up on the connection.
        _ = c.write(errorResponse(400, "incomplete or malformed body"))
        return .close
    }

    if path == "/upload" {
        var json = JSONWriter()
        json.raw("{\"bodyBytes\":\(body.count),\"bodySum\":\"\(body.value)\"}\n")
        return respond(c, req, 200, [("Content-Type", "application/json")], json.bytes)
    }
    if let n = number(path, "/bytes/") { return stream(c, req, n, .length) }
    if let n = number(path, "/chunked/") { return stream(c, req, n, req.isHTTP10 ? .close : .chunked) }
    if let n = number(path, "/close/") { return stream(c, req, n, .close) }
    if let ms = number(path, "/slow/") {
        var ts = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
        return echo(c, req, body)
    }
    if let code = number(path, "/status/") {
        guard code >= 200 && code <= 599 else { return badParameter(c, req, "status must be 200...599") }
        let status = Int(code)
        if status == 204 || status == 304 { return respond(c, req, status, [], []) }
        return respond(c, req, status, [("Content-Type", "text/plain")], Array("status \(status)\n".utf8))
    }
    if let n = number(path, "/headers-big/") {
        guard n <= 16 * 1024 * 1024 else { return badParameter(c, req, "at most 16 MiB") }
        let value = String(repeating: "x", count: Int(n))
        return respond(c, req, 200, [("X-Big", value), ("Content-Type", "text/plain")], Array("ok\n".utf8))
    }
    for prefix in ["/bytes/", "/chunked/", "/close/", "/slow/", "/status/", "/headers-big/"] where path.hasPrefix(prefix) {
        return badParameter(c, req, "expected \(prefix)<number>")
    }
    return echo(c, req, body)
}

/// The decimal number that follows `prefix` in `path`, if `path` is exactly that.
private func number(_ path: String, _ prefix: String) -> UInt64? {
    guard path.hasPrefix(prefix) else { return nil }
    let digits = path.dropFirst(prefix.count)
    guard !digits.isEmpty, digits.utf8.count <= 19, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
    return UInt64(digits)
}

private func badParameter(_ c: Connection, _ req: Request, _ message: String) -> Outcome {
    respond(c, req, 400, [("Content-Type", "text/plain")], Array("\(message)\n".utf8))
}

/// The default answer: the request as this upstream saw it, as JSON.
private func echo(_ c: Connection, _ req: Request, _ body: FNV1a64) -> Outcome {
    var json = JSONWriter()
    json.raw("{\"name\":"); json.string(upstreamName)
    json.raw(",\"method\":"); json.string(req.method)
    json.raw(",\"target\":"); json.string(req.target)
    json.raw(",\"version\":"); json.string(req.version)
    json.raw(",\"headers\":[")
    for (i, h) in req.headers.enumerated() {
        json.raw(i == 0 ? "[" : ",[")
        json.string(h.name); json.raw(","); json.string(h.value); json.raw("]")
    }
    json.raw("],\"bodyBytes\":\(body.count),\"bodySum\":\"\(body.value)\"}\n")
    return respond(c, req, 200, [("Content-Type", "application/json"), ("X-Upstream-Name", upstreamName)], json.bytes)
}

// MARK: - Streamed bodies

/// "0123456789abcdef" repeated over 64 KiB; every streamed write starts at a multiple of 16,
/// so byte i of any streamed body is pattern[i % 16].
let pattern: [UInt8] = {
    let unit = Array("0123456789abcdef".utf8)
    return (0..<(64 * 1024)).map { unit[$0 % 16] }
}()

enum StreamFraming { case length, chunked, close }

private func stream(_ c: Connection, _ req: Request, _ n: UInt64, _ framing: StreamFraming) -> Outcome {
    var headers = [("Content-Type", "application/octet-stream")]
    switch framing {
    case .length: headers.append(("Content-Length", "\(n)"))
    case .chunked: headers.append(("Transfer-Encoding", "chunked"))
    case .close: break
    }
    let keepAlive = req.keepAlive && framing != .close
    var out = responseHead(200, headers, keepAlive: keepAlive, http10: req.isHTTP10)
    if req.isHead { return c.write(out) && keepAlive ? .keepGoing : .close }

    let piece = framing == .chunked ? 16 * 1024 : 64 * 1024
    var left = n
    // The head goes out with the first piece, so small bodies take one write.
    repeat {
        let size = Int(min(left, UInt64(piece)))
        if framing == .chunked && size > 0 { out += Array("\(String(size, radix: 16))\r\n".utf8) }
        out += pattern[0..<size]
        if framing == .chunked {
            if size > 0 { out += [13, 10] }
            if UInt64(size) == left { out += Array("0\r\n\r\n".utf8) }
        }
        guard c.write(out) else { return .close }
        out.removeAll(keepingCapacity: true)
        left -= UInt64(size)
    } while left > 0
    return keepAlive ? .keepGoing : .close
}

// MARK: - Response heads

private let reasons: [Int: String] = [
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required",
    412: "Precondition Failed", 413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Content", 426: "Upgrade Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
]

/// Status line, the given fields, and the Connection field the request calls for.
func responseHead(_ status: Int, _ headers: [(String, String)], keepAlive: Bool, http10: Bool) -> [UInt8] {
    var s = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\n"
    for (name, value) in headers { s += "\(name): \(value)\r\n" }
    if !keepAlive {
        s += "Connection: close\r\n"
    } else if http10 {
        s += "Connection: keep-alive\r\n"
    }
    s += "\r\n"
    return Array(s.utf8)
}

/// A complete Content-Length-framed response (no body for HEAD, 204 and 304).
private func respond(_ c: Connection, _ req: Request, _ status: Int, _ headers: [(String, String)], _ body: [UInt8]) -> Outcome {
    let bodiless = status == 204 || status == 304
    var fields = headers
    if !bodiless { fields.append(("Content-Length", "\(body.count)")) }
    var out = responseHead(status, fields, keepAlive: req.keepAlive, http10: req.isHTTP10)
    if !bodiless && !req.isHead { out += body }
    return c.write(out) && req.keepAlive ? .keepGoing : .close
}

/// For requests that could not be parsed: always closes.
func errorResponse(_ status: Int, _ message: String) -> [UInt8] {
    let body = Array("\(message)\n".utf8)
    return responseHead(status, [("Content-Type", "text/plain"), ("Content-Length", "\(body.count)")],
                        keepAlive: false, http10: false) + body
}
