import Testing
import DrawbridgeHTTP

let small = HTTPLimits(maxRequestLineBytes: 32, maxHeaderBytes: 96, maxHeaderCount: 3)

/// Requests against the `small` limits: raw text → expected result (complete, needMore or error).
/// "GET /" + 18 × "a" + " HTTP/1.1" is a 32-byte request line.
let limitCases: [(String, ParseResult)] = [
    ("GET /" + String(repeating: "a", count: 18) + " HTTP/1.1\r\nHost: a\r\n\r\n", .complete),
    ("GET /" + String(repeating: "a", count: 19) + " HTTP/1.1\r\nHost: a\r\n\r\n", .error(.uriTooLong)),
    ("GET /" + String(repeating: "a", count: 27), .needMore),                 // 32 bytes, no CR yet
    ("GET /" + String(repeating: "a", count: 28), .error(.uriTooLong)),       // 33 bytes: fail before CRLF
    ("GET /" + String(repeating: "a", count: 200), .error(.uriTooLong)),
    ("\r\n\r\nGET /" + String(repeating: "a", count: 27), .needMore),         // leading CRLFs do not count
    // head of exactly 96 bytes: 16 (request line) + 9 (Host) + 69 (X) + 2 (final CRLF)
    ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 64) + "\r\n\r\n", .complete),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 65) + "\r\n\r\n", .error(.headersTooLarge)),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 100), .error(.headersTooLarge)), // no terminator yet
    ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n", .complete),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n", .error(.headersTooLarge)),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ", .error(.headersTooLarge)), // fourth field starts: fail now
    ("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .complete),
]

@Test("limits", arguments: limitCases)
func enforcesLimits(_ raw: String, _ expected: ParseResult) {
    let (result, _) = parseRequest(raw, limits: small)
    #expect(result == expected)
}

@Test func defaultLimits() {
    let limits = HTTPLimits()
    #expect(limits.maxRequestLineBytes == 8192)
    #expect(limits.maxHeaderBytes == 32768)
    #expect(limits.maxHeaderCount == 100)
    #expect(limits.maxChunkLineBytes == 1024)
    #expect(limits.maxTrailerBytes == 8192)
    let atLimit = "GET /" + String(repeating: "a", count: 8192 - 14) + " HTTP/1.1\r\nHost: a\r\n\r\n"
    #expect(parseRequest(atLimit).0 == .complete)
    let over = "GET /" + String(repeating: "a", count: 8192 - 13) + " HTTP/1.1\r\nHost: a\r\n\r\n"
    #expect(parseRequest(over).0 == .error(.uriTooLong))
    var many = "GET / HTTP/1.1\r\nHost: a\r\n"
    for i in 0..<99 { many += "X-\(i): v\r\n" }
    #expect(parseRequest(many + "\r\n").0 == .complete)
    #expect(parseRequest(many + "X-last: v\r\n\r\n").0 == .error(.headersTooLarge))
    let big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 32768) + "\r\n\r\n"
    #expect(parseRequest(big).0 == .error(.headersTooLarge))
}

@Test func errorStatuses() {
    #expect(HTTPError.badRequest("x").status == 400)
    #expect(HTTPError.uriTooLong.status == 414)
    #expect(HTTPError.headersTooLarge.status == 431)
    #expect(HTTPError.versionNotSupported.status == 505)
    #expect(HTTPError.badRequest("x").reason == "Bad Request")
    #expect(HTTPError.badRequest("x").detail == "x")
    #expect(HTTPError.headersTooLarge.reason == "Request Header Fields Too Large")
}
