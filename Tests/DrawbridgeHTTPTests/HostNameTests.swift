import Testing
import DrawbridgeHTTP

/// One host normalisation for Host, absolute-form, SNI, route hosts and sign-in pages: every
/// spelling of a host gives one normal form; what other parsers would read as another host is refused.
@Suite struct HostNameTests {
    static func normal(_ s: String) -> String? {
        guard let (name, port) = HostName.normalize(s) else { return nil }
        return port == HostName.noPort ? name : "\(name) \(port)"
    }

    @Test(arguments: [
        ("example.com", "example.com"),
        ("EXAMPLE.Com", "example.com"),
        ("example.com.", "example.com"),                 // one trailing dot
        ("example.com:8443", "example.com 8443"),
        ("Example.COM.:443", "example.com 443"),
        ("localhost", "localhost"),
        ("a_b.example", "a_b.example"),
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255:1", "255.255.255.255 1"),
        ("1.2.3.4.example", "1.2.3.4.example"),          // last label not numeric: a name
        ("[::1]", "[::1]"),
        ("[::1]:8443", "[::1] 8443"),
        ("[0:0:0:0:0:0:0:1]", "[::1]"),                  // RFC 5952: one text per address
        ("[0::0001]", "[::1]"),
        ("[::]", "[::]"),
        ("[2001:DB8::A]", "[2001:db8::a]"),
        ("[2001:db8:0:0:1:0:0:1]", "[2001:db8::1:0:0:1]"), // the first of equal runs
        ("[2001:0:0:1:0:0:0:1]", "[2001:0:0:1::1]"),      // the longest run
        ("[2001:db8:0:1:1:1:1:1]", "[2001:db8:0:1:1:1:1:1]"), // a single zero group stays
        ("[::ffff:192.0.2.1]", "[::ffff:c000:201]"),
        ("[1::]", "[1::]"),
    ] as [(String, String)])
    func normalForm(_ input: String, _ expected: String) {
        #expect(Self.normal(input) == expected)
    }

    @Test(arguments: [
        "", ".", "..", "a..b", ".a", "a.b..", "exa mple.com", "user@example.com", "ex%61mple.com", "example.com:",
        "example.com:65536", "example.com:x", "a,b",
        // an IPv4 address written as other parsers read it (WHATWG URL: last label numeric)
        "127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "1.2.3.256", "1.2.3.04", "a.1", "1.2.3.4.5", "0x7f",
        // IPv6 that is no address, or with a zone
        "[::1", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[:1::]", "[1:]", "[12345::]", "[::1%25eth0]", "[g::]",
        "[::1.2.3]", "[1:2:3:4:5:6:7::]1",
    ])
    func refused(_ input: String) {
        #expect(Self.normal(input) == nil)
    }

    @Test(arguments: [
        ("app.test", "app.test"), ("App.Test:443", "app.test"), ("app.test:8443", "app.test:8443"),
        ("[0::1]:443", "[::1]"), ("[::1]:8443", "[::1]:8443"),
    ])
    func httpsAuthority(_ input: String, _ expected: String) {
        #expect(HostName.httpsAuthority(input) == expected)
    }

    @Test func reusesTheBufferAndLeavesNothingOnFailure() {
        var name: [UInt8] = []
        let ok = Array("WWW.Example.COM:80".utf8).withUnsafeBytes { HostName.normalize($0, into: &name) }
        #expect(ok == 80 && name == Array("www.example.com".utf8))
        let bad = Array("www..example".utf8).withUnsafeBytes { HostName.normalize($0, into: &name) }
        #expect(bad == nil && name.isEmpty)
    }
}

/// Header names as CGI-style frameworks read them: case folded, `_` as `-`.
@Suite struct FieldNameSetTests {
    static let set = FieldNameSet(["X-Forwarded-For", "X-Original-URL", "TE", "x-employee-id"], prefix: "X-Drawbridge-")

    @Test(arguments: [
        ("X-Forwarded-For", true), ("x_forwarded_for", true), ("X_FORWARDED-FOR", true), ("X-Forwarded-Fo", false),
        ("X-Forwarded-Forx", false), ("X-Original-Url", true), ("x_original_url", true), ("te", true), ("T_E", false),
        ("X-Employee-ID", true), ("X_Employee_Id", true),
        ("X-Drawbridge-User", true), ("x_drawbridge_user", true), ("X_DRAWBRIDGE_ASSERTION", true),
        ("X-Drawbridge-", false), ("X-Drawbridgeish", false), ("X-Drawbridge", false), ("Accept", false), ("x", false),
    ])
    func contains(_ name: String, _ expected: Bool) {
        let bytes = Array(name.utf8)
        #expect(bytes.withUnsafeBytes { Self.set.contains($0) } == expected)
    }

    @Test func everyGatewayNameInEverySpelling() {
        let set = FieldNameSet(GatewayFieldNames.all, prefix: GatewayFieldNames.namespace)
        for name in GatewayFieldNames.all {
            for spelling in [name, name.lowercased(), name.uppercased(), String(name.map { $0 == "-" ? "_" : $0 })] {
                #expect(Array(spelling.utf8).withUnsafeBytes { set.contains($0) }, "\(spelling)")
            }
        }
    }
}
