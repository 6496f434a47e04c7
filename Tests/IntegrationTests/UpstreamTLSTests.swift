import Foundation
import Testing

/// TLS to the upstream: the certificate is verified against the configured CA bundle, with SNI
/// and a host name check. `openssl s_server -www` plays the TLS upstream.
@Suite(.serialized) struct UpstreamTLSTests {
    static func tlsUpstream() throws -> (ChildProcess, UInt16) {
        let port = freePort()
        let p = try ChildProcess("/usr/bin/openssl", ["s_server", "-www", "-accept", "127.0.0.1:\(port)",
                                                     "-cert", TestCertificate.cert, "-key", TestCertificate.key], name: "s_server")
        try p.waitFor("ACCEPT")
        return (p, port)
    }

    static func otherCA() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-other-ca-\(getpid())").path
        try run("/bin/bash", [Binaries.packageRoot.appendingPathComponent("scripts/dev-cert").path, dir])
        return dir + "/dev.crt"
    }

    @Test func verifiedTLSUpstream() throws {
        let (server, port) = try Self.tlsUpstream()
        defer { server.stop() }
        let other = try Self.otherCA()
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], upstreamsJSON: """
            { good: { servers: ["127.0.0.1:\(port)"], tls: true, caFile: "\(TestCertificate.cert)", serverName: "localhost" },
              wrongName: { servers: ["127.0.0.1:\(port)"], tls: true, caFile: "\(TestCertificate.cert)", serverName: "other.example" },
              wrongCA: { servers: ["127.0.0.1:\(port)"], tls: true, caFile: "\(other)", serverName: "localhost" } }
            """, routesJSON: """
            [ { pathPrefix: "/good", upstream: "good", public: true }, { pathPrefix: "/name", upstream: "wrongName", public: true },
              { pathPrefix: "/ca", upstream: "wrongCA", public: true } ]
            """)
        let ok = try gw.get("/good")
        #expect(ok.status == 200)
        #expect(ok.text.contains("Ciphers"), "\(ok.text.prefix(200))")
        #expect(try gw.get("/name").status == 502) // certificate does not name the host
        #expect(try gw.get("/ca").status == 502)   // certificate not issued by the configured CA
    }
}
