import Testing
import DrawbridgeHTTP

/// What a valid response must parse to; every property is checked for every case.
struct ValidResponse: Sendable, CustomTestStringConvertible {
    var raw: String
    var head = false           // the request was HEAD
    var status = 200
    var reason = "OK"
    var version = HTTPVersion.http11
    var framing = ResponseFraming.untilClose
    var keepAlive = false
    var bodyAnnounced = false
    var testDescription: String { raw.debugDescription }
}

let validResponses: [ValidResponse] = [
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", framing: .contentLength(5), keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", framing: .contentLength(5)),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n", framing: .contentLength(5), keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", framing: .chunked, keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", framing: .chunked, keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\n\r\n"),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", head: true, framing: .none, keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true, framing: .none, keepAlive: true, bodyAnnounced: true),
    ValidResponse(raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head: true, framing: .none, keepAlive: true, bodyAnnounced: true),
    ValidResponse(raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, reason: "No Content", framing: .none, keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", status: 204, reason: "No Content", framing: .none, keepAlive: true, bodyAnnounced: true),
    ValidResponse(raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", status: 304, reason: "Not Modified", framing: .none, keepAlive: true, bodyAnnounced: true),
    ValidResponse(raw: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", status: 304, reason: "Not Modified", framing: .none, keepAlive: true, bodyAnnounced: true),
    ValidResponse(raw: "HTTP/1.1 100 Continue\r\n\r\n", status: 100, reason: "Continue", framing: .none, keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", status: 101, reason: "Switching Protocols", framing: .none),
    ValidResponse(raw: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", version: .http10, framing: .contentLength(1)),
    ValidResponse(raw: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", version: .http10, framing: .contentLength(1), keepAlive: true),
    ValidResponse(raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", version: .http10),
    ValidResponse(raw: "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", status: 404, reason: "", framing: .contentLength(0), keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", status: 404, reason: "", framing: .contentLength(0), keepAlive: true),
    ValidResponse(raw: "HTTP/1.1 599 Odd \u{E9}\tReason\r\nContent-Length: 0\r\n\r\n", status: 599, reason: "Odd \u{E9}\tReason", framing: .contentLength(0), keepAlive: true),
]

@Test("valid responses", arguments: validResponses)
func parsesValidResponse(_ c: ValidResponse) {
    let (result, head) = parseResponse(c.raw, requestWasHEAD: c.head)
    #expect(result == .complete)
    guard result == .complete else { return }
    #expect(head.headLength == c.raw.utf8.count)
    #expect(head.status == c.status)
    #expect(head.text(head.reasonPhrase) == c.reason)
    #expect(head.version == c.version)
    #expect(head.framing == c.framing)
    #expect(head.keepAlive == c.keepAlive)
    #expect(head.bodyAnnounced == c.bodyAnnounced)
}

@Test("every proper prefix of a valid response needs more", arguments: validResponses)
func responsePrefixesNeedMore(_ c: ValidResponse) {
    let input = Array(c.raw.utf8)
    var parser = ResponseHeadParser()
    var head = ResponseHead()
    for n in 0..<input.count {
        let r = input[0..<n].withUnsafeBytes { parser.parse($0, requestWasHEAD: c.head, into: &head) }
        #expect(r == .needMore, "prefix \(n)")
    }
    #expect(input.withUnsafeBytes { parser.parse($0, requestWasHEAD: c.head, into: &head) } == .complete)
}

/// Malformed or dangerous upstream responses: raw text → the exact rejection (the gateway answers 502).
let badResponses: [(String, HTTPError)] = [
    ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", bad("Content-Length with Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", bad("Content-Length with Transfer-Encoding")),
    // Issue 19: one Transfer-Encoding field, exactly "chunked" (as nginx); anything else is framing
    // that the gateway and the client (or the next hop) could read differently.
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n", bad("multiple Transfer-Encoding fields")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", bad("multiple Transfer-Encoding fields")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n", bad("unsupported Transfer-Encoding")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 6\r\n\r\n", bad("conflicting Content-Length values")),
    ("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", bad("malformed Content-Length")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", bad("malformed Content-Length")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", bad("malformed Content-Length")),
    ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", bad("Transfer-Encoding in HTTP/1.0")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", bad("conflicting Content-Length values")),
    ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", bad("malformed Content-Length")),
    ("HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n", bad("malformed Content-Length")),
    ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", bad("bare LF")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", bad("bare LF")),
    ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", bad("bare LF")),
    ("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", bad("bare CR")),
    ("HTTP/1.1 200 OK\r\nX: a\u{0}\r\n\r\n", bad("NUL byte in head")),
    ("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", bad("obs-fold line folding")),
    ("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", bad("whitespace before colon")),
    ("HTTP/1.1 200 OK\r\nX: \u{01}\r\n\r\n", bad("invalid character in field value")),
    ("HTTP/1.1 200 O\u{7F}K\r\n\r\n", bad("invalid character in reason phrase")),
    ("HTTP/1.1 20 OK\r\n\r\n", bad("malformed status line")),
    ("HTTP/1.1 2000 OK\r\n\r\n", bad("malformed status line")),
    ("HTTP/1.1 2x0 OK\r\n\r\n", bad("malformed status line")),
    ("HTTP/1.1  200 OK\r\n\r\n", bad("malformed status line")),
    ("HTTP/1.1 099 Low\r\n\r\n", bad("status code out of range")),
    ("HTTP/1.1 600 High\r\n\r\n", bad("status code out of range")),
    ("HTTP/2.0 200 OK\r\n\r\n", .versionNotSupported),
    ("http/1.1 200 OK\r\n\r\n", bad("malformed HTTP version")),
    ("\r\nHTTP/1.1 200 OK\r\n\r\n", bad("malformed HTTP version")),
    ("HTTP/1.1 200 OK\r\nConnection: a b\r\n\r\n", bad("invalid Connection option")),
]

@Test("bad upstream responses are rejected", arguments: badResponses)
func rejectsBadResponse(_ raw: String, _ expected: HTTPError) {
    #expect(parseResponse(raw).0 == .error(expected))
}

@Test func responseLimits() {
    let limits = HTTPLimits(maxRequestLineBytes: 16, maxHeaderBytes: 64, maxHeaderCount: 2)
    #expect(parseResponse("HTTP/1.1 200 OKK\r\n\r\n", limits: limits).0 == .complete)      // 16-byte status line
    #expect(parseResponse("HTTP/1.1 200 OKKK", limits: limits).0 == .error(.headersTooLarge))
    #expect(parseResponse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC", limits: limits).0 == .error(.headersTooLarge))
    #expect(parseResponse("HTTP/1.1 200 OK\r\nA: " + String(repeating: "x", count: 60), limits: limits).0 == .error(.headersTooLarge))
}

@Test func responseConnectionNamedFieldsAndPipelining() {
    let first = "HTTP/1.1 100 Continue\r\n\r\n"
    let second = "HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: s\r\nContent-Length: 2\r\n\r\nok"
    let input = Array((first + second).utf8)
    var parser = ResponseHeadParser()
    var head = ResponseHead()
    #expect(input.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) } == .complete)
    #expect(head.status == 100)
    #expect(head.headLength == first.utf8.count)
    let rest = Array(input[head.headLength...])
    #expect(rest.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) } == .complete)
    #expect(head.status == 200)
    #expect(head.fields.map(\.kind) == [.connection, .namedInConnection, .contentLength])
    #expect(head.fieldValue(named: "x-secret").map { head.text($0) } == "s")
    #expect(Array(rest[head.headLength...]) == Array("ok".utf8))
}
