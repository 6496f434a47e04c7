import DrawbridgeDecision

/// Every response the gateway makes itself (400, 401, 403, 404, 408, 413, 414, 431, 500, 502,
/// 503, 504, the sign-in pages and redirects) goes through `write`: one writer, one close rule
/// (`ClientExchange.closesAfterResponse`). Each carries HSTS and the request id (header, and in
/// the body of every error); errors are content-negotiated like 401 and 403 (JSON for API
/// clients, a page for browsers); all carry `Cache-Control: no-store` (`LocalResponse`): they
/// name one request, and those that hold identity (sign-in pages, 401, 403) must not be kept.
enum GatewayResponse {
    static func reason(_ code: Int) -> StaticString {
        switch code {
        case 200: return "OK"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    static let errorStatuses = [400, 404, 405, 408, 411, 413, 414, 421, 431, 500, 501, 502, 503, 504, 505]

    /// What went wrong, in words, for the page. Fixed text only: nothing of the request is
    /// echoed (a malformed request gets a page that says so, never its bytes).
    static func explanation(_ code: Int) -> String {
        switch code {
        case 400: return "The request could not be understood."
        case 404: return "There is nothing at this address."
        case 405: return "This address does not accept that method."
        case 408: return "The request did not arrive in time."
        case 411: return "The request must state its length."
        case 413: return "The request is too large."
        case 414: return "The address is too long."
        case 421: return "This server does not serve that name on this connection."
        case 431: return "The request's header fields are too large."
        case 500: return "Something went wrong in the gateway."
        case 501: return "The gateway does not support that method."
        case 502: return "The service behind this address did not answer properly. Try again in a moment."
        case 503: return "The service behind this address is not available right now. Try again in a moment."
        case 504: return "The service behind this address took too long to answer. Try again in a moment."
        case 505: return "That HTTP version is not supported."
        default: return "The request failed."
        }
    }

    /// `withId`: the page and the document carry the request id (not on the plain-HTTP listener, which has none).
    private static func make(_ code: Int, json: Bool, withId: Bool = true) -> LocalResponse {
        let text = "\(reason(code))"
        if json {
            let name = String(text.lowercased().map { $0 == " " ? "_" : $0 })
            return .jsonError(code, name, message: explanation(code))
        }
        return .html(code, LoginPages.message("\(code) \(text)", explanation(code), link: nil, requestId: withId))
    }

    private static let pages: [Int: LocalResponse] = Dictionary(uniqueKeysWithValues: errorStatuses.map { ($0, make($0, json: false)) })
    private static let documents: [Int: LocalResponse] = Dictionary(uniqueKeysWithValues: errorStatuses.map { ($0, make($0, json: true)) })

    /// An error the gateway answers itself: JSON for an API client, a page for a browser; each
    /// with the request id, not cached (`no-store`: it names one request).
    static func error(_ code: Int, json: Bool) -> LocalResponse {
        (json ? documents[code] : pages[code]) ?? make(code, json: json)
    }

    /// The body's length as written: with the request id where it has a slot.
    @inline(__always) static func bodyLength(_ r: LocalResponse, requestId: [UInt8]) -> Int {
        r.body.count + (r.requestIdAt == nil ? 0 : requestId.count)
    }

    /// Writes `r` with its framing, HSTS (every TLS response) and the request id. `headOnly`: the
    /// request was HEAD (no body, its length stated). `close`: the exchange's close rule said so.
    /// false: the buffer has no room (the caller closes).
    static func write(_ r: LocalResponse, to ob: IOBuffer, headOnly: Bool, hsts: [UInt8], requestId: [UInt8], close: Bool) -> Bool {
        var headerBytes = 0
        for (k, v) in r.headers { headerBytes += k.utf8.count + v.utf8.count + 4 }
        let length = bodyLength(r, requestId: requestId)
        guard ob.reserve(hsts.count + headerBytes + length + 256) else { return false }
        ob.append("HTTP/1.1 ")
        ob.appendDecimal(UInt64(r.status))
        ob.append(byte: 32)
        ob.append(reason(r.status))
        ob.append("\r\n")
        for (k, v) in r.headers { ob.append(k); ob.append(": "); ob.append(v); ob.append("\r\n") }
        ob.append("Content-Length: ")
        ob.appendDecimal(UInt64(length))
        ob.append("\r\n")
        hsts.withUnsafeBytes { ob.append($0) }
        if !requestId.isEmpty { ob.append("X-Request-Id: "); requestId.withUnsafeBytes { ob.append($0) }; ob.append("\r\n") }
        if close { ob.append("Connection: close\r\n") }
        ob.append("\r\n")
        if !headOnly {
            if let at = r.requestIdAt {
                r.body.withUnsafeBytes { b in
                    ob.append(UnsafeRawBufferPointer(rebasing: b[..<at]))
                    if !requestId.isEmpty { requestId.withUnsafeBytes { ob.append($0) } }
                    ob.append(UnsafeRawBufferPointer(rebasing: b[at...]))
                }
            } else {
                ob.append(r.body)
            }
        }
        return true
    }

    /// The error page as bytes, for the plain-HTTP redirect listener (no TLS: no HSTS, no request
    /// id; always closes).
    static func plain(_ code: Int) -> [UInt8] {
        plainResponses[code] ?? plainBytes(code)
    }

    private static let plainResponses: [Int: [UInt8]] = Dictionary(uniqueKeysWithValues: errorStatuses.map { ($0, plainBytes($0)) })

    private static func plainBytes(_ code: Int) -> [UInt8] {
        let r = make(code, json: false, withId: false)
        let ob = IOBuffer(capacity: r.body.count + 2048)
        _ = write(r, to: ob, headOnly: false, hsts: [], requestId: [], close: true)
        return Array(ob.readableBytes)
    }
}
