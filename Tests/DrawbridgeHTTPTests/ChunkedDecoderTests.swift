import Testing
import DrawbridgeHTTP

/// Valid chunked bodies → the decoded data.
let validChunked: [(String, String)] = [
    ("0\r\n\r\n", ""),
    ("5\r\nhello\r\n0\r\n\r\n", "hello"),
    ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
    ("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    ("a\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", "0123456789!"),
    ("0005\r\nhello\r\n000\r\n\r\n", "hello"),
    ("000000000000005\r\nhello\r\n0\r\n\r\n", "hello"),
    ("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
    ("5;a;b=c;d=\"q \\\" ;x\"\r\nhello\r\n0\r\n\r\n", "hello"),
    ("5 ; a = b ;c\t=\t\"\"\r\nhello\r\n0\r\n\r\n", "hello"),
    ("5;a=\"\u{E9}\"\r\nhello\r\n0\r\n\r\n", "hello"),
    ("3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"),
    ("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n", "hello"),
    ("5\r\nhello\r\n0\r\nX: caf\u{E9} \t v \r\n\r\n", "hello"),
    ("5;" + String(repeating: "x", count: 1022) + "\r\nhello\r\n0\r\n\r\n", "hello"),   // 1024-byte chunk line
    ("0\r\nX: " + String(repeating: "y", count: 8185) + "\r\n\r\n", ""),                 // 8192-byte trailer section
]

/// Invalid chunked bodies → the exact error.
let invalidChunked: [(String, HTTPError)] = [
    ("\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("+5\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("-5\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("0x5\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("g\r\n", bad("invalid chunk size")),
    (" 5\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("5g\r\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("5\u{0}\r\n", bad("invalid chunk size")),
    ("1000000000000000\r\n", bad("chunk size too large")),
    ("ffffffffffffffff1\r\n", bad("chunk size too large")),
    ("5\nhello\r\n0\r\n\r\n", bad("invalid chunk size")),
    ("5\r\rhello\r\n0\r\n\r\n", bad("bare CR in chunk line")),
    ("5 \r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5 5\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a=\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a \r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a=b \r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a\"b\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a=\"x\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5;a=b\nhello\r\n0\r\n\r\n", bad("invalid chunk extension")),
    ("5\r\nhelloX\r\n0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("5\r\nhello\n0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("5\r\nhello\r0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("5\r\nhelloX\n0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("5\r\nhello\n\n0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("5\r\nhel\r\n0\r\n\r\n", bad("missing CRLF after chunk data")),
    ("0\r\n\n", bad("invalid trailer field")),
    ("0\r\n\r\r", bad("bare CR in trailer")),
    ("0\r\n X: y\r\n\r\n", bad("obs-fold in trailer")),
    ("0\r\nX : y\r\n\r\n", bad("whitespace before colon in trailer")),
    ("0\r\nX\r\n\r\n", bad("invalid trailer field")),
    ("0\r\n:y\r\n\r\n", bad("invalid trailer field")),
    ("0\r\nX: \u{01}\r\n\r\n", bad("invalid character in trailer")),
    ("0\r\nX: y\n\r\n", bad("invalid character in trailer")),
    ("0\r\nX: y\u{0}\r\n\r\n", bad("invalid character in trailer")),
    ("0\r\nX: y\r\r\n", bad("bare CR in trailer")),
    ("5;" + String(repeating: "x", count: 1023) + "\r\nhello\r\n0\r\n\r\n", bad("chunk line too long")),
    ("0\r\nX: " + String(repeating: "y", count: 8186) + "\r\n\r\n", bad("trailer section too large")),
]

/// Feeds `pieces` as separate buffers, like reads from a socket; returns the data, whether `.end`
/// was reached, the bytes after it (rest of that piece plus the pieces never fed), and any error.
func decode(_ pieces: [[UInt8]], limits: HTTPLimits = HTTPLimits())
    -> (data: [UInt8], ended: Bool, leftover: [UInt8], error: HTTPError?) {
    var decoder = ChunkedDecoder(limits: limits)
    var data: [UInt8] = []
    for (index, piece) in pieces.enumerated() {
        var offset = 0
        let outcome: (Bool, HTTPError?) = piece.withUnsafeBytes { buffer in
            while true {
                switch decoder.next(buffer, offset: &offset) {
                case .data(let r):
                    #expect(!r.isEmpty)
                    data += piece[r]
                case .needMore:
                    #expect(offset == piece.count)
                    return (false, nil)
                case .end:
                    return (true, nil)
                case .error(let e):
                    return (false, e)
                }
            }
        }
        if outcome.0 { return (data, true, Array(piece[offset...]) + pieces[(index + 1)...].joined(), nil) }
        if let e = outcome.1 { return (data, false, [], e) }
    }
    return (data, false, [], nil)
}

/// Splits of `input`: whole, byte by byte, and a few seeded random splits.
func splits(_ input: [UInt8], seed: UInt64) -> [[[UInt8]]] {
    var result = [[input], input.map { [$0] }]
    var rng = SplitMix64(seed: seed)
    for _ in 0..<8 {
        var pieces: [[UInt8]] = []
        var i = 0
        while i < input.count {
            let n = Int.random(in: 1...max(1, min(7, input.count - i)), using: &rng)
            pieces.append(Array(input[i..<i + n]))
            i += n
        }
        result.append(pieces)
    }
    return result
}

@Test("valid chunked bodies decode under every split", arguments: validChunked)
func decodesValid(_ encoded: String, _ body: String) {
    let input = Array((encoded + "NEXT").utf8)
    for (n, pieces) in splits(input, seed: UInt64(input.count)).enumerated() {
        let (data, ended, leftover, error) = decode(pieces)
        #expect(error == nil, "split \(n)")
        #expect(ended, "split \(n)")
        #expect(data == Array(body.utf8), "split \(n)")
        #expect(leftover == Array("NEXT".utf8), "split \(n): `offset` must stop exactly after the body")
    }
}

@Test("invalid chunked bodies fail under every split", arguments: invalidChunked)
func rejectsInvalid(_ encoded: String, _ expected: HTTPError) {
    let input = Array(encoded.utf8)
    for (n, pieces) in splits(input, seed: UInt64(input.count)).enumerated() {
        #expect(decode(pieces).error == expected, "split \(n)")
    }
}

@Test func chunkedLimitsAreConfigurable() {
    let limits = HTTPLimits(maxChunkLineBytes: 8, maxTrailerBytes: 10)
    #expect(decode([Array("5;abcdef\r\nhello\r\n0\r\n\r\n".utf8)], limits: limits).ended)        // 8-byte line
    #expect(decode([Array("5;abcdefg\r\nhello\r\n0\r\n\r\n".utf8)], limits: limits).error == bad("chunk line too long"))
    #expect(decode([Array("0\r\nX: 123\r\n\r\n".utf8)], limits: limits).ended)                   // 10-byte trailer section
    #expect(decode([Array("0\r\nX: 1234\r\n\r\n".utf8)], limits: limits).error == bad("trailer section too large"))
    let few = HTTPLimits(maxHeaderCount: 2)
    #expect(decode([Array("0\r\nA: 1\r\nB: 2\r\n\r\n".utf8)], limits: few).ended)
    #expect(decode([Array("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".utf8)], limits: few).error == bad("too many trailer fields"))
}

@Test func decoderIsStickyAndResettable() {
    var decoder = ChunkedDecoder()
    let done = Array("0\r\n\r\n".utf8)
    var offset = 0
    done.withUnsafeBytes { b in
        #expect(decoder.next(b, offset: &offset) == .end)
        #expect(offset == 5)
    }
    let more = Array("5\r\n".utf8)
    offset = 0
    more.withUnsafeBytes { b in #expect(decoder.next(b, offset: &offset) == .end) }
    #expect(offset == 0)
    decoder.reset()
    let bad = Array("x".utf8)
    offset = 0
    bad.withUnsafeBytes { b in #expect(decoder.next(b, offset: &offset) == .error(.badRequest("invalid chunk size"))) }
    offset = 0
    done.withUnsafeBytes { b in #expect(decoder.next(b, offset: &offset) == .error(.badRequest("invalid chunk size"))) }
    decoder.reset()
    offset = 0
    done.withUnsafeBytes { b in #expect(decoder.next(b, offset: &offset) == .end) }
}
