import DrawbridgeHTTP
import Testing
@testable import DrawbridgeDecision
@testable import DrawbridgeServer

/// The gateway's cookies and the bearer token as the request path finds them, and the Cookie
/// field an upstream gets (the forwarding is the server's).
@Suite struct CredentialParsingTests {
    /// The request's gateway cookies as `GatewayCookies` finds them, and the Cookie field an upstream would get.
    static func cookies(_ fields: [String]) throws -> (session: String?, duplicated: Bool, forwarded: [String]) {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\n" + fields.map { "Cookie: \($0)\r\n" }.joined() + "\r\n"
        var head = RequestHead()
        var parser = RequestHeadParser()
        let bytes = Array(raw.utf8)
        guard case .complete = bytes.withUnsafeBytes({ parser.parse($0, into: &head) }) else { throw ParseFailure() }
        let found = head.bytes.withUnsafeBytes { GatewayCookies.find($0, head.fields) }
        let ob = IOBuffer(capacity: 4096)
        head.bytes.withUnsafeBytes { raw in
            for f in head.fields where f.kind == .other { ForwardedField.appendCookie(ob, raw, f) }
        }
        let forwarded = String(decoding: ob.readableBytes, as: UTF8.self).split(separator: "\r\n").map(String.init)
        return (found.session.map { String(decoding: head.bytes[$0], as: UTF8.self) }, found.duplicated, forwarded)
    }
    struct ParseFailure: Error {}

    // One parser, one rule: the session cookie by its exact name, any gateway cookie twice (in any
    // case, in one field or several) refused, none of the gateway's namespace ever forwarded.
    @Test(arguments: [
        (["__Host-drawbridge=abc"], "abc", false, []),
        (["a=1; __Host-drawbridge=abc ;b=2"], "abc", false, ["Cookie: a=1; b=2"]),
        (["__Host-drawbridge-csrf=x; __Host-drawbridge=abc"], "abc", false, []),
        (["__host-drawbridge=abc"], nil, false, []),                          // names are case-sensitive; still never forwarded
        (["x__Host-drawbridge=abc"], nil, false, ["Cookie: x__Host-drawbridge=abc"]),
        (["__Host-drawbridge=a; __Host-drawbridge=b"], "b", true, []),        // refused by the caller (400)
        (["__Host-drawbridge=a", "__Host-drawbridge=b"], "b", true, []),      // across two Cookie fields
        (["__Host-drawbridge=a; __HOST-DRAWBRIDGE=b"], "a", true, []),        // one cookie to a case-insensitive reader
        (["__Host-drawbridge-csrf=a; __Host-drawbridge-csrf=b"], nil, true, []),
        (["__Host-drawbridge-x=1; __Host-drawbridge-y=2; k=v"], nil, false, ["Cookie: k=v"]),
        (["__Host-drawbridge", "flag; a = 1"], nil, false, ["Cookie: __Host-drawbridge", "Cookie: flag; a = 1"]),
        ([" ; ;a=1;; "], nil, false, ["Cookie: a=1"]),
    ] as [([String], String?, Bool, [String])])
    func gatewayCookies(_ fields: [String], _ session: String?, _ duplicated: Bool, _ forwarded: [String]) throws {
        let r = try Self.cookies(fields)
        #expect(r.session == session)
        #expect(r.duplicated == duplicated)
        #expect(r.forwarded == forwarded)
    }

    /// The classification knows every cookie the gateway sets, by its exact name.
    @Test func everyGatewayCookieNameIsClassified() {
        for (i, name) in GatewayCookies.names.enumerated() {
            let bytes = Array(name.utf8)
            let c = bytes.withUnsafeBytes { GatewayCookies.classify($0, 0..<bytes.count) }
            #expect(c?.known == i && c?.exact == true, "\(name)")
            let upper = Array(name.uppercased().utf8)
            #expect(upper.withUnsafeBytes { GatewayCookies.classify($0, 0..<upper.count) }.map { $0.known == i && !$0.exact } == true)
        }
    }

    @Test(arguments: [
        ("Bearer db_abc", "db_abc"),
        ("bearer   db_abc", "db_abc"),
        ("Bearer eyJhbGciOi", nil),   // not ours: left to the upstream
        ("Basic ZGI6eA==", nil),
        ("Bearer", nil),
    ] as [(String, String?)])
    func bearer(_ header: String, _ expected: String?) {
        let bytes = Array(header.utf8)
        let r = bytes.withUnsafeBytes { Authenticator.bearerToken($0, 0..<bytes.count) }
        #expect(r.map { String(decoding: bytes[$0], as: UTF8.self) } == expected)
    }
}
