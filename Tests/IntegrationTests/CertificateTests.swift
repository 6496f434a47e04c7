import Foundation
import Glibc
import Testing

/// Several certificates chosen by SNI, a default for unknown or missing names, and certificates
/// replaced on disk taking effect at SIGHUP without a restart.
@Suite(.serialized) struct CertificateTests {
    static func makeCert(_ dir: String, _ name: String) throws {
        let r = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt"])
        if r.status != 0 { throw TestFailure("openssl req: \(r.err)") }
    }

    @Test func sniSelectsCertificateAndReloadReplacesIt() throws {
        let up = try Upstream()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-sni-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for n in ["alpha.test", "beta.test"] { try Self.makeCert(dir, n) }
        let gw = try GatewayFixture(upstreams: [up], extra: """
            tls: { certificates: [
              { cert: "\(dir)/alpha.test.crt", key: "\(dir)/alpha.test.key", default: true },
              { cert: "\(dir)/beta.test.crt", key: "\(dir)/beta.test.key" },
            ] },
            """, replaceTLS: true)
        #expect(try RawClient(port: gw.httpsPort, serverName: "beta.test").peerCommonName == "beta.test")
        #expect(try RawClient(port: gw.httpsPort, serverName: "alpha.test").peerCommonName == "alpha.test")
        #expect(try RawClient(port: gw.httpsPort, serverName: "unknown.test").peerCommonName == "alpha.test") // the default
        #expect(try RawClient(port: gw.httpsPort, serverName: nil).peerCommonName == "alpha.test")

        // A renewed certificate for beta (new key, new name inside) is served after SIGHUP.
        let kept = try RawClient(port: gw.httpsPort, serverName: "beta.test")
        try run("/bin/bash", ["-c", "cd \(dir) && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=beta-renewed.test -addext subjectAltName=DNS:beta.test -keyout beta.test.key -out beta.test.crt 2>/dev/null"])
        try gw.reload(expect: "reloaded")
        #expect(try RawClient(port: gw.httpsPort, serverName: "beta.test").peerCommonName == "beta-renewed.test")
        // The connection opened before the reload still works.
        try kept.send("GET / HTTP/1.1\r\nHost: beta.test\r\n\r\n")
        #expect(try kept.readResponse().status == 200)

        // A key that does not match its certificate is rejected at reload; the old pair keeps serving.
        try run("/bin/cp", ["\(dir)/alpha.test.key", "\(dir)/beta.test.key"])
        try gw.reload(expect: "reload rejected")
        #expect(gw.process.stderr.contains("tls.certificates[1].key"))
        #expect(try RawClient(port: gw.httpsPort, serverName: "beta.test").peerCommonName == "beta-renewed.test")
    }
}
