import Foundation
import Glibc
import Testing

/// Upstream health with real whoami servers going down and coming back: active checks, passive
/// ejection, `/readyz`, and the 503 when no server is left (docs/CONFIGURATION.md, "Upstream health").
@Suite(.serialized) struct UpstreamHealthTests {
    @Test func activeChecksFollowServersGoingDownAndComingBack() throws {
        let a = try Upstream(name: "a"), b = try Upstream(name: "b")
        let adminPort = freePort()
        let ups = """
        { app: { servers: ["127.0.0.1:\(a.port)", "127.0.0.1:\(b.port)"],
                 healthCheck: { path: "/health", intervalSeconds: 0.2, timeoutSeconds: 1, healthy: 2, unhealthy: 2 } } }
        """
        let gw = try GatewayFixture(upstreams: [a, b], upstreamsJSON: ups, extra: "admin: { listen: \"127.0.0.1:\(adminPort)\" },")
        #expect(try admin(adminPort, "/readyz").status == 200)
        func served() throws -> String { try Echo.from(try gw.get("/")).name }

        // a goes down: the check takes it out, every request goes to b, and the gateway is still ready.
        a.stop()
        try gw.process.waitFor("server 127.0.0.1:\(a.port) is down")
        for _ in 0..<6 { #expect(try served() == "b") }
        #expect(try admin(adminPort, "/readyz").status == 200)
        #expect(try admin(adminPort, "/metrics").body.contains(#"drawbridge_upstream_server_up{upstream="app",server="127.0.0.1:\#(a.port)"} 0"#))

        // b too: not ready, and requests get a clear 503 rather than a connection attempt.
        b.stop()
        try poll("/readyz to answer 503") { try admin(adminPort, "/readyz").status == 503 }
        #expect(try admin(adminPort, "/readyz").body.contains("no healthy server in upstream app"))
        #expect(try gw.get("/").status == 503)

        // a comes back: ready again, and it serves.
        try a.start()
        try poll("/readyz to answer 200") { try admin(adminPort, "/readyz").status == 200 }
        try gw.process.waitFor("server 127.0.0.1:\(a.port) is up again")
        #expect(try served() == "a")
    }

    /// Without active checks a refused connection marks the server down for failTimeoutSeconds
    /// (nginx max_fails=1): the request is retried on the other server, and the next ones go there.
    @Test func passiveHealthEjectsARefusingServer() throws {
        let b = try Upstream(name: "b")
        let dead = freePort() // nothing listens there
        let adminPort = freePort()
        let ups = "{ app: { servers: [\"127.0.0.1:\(dead)\", \"127.0.0.1:\(b.port)\"], failTimeoutSeconds: 60 } }"
        let gw = try GatewayFixture(upstreams: [b], upstreamsJSON: ups, extra: "admin: { listen: \"127.0.0.1:\(adminPort)\" },")
        for _ in 0..<4 { #expect(try Echo.from(try gw.get("/")).name == "b") }
        let m = try admin(adminPort, "/metrics").body
        #expect(m.contains(#"drawbridge_upstream_server_up{upstream="app",server="127.0.0.1:\#(dead)"} 0"#))
        #expect(m.contains(#"drawbridge_upstream_server_up{upstream="app",server="127.0.0.1:\#(b.port)"} 1"#))
        #expect(try admin(adminPort, "/readyz").status == 200)
    }
}
