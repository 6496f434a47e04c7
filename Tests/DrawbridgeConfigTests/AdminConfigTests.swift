import Testing
@testable import DrawbridgeConfig

@Suite struct AdminConfigTests {
    @Test func adminIsOffByDefaultAndHealthTakesNginxDefaults() throws {
        let config = try Fixture().parse(minimalConfig())
        #expect(config.admin == nil)
        let health = config.upstreams["whoami"]!.health
        #expect(health.maxFails == 1)
        #expect(health.failTimeoutSeconds == 10)
        #expect(health.check == nil)
    }

    @Test func loopbackAdminAndAHealthCheck() throws {
        let config = try Fixture().parse(minimalConfig(
            upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], maxFails: 3, failTimeoutSeconds: 30, healthCheck: { path: "/health", intervalSeconds: 2 } } },"#,
            extra: #"admin: { listen: "127.0.0.1:9901" },"#))
        #expect(config.admin == AdminConfig(listen: ListenAddress(host: "127.0.0.1", port: 9901)))
        let health = config.upstreams["whoami"]!.health
        #expect(health.maxFails == 3)
        #expect(health.failTimeoutSeconds == 30)
        #expect(health.check == HealthCheckConfig(path: "/health", intervalSeconds: 2, timeoutSeconds: 2, healthy: 2, unhealthy: 3))
    }

    @Test func remoteAdminNeedsAllowRemote() throws {
        let config = try Fixture().parse(minimalConfig(extra: #"admin: { listen: "10.0.0.5:9901", allowRemote: true },"#))
        #expect(config.admin?.allowRemote == true)
    }

    /// Each bad admin or health setting is refused with a message naming the field.
    @Test(arguments: [
        (#"admin: { listen: "0.0.0.0:9901" },"#, "admin.listen", "not a loopback address"),
        (#"admin: { listen: "[::]:9901" },"#, "admin.listen", "not a loopback address"),
        (#"admin: { listen: "127.0.0.1:8443" },"#, "admin.listen", "also a public listener"),
        (#"admin: { listen: "localhost:9901" },"#, "admin.listen", "bad listen address"),
        (#"admin: { },"#, "admin.listen", "missing required key"),
        (#"admin: { listen: "127.0.0.1:9901", remote: true },"#, "admin.remote", "unknown key"),
    ])
    func badAdmin(_ extra: String, _ path: String, _ message: String) {
        let issues = Fixture().issues(minimalConfig(extra: extra))
        #expect(issues.contains { $0.path == path && $0.message.contains(message) }, "\(issues)")
    }

    @Test(arguments: [
        (#"maxFails: -1"#, "upstreams.whoami.maxFails", "out of range"),
        (#"failTimeoutSeconds: 0"#, "upstreams.whoami.failTimeoutSeconds", "out of range"),
        (#"healthCheck: { path: "health" }"#, "upstreams.whoami.healthCheck.path", "must start with /"),
        (#"healthCheck: { path: "/a b" }"#, "upstreams.whoami.healthCheck.path", "no spaces"),
        (#"healthCheck: { path: "/", healthy: 0 }"#, "upstreams.whoami.healthCheck.healthy", "out of range"),
        (#"healthCheck: { path: "/", intervalSeconds: 0 }"#, "upstreams.whoami.healthCheck.intervalSeconds", "out of range"),
        (#"healthCheck: { path: "/", rise: 2 }"#, "upstreams.whoami.healthCheck.rise", "unknown key"),
    ])
    func badHealth(_ field: String, _ path: String, _ message: String) {
        let issues = Fixture().issues(minimalConfig(upstreams: "upstreams: { whoami: { servers: [\"127.0.0.1:9000\"], \(field) } },"))
        #expect(issues.contains { $0.path == path && $0.message.contains(message) }, "\(issues)")
    }
}
