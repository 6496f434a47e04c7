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

    @Test(arguments: ["-tls1_1", "-tls1", "-ssl3"])
    func oldProtocolsRefused(flag: String) throws {
        // openssl s_client with an old protocol must fail the handshake.
        let r = try run("/usr/bin/openssl", ["s_client", flag, "-connect", "127.0.0.1:\(gw.httpsPort)", "-servername", "localhost"],
                        stdin: Data(), timeout: 20)
        #expect(r.status != 0, "\(flag) handshake succeeded: \(r.out.prefix(300))")
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
