import Foundation
import Testing

/// End to end: a real drawbridge process, real TLS, a real upstream on loopback.
@Suite(.serialized) struct ProxyTests {
    static let hsts = "max-age=31536000; includeSubDomains; preload"

    @Test func forwardsWithIdentityOfTheHopAndHSTS() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        // curl verifies the certificate chain and host name against the test CA.
        let r = try gw.curl(["-i", gw.base + "/hello?x=1"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("HTTP/1.1 200"))
        #expect(r.out.contains("Strict-Transport-Security: \(Self.hsts)"))
        let resp = try gw.get("/hello?x=1")
        let echo = try Echo.from(resp)
        #expect(echo.target == "/hello?x=1")
        #expect(echo.header("X-Forwarded-For") == "127.0.0.1")
        #expect(echo.header("X-Forwarded-Proto") == "https")
        #expect(echo.header("X-Forwarded-Host") == "localhost")
        let rid = try #require(echo.header("X-Request-Id"))
        #expect(rid.count == 32 && rid.allSatisfy(\.isHexDigit))
        #expect(resp.header("X-Request-Id") == rid)
        #expect(resp.header("Strict-Transport-Security") == Self.hsts)
    }

    @Test func keepAliveAndPipelining() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        for i in 0..<3 {
            try c.send("GET /seq/\(i) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(try Echo.from(r).target == "/seq/\(i)")
        }
        // Three requests in one write: three responses, in order.
        try c.send((0..<3).map { "GET /pipe/\($0) HTTP/1.1\r\nHost: localhost\r\n\r\n" }.joined())
        for i in 0..<3 {
            let r = try c.readResponse()
            #expect(try Echo.from(r).target == "/pipe/\(i)")
        }
    }

    @Test func hopByHopAndSpoofedForwardingHeadersAreDropped() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let r = try gw.request("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
            + "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 6.6.6.6\r\n"
            + "x-forwarded-proto: http\r\nX-Request-Id: spoofed\r\nX-Kept: yes\r\n\r\n")
        let e = try Echo.from(r)
        for name in ["X-Secret", "Keep-Alive", "TE", "Proxy-Connection", "Connection"] {
            #expect(e.header(name) == nil, "\(name) reached the upstream")
        }
        #expect(e.all("X-Forwarded-For") == ["127.0.0.1"])
        #expect(e.all("X-Forwarded-Proto") == ["https"])
        #expect(e.all("X-Request-Id").count == 1 && e.header("X-Request-Id") != "spoofed")
        #expect(e.header("X-Kept") == "yes")
    }

    static let spoofed = ["X-Drawbridge-User", "x-drawbridge-org", "X-DRAWBRIDGE-ROLES", "X-Forwarded-User", "x-remote-user",
                          "Remote-User", "X-Auth-Request-Email", "X-HTTP-Method-Override", "x-http-method", "X-Method-Override"]

    @Test func spoofableIdentityAndMethodOverrideHeadersAreRemoved() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let headers = Self.spoofed.map { "\($0): attacker\r\n" }.joined()
            + "X-Drawbridge-User: second\r\nX-Remote-Username: kept\r\nX-Drawbridgeish: kept\r\n"
        let e = try Echo.from(try gw.get("/", headers: headers))
        for name in Self.spoofed { #expect(e.header(name) == nil, "\(name) reached the upstream") }
        #expect(e.method == "GET")
        #expect(e.header("X-Remote-Username") == "kept" && e.header("X-Drawbridgeish") == "kept")
    }

    @Test func chunkedBothWaysAndCloseDelimited() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        // Chunked request body, re-framed to the upstream.
        let body = Array("hello, chunked world".utf8)
        try c.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nf;ext=1\r\n, chunked world\r\n0\r\nX-Trailer: t\r\n\r\n")
        let e = try Echo.from(try c.readResponse())
        #expect(e.bodyBytes == body.count)
        #expect(e.bodySum == String(fnv1a(body)))
        // Chunked response.
        try c.send("GET /chunked/100000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(r.body.count == 100000)
        // Close-delimited upstream response: re-framed as chunked, the client connection stays open.
        try c.send("GET /close/5000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let r2 = try c.readResponse()
        #expect(r2.status == 200 && r2.body.count == 5000)
        try c.send("GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try Echo.from(try c.readResponse()).target == "/after")
    }

    @Test func expectContinue() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let bytes = try c.readExactly(25)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        try c.send("abcde")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text.contains("\"bodyBytes\":5") || r.text.contains("\"bodyBytes\": 5"))
    }

    @Test func notFoundAndBadGatewayCarryHSTS() throws {
        let up = try Upstream()
        let dead = freePort()
        let gw = try GatewayFixture(upstreams: [up],
            upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(up.port)\"] }, dead: { servers: [\"127.0.0.1:\(dead)\"] } }",
            routesJSON: "[ { pathPrefix: \"/app\", upstream: \"app\", public: true }, { pathPrefix: \"/dead\", upstream: \"dead\", public: true } ]")
        let ok = try gw.get("/app/x")
        #expect(ok.status == 200 && ok.header("Strict-Transport-Security") == Self.hsts)
        let nf = try gw.get("/nothing-here")
        #expect(nf.status == 404 && nf.header("Strict-Transport-Security") == Self.hsts)
        let bg = try gw.get("/dead/x")
        #expect(bg.status == 502 && bg.header("Strict-Transport-Security") == Self.hsts)
        #expect(try gw.get("/app/y").status == 200) // still serving
    }

    @Test func upstreamDownThenBack() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        #expect(try gw.get("/").status == 200)
        up.stop()
        #expect(try gw.get("/").status == 502)
        try up.start()
        // The failed server is skipped briefly; it must come back within a few seconds.
        var status = 0
        for _ in 0..<50 {
            status = try gw.get("/").status
            if status == 200 { break }
            usleep(200_000)
        }
        #expect(status == 200)
    }

    @Test func roundRobinAcrossServers() throws {
        let a = try Upstream(name: "a"), b = try Upstream(name: "b")
        let gw = try GatewayFixture(upstreams: [a, b],
            upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(a.port)\", \"127.0.0.1:\(b.port)\"], balance: \"round_robin\" } }")
        var names: [String] = []
        for _ in 0..<4 { names.append(try Echo.from(try gw.get("/")).name) }
        #expect(Set(names) == ["a", "b"])
        #expect(names[0] != names[1] && names[1] != names[2])
    }

    @Test func leastConnectionsAvoidsTheBusyServer() throws {
        let a = try ScriptedUpstream(name: "a"), b = try ScriptedUpstream(name: "b")
        defer { a.stop(); b.stop() }
        for u in [a, b] { u.setScript { _, line in line.contains("/hold") ? .hold : .answer } }
        let gw = try GatewayFixture(upstreams: [],
            upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(a.port)\", \"127.0.0.1:\(b.port)\"], balance: \"least_connections\" } }")
        // One request is held by whichever server got it (an event: it has arrived there).
        let slow = try gw.client()
        try slow.send("GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let busy = try Self.firstToHold([a, b])
        // While it holds it, every other request goes to the idle one (round robin would send every second one there).
        var names: [String] = []
        for _ in 0..<4 { names.append(try gw.get("/").text) }
        busy.release(answer: true)
        #expect(try slow.readResponse().text == busy.name)
        #expect(names.count == 4 && names.allSatisfy { $0 != busy.name }, "busy \(busy.name), others \(names)")
    }

    /// The upstream of `ups` that has received a request to hold (waits for the event).
    static func firstToHold(_ ups: [ScriptedUpstream]) throws -> ScriptedUpstream {
        for _ in 0..<2000 {
            if let u = ups.first(where: { $0.received.contains { $0.contains("/hold") } }) { try u.waitForHeldRequest(); return u }
            usleep(5_000)
        }
        throw TestFailure("no upstream got the request")
    }

    @Test func upstreamTooSlowGives504AndServingContinues() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: "timeouts: { upstreamResponseSeconds: 1 },")
        let r = try gw.get("/slow/3000")
        #expect(r.status == 504)
        #expect(r.header("Strict-Transport-Security") != nil)
        #expect(try gw.get("/").status == 200)
    }

    @Test func slowlorisGetsTimedOut() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: "timeouts: { clientHeaderSeconds: 1 },")
        let c = try gw.client()
        try c.send("GET / HTTP/1.1\r\nHost: local")
        let start = Date()
        let rest = String(decoding: c.readToEnd(), as: UTF8.self)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(rest.hasPrefix("HTTP/1.1 408"))
    }

    @Test func connectionsOverTheWorkerLimitAreRefusedAndOthersServed() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: "limits: { maxConnectionsPerWorker: 2 },")
        let a = try gw.client(), b = try gw.client()
        #expect(throws: TestFailure.self) { _ = try gw.client() } // closed at accept: the handshake fails
        for c in [a, b] {
            try c.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try c.readResponse().status == 200)
        }
        a.close()
        usleep(200_000)
        #expect(try gw.get("/").status == 200) // a slot is free again
    }

    @Test func accessLogIsJSONWithoutSecrets() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        _ = try gw.get("/logged?token=secret", headers: "Authorization: Bearer abc\r\nCookie: s=1\r\n")
        usleep(300_000)
        let line = try #require(gw.accessLog.split(separator: "\n").last)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(obj["path"] as? String == "/logged")
        #expect(obj["status"] as? Int == 200)
        #expect(obj["method"] as? String == "GET")
        #expect((obj["request_id"] as? String)?.count == 32)
        #expect(obj["upstream"] as? String == "127.0.0.1:\(up.port)")
        for key in ["time", "client", "bytes", "duration_ms", "upstream_ms"] { #expect(obj[key] != nil, "\(key)") }
        #expect(!line.contains("secret") && !line.contains("Bearer") && !line.contains("s=1"))
    }
}

