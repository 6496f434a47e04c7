import Testing
@testable import DrawbridgeHTTP

/// Chunk sizes → their header.
let chunkHeaders: [(Int, String)] = [
    (1, "1\r\n"), (9, "9\r\n"), (10, "a\r\n"), (15, "f\r\n"), (16, "10\r\n"), (255, "ff\r\n"),
    (4096, "1000\r\n"), (65535, "ffff\r\n"), (0x7fff_ffff_ffff_ffff, "7fffffffffffffff\r\n"),
]

@Test("chunk headers", arguments: chunkHeaders)
func writesChunkHeader(_ size: Int, _ expected: String) {
    var buffer: [UInt8] = [0x41]
    ChunkedEncoding.appendChunkHeader(size: size, to: &buffer)
    #expect(buffer == [0x41] + Array(expected.utf8))
}

@Test func encodedBodyDecodesBack() {
    let body = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    var encoded: [UInt8] = []
    var i = 0
    for size in [1, 16, 255, 4096, 632] {
        ChunkedEncoding.appendChunkHeader(size: size, to: &encoded)
        encoded += body[i..<i + size]
        encoded += ChunkedEncoding.chunkTrailer
        i += size
    }
    encoded += ChunkedEncoding.lastChunk
    #expect(ChunkedEncoding.lastChunk == Array("0\r\n\r\n".utf8))
    #expect(ChunkedEncoding.chunkTrailer == Array("\r\n".utf8))
    let decoded = decode([encoded])
    #expect(decoded.ended)
    #expect(decoded.data == body)
    #expect(decoded.leftover.isEmpty)
}

/// Values → decimal text.
let decimals: [(UInt64, String)] = [
    (0, "0"), (7, "7"), (10, "10"), (99, "99"), (100, "100"), (1234567890, "1234567890"),
    (UInt64.max, "18446744073709551615"),
]

@Test("decimal formatting", arguments: decimals)
func appendsDecimal(_ value: UInt64, _ expected: String) {
    var buffer: [UInt8] = [0x2D]
    ASCII.appendDecimal(value, to: &buffer)
    #expect(buffer == [0x2D] + Array(expected.utf8))
}

/// Bytes, lowercase literal → equal ignoring case?
let caseInsensitive: [(String, Bool)] = [
    ("content-length", true), ("Content-Length", true), ("CONTENT-LENGTH", true), ("content-lengt", false),
    ("content-lengthh", false), ("content_length", false), ("content-lengtH", true), ("", false),
    ("content\u{0D}length", false), ("contentMlength", false),
]

@Test("case-insensitive compare", arguments: caseInsensitive)
func comparesCaseInsensitively(_ text: String, _ expected: Bool) {
    let bytes = Array(text.utf8)
    #expect(bytes.withUnsafeBytes { ASCII.equalsCaseInsensitive($0, "content-length") } == expected)
}

/// The eight-bytes-at-a-time test the head scanner and field checks use must agree with the
/// byte-at-a-time rule for every byte value in every position, next to any neighbours.
@Suite struct SWARTests {
    @Test(arguments: [1, 0x0E, 0x20] as [UInt8])
    func hasByteBelowMatchesTheBytewiseRule(n: UInt8) {
        for filler in [0x41, 0x7F, 0x80, 0xFF, 0x20, 0x0E] as [UInt8] {
            for position in 0..<8 {
                for v in 0...255 {
                    var bytes = [UInt8](repeating: filler, count: 8)
                    bytes[position] = UInt8(v)
                    let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    #expect(ASCII.hasByteBelow(w, n) == bytes.contains { $0 < n }, "n \(n) filler \(filler) pos \(position) v \(v)")
                }
            }
        }
    }

    /// `equalsCaseInsensitive` compares eight bytes at a time: every byte value in every position
    /// of literals of several lengths (letters, digits, punctuation next to the letter range).
    @Test func caseInsensitiveCompareMatchesTheBytewiseRule() {
        func bytewise(_ a: [UInt8], _ l: [UInt8]) -> Bool {
            a.count == l.count && zip(a, l).allSatisfy { ASCII.lower($0) == $1 }
        }
        let literals: [StaticString] = ["authorization", "strict-transport-security", "x-forwarded-proto", "cookie", "te",
                                        "100-continue", "@[`{az09-_", "abcdefgh", "abcdefghi",
                                        // every length the word and half-word paths split differently
                                        "get", "host", "close", "expect", "upgrade", "proxy-connection"]
        for literal in literals {
            let l = Array(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
            for position in l.indices {
                for v in 0...255 {
                    for base in [l, l.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }] {
                        var a = base
                        a[position] = UInt8(v)
                        #expect(a.withUnsafeBytes { ASCII.equalsCaseInsensitive($0, literal) } == bytewise(a, l), "\(literal) pos \(position) v \(v)")
                    }
                }
            }
            let shorter = Array(l.dropLast()), longer = l + [l[0]]
            #expect(!shorter.withUnsafeBytes { ASCII.equalsCaseInsensitive($0, literal) })
            #expect(!longer.withUnsafeBytes { ASCII.equalsCaseInsensitive($0, literal) })
        }
    }

    @Test func indexOfCRFindsTheFirst() {
        for n in 0..<20 {
            for cr in 0...n {
                var a = [UInt8](repeating: 0x0C, count: n)
                if cr < n { a[cr] = 0x0D; if cr + 1 < n { a[cr + 1] = 0x0D } }
                for from in 0...min(cr, n) {
                    #expect(a.withUnsafeBytes { ASCII.indexOfCR($0, from: from) } == cr, "n \(n) cr \(cr) from \(from)")
                }
            }
        }
    }

    /// The CR search eight bytes at a time, around every other byte value (high bytes, NUL, LF,
    /// 0x8D = CR | 0x80, 0x0C and 0x0E next to CR), at every offset of lengths around the word.
    @Test func indexOfCRSkipsEveryOtherByteValue() {
        for v in 0...255 where v != 0x0D {
            for n in 0..<19 {
                for cr in 0...n {
                    var a = [UInt8](repeating: UInt8(v), count: n)
                    if cr < n { a[cr] = 0x0D }
                    for from in 0...cr {
                        let found = a.withUnsafeBytes { ASCII.indexOfCR($0, from: from) }
                        if found != cr { Issue.record("v \(v) n \(n) cr \(cr) from \(from): \(found)") }
                    }
                }
            }
        }
    }

    @Test func hasByteBelowOnRandomWords() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            // Bytes drawn mostly around the thresholds, where borrows between bytes happen.
            let bytes = (0..<8).map { _ in [UInt8.random(in: 0...0x21, using: &g), UInt8.random(in: 0...255, using: &g)][Int.random(in: 0...1, using: &g)] }
            let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            for n in [1, 0x0E, 0x20] as [UInt8] { #expect(ASCII.hasByteBelow(w, n) == bytes.contains { $0 < n }) }
        }
    }
}
