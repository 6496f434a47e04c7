/// A parsed request head, plus how its body is framed.
struct Request {
    enum Framing: Equatable {
        case none
        case length(UInt64)
        case chunked
    }

    var method: String
    var target: String
    var version: String  // "HTTP/1.0" or "HTTP/1.1"
    var headers: [(name: String, value: String)]
    var framing: Framing = .none
    /// Whether the connection may carry another request after this one.
    var keepAlive = true
    /// A request with both Transfer-Encoding and Content-Length is served, then the
    /// connection is closed (RFC 9112 section 6.1).
    var mustClose = false

    var isHTTP10: Bool { version == "HTTP/1.0" }
    var isHead: Bool { method == "HEAD" }

    /// The path of the target, without query; absolute-form targets are reduced to their path.
    var path: String {
        var t = Substring(target)
        if let scheme = t.firstRange(of: "://") {
            t = t[scheme.upperBound...]
            t = t.firstIndex(of: "/").map { t[$0...] } ?? "/"
        }
        if let q = t.firstIndex(where: { $0 == "?" || $0 == "#" }) { t = t[..<q] }
        return String(t)
    }

    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// Comma-separated tokens of every field with this name, lowercased.
    func tokens(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name.lowercased() == lower }.flatMap { field in
            field.value.split(separator: ",").map { trim(Substring($0)).lowercased() }
        }
    }

    var expectsContinue: Bool {
        !isHTTP10 && (header("Expect").map { $0.lowercased() == "100-continue" } ?? false)
    }
}

struct BadRequest: Error {
    let status: Int
    let reason: String
}

private let tokenChars: Set<UInt8> = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))

func trim(_ s: Substring) -> String {
    var t = s
    while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
    while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
    return String(t)
}

/// Parses the bytes returned by `Connection.readHead()`.
func parseRequest(_ head: [UInt8]) throws -> Request {
    var lines: [ArraySlice<UInt8>] = head.split(separator: 10, omittingEmptySubsequences: false)
    for i in lines.indices where lines[i].last == 13 { lines[i] = lines[i].dropLast() }
    if lines.last?.isEmpty == true { lines.removeLast() }
    guard let requestLine = lines.first else { throw BadRequest(status: 400, reason: "empty request") }

    let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
          parts[0].allSatisfy({ tokenChars.contains($0) }),
          parts[1].allSatisfy({ $0 > 32 && $0 < 127 })
    else { throw BadRequest(status: 400, reason: "malformed request line") }
    let version = String(decoding: parts[2], as: UTF8.self)
    guard version.hasPrefix("HTTP/") else { throw BadRequest(status: 400, reason: "malformed request line") }
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
        throw BadRequest(status: 505, reason: "unsupported HTTP version")
    }

    var request = Request(method: String(decoding: parts[0], as: UTF8.self),
                          target: String(decoding: parts[1], as: UTF8.self),
                          version: version, headers: [])
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: 58) else { throw BadRequest(status: 400, reason: "header without colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy({ tokenChars.contains($0) }) else {
            throw BadRequest(status: 400, reason: "invalid header name")  // also rejects obs-fold
        }
        let value = line[(colon + 1)...]
        guard !value.contains(where: { $0 == 0 || $0 == 13 || $0 == 10 }) else {
            throw BadRequest(status: 400, reason: "invalid header value")
        }
        request.headers.append((String(decoding: name, as: UTF8.self),
                                trim(Substring(String(decoding: value, as: UTF8.self)))))
    }

    // Body framing (RFC 9112 section 6.3).
    let transferCodings = request.tokens("Transfer-Encoding").filter { !$0.isEmpty }
    let lengths = request.headers.filter { $0.name.lowercased() == "content-length" }
        .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false).map { trim($0) } }
    if !transferCodings.isEmpty {
        guard !request.isHTTP10 else { throw BadRequest(status: 400, reason: "Transfer-Encoding in HTTP/1.0") }
        guard transferCodings.last == "chunked" else { throw BadRequest(status: 400, reason: "body not chunked") }
        guard transferCodings == ["chunked"] else { throw BadRequest(status: 501, reason: "unsupported transfer coding") }
        request.framing = .chunked
        if !lengths.isEmpty { request.mustClose = true }
    } else if let first = lengths.first {
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 19,
              first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = UInt64(first)
        else { throw BadRequest(status: 400, reason: "invalid Content-Length") }
        request.framing = n > 0 ? .length(n) : .none
    }

    let connection = request.tokens("Connection")
    if connection.contains("close") || request.mustClose {
        request.keepAlive = false
    } else if request.isHTTP10 {
        request.keepAlive = connection.contains("keep-alive")
    }
    return request
}

extension Connection {
    /// Reads the request body as framed, passing the decoded bytes to `sink`.
    /// False when the peer closed early or the chunked framing is broken.
    func readBody(_ framing: Request.Framing, _ sink: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
        switch framing {
        case .none:
            return true
        case .length(let n):
            return read(count: n, sink)
        case .chunked:
            while true {
                guard let line = readLine() else { return false }
                let sizeField = line.prefix { $0 != UInt8(ascii: ";") }
                let digits = trim(Substring(String(decoding: sizeField, as: UTF8.self)))
                guard !digits.isEmpty, digits.utf8.count <= 15,
                      digits.utf8.allSatisfy({ hexDigit($0) }), let size = UInt64(digits, radix: 16) else { return false }
                if size == 0 { break }
                guard read(count: size, sink), let crlf = readLine(), crlf.isEmpty else { return false }
            }
            while true {  // trailer section, ignored
                guard let line = readLine() else { return false }
                if line.isEmpty { return true }
            }
        }
    }
}

private func hexDigit(_ c: UInt8) -> Bool {
    (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
}
