import Foundation
import Testing

/// What an upstream answers is parsed as strictly as what clients send: an ambiguous or malformed
/// response becomes 502 and none of it reaches the client.
@Suite(.serialized) struct UpstreamResponseTests {
    /// A raw upstream that answers every connection with the same bytes, then closes.
    static func rawUpstream(_ response: String) throws -> (ChildProcess, UInt16) {
        let port = freePort()
        let script = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", \(port))); s.listen(16); print("listening", flush=True)
        resp = sys.argv[1].encode("latin-1").decode("unicode_escape").encode("latin-1")
        while True:
            c, _ = s.accept(); c.recv(65536); c.sendall(resp); c.close()
        """
        let p = try ChildProcess("/usr/bin/env", ["python3", "-c", script, response], name: "raw-upstream")
        try p.waitFor("listening")
        return (p, port)
    }

    static let cases: [(String, String, Int)] = [
        ("CL and TE", "HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n", 502),
        ("bare LF", "HTTP/1.1 200 OK\\nContent-Length: 2\\n\\nhi", 502),
        ("obs-fold", "HTTP/1.1 200 OK\\r\\nX-A: 1\\r\\n folded\\r\\nContent-Length: 2\\r\\n\\r\\nhi", 502),
        ("differing CL", "HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nContent-Length: 3\\r\\n\\r\\nhi!", 502),
        ("not HTTP", "SSH-2.0-OpenSSH\\r\\n\\r\\n", 502),
        ("valid, close-delimited", "HTTP/1.1 200 OK\\r\\nX-Ok: 1\\r\\n\\r\\nhello", 200),
    ]

    @Test(arguments: 0..<cases.count)
    func responseJudged(_ i: Int) throws {
        let (name, raw, status) = Self.cases[i]
        let (server, port) = try Self.rawUpstream(raw)
        defer { server.stop() }
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(port)\"] } }")
        let r = try gw.get("/")
        #expect(r.status == status, "\(name)")
        #expect(r.header("Strict-Transport-Security") != nil)
        if status == 502 { #expect(r.header("X-A") == nil && !r.text.contains("folded")) }
        else { #expect(r.text == "hello" && r.header("X-Ok") == "1") }
    }

    @Test func requestBodyOverTheLimitGets413() throws {
        let up = try Upstream(logRequests: true)
        let gw = try GatewayFixture(upstreams: [up], extra: "limits: { maxRequestBodyBytes: 100 },")
        let before = up.requestCount
        let r = try gw.request("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 101\r\n\r\n" + String(repeating: "x", count: 101))
        #expect(r.status == 413)
        #expect(up.requestCount == before)
        #expect(try gw.request("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" + String(repeating: "x", count: 100)).status == 200)
        // The same limit for a chunked body, whose size is only known as it arrives.
        let chunked = try gw.request("POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     + "64\r\n" + String(repeating: "y", count: 100) + "\r\n1\r\nz\r\n0\r\n\r\n")
        #expect(chunked.status == 413)
    }

    /// A response to HEAD keeps the upstream's length (204/304 lose theirs: UpstreamFramingTests).
    @Test func headKeepsItsLengthAnd304HasNoBody() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("HEAD /bytes/1234 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let h = try c.readResponse(head: true)
        #expect(h.status == 200 && h.header("Content-Length") == "1234")
        try c.send("GET /status/304 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try c.readResponse().status == 304)
        try c.send("GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n") // framing intact afterwards
        #expect(try Echo.from(try c.readResponse()).target == "/after")
    }
}
