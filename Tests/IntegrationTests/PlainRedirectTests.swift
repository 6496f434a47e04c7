import Foundation
import Glibc
import Testing

/// The plain-HTTP listener: it redirects only to names the gateway serves (the test certificate
/// covers localhost, 127.0.0.1 and ::1; routes name app.example and *.apps.example), by the one
/// host rule of the HTTPS side, and writes its answer whole before a lingering close.
@Suite(.serialized) struct PlainRedirectTests {
    static let shared: (Upstream, GatewayFixture) = {
        let up = try! Upstream()
        let routes = """
        [ { host: "app.example", pathPrefix: "/", upstream: "app", public: true },
          { host: "*.apps.example", pathPrefix: "/", upstream: "app", public: true },
          { pathPrefix: "/", upstream: "app", public: true } ]
        """
        return (up, try! GatewayFixture(upstreams: [up], routesJSON: routes))
    }()
    var gw: GatewayFixture { Self.shared.1 }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var request: String
        var status: Int
        /// Expected Location with `PORT` for the HTTPS port; nil: none.
        var location: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Host an attacker chose: no redirect to it (open redirect, cache poisoning)
        Case(name: "evil Host", request: "GET /x?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n", status: 421),
        Case(name: "evil Host with port", request: "GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n", status: 421),
        Case(name: "served name with port: the HTTPS port replaces it", request: "GET /some/path?q=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
             status: 308, location: "https://localhost:PORT/some/path?q=1"),
        Case(name: "served name in another spelling", request: "GET / HTTP/1.1\r\nHost: LocalHost.\r\n\r\n", status: 308, location: "https://localhost:PORT/"),
        Case(name: "route host", request: "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", status: 308, location: "https://app.example:PORT/a"),
        Case(name: "wildcard route host", request: "GET /a HTTP/1.1\r\nHost: x.apps.example\r\n\r\n", status: 308, location: "https://x.apps.example:PORT/a"),
        Case(name: "IPv4 literal in the certificate", request: "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", status: 308, location: "https://127.0.0.1:PORT/"),
        Case(name: "IPv4 literal not in the certificate", request: "GET / HTTP/1.1\r\nHost: 10.1.2.3\r\n\r\n", status: 421),
        Case(name: "IPv6 literal in the certificate", request: "GET /v6 HTTP/1.1\r\nHost: [0:0::1]:80\r\n\r\n", status: 308, location: "https://[::1]:PORT/v6"),
        Case(name: "IPv6 literal not in the certificate", request: "GET / HTTP/1.1\r\nHost: [::2]\r\n\r\n", status: 421),
        Case(name: "numeric name other parsers read as another address", request: "GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", status: 400),
        // absolute-form: its authority is the host; a different Host is refused as on HTTPS
        Case(name: "absolute-form vs Host mismatch", request: "GET http://evil.example/x HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "absolute-form vs Host mismatch (served authority)", request: "GET http://app.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", status: 400),
        Case(name: "absolute-form agreeing with Host", request: "GET http://localhost/x?y=2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
             status: 308, location: "https://localhost:PORT/x?y=2"),
        Case(name: "absolute-form without Host (HTTP/1.0)", request: "GET http://app.example/p HTTP/1.0\r\n\r\n", status: 308, location: "https://app.example:PORT/p"),
        Case(name: "absolute-form naming an unserved host", request: "GET http://evil.example/p HTTP/1.0\r\n\r\n", status: 421),
        // OPTIONS *: about the server; no URL can carry "*"
        Case(name: "OPTIONS *", request: "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 200),
        Case(name: "OPTIONS * for an unserved host", request: "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n", status: 421),
        // nothing names the host
        Case(name: "missing Host (HTTP/1.0)", request: "GET / HTTP/1.0\r\n\r\n", status: 400),
        Case(name: "missing Host (HTTP/1.1)", request: "GET / HTTP/1.1\r\n\r\n", status: 400),
        Case(name: "two Host fields", request: "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", status: 400),
    ]

    @Test(arguments: cases)
    func answer(_ c: Case) throws {
        let client = try RawClient(port: gw.redirectPort, tls: false)
        try client.send(c.request)
        let r = try client.readResponse()
        #expect(r.status == c.status, "\(c.name): \(r.status) \(r.header("Location") ?? "")")
        #expect(r.header("Location") == c.location?.replacingOccurrences(of: "PORT", with: "\(gw.httpsPort)"))
        #expect(r.header("Strict-Transport-Security") == nil) // never over plain HTTP (RFC 6797 §7.2)
        #expect(r.header("Connection") == "close")
        #expect(client.readToEnd().isEmpty) // one answer, then the end of the connection
    }

    /// A client that sends a large request (or many pipelined ones) after the head the gateway
    /// answers still reads the whole 308: the gateway stops writing and reads what remains
    /// instead of closing on unread bytes, which makes the kernel reset the connection (the
    /// client's send fails, and an unread answer is lost).
    @Test func largePipelinedRequestDoesNotResetTheRedirect() throws {
        let client = try RawClient(port: gw.redirectPort, tls: false, timeout: 30)
        var bytes = Array("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 16777216\r\n\r\n".utf8)
        bytes += [UInt8](repeating: 0x61, count: 16 << 20)
        try client.send(bytes) // on main: "write failed" (reset after the gateway closed on unread bytes)
        let r = try client.readResponse()
        #expect(r.status == 308)
        #expect(r.header("Location") == "https://localhost:\(gw.httpsPort)/upload")
        #expect(r.header("Content-Length") == "0")
        #expect(client.readToEnd().isEmpty)

        let pipelined = try RawClient(port: gw.redirectPort, tls: false, timeout: 30)
        var many: [UInt8] = []
        for i in 0..<100_000 { many += Array("GET /p\(i) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8) }
        try pipelined.send(many)
        let first = try pipelined.readResponse()
        #expect(first.status == 308)
        #expect(first.header("Location") == "https://localhost:\(gw.httpsPort)/p0")
        #expect(pipelined.readToEnd().isEmpty) // one answer: the rest were read and discarded
    }
}
