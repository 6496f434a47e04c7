import Foundation
import Testing

/// Routes by the verified name, in one normal form: the Host field, an absolute-form authority
/// and the TLS server name are one host however they are spelled; without a Host field the TLS
/// server name is the host; an upstream always gets an HTTP/1.1 request with the host as routed.
@Suite(.serialized) struct HostRoutingTests {
    final class World {
        let files = IdentityFiles()
        let secure: Upstream, v6: Upstream, app: Upstream
        let gw: GatewayFixture

        init() throws {
            secure = try Upstream(name: "secure", logRequests: true)
            v6 = try Upstream(name: "v6", logRequests: true)
            app = try Upstream(name: "app", logRequests: true)
            files.users = [TestUser(id: "u_alice", email: "alice@acme.test")]
            let files = self.files
            gw = try GatewayFixture(upstreams: [secure, v6, app], upstreamsJSON: """
                { secure: { servers: ["127.0.0.1:\(secure.port)"] }, v6: { servers: ["127.0.0.1:\(v6.port)"] },
                  app: { servers: ["127.0.0.1:\(app.port)"] } }
                """, routesJSON: """
                [ { host: "secure.local", pathPrefix: "/", upstream: "secure", access: { methods: { "*": "app:use" }, mfa: true } },
                  { host: "[::1]", pathPrefix: "/", upstream: "v6", public: true },
                  { pathPrefix: "/", upstream: "app", public: true } ]
                """, extra: files.configSections(), prepare: { try files.write(to: $0) })
        }

        func seen(_ u: Upstream) -> [String] {
            usleep(100_000)
            return (u.process?.stdout ?? "").split(separator: "\n").filter { $0.hasPrefix("request: ") }.map { String($0.dropFirst(9)) }
        }

        /// One request on a new TLS connection with that SNI (nil: none).
        func send(_ raw: String, sni: String?) throws -> Response {
            let c = try RawClient(port: gw.httpsPort, serverName: sni)
            try c.send(raw)
            return try c.readResponse()
        }
    }

    static let shared: World = try! World()

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let sni: String?
        let request: String
        /// The status, and for 200 the upstream that must have answered.
        let status: Int
        let upstream: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // HTTP/1.0 without Host: the TLS name is the host; its MFA route decides (no credential: 401).
        .init(name: "HTTP/1.0 without Host on SNI secure.local", sni: "secure.local", request: "GET /x HTTP/1.0\r\nAccept: application/json\r\n\r\n", status: 401, upstream: nil),
        .init(name: "HTTP/1.0 without Host, SNI in capitals", sni: "SECURE.LOCAL", request: "GET /x HTTP/1.0\r\nAccept: application/json\r\n\r\n", status: 401, upstream: nil),
        .init(name: "HTTP/1.0 absolute-form without Host and without SNI", sni: nil, request: "GET https://secure.local/x HTTP/1.0\r\nAccept: application/json\r\n\r\n", status: 401, upstream: nil),
        .init(name: "HTTP/1.0 absolute-form for another host than SNI", sni: "secure.local", request: "GET https://other.example/x HTTP/1.0\r\n\r\n", status: 421, upstream: nil),
        .init(name: "HTTP/1.0 without any host", sni: nil, request: "GET /x HTTP/1.0\r\n\r\n", status: 400, upstream: nil),
        // Host spellings of the SNI name are that name.
        .init(name: "Host with capitals, port and trailing dot", sni: "secure.local", request: "GET /x HTTP/1.1\r\nHost: SECURE.Local.:443\r\nAccept: application/json\r\n\r\n", status: 401, upstream: nil),
        .init(name: "Host other than SNI", sni: "secure.local", request: "GET /x HTTP/1.1\r\nHost: other.example\r\n\r\n", status: 421, upstream: nil),
        .init(name: "absolute-form and Host disagree on the port", sni: nil, request: "GET https://secure.local:8443/x HTTP/1.1\r\nHost: secure.local:9443\r\n\r\n", status: 400, upstream: nil),
        // IPv6 literals: one address, one route, whatever the spelling.
        .init(name: "IPv6 Host spelled long", sni: nil, request: "GET /x HTTP/1.1\r\nHost: [0:0:0:0:0:0:0:1]:8443\r\n\r\n", status: 200, upstream: "v6"),
        .init(name: "IPv6 Host with leading zeros", sni: nil, request: "GET /x HTTP/1.1\r\nHost: [::0001]\r\n\r\n", status: 200, upstream: "v6"),
        // A name other parsers read as another host is refused.
        .init(name: "IPv4 shorthand", sni: nil, request: "GET /x HTTP/1.1\r\nHost: 127.1\r\n\r\n", status: 400, upstream: nil),
        .init(name: "IPv4 in hex", sni: nil, request: "GET /x HTTP/1.1\r\nHost: 0x7f.0.0.1\r\n\r\n", status: 400, upstream: nil),
        .init(name: "empty label", sni: nil, request: "GET /x HTTP/1.1\r\nHost: secure..local\r\n\r\n", status: 400, upstream: nil),
    ]

    @Test(arguments: cases)
    func routedByTheVerifiedName(_ c: Case) throws {
        let w = Self.shared
        let before = (w.seen(w.secure).count, w.seen(w.v6).count, w.seen(w.app).count)
        let r = try w.send(c.request, sni: c.sni)
        #expect(r.status == c.status, "\(r.status) \(r.text)")
        if let u = c.upstream {
            #expect(try Echo.from(r).name == u)
        }
        let after = (w.seen(w.secure).count, w.seen(w.v6).count, w.seen(w.app).count)
        let reached = (after.0 - before.0) + (after.1 - before.1) + (after.2 - before.2)
        #expect(reached == (c.upstream == nil ? 0 : 1), "upstreams reached: \(reached)")
    }

    /// The upstream gets HTTP/1.1 with the host as routed (normal form), never without Host.
    @Test func upstreamAlwaysGetsTheRoutedHost() throws {
        let w = Self.shared
        let http10 = try Echo.from(try w.send("GET /a HTTP/1.0\r\n\r\n", sni: "localhost"))
        #expect(http10.name == "app" && http10.all("Host") == ["localhost"])
        #expect(http10.all("X-Forwarded-Host") == ["localhost"])
        let odd = try Echo.from(try w.send("GET /b HTTP/1.1\r\nHost: LocalHost.:8443\r\n\r\n", sni: "localhost"))
        #expect(odd.all("Host") == ["localhost:8443"])
        let v6 = try Echo.from(try w.send("GET /c HTTP/1.1\r\nHost: [0::1]\r\n\r\n", sni: nil))
        #expect(v6.all("Host") == ["[::1]"])
        #expect(w.seen(w.app).contains("GET /a HTTP/1.1"))
    }

    /// The sign-in pages compare hosts in the same normal form: a form posted to the host in
    /// another spelling than its Origin is still same-origin.
    @Test func signInComparesOriginsInTheOneNormalForm() throws {
        let w = Self.shared
        let c = SignInClient(w.gw)
        c.host = "LOCALHOST:\(w.gw.httpsPort)"
        try c.get("/.drawbridge/login")
        let r = try c.post("/.drawbridge/login/password", form: [("csrf", c.csrf), ("email", "alice@acme.test"), ("password", "correct horse battery staple")],
                           headers: "Origin: https://localhost:\(w.gw.httpsPort)\r\n")
        #expect(r.status == 303, "\(r.status) \(r.text)")
        let foreign = SignInClient(w.gw)
        try foreign.get("/.drawbridge/login")
        let refused = try foreign.post("/.drawbridge/login/password", form: [("csrf", foreign.csrf), ("email", "alice@acme.test"), ("password", "x")],
                                       headers: "Origin: https://evil.example\r\n")
        #expect(refused.status == 403)
    }
}
