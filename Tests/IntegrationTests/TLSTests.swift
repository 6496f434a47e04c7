import COpenSSL
import Foundation
import Testing

@Suite(.serialized) struct TLSTests {
    static let shared: (Upstream, GatewayFixture) = {
        let up = try! Upstream()
        return (up, try! GatewayFixture(upstreams: [up]))
    }()
    var gw: GatewayFixture { Self.shared.1 }

    @Test func tls12And13AcceptedWithALPN() throws {
        for v in [COpenSSL_TLS1_2_VERSION(), COpenSSL_TLS1_3_VERSION()] {
            let c = try RawClient(port: gw.httpsPort, tlsVersion: v)
            #expect(c.negotiatedVersion == (v == COpenSSL_TLS1_2_VERSION() ? "TLSv1.2" : "TLSv1.3"))
            try c.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try c.readResponse().status == 200)
        }
        let r = try run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_version}", "--cacert", TestCertificate.cert, gw.base + "/"])
        #expect(r.out == "1.1") // ALPN: http/1.1 even when curl offers h2
    }

    /// The client offers only the old version, with every cipher and security level 0 (so it
    /// would connect if the server let it: the control handshake against `openssl s_server`
    /// proves that), and the server refuses with a protocol_version alert. (`-ssl3` is gone:
    /// OpenSSL 3 has no SSLv3, so that client failed by itself and proved nothing.)
    @Test(arguments: ["-tls1_1", "-tls1"])
    func oldProtocolsRefused(flag: String) throws {
        let client = ["s_client", flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-servername", "localhost"]
        // Control: the same client completes a handshake with a server that allows the version.
        let port = freePort()
        let control = try ChildProcess("/usr/bin/openssl", ["s_server", "-www", "-accept", "127.0.0.1:\(port)", "-cert", TestCertificate.cert,
                                                           "-key", TestCertificate.key, flag, "-cipher", "DEFAULT:@SECLEVEL=0"], name: "s_server")
        defer { control.stop() }
        try control.waitFor("ACCEPT")
        let ok = try run("/usr/bin/openssl", client + ["-connect", "127.0.0.1:\(port)"], stdin: Data(), timeout: 20)
        #expect(ok.status == 0, "control handshake failed: the client did not offer \(flag): \(ok.err.prefix(300))")
        // The gateway refuses it, and says why: a protocol_version alert (70).
        let r = try run("/usr/bin/openssl", client + ["-connect", "127.0.0.1:\(gw.httpsPort)"], stdin: Data(), timeout: 20)
        #expect(r.status != 0, "\(flag) handshake succeeded: \(r.out.prefix(300))")
        #expect(r.err.contains("alert protocol version") || r.err.contains("SSL alert number 70"), "\(r.err.prefix(500))")
    }

    @Test func tls11RefusedByOurOwnClientToo() throws {
        #expect(throws: TestFailure.self) { _ = try RawClient(port: gw.httpsPort, tlsVersion: COpenSSL_TLS1_1_VERSION()) }
    }

    @Test func tls12OffersOnlyECDHEWithAEAD() throws {
        for cipher in ["AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256"] {
            let r = try run("/usr/bin/openssl", ["s_client", "-tls1_2", "-cipher", cipher, "-connect", "127.0.0.1:\(gw.httpsPort)"],
                            stdin: Data(), timeout: 20)
            #expect(r.status != 0, "cipher \(cipher) accepted")
        }
        let ok = try run("/usr/bin/openssl", ["s_client", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-connect", "127.0.0.1:\(gw.httpsPort)"],
                         stdin: Data(), timeout: 20)
        #expect(ok.status == 0)
    }

    @Test func sessionResumptionWithTickets() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-sess-\(getpid())").path
        let sess = dir + ".pem"
        _ = try run("/usr/bin/openssl", ["s_client", "-tls1_2", "-connect", "127.0.0.1:\(gw.httpsPort)", "-sess_out", sess], stdin: Data(), timeout: 20)
        let r = try run("/usr/bin/openssl", ["s_client", "-tls1_2", "-connect", "127.0.0.1:\(gw.httpsPort)", "-sess_in", sess], stdin: Data(), timeout: 20)
        #expect(r.out.contains("Reused, TLSv1.2"))
    }

    @Test func plainHTTPListenerOnlyRedirects() throws {
        let c = try RawClient(port: gw.redirectPort, tls: false)
        try c.send("GET /some/path?q=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 308)
        #expect(r.header("Location") == "https://localhost:\(gw.httpsPort)/some/path?q=1")
        #expect(r.header("Strict-Transport-Security") == nil) // never over plain HTTP (RFC 6797 §7.2)
        let bad = try RawClient(port: gw.redirectPort, tls: false)
        try bad.send("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(try bad.readResponse().status == 400)
    }
}
