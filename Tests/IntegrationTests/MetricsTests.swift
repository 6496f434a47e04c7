import COpenSSL
import Foundation
import Glibc
import Testing

/// The admin listener: `/metrics` scraped by a real Prometheus server, checked by promtool, and
/// the sample alert rules (docs/OPERATIONS.md, "Monitor").
@Suite(.serialized) struct MetricsTests {
    @Test func prometheusScrapesTheRequestsTheTestMade() throws {
        let up = try Upstream()
        let adminPort = freePort()
        let gw = try GatewayFixture(upstreams: [up], extra: "admin: { listen: \"127.0.0.1:\(adminPort)\" },")
        try gw.process.waitFor("admin endpoints")
        for i in 0..<5 { #expect(try gw.get("/private-path-\(i)?token=secret").status == 200) }
        let post = try gw.request("POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab")
        #expect(post.status == 200)

        let metrics = try admin(adminPort, "/metrics")
        #expect(metrics.status == 200)
        // Aggregate only: no path, query or client address among the labels.
        #expect(!metrics.body.contains("private-path") && !metrics.body.contains("secret"))
        #expect(metrics.body.contains(#"drawbridge_requests_total{route="*/",auth="public",method_class="read",status_class="2xx"} 5"#))
        #expect(metrics.body.contains(#"drawbridge_requests_total{route="*/",auth="public",method_class="write",status_class="2xx"} 1"#))
        #expect(metrics.body.contains(#"drawbridge_request_duration_seconds_count{route="*/"} 6"#))
        #expect(metrics.body.contains(#"drawbridge_tls_handshakes_total{version="TLSv1.3"} 6"#))
        #expect(metrics.body.contains(#"drawbridge_upstream_server_up{upstream="app",server="127.0.0.1:\#(up.port)"} 1"#))
        #expect(metrics.body.contains("drawbridge_config_generation 1"))
        let file = gw.dir + "/metrics.txt"
        try metrics.body.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try run("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        #expect(check.status == 0, "\(check.out)\(check.err)")

        // A real Prometheus scrapes the admin listener; PromQL counts the requests made above.
        let promPort = freePort()
        let promDir = gw.dir + "/prometheus"
        try FileManager.default.createDirectory(atPath: promDir, withIntermediateDirectories: true)
        try """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        scrape_configs:
          - job_name: drawbridge
            static_configs: [ { targets: ["127.0.0.1:\(adminPort)"] } ]
        """.write(toFile: promDir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess("/usr/bin/prometheus", ["--config.file=\(promDir)/prometheus.yml", "--storage.tsdb.path=\(promDir)/data",
                                                                  "--web.listen-address=127.0.0.1:\(promPort)"], name: "prometheus")
        defer { prometheus.stop() }
        let query = #"sum(drawbridge_requests_total{job="drawbridge",route="*/"})"#
        var answer = ""
        try poll("Prometheus to answer \(query) with 6", timeout: 90) {
            let url = "http://127.0.0.1:\(promPort)/api/v1/query?query=" + query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            answer = (try? run("/usr/bin/curl", ["-s", url]).out) ?? ""
            return answer.contains(#""6"]"#)
        }
        #expect(answer.contains(#""status":"success""#))
    }

    @Test func sampleAlertRulesPassPromtool() throws {
        let rules = Binaries.packageRoot.appendingPathComponent("packaging/drawbridge-alerts.yml").path
        let r = try run("/usr/bin/promtool", ["check", "rules", rules])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("SUCCESS"))
    }

    /// The admin endpoints exist only on the admin listener: on the public one `/metrics` is a path
    /// like any other (here forwarded to the upstream).
    @Test func metricsAreNotServedOnThePublicListener() throws {
        let up = try Upstream()
        let adminPort = freePort()
        let gw = try GatewayFixture(upstreams: [up], extra: "admin: { listen: \"127.0.0.1:\(adminPort)\" },")
        let r = try gw.get("/metrics")
        #expect(r.status == 200 && r.text.contains("\"name\":\"app\"") && !r.text.contains("drawbridge_requests_total"))
        #expect(try admin(adminPort, "/healthz").status == 200)
        #expect(try admin(adminPort, "/readyz").body == "ready\n")
        #expect(try admin(adminPort, "/other").status == 404)
    }

    @Test func reloadsAndTheConfigurationGenerationAreCounted() throws {
        let up = try Upstream()
        let adminPort = freePort()
        let extra = "admin: { listen: \"127.0.0.1:\(adminPort)\" },"
        let gw = try GatewayFixture(upstreams: [up], extra: extra)
        try gw.reload(expect: "reloaded configuration")
        try gw.writeRaw("{ not json")
        try gw.reload(expect: "reload rejected")
        let m = try admin(adminPort, "/metrics").body
        #expect(m.contains("drawbridge_config_generation 2"))
        #expect(m.contains(#"drawbridge_config_reloads_total{outcome="success"} 1"#))
        #expect(m.contains(#"drawbridge_config_reloads_total{outcome="failure"} 1"#))
    }
}

extension MetricsTests {
    /// Open client and upstream connections as gauges; a handshake that fails before a version was
    /// agreed (plain HTTP on the TLS port) as a failure of version "unknown".
    @Test func connectionsAndHandshakeFailuresAreCounted() throws {
        let up = try Upstream()
        let adminPort = freePort()
        let gw = try GatewayFixture(upstreams: [up], extra: "admin: { listen: \"127.0.0.1:\(adminPort)\" },")
        let plain = try RawClient(port: gw.httpsPort, tls: false)
        try plain.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = plain.readToEnd()
        let old = try RawClient(port: gw.httpsPort, tlsVersion: COpenSSL_TLS1_2_VERSION())
        old.close()
        let held = try gw.client()
        try held.send("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try held.readResponse().status == 200)
        try poll("the gauges to show the open connections") {
            let m = try admin(adminPort, "/metrics").body
            return m.contains("drawbridge_client_connections 1\n") && m.contains(#"drawbridge_upstream_connections{upstream="app"} 1"#)
                && m.contains(#"drawbridge_tls_handshakes_total{version="TLSv1.2"} 1"#)
        }
        let m = try admin(adminPort, "/metrics").body
        #expect(m.contains(#"drawbridge_tls_handshake_failures_total{version="unknown"} 1"#), "\(m)")
        #expect(m.contains(#"drawbridge_tls_handshakes_total{version="TLSv1.3"} 1"#))
        held.close()
        try poll("the client gauge to drop") { try admin(adminPort, "/metrics").body.contains("drawbridge_client_connections 0\n") }
    }

    /// Decisions, sign-ins and lockouts, counted by outcome and reason: never by user, key or email.
    @Test func decisionsSignInsAndLockoutsAreCounted() throws {
        let files = IdentityFiles()
        files.users = [TestUser(id: "u_alice", email: "alice@acme.test"), TestUser(id: "u_bob", email: "bob@acme.test")]
        let good = files.addAPIKey(org: "acme", roles: ["member"])
        let powerless = files.addAPIKey(org: "acme", roles: [])
        let up = try Upstream()
        let adminPort = freePort()
        let gw = try GatewayFixture(upstreams: [up], routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                    extra: files.configSections() + "admin: { listen: \"127.0.0.1:\(adminPort)\" },",
                                    prepare: { try files.write(to: $0) })
        #expect(try gw.get("/x", headers: "Authorization: Bearer \(good)\r\n").status == 200)
        #expect(try gw.get("/x", headers: "Authorization: Bearer \(powerless)\r\n").status == 403)
        #expect(try gw.get("/x", headers: "Authorization: Bearer \(good)x\r\n").status == 401)
        #expect(try gw.get("/x", headers: "Accept: application/json\r\n").status == 401)
        #expect(try SignInClient(gw).signIn(email: "alice@acme.test", password: "correct horse battery staple").status == 303)
        for _ in 0..<3 { #expect(try SignInClient(gw).signIn(email: "bob@acme.test", password: "wrong").status == 401) }

        let m = try admin(adminPort, "/metrics").body
        for line in [#"drawbridge_decisions_total{outcome="allow",reason="allowed"} 1"#,
                     #"drawbridge_decisions_total{outcome="deny",reason="missing_permission"} 1"#,
                     #"drawbridge_decisions_total{outcome="unauthenticated",reason="invalid_api_key"} 1"#,
                     #"drawbridge_decisions_total{outcome="unauthenticated",reason="missing_credential"} 1"#,
                     #"drawbridge_sign_ins_total{mode="password",outcome="success"} 1"#,
                     #"drawbridge_sign_ins_total{mode="password",outcome="failure"} 3"#,
                     "drawbridge_lockouts_total 1",
                     #"drawbridge_requests_total{route="*/",auth="api_key",method_class="read",status_class="2xx"} 1"#,
                     #"drawbridge_requests_total{route="*/",auth="api_key",method_class="read",status_class="4xx"} 1"#,
                     #"drawbridge_requests_total{route="*/",auth="none",method_class="read",status_class="4xx"} 2"#] {
            #expect(m.contains(line), "\(line) not in\n\(m)")
        }
        #expect(!m.contains("alice") && !m.contains("bob") && !m.contains(good.prefix(12)))
    }
}

/// GET on the admin listener (plain HTTP): status and body.
func admin(_ port: UInt16, _ path: String) throws -> (status: Int, body: String) {
    let r = try run("/usr/bin/curl", ["-s", "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"])
    guard let cut = r.out.lastIndex(of: "\n") else { throw TestFailure("no answer from the admin listener: \(r.err)") }
    return (Int(r.out[r.out.index(after: cut)...]) ?? 0, String(r.out[..<cut]))
}

/// Waits until `condition` holds (a deadline, not a measurement).
func poll(_ what: String, timeout: Double = 30, _ condition: () throws -> Bool) throws {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if try condition() { return }
        usleep(100_000)
    }
    throw TestFailure("timed out waiting for \(what)")
}
