import Foundation
import Testing

/// Every malformed or ambiguous request is answered by the gateway and closed; none reaches the
/// upstream. One table per attack class: adding a case is one line.
@Suite(.serialized) struct SmugglingTests {
    static let shared: (Upstream, GatewayFixture) = {
        let up = try! Upstream(logRequests: true)
        return (up, try! GatewayFixture(upstreams: [up]))
    }()

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let raw: String
        let status: Int
        var testDescription: String { name }
    }

    static let framing: [Case] = [
        Case(name: "CL and TE", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "TE and CL", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "TE gzip", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400),
        Case(name: "TE chunked not final", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 400),
        Case(name: "TE xchunked", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n", status: 400),
        Case(name: "TE on HTTP/1.0", raw: "POST / HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "two TE fields", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "differing CL", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400),
        Case(name: "CL list differing", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3, 4\r\n\r\nabcd", status: 400),
        Case(name: "CL plus sign", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +4\r\n\r\nabcd", status: 400),
        Case(name: "CL negative", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", status: 400),
        Case(name: "CL hex", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x4\r\n\r\nabcd", status: 400),
        Case(name: "CL inner space", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1 2\r\n\r\n", status: 400),
        Case(name: "chunk size not hex", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", status: 400),
        Case(name: "chunk size oversized", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\na\r\n0\r\n\r\n", status: 400),
        Case(name: "chunk size negative", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\na\r\n0\r\n\r\n", status: 400),
        Case(name: "chunk bare LF", raw: "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", status: 400),
    ]

    static let syntax: [Case] = [
        Case(name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n folded\r\n\r\n", status: 400),
        Case(name: "bare LF line ends", raw: "GET / HTTP/1.1\nHost: a\n\n", status: 400),
        Case(name: "bare LF in header", raw: "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", status: 400),
        Case(name: "bare CR in value", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nX: a\rb\r\n\r\n", status: 400),
        Case(name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400),
        Case(name: "tab before colon", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length\t: 0\r\n\r\n", status: 400),
        Case(name: "invalid name char", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nX(y): 1\r\n\r\n", status: 400),
        Case(name: "empty name", raw: "GET / HTTP/1.1\r\nHost: localhost\r\n: v\r\n\r\n", status: 400),
        Case(name: "NUL in value", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nX: a\u{0}b\r\n\r\n", status: 400),
        Case(name: "NUL in target", raw: "GET /a\u{0}b HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "control in value", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nX: a\u{1}b\r\n\r\n", status: 400),
        Case(name: "invalid method char", raw: "G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "double space", raw: "GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "fragment in target", raw: "GET /a#b HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "missing Host", raw: "GET / HTTP/1.1\r\nX: 1\r\n\r\n", status: 400),
        Case(name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nHost: b\r\n\r\n", status: 400),
        Case(name: "absolute-form other host", raw: "GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "authority-form CONNECT", raw: "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n", status: 400),
        Case(name: "version garbage", raw: "GET / HTTP/1.1x\r\nHost: localhost\r\n\r\n", status: 400),
        Case(name: "HTTP/2.0 version", raw: "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", status: 505),
        Case(name: "Expect other", raw: "GET / HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\n\r\n", status: 400),
    ]

    static let limits: [Case] = [
        Case(name: "request line too long", raw: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 414),
        Case(name: "header block too large", raw: "GET / HTTP/1.1\r\nHost: localhost\r\n" + (0..<40).map { "X-\($0): " + String(repeating: "b", count: 1000) + "\r\n" }.joined() + "\r\n", status: 431),
        Case(name: "too many fields", raw: "GET / HTTP/1.1\r\nHost: localhost\r\n" + (0..<150).map { "X-\($0): 1\r\n" }.joined() + "\r\n", status: 431),
    ]

    @Test(arguments: framing + syntax + limits)
    func rejectedAndNeverForwarded(_ c: Case) throws {
        let (up, gw) = Self.shared
        let before = up.requestCount
        let client = try gw.client()
        try client.send(c.raw)
        let r = try client.readResponse()
        #expect(r.status == c.status)
        #expect(r.header("Connection") == "close")
        #expect(r.header("Strict-Transport-Security") != nil)
        _ = client.readToEnd()
        #expect(client.closedByPeer)
        // A good request afterwards proves the upstream is reachable and counts requests.
        #expect(try gw.get("/probe").status == 200)
        #expect(up.requestCount == before + 1, "the upstream saw the rejected request")
    }

    @Test func hugeHostCannotOverflowTheRewrittenHead() throws {
        let (_, gw) = Self.shared
        // X-Forwarded-Host repeats Host: a 30 KB Host makes the upstream head larger than the client's.
        let host = String(repeating: "a", count: 30_000) + ".example"
        let c = try RawClient(port: gw.httpsPort, serverName: nil) // no SNI, so Host is not compared with it
        try c.send("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        #expect(try c.readResponse().status == 431)
        #expect(try gw.get("/still-serving").status == 200)
    }

    struct HostCase: Sendable, CustomTestStringConvertible {
        let sni: String?, host: String, status: Int
        var testDescription: String { "SNI \(sni ?? "none"), Host \(host)" }
    }
    static let hostVersusSNI: [HostCase] = [
        .init(sni: "localhost", host: "localhost", status: 200),
        .init(sni: "localhost", host: "LocalHost:443", status: 200),
        .init(sni: "localhost", host: "localhost.", status: 200),
        .init(sni: "localhost", host: "other.example", status: 421),
        .init(sni: "localhost", host: "localhost.evil.example", status: 421),
        .init(sni: "localhost", host: "127.0.0.1", status: 421),
        .init(sni: "localhost", host: "[::1]:443", status: 421),
        .init(sni: nil, host: "other.example", status: 200),
    ]

    /// Host must name the host the TLS connection was opened for (domain fronting).
    @Test(arguments: hostVersusSNI)
    func hostMustMatchSNI(_ c: HostCase) throws {
        let (up, gw) = Self.shared
        let before = up.requestCount
        let client = try RawClient(port: gw.httpsPort, serverName: c.sni)
        try client.send("GET /sni HTTP/1.1\r\nHost: \(c.host)\r\nConnection: close\r\n\r\n")
        #expect(try client.readResponse().status == c.status)
        #expect(up.requestCount == before + (c.status == 200 ? 1 : 0))
    }

    @Test func validFormsStillPass() throws {
        let (_, gw) = Self.shared
        for raw in ["GET / HTTP/1.0\r\nHost: localhost\r\n\r\n",
                    "GET http://localhost/abs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    "\r\nGET /leading-crlf HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
                    "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"] {
            #expect(try gw.request(raw).status == 200, "\(raw)")
        }
    }
}
