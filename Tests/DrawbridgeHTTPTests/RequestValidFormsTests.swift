import Testing
import DrawbridgeHTTP

/// What a valid request must parse to. Defaults describe "GET / HTTP/1.1, Host: a"; each case overrides what differs,
/// and every property is checked for every case.
struct Valid: Sendable, CustomTestStringConvertible {
    var raw: String
    var method = "GET"
    var target = "/"
    var authority: String? = nil
    var host: String? = "a"
    var version = HTTPVersion.http11
    var framing = BodyFraming.none
    var keepAlive = true
    var expectContinue = false
    var webSocket = false
    var leading = 0
    var testDescription: String { raw.debugDescription }
}

let validCases: [Valid] = [
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", keepAlive: false),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", keepAlive: false),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, foo ,\r\n\r\n"),
    Valid(raw: "GET /a/b?x=1&y=%20 HTTP/1.1\r\nhOsT:  a \t\r\n\r\n", target: "/a/b?x=1&y=%20"),
    Valid(raw: "GET /'\"<>[]{}|\\^`~ HTTP/1.1\r\nHost: a\r\n\r\n", target: "/'\"<>[]{}|\\^`~"),
    Valid(raw: "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", method: "POST", target: "/up", framing: .contentLength(5)),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", method: "POST", framing: .contentLength(0)),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n", method: "POST", framing: .contentLength(5)),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 123456789012345678\r\n\r\n", method: "POST", framing: .contentLength(123456789012345678)),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", framing: .chunked),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\t CHUNKED \r\n\r\n", method: "POST", framing: .chunked),
    Valid(raw: "GET / HTTP/1.0\r\n\r\n", host: nil, version: .http10, keepAlive: false),
    Valid(raw: "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", version: .http10),
    Valid(raw: "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", method: "POST", host: nil, version: .http10, framing: .contentLength(3), keepAlive: false),
    Valid(raw: "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", target: "/p?q", authority: "example.com:8080", host: "example.com:8080"),
    Valid(raw: "GET HTTPS://Example.COM HTTP/1.1\r\nHost: a\r\n\r\n", authority: "Example.COM"),
    Valid(raw: "GET http://[::1]:80/ HTTP/1.1\r\nHost: a\r\n\r\n", authority: "[::1]:80"),
    Valid(raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: "OPTIONS", target: "*"),
    Valid(raw: "OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", method: "OPTIONS"),
    Valid(raw: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", leading: 1),
    Valid(raw: "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", leading: 4),
    Valid(raw: "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", target: "/ws", webSocket: true),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade\r\nUpgrade: h2c, WebSocket/13\r\n\r\n", webSocket: true),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websockets\r\n\r\n"),
    Valid(raw: "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", method: "POST"),
    Valid(raw: "GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", version: .http10, keepAlive: false),
    Valid(raw: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n", method: "PUT", framing: .contentLength(9), expectContinue: true),
    Valid(raw: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", method: "PUT", host: nil, version: .http10, framing: .contentLength(9), keepAlive: false),
    Valid(raw: "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", method: "HEAD"),
    Valid(raw: "M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n", method: "M-SEARCH!"),
    Valid(raw: String(repeating: "M", count: 32) + " / HTTP/1.1\r\nHost: a\r\n\r\n", method: String(repeating: "M", count: 32)),
    Valid(raw: "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n", host: "[2001:db8::1]:8443"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", host: "127.0.0.1:1"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a.b-c_d~:65535\r\n\r\n", host: "a.b-c_d~:65535"),
    Valid(raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Text: caf\u{E9} \"q\"\r\n\r\n"),
]

@Test("valid requests", arguments: validCases)
func parsesValid(_ c: Valid) {
    let (result, head) = parseRequest(c.raw)
    #expect(result == .complete)
    guard result == .complete else { return }
    #expect(head.headLength == c.raw.utf8.count)
    #expect(head.bytes.count == c.raw.utf8.count - 2 * c.leading)
    #expect(head.text(head.method) == c.method)
    #expect(head.text(head.target) == c.target)
    #expect(head.text(head.absoluteAuthority) == c.authority)
    #expect(head.text(head.host) == c.host)
    #expect(head.version == c.version)
    #expect(head.framing == c.framing)
    #expect(head.keepAlive == c.keepAlive)
    #expect(head.expectContinue == c.expectContinue)
    #expect(head.isWebSocketUpgrade == c.webSocket)
    #expect(head.isHEAD == (c.method == "HEAD"))
}

@Test("every proper prefix of a valid request needs more", arguments: validCases)
func prefixesNeedMore(_ c: Valid) {
    let input = Array(c.raw.utf8)
    var grown = RequestHeadParser()  // one parser fed the growing buffer, as a connection does
    var head = RequestHead()
    for n in 0..<input.count {
        let fresh = parseRequest(Array(input[0..<n])).0
        #expect(fresh == .needMore, "fresh parser, prefix \(n)")
        let incremental = input[0..<n].withUnsafeBytes { grown.parse($0, into: &head) }
        #expect(incremental == .needMore, "incremental parser, prefix \(n)")
    }
    let last = input.withUnsafeBytes { grown.parse($0, into: &head) }
    #expect(last == .complete)
    #expect(head.headLength == input.count)
}

@Test func pipelinedRequestsInOneBuffer() {
    let first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
    let second = "POST /two HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhi"
    let input = Array((first + second).utf8)
    var parser = RequestHeadParser()
    var head = RequestHead()
    let r1 = input.withUnsafeBytes { parser.parse($0, into: &head) }
    #expect(r1 == .complete)
    #expect(head.headLength == first.utf8.count)
    #expect(head.text(head.target) == "/one")
    let rest = Array(input[head.headLength...])
    let r2 = rest.withUnsafeBytes { parser.parse($0, into: &head) }
    #expect(r2 == .complete)
    #expect(head.text(head.target) == "/two")
    #expect(head.text(head.host) == "b")
    #expect(head.fields.count == 2)
    #expect(head.framing == .contentLength(2))
    #expect(Array(rest[head.headLength...]) == Array("hi".utf8))
}

@Test func fieldsAreClassifiedAndConnectionNamedFieldsMarked() {
    let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-foo, Content-Length ,HOST, te, x-forwarded-for\r\n"
        + "X-Foo: 1\r\nContent-Length: 0\r\nTE: trailers\r\nX-Forwarded-For: 1.2.3.4\r\nX-Request-Id: r\r\nX-Bar: 2\r\n\r\n"
    let (result, head) = parseRequest(raw)
    #expect(result == .complete)
    let kinds = head.fields.map { (head.text($0.name)!, $0.kind) }
    #expect(kinds.map(\.0) == ["Host", "Connection", "X-Foo", "Content-Length", "TE", "X-Forwarded-For", "X-Request-Id", "X-Bar"])
    #expect(kinds.map(\.1) == [.host, .connection, .namedInConnection, .contentLength, .namedInConnection,
                               .namedInConnection, .requestId, .other])
    #expect(head.text(head.fieldValue(named: "x-foo")) == "1")
    #expect(head.text(head.fieldValue(named: "connection")) == "x-foo, Content-Length ,HOST, te, x-forwarded-for")
    #expect(head.fieldValue(named: "x-missing") == nil)
}

/// Field name → kind, one line per name.
let kindCases: [(String, FieldKind)] = [
    ("Host", .host), ("content-length", .contentLength), ("Transfer-Encoding", .transferEncoding),
    ("CONNECTION", .connection), ("Keep-Alive", .hopByHop), ("Proxy-Connection", .hopByHop), ("TE", .hopByHop),
    ("Trailer", .hopByHop), ("Upgrade", .hopByHop), ("Proxy-Authenticate", .hopByHop),
    ("Proxy-Authorization", .hopByHop), ("Expect", .expect), ("Forwarded", .forwarded),
    ("X-Forwarded-For", .forwarded), ("X-Forwarded-Proto", .forwarded), ("X-Forwarded-Host", .forwarded),
    ("X-Forwarded-Port", .forwarded), ("X-Real-IP", .forwarded), ("X-Request-ID", .requestId),
    ("Hosts", .other), ("Content-Type", .other), ("X-Forwarded-Fo", .other), ("Upgrades", .other), ("T", .other),
]

@Test("field kinds", arguments: kindCases)
func classifiesField(_ name: String, _ kind: FieldKind) {
    let values = ["expect": "100-continue", "content-length": "0", "transfer-encoding": "chunked"]
    let expectValue = values[name.lowercased()] ?? "v"
    let raw = name.lowercased() == "host" ? "GET / HTTP/1.1\r\n\(name): a\r\n\r\n"
        : "GET / HTTP/1.1\r\nHost: a\r\n\(name): \(expectValue)\r\n\r\n"
    let (result, head) = parseRequest(raw)
    #expect(result == .complete)
    #expect(head.fields.last?.kind == kind)
}

@Test func reusedHeadKeepsCapacityAndForgetsOldRequest() {
    var parser = RequestHeadParser()
    var head = RequestHead()
    let big = Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nX: 1\r\nY: 2\r\n\r\n".utf8)
    #expect(big.withUnsafeBytes { parser.parse($0, into: &head) } == .complete)
    let bytesCapacity = head.bytes.capacity, fieldsCapacity = head.fields.capacity
    let small = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    #expect(small.withUnsafeBytes { parser.parse($0, into: &head) } == .complete)
    #expect(head.bytes.capacity == bytesCapacity)
    #expect(head.fields.capacity == fieldsCapacity)
    #expect(head.fields.isEmpty)
    #expect(head.host == nil)
    #expect(head.framing == .none)
    #expect(head.slice(head.method) == Array("GET".utf8)[...])
}
