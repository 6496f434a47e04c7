import Testing
import DrawbridgeHTTP

/// What normalising a target gives: the normalised target (path plus untouched query) or the error.
enum PathOutcome: Sendable, Equatable, CustomStringConvertible {
    case path(String)
    case error(PathError)
    var description: String {
        switch self {
        case .path(let p): return "path(\(p.debugDescription))"
        case .error(let e): return "error(.\(e))"
        }
    }
}

/// Normalises `target` with a fresh buffer; checks the returned path length against the output.
func normalizePath(_ target: String, _ policy: PathPolicy = PathPolicy()) -> PathOutcome {
    var out: [UInt8] = []
    let result = Array(target.utf8).withUnsafeBytes { PathNormalizer.normalize($0, policy: policy, into: &out) }
    switch result {
    case .failure(let e):
        #expect(out.isEmpty, "nothing is left in the buffer on failure")
        return .error(e)
    case .success(let pathLength):
        let expectedLength = out.firstIndex(of: 0x3F) ?? out.count
        #expect(pathLength == expectedLength, "path length covers exactly the bytes before the query")
        return .path(String(decoding: out, as: UTF8.self))
    }
}

let strictPolicy = PathPolicy()
let encodedSlashAllowed = PathPolicy(allowEncodedSlash: true)
let backslashAllowed = PathPolicy(allowBackslash: true)
let parametersAllowed = PathPolicy(allowPathParameters: true)
let slashesKept = PathPolicy(mergeSlashes: false)
let whitespaceAllowed = PathPolicy(allowEncodedWhitespace: true)

/// Valid targets under the strict policy → the normalised target.
let validPaths: [(String, String)] = [
    ("/", "/"),
    ("/a", "/a"),
    ("/a/b/c", "/a/b/c"),
    ("/a/", "/a/"),
    ("/a/./b", "/a/b"),
    ("/a/b/../c", "/a/c"),
    ("/a/b/..", "/a/"),
    ("/a/..", "/"),
    ("/a/.", "/a/"),
    ("/.", "/"),
    ("/./", "/"),
    ("/./a", "/a"),
    ("/a/./", "/a/"),
    ("/a/../", "/"),
    ("/a/b/c/../../d", "/a/d"),
    ("/a/b/../../c", "/c"),
    ("/a/b/./../c/./d/..", "/a/c/"),
    ("/a//b", "/a/b"),
    ("///a///b///", "/a/b/"),
    ("/a//", "/a/"),
    ("//", "/"),
    ("/a//../b", "/b"),                              // slashes merge before dot removal
    ("/%61%62c", "/abc"),
    ("/%41%5a", "/AZ"),                              // decoded unreserved keep their case
    ("/%7e%5F%2d%2E%30", "/~_-.0"),
    ("/a%3fb", "/a%3Fb"),                            // reserved stays encoded, hex uppercased
    ("/a%2cb%40", "/a%2Cb%40"),
    ("/%25", "/%25"),
    ("/%252e%252E", "/%252e%252E"),                  // decoded once only
    ("/caf%c3%a9", "/caf%C3%A9"),
    ("/%C2%A1", "/%C2%A1"),                          // U+00A1, just above NBSP
    ("/%DF%BF", "/%DF%BF"),
    ("/%E0%A0%80", "/%E0%A0%80"),
    ("/%ED%9F%BF", "/%ED%9F%BF"),                    // U+D7FF, just below the surrogates
    ("/%EE%80%80", "/%EE%80%80"),                    // U+E000, just above them
    ("/%EF%BF%BF", "/%EF%BF%BF"),
    ("/%F0%90%80%80", "/%F0%90%80%80"),
    ("/%F0%9F%98%80", "/%F0%9F%98%80"),
    ("/%F4%8F%BF%BF", "/%F4%8F%BF%BF"),              // U+10FFFF
    ("/a.b/..c/c../.../.a", "/a.b/..c/c../.../.a"),  // only exact "." and ".." are dot segments
    ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
    ("/'\"<>[]{}|^`~", "/'\"<>[]{}|^`~"),
    ("/a?", "/a?"),
    ("/a?x", "/a?x"),
    ("/?q", "/?q"),
    ("/a?x=%2f&y=..&z=%zz;\\//", "/a?x=%2f&y=..&z=%zz;\\//"),  // the query is never normalised or checked
    ("/a/./b?x?y", "/a/b?x?y"),
    ("*", "*"),
]

@Test("valid paths normalise", arguments: validPaths)
func normalisesValidPath(_ input: String, _ expected: String) {
    #expect(normalizePath(input) == .path(expected))
}

@Test("normalised output is a fixed point", arguments: validPaths)
func normalisationIsIdempotent(_ input: String, _ expected: String) {
    #expect(normalizePath(expected) == .path(expected))
}

/// Attacks under the strict policy → the rejection, or the normalised target a route rule then judges.
let pathAttacks: [(String, PathOutcome)] = [
    ("/public/../admin", .path("/admin")),                       // a "/public" prefix rule must not match
    ("/public/%2e%2e/admin", .path("/admin")),
    ("/public/%2E%2E/admin", .path("/admin")),
    ("/public/.%2e/admin", .path("/admin")),
    ("/public/%2e./admin", .path("/admin")),
    ("/public/./../admin", .path("/admin")),
    ("/public/x/%2e%2e/%2E%2e/admin", .path("/admin")),
    ("/public//../admin", .path("/admin")),
    ("/public/%2e/admin", .path("/public/admin")),
    ("//admin", .path("/admin")),
    ("///admin//", .path("/admin/")),
    ("/admin/", .path("/admin/")),
    ("/ADMIN", .path("/ADMIN")),
    ("/Admin/%61", .path("/Admin/a")),
    ("/%61dmin", .path("/admin")),
    ("/%61%64%6D%69%6E", .path("/admin")),
    ("/admin;x", .error(.pathParameter)),
    ("/admin;", .error(.pathParameter)),
    ("/public/..;/admin", .error(.pathParameter)),
    ("/admin%2f..", .error(.encodedSlash)),
    ("/admin%2F", .error(.encodedSlash)),
    ("/public/..%2fadmin", .error(.encodedSlash)),
    ("/public/%2e%2e%2Fadmin", .error(.encodedSlash)),
    ("\\\\admin", .error(.backslash)),
    ("/\\admin", .error(.backslash)),
    ("/public\\..\\admin", .error(.backslash)),
    ("/public/..%5cadmin", .error(.backslash)),
    ("/a%5Cb", .error(.backslash)),
    ("/a%00b", .error(.nul)),
    ("/%00", .error(.nul)),
    ("/a\u{0}", .error(.nul)),
    ("/%C0%AE%C0%AE/", .error(.invalidUTF8)),                    // overlong "." "."
    ("/%c0%ae", .error(.invalidUTF8)),
    ("/%C1%BF", .error(.invalidUTF8)),
    ("/%E0%80%AE", .error(.invalidUTF8)),                        // overlong 3-byte "."
    ("/%E0%9F%BF", .error(.invalidUTF8)),
    ("/%F0%80%80%AE", .error(.invalidUTF8)),                     // overlong 4-byte "."
    ("/%F0%8F%BF%BF", .error(.invalidUTF8)),
    ("/%ED%A0%80", .error(.invalidUTF8)),                        // surrogate U+D800
    ("/%ED%BF%BF", .error(.invalidUTF8)),                        // surrogate U+DFFF
    ("/%F4%90%80%80", .error(.invalidUTF8)),                     // U+110000
    ("/%F5%80%80%80", .error(.invalidUTF8)),
    ("/%FF", .error(.invalidUTF8)),
    ("/%80", .error(.invalidUTF8)),
    ("/%C3%A9%A9", .error(.invalidUTF8)),                        // stray continuation byte
    ("/%C3", .error(.invalidUTF8)),                              // truncated at the end
    ("/%C3/", .error(.invalidUTF8)),                             // truncated by a separator
    ("/%C3a", .error(.invalidUTF8)),
    ("/%E2%82", .error(.invalidUTF8)),
    ("/%E2%82?x", .error(.invalidUTF8)),                         // truncated by the query
    ("/%F0%9F%98", .error(.invalidUTF8)),
    ("/%C3%2F", .error(.invalidUTF8)),
    ("/%ZZ", .error(.invalidPercentEncoding)),
    ("/%", .error(.invalidPercentEncoding)),
    ("/a%4", .error(.invalidPercentEncoding)),
    ("/a%4?x", .error(.invalidPercentEncoding)),                 // an escape cannot borrow the query's bytes
    ("/a%?41", .error(.invalidPercentEncoding)),
    ("/%g1", .error(.invalidPercentEncoding)),
    ("/%1g", .error(.invalidPercentEncoding)),
    ("/%%41", .error(.invalidPercentEncoding)),
    ("/..", .error(.escapesRoot)),
    ("/../", .error(.escapesRoot)),
    ("/../admin", .error(.escapesRoot)),
    ("/%2e%2e", .error(.escapesRoot)),
    ("/%2E%2E/admin", .error(.escapesRoot)),
    ("/.%2e/admin", .error(.escapesRoot)),
    ("//..", .error(.escapesRoot)),
    ("/./..", .error(.escapesRoot)),
    ("/a/../..", .error(.escapesRoot)),
    ("/a/../../b", .error(.escapesRoot)),
    ("/a/b/../../..", .error(.escapesRoot)),
    ("/a/b/../../../c?x", .error(.escapesRoot)),
    ("/a/../b?x=/../%2F", .path("/b?x=/../%2F")),
    ("/a#b", .error(.invalidCharacter)),
    ("/a?b#c", .error(.invalidCharacter)),
    ("/a b", .error(.invalidCharacter)),
    ("/a?b c", .error(.invalidCharacter)),
    // encoded white space and controls: Spring trims segments, Java and Python strip() drop them
    ("/admin%20", .error(.encodedWhitespace)),
    ("/admin%09", .error(.encodedWhitespace)),
    ("/admin%0a", .error(.encodedWhitespace)),
    ("/admin%0D/x", .error(.encodedWhitespace)),
    ("/%20admin", .error(.encodedWhitespace)),
    ("/admin%7f", .error(.encodedWhitespace)),
    ("/admin%01", .error(.encodedWhitespace)),
    ("/admin%1f", .error(.encodedWhitespace)),
    ("/admin%C2%85", .error(.encodedWhitespace)),     // NEL
    ("/admin%C2%A0", .error(.encodedWhitespace)),     // NBSP
    ("/admin%e1%9a%80", .error(.encodedWhitespace)),  // U+1680
    ("/admin%E2%80%80", .error(.encodedWhitespace)),  // U+2000
    ("/admin%E2%80%8B", .error(.encodedWhitespace)),  // zero-width space
    ("/admin%E2%80%A8", .error(.encodedWhitespace)),  // line separator
    ("/admin%E3%80%80", .error(.encodedWhitespace)),  // ideographic space
    ("/admin%EF%BB%BF", .error(.encodedWhitespace)),  // BOM
    ("/a%20b", .error(.encodedWhitespace)),
    ("/admin%3bx", .error(.pathParameter)),           // Spring decodes, then drops ";x"
    ("/..%3B/admin", .error(.pathParameter)),
    ("/a\t", .error(.invalidCharacter)),
    ("/a\r\n", .error(.invalidCharacter)),
    ("/a\u{7F}", .error(.invalidCharacter)),
    ("/caf\u{E9}", .error(.invalidCharacter)),
    ("/a?caf\u{E9}", .error(.invalidCharacter)),
    ("/a?\u{0}", .error(.nul)),
    ("", .error(.notOriginForm)),
    ("a", .error(.notOriginForm)),
    ("admin/", .error(.notOriginForm)),
    ("?x", .error(.notOriginForm)),
    ("**", .error(.notOriginForm)),
    ("*?x", .error(.notOriginForm)),
    ("*/admin", .error(.notOriginForm)),
    ("http://h/admin", .error(.notOriginForm)),
    ("%2Fadmin", .error(.notOriginForm)),
]

@Test("attacks", arguments: pathAttacks)
func handlesAttack(_ input: String, _ expected: PathOutcome) {
    #expect(normalizePath(input) == expected)
}

/// Each policy switch: policy, target → outcome.
let policyCases: [(PathPolicy, String, PathOutcome)] = [
    (encodedSlashAllowed, "/a%2fb", .path("/a%2Fb")),
    (encodedSlashAllowed, "/admin%2f..", .path("/admin%2F..")),
    (encodedSlashAllowed, "/public/..%2fadmin", .path("/public/..%2Fadmin")),  // kept encoded, never a separator
    (encodedSlashAllowed, "/a%2F/../b", .path("/b")),
    (encodedSlashAllowed, "/a%5cb", .error(.backslash)),
    (encodedSlashAllowed, "/a;b", .error(.pathParameter)),
    (backslashAllowed, "/a\\b", .path("/a\\b")),
    (backslashAllowed, "/public\\..\\admin", .path("/public\\..\\admin")),
    (backslashAllowed, "/a%5cb", .path("/a%5Cb")),
    (backslashAllowed, "\\\\admin", .error(.notOriginForm)),
    (backslashAllowed, "/a%2fb", .error(.encodedSlash)),
    (parametersAllowed, "/admin;x", .path("/admin;x")),
    (parametersAllowed, "/a;x=1;y/b;", .path("/a;x=1;y/b;")),
    (parametersAllowed, "/a;x/../b", .path("/b")),
    (parametersAllowed, "/a.;x/..a;y", .path("/a.;x/..a;y")),
    (parametersAllowed, "/public/..;/admin", .error(.pathParameter)),      // Tomcat reads "..;" as ".."
    (parametersAllowed, "/public/..;x=1/admin", .error(.pathParameter)),
    (parametersAllowed, "/public/%2e%2e;/admin", .error(.pathParameter)),
    (parametersAllowed, "/public/.;/admin", .error(.pathParameter)),
    (parametersAllowed, "/;x/admin", .error(.pathParameter)),
    (parametersAllowed, "/a/..;", .error(.pathParameter)),
    (parametersAllowed, "/a%2f;", .error(.encodedSlash)),
    (parametersAllowed, "/a%3bb", .path("/a%3Bb")),
    (parametersAllowed, "/public/..%3B/admin", .error(.pathParameter)),       // Spring: "..;" → ".." after decoding
    (parametersAllowed, "/public/%3Bx/admin", .error(.pathParameter)),
    (whitespaceAllowed, "/a%20b", .path("/a%20b")),
    (whitespaceAllowed, "/admin%09", .path("/admin%09")),
    (whitespaceAllowed, "/%C2%80%C2%A0", .path("/%C2%80%C2%A0")),
    (whitespaceAllowed, "/a%00", .error(.nul)),
    (whitespaceAllowed, "/a%3b", .error(.pathParameter)),
    (slashesKept, "/", .path("/")),
    (slashesKept, "/a/", .path("/a/")),
    (slashesKept, "/a/b/../c/./d", .path("/a/c/d")),
    (slashesKept, "//admin", .error(.emptySegment)),
    (slashesKept, "/a//b", .error(.emptySegment)),
    (slashesKept, "/a//", .error(.emptySegment)),
    (slashesKept, "/a/.//b", .error(.emptySegment)),
    (slashesKept, "/a?x//y", .path("/a?x//y")),
    (strictPolicy, "/a//b", .path("/a/b")),
    (PathPolicy(allowEncodedSlash: true, allowBackslash: true, allowPathParameters: true, mergeSlashes: false),
     "/a;p/%2f%5c\\/../b", .path("/a;p/b")),
    (PathPolicy(allowEncodedSlash: true, allowBackslash: true, allowPathParameters: true),
     "/a/%00", .error(.nul)),
    (PathPolicy(allowEncodedSlash: true, allowBackslash: true, allowPathParameters: true),
     "/..", .error(.escapesRoot)),
]

@Test("policy switches", arguments: policyCases)
func honoursPolicy(_ policy: PathPolicy, _ input: String, _ expected: PathOutcome) {
    #expect(normalizePath(input, policy) == expected)
}

@Test func defaultPolicyIsStrict() {
    let p = PathPolicy()
    #expect(!p.allowEncodedSlash)
    #expect(!p.allowBackslash)
    #expect(!p.allowPathParameters)
    #expect(p.mergeSlashes)
    #expect(!p.allowEncodedWhitespace)
}

@Test func errorsAreBadRequests() {
    let all: [PathError] = [.notOriginForm, .invalidCharacter, .invalidPercentEncoding, .nul, .encodedSlash,
                            .backslash, .invalidUTF8, .pathParameter, .emptySegment, .escapesRoot, .encodedWhitespace]
    #expect(Set(all.map(\.reason)).count == all.count)
    for e in all {
        #expect(e.status == 400)
        #expect(e.httpError == .badRequest(e.reason))
        #expect(e.httpError.status == 400)
    }
}

@Test func reusesTheBuffer() {
    var out: [UInt8] = Array(repeating: 0x58, count: 10)
    out.reserveCapacity(256)
    let capacity = out.capacity
    for (input, expected) in validPaths {
        let bytes = Array(input.utf8)
        let r = bytes.withUnsafeBytes { PathNormalizer.normalize($0, policy: PathPolicy(), into: &out) }
        #expect((try? r.get()) != nil)
        #expect(out == Array(expected.utf8))
        #expect(out.capacity == capacity)
    }
    let bytes = Array("/a/../..".utf8)
    let r = bytes.withUnsafeBytes { PathNormalizer.normalize($0, policy: PathPolicy(), into: &out) }
    #expect(r == .failure(.escapesRoot))
    #expect(out.isEmpty)
    #expect(out.capacity == capacity)
}

@Test func asteriskHasLengthOne() {
    var out: [UInt8] = []
    let r = Array("*".utf8).withUnsafeBytes { PathNormalizer.normalize($0, policy: PathPolicy(), into: &out) }
    #expect(r == .success(1))
    #expect(out == [0x2A])
}

@Test func queryLengthAndBytes() {
    var out: [UInt8] = []
    let r = Array("/a/../b?x=/../%2F".utf8).withUnsafeBytes { PathNormalizer.normalize($0, policy: PathPolicy(), into: &out) }
    #expect(r == .success(2))
    #expect(out == Array("/b?x=/../%2F".utf8))
}

/// The parser's target feeds the normaliser directly.
@Test func normalisesAParsedTarget() {
    let (result, head) = parseRequest("GET /public/%2e%2e//%61dmin/?q=%2e%2e HTTP/1.1\r\nHost: a\r\n\r\n")
    #expect(result == .complete)
    var out: [UInt8] = []
    let r = head.bytes.withUnsafeBytes {
        PathNormalizer.normalize(UnsafeRawBufferPointer(rebasing: $0[head.target]), policy: PathPolicy(), into: &out)
    }
    #expect(r == .success(7))
    #expect(out == Array("/admin/?q=%2e%2e".utf8))
}

/// UTF-8 validation agrees with the standard library on every 1- and 2-byte sequence and on random longer ones.
@Test func utf8AgreesWithStandardLibrary() {
    var rng = SplitMix64(seed: 0x5EED)
    var sequences: [[UInt8]] = []
    for a in 0...255 {
        sequences.append([UInt8(a)])
        for b in 0...255 { sequences.append([UInt8(a), UInt8(b)]) }
    }
    for _ in 0..<200_000 {
        let n = Int.random(in: 3...4, using: &rng)
        // bias lead bytes toward the interesting range so most sequences reach the continuation checks
        var s: [UInt8] = [UInt8.random(in: 0xC0...0xFF, using: &rng)]
        for _ in 1..<n { s.append(Bool.random(using: &rng) ? UInt8.random(in: 0x80...0xBF, using: &rng) : UInt8.random(in: 0...255, using: &rng)) }
        sequences.append(s)
    }
    var out: [UInt8] = []
    var mismatches = 0
    for s in sequences {
        // NUL, '/' and '\' have errors of their own
        if s.contains(0) || s.contains(0x2F) || s.contains(0x5C) { continue }
        var target = Array("/x".utf8)
        for b in s { target += [0x25, hex(b >> 4), hex(b & 15)] }
        // (encoded ';' and white space have refusals of their own: allowed here)
        let r = target.withUnsafeBytes { PathNormalizer.normalize($0, policy: PathPolicy(allowPathParameters: true, allowEncodedWhitespace: true), into: &out) }
        let valid = String(validating: s, as: UTF8.self) != nil
        let accepted: Bool
        switch r {
        case .success: accepted = true
        case .failure(.invalidUTF8): accepted = false
        case .failure(let e): Issue.record("unexpected \(e) for \(s)"); continue
        }
        if accepted != valid { mismatches += 1; if mismatches < 10 { Issue.record("\(s): accepted \(accepted), valid \(valid)") } }
    }
    #expect(mismatches == 0)
}

private func hex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x61 + v - 10 }
