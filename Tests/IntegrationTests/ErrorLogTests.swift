import COpenSSL
import Foundation
import Glibc
import Testing

/// The error log (`errorLog`, docs/OPERATIONS.md "Error log") with a real gateway: one JSON line
/// per upstream failure, timeout, ejection, failed TLS handshake (rate-limited), reload and
/// signal; SIGUSR1 reopens its file; and certificate key problems named in words.
@Suite(.serialized) struct ErrorLogTests {
    /// nginx: `connect() failed (111: Connection refused) while connecting to upstream`.
    @Test func anUpstreamRefusingConnectionsIsLoggedWithTheRequestItFailed() throws {
        let dead = freePort() // nothing listens there
        let gw = try GatewayFixture(upstreams: [], upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(dead)\"] } }")
        let r = try gw.get("/x")
        #expect(r.status == 502)
        let line = try #require(try waitForErrorLog("upstream_connect_failed") { gw.process.stderr }.first)
        #expect(line["level"] as? String == "error")
        #expect(line["upstream"] as? String == "app")
        #expect(line["server"] as? String == "127.0.0.1:\(dead)")
        #expect(line["client"] as? String == "127.0.0.1")
        #expect(line["errno"] as? Int == Int(ECONNREFUSED))
        let message = try #require(line["message"] as? String)
        #expect(message.lowercased().contains("connection refused"), "\(message)")
        #expect(message.contains("upstream app"))
        // The same request in the access log: the request id ties the two lines together.
        let rid = try #require(line["request_id"] as? String)
        try poll("the access log line") { gw.accessLog.contains(rid) }
        #expect(r.header("X-Request-Id") == rid)
    }

    /// Passive health: a refusing server of two is marked down (one line), the other serves.
    @Test func aServerMarkedDownByPassiveHealthIsLogged() throws {
        let b = try Upstream(name: "b")
        let dead = freePort()
        let ups = "{ app: { servers: [\"127.0.0.1:\(dead)\", \"127.0.0.1:\(b.port)\"], failTimeoutSeconds: 60 } }"
        let gw = try GatewayFixture(upstreams: [b], upstreamsJSON: ups)
        for _ in 0..<3 { #expect(try gw.get("/").status == 200) }
        let down = try waitForErrorLog("upstream_down") { gw.process.stderr }
        #expect(down.count == 1)
        #expect(down[0]["level"] as? String == "warn")
        #expect(down[0]["server"] as? String == "127.0.0.1:\(dead)")
        #expect((down[0]["message"] as? String)?.contains("marked down for 60") == true)
    }

    /// Passive health counts 5xx answers too: a server taken out by them is logged the same way.
    @Test func aServerMarkedDownByItsErrorsIsLogged() throws {
        let failing = try Upstream(name: "failing")   // whoami: /status/500 answers 500
        let healthy = try ScriptedUpstream(name: "healthy")   // answers 200 to anything
        defer { healthy.stop() }
        let ups = "{ app: { servers: [\"127.0.0.1:\(failing.port)\", \"127.0.0.1:\(healthy.port)\"], failTimeoutSeconds: 60 } }"
        let gw = try GatewayFixture(upstreams: [failing], upstreamsJSON: ups)
        let statuses = try (0..<4).map { _ in try gw.get("/status/500").status }
        #expect(statuses.contains(500) && statuses.contains(200))
        let down = try waitForErrorLog("upstream_down") { gw.process.stderr }
        #expect(down.count == 1)
        #expect(down[0]["server"] as? String == "127.0.0.1:\(failing.port)")
        #expect((down[0]["message"] as? String)?.contains("marked down for 60") == true)
    }

    /// nginx: `upstream timed out (110: Connection timed out) while reading response header`.
    @Test func anUpstreamThatNeverAnswersIsLoggedAsATimeout() throws {
        let silent = try ScriptedUpstream(name: "silent")
        defer { silent.release(answer: false); silent.stop() }
        silent.setScript { _, _ in .hold }
        let gw = try GatewayFixture(upstreams: [], upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(silent.port)\"] } }",
                                    extra: "timeouts: { upstreamResponseSeconds: 1 },")
        #expect(try gw.get("/slow").status == 504)
        let line = try #require(try waitForErrorLog("upstream_timeout") { gw.process.stderr }.first)
        #expect(line["level"] as? String == "error")
        #expect(line["phase"] as? String == "response")
        #expect(line["server"] as? String == "127.0.0.1:\(silent.port)")
        #expect((line["message"] as? String)?.contains("timed out while waiting for the response") == true)
    }

    /// A burst of failed handshakes (TLS 1.1 only, which the gateway refuses): one line with the
    /// client and OpenSSL's reason, the rest counted in a summary line.
    @Test func failedTLSHandshakesAreLoggedRateLimited() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let attempts = 20
        for _ in 0..<attempts {
            #expect(throws: TestFailure.self) { _ = try RawClient(port: gw.httpsPort, tlsVersion: COpenSSL_TLS1_1_VERSION()) }
        }
        func said() -> (detailed: [[String: Any]], suppressed: Int) {
            let lines = errorLogLines(gw.process.stderr, event: "tls_handshake_failed")
            return (lines.filter { $0["client"] != nil }, lines.compactMap { $0["suppressed"] as? Int }.reduce(0, +))
        }
        // Every failure is accounted for: a line of its own, or counted in a summary.
        try poll("all \(attempts) failures logged or counted: \(gw.process.stderr.suffix(3000))") {
            let s = said()
            return s.detailed.count + s.suppressed == attempts
        }
        let s = said()
        #expect(s.detailed.count < attempts, "not rate-limited")
        let first = try #require(s.detailed.first)
        #expect(first["level"] as? String == "info")
        #expect(first["client"] as? String == "127.0.0.1")
        #expect((first["reason"] as? String)?.contains("protocol") == true, "\(first)")
        // The gateway still serves.
        #expect(try gw.get("/").status == 200)
    }

    /// A TLS upstream that answers in plain HTTP: the handshake failure, with OpenSSL's reason.
    @Test func anUpstreamTLSHandshakeFailureIsLogged() throws {
        let plain = try PlainAnswerer()
        defer { plain.stop() }
        let ups = "{ app: { servers: [\"127.0.0.1:\(plain.port)\"], tls: true, caFile: \"\(TestCertificate.cert)\", serverName: \"localhost\" } }"
        let gw = try GatewayFixture(upstreams: [], upstreamsJSON: ups)
        #expect(try gw.get("/").status == 502)
        let line = try #require(try waitForErrorLog("upstream_tls_failed") { gw.process.stderr }.first)
        #expect(line["level"] as? String == "error" && line["server"] as? String == "127.0.0.1:\(plain.port)")
        let message = try #require(line["message"] as? String)
        #expect(message.hasPrefix("TLS handshake with upstream app server 127.0.0.1:\(plain.port) failed: ") && !message.hasSuffix(": "), "\(message)")
    }

    /// Connections over limits.maxConnectionsPerWorker are closed at once: logged, rate-limited.
    @Test func connectionsOverTheLimitAreLoggedRateLimited() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: "limits: { maxConnectionsPerWorker: 1 },")
        let held = try gw.client()   // the one connection the worker takes
        defer { held.close() }
        let attempts = 5
        for _ in 0..<attempts { #expect(throws: TestFailure.self) { _ = try RawClient(port: gw.httpsPort) } }
        try poll("all \(attempts) refused connections logged or counted: \(gw.process.stderr.suffix(2000))") {
            let lines = errorLogLines(gw.process.stderr, event: "connection_limit")
            return lines.filter { $0["limit"] as? Int == 1 }.count + lines.compactMap { $0["suppressed"] as? Int }.reduce(0, +) == attempts
        }
        let first = try #require(errorLogLines(gw.process.stderr, event: "connection_limit").first)
        #expect(first["level"] as? String == "warn")
        #expect((first["message"] as? String)?.hasPrefix("limits.maxConnectionsPerWorker (1) reached") == true)
    }

    @Test func reloadsAndSignalsAreLogged() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let start = try #require(errorLogLines(gw.process.stderr, event: "start").last)
        #expect((start["message"] as? String)?.hasPrefix("serving https on") == true)

        try gw.write(routesJSON: "[ { pathPrefix: \"/\", upstream: \"nosuch\", public: true } ]")
        try gw.reload(expect: "reload rejected")
        let rejected = try #require(errorLogLines(gw.process.stderr, event: "reload_rejected").first)
        #expect(rejected["level"] as? String == "error")
        let why = try #require(rejected["message"] as? String)
        #expect(why.contains("routes[0].upstream") && why.contains("drawbridge.json5"), "\(why)")

        try gw.write()
        try gw.reload(expect: "reloaded configuration")
        #expect(errorLogLines(gw.process.stderr, event: "reload").contains { ($0["message"] as? String)?.hasPrefix("reloaded configuration") == true })
        let signals = errorLogLines(gw.process.stderr, event: "signal").compactMap { $0["message"] as? String }
        #expect(signals.filter { $0.hasPrefix("SIGHUP received") }.count == 2, "\(signals)")

        gw.process.signal(SIGTERM)
        #expect(gw.process.waitExit() == 0)
        let stop = errorLogLines(gw.process.stderr, event: "stop").compactMap { $0["message"] as? String }
        #expect(stop.first?.contains("SIGTERM received") == true, "\(stop)")
        #expect(stop.last == "stopped")
    }

    /// A file error log: the start line still reaches stderr; SIGUSR1 (logrotate) reopens it.
    @Test func sigusr1ReopensTheErrorLogFile() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: "errorLog: \"error.log\",")
        let path = gw.dir + "/error.log"
        func file(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
        #expect(gw.process.stderr.contains("error log: \(path)"))
        try waitForErrorLog("start") { file(path) }
        #expect(errorLogLines(gw.process.stderr).isEmpty, "JSON lines on stderr with a file error log")

        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        gw.process.signal(SIGUSR1)
        let reopened = try waitForErrorLog("log_reopen", count: 2) { file(path) }   // access log and error log
        #expect(reopened.contains { ($0["message"] as? String) == "reopened errorLog \(path)" }, "\(reopened)")
        #expect(errorLogLines(file(path + ".1"), event: "signal").contains { ($0["message"] as? String)?.hasPrefix("SIGUSR1 received") == true })
    }

    @Test func unknownErrorLogSettingsAreRefusedByName() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        try gw.write(extra: "errorLog: \"off\", errorLogLevel: \"debug\",")
        let check = try run(Binaries.drawbridge, ["check-config", "--config", gw.dir])
        #expect(check.status == 1)
        #expect(check.err.contains("errorLog: the error log cannot be turned off"), "\(check.err)")
        #expect(check.err.contains("errorLogLevel: unknown level \"debug\""), "\(check.err)")
    }

    /// A key that is not the certificate's, or not a key at all: check-config and serve name the
    /// configuration file, the field and the key file, in words.
    @Test func certificateKeyProblemsNameTheFileAndTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-keys-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let otherKey = dir + "/other.key"
        let gen = try run("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey])
        #expect(gen.status == 0, "\(gen.err)")
        let config = dir + "/drawbridge.json5"
        func write(key: String) throws {
            try """
            {
              listen: { https: "127.0.0.1:\(freePort())" },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:\(freePort())"] } },
              routes: [ { pathPrefix: "/", upstream: "app", public: true } ],
            }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write(key: otherKey)
        for command in ["check-config", "serve"] {
            let r = try run(Binaries.drawbridge, [command, "--config", dir])
            #expect(r.status == 1)
            #expect(r.err.contains("\(config): tls.certificates[0].key: the key \(otherKey) does not match the certificate \(TestCertificate.cert)"),
                    "\(command): \(r.err)")
        }
        let garbled = dir + "/garbled.key"
        try "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n".write(toFile: garbled, atomically: true, encoding: .utf8)
        try write(key: garbled)
        for command in ["check-config", "serve"] {
            let r = try run(Binaries.drawbridge, [command, "--config", dir])
            #expect(r.status == 1)
            #expect(r.err.contains("\(config): tls.certificates[0].key: cannot load the private key \(garbled): not a PEM private key"),
                    "\(command): \(r.err)")
        }
    }
}

/// A loopback server that answers every connection at once with a plain-HTTP 400 and closes it
/// (what a TLS client meets on a port that does not speak TLS).
final class PlainAnswerer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw TestFailure("plain answerer: bind/listen failed: errno \(errno)") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        fd = listener
        Thread {
            let answer = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                _ = write(c, answer, answer.count)
                close(c)
            }
        }.start()
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
