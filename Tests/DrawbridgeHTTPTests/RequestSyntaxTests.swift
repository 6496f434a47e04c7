import Testing
import DrawbridgeHTTP

/// Malformed syntax: each line is a raw request and the exact rejection.
let malformedCases: [(String, HTTPError)] = [
    ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", bad("empty request-target")),
    ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    (" GET / HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid method")),
    ("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", bad("malformed request line")),
    ("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", bad("malformed request line")),
    ("GET\t/ x HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid method")),
    ("GET /\r\n\r\n", bad("malformed request line")),
    ("GET\r\n\r\n", bad("malformed request line")),
    ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET / http/1.1\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET / HTTP/11\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET / HTTP/1.\r\nHost: a\r\n\r\n", bad("malformed HTTP version")),
    ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .versionNotSupported),
    ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", .versionNotSupported),
    ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", .versionNotSupported),
    ("GET / HTTP/3.0\r\n\r\n", .versionNotSupported),
    ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid method")),
    ("G\u{E9}T / HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid method")),
    (String(repeating: "M", count: 33) + " / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method too long")),
    // One spelling per method (frameworks upper-case it: `delete` would run as DELETE behind a rule for "*").
    ("get / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("delete / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("Delete / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("DELETe / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("m-search / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("get / HTTP/2.0\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    (String(repeating: "m", count: 33) + " / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method too long")),
    // TRACE/TRACK: an echoing upstream would reflect the assertion and the upstream credential.
    ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", .notImplemented("TRACE and TRACK refused")),
    ("TRACK / HTTP/1.1\r\nHost: a\r\n\r\n", .notImplemented("TRACE and TRACK refused")),
    ("TRACE * HTTP/1.1\r\nHost: a\r\n\r\n", .notImplemented("TRACE and TRACK refused")),
    ("TRACE http://a/ HTTP/1.0\r\n\r\n", .notImplemented("TRACE and TRACK refused")),
    ("trace / HTTP/1.1\r\nHost: a\r\n\r\n", bad("method with lower-case letters")),
    ("GET /\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid character in request-target")),
    ("GET /\u{01} HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid character in request-target")),
    ("GET /\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n", bad("invalid character in request-target")),
    ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", bad("asterisk-form without OPTIONS")),
    ("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n", bad("unsupported request-target form")),
    ("GET / HTTP/1.1\nHost: a\r\n\r\n", bad("bare LF")),
    ("GET / HTTP/1.1\r\nHost: a\n\r\n", bad("bare LF")),
    ("GET / HTTP/1.1\r\nHost: a\r\n\n", bad("bare LF")),
    ("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", bad("bare LF")),
    ("GET / HTTP/1.1\rHost: a\r\n\r\n", bad("bare CR")),
    ("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", bad("bare CR")),
    ("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", bad("bare CR")),
    ("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", bad("bare CR")),
    ("GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", bad("NUL byte in head")),
    ("GET / HTTP/1.1\r\nHost: a\u{0}\r\n\r\n", bad("NUL byte in head")),
    ("GET / HTTP/1.1\r\nHost: a\r\n\u{0}: x\r\n\r\n", bad("NUL byte in head")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", bad("obs-fold line folding")),
    ("GET / HTTP/1.1\r\n Host: a\r\n\r\n", bad("obs-fold line folding")),
    ("GET / HTTP/1.1\r\nHost a\r\n\r\n", bad("whitespace before colon")),
    ("GET / HTTP/1.1\r\nHost\r\n\r\n", bad("field line without colon")),
    ("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", bad("empty field name")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX\"y: z\r\n\r\n", bad("invalid character in field name")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX\u{E9}: z\r\n\r\n", bad("invalid character in field name")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: \u{01}\r\n\r\n", bad("invalid character in field value")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}b\r\n\r\n", bad("invalid character in field value")),
    ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1B}b\r\n\r\n", bad("invalid character in field value")),
    ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", bad("too many empty lines before request line")),
]

@Test("malformed syntax is rejected", arguments: malformedCases)
func rejectsMalformed(_ raw: String, _ expected: HTTPError) {
    let (result, _) = parseRequest(raw)
    #expect(result == .error(expected))
}

@Test("the same rejections happen when bytes arrive one at a time", arguments: smugglingCases + malformedCases)
func rejectsIncrementally(_ raw: String, _ expected: HTTPError) {
    let input = Array(raw.utf8)
    var parser = RequestHeadParser()
    var head = RequestHead()
    var result = ParseResult.needMore
    for n in 1...input.count {
        result = input[0..<n].withUnsafeBytes { parser.parse($0, into: &head) }
        if result != .needMore { break }
    }
    #expect(result == .error(expected))
}
