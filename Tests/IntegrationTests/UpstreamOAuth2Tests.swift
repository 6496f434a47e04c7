import Foundation
import Glibc
import Testing

/// OAuth 2.0 client credentials towards upstreams, end to end: a real token server nobody on this
/// project wrote (Authlib's AuthorizationServer + ClientCredentialsGrant, Debian python3-authlib,
/// in Support/oauth2_token_server.py) over TLS on loopback with the test CA, the real gateway,
/// whoami behind it recording what it receives.
@Suite(.serialized) struct UpstreamOAuth2Tests {
    static let clientSecret = "oauth-S3cret-value-never-logged"

    /// The Authlib token server on `port`.
    final class TokenServer {
        let process: ChildProcess
        let port: UInt16
        var url: String { "https://127.0.0.1:\(port)" }

        init(port: UInt16 = freePort(), expiresIn: Int = 3600) throws {
            self.port = port
            let script = Binaries.packageRoot.appendingPathComponent("Tests/IntegrationTests/Support/oauth2_token_server.py").path
            process = try ChildProcess("/usr/bin/python3", ["-u", script, "--port", String(port), "--cert", TestCertificate.cert,
                                                           "--key", TestCertificate.key, "--secret", UpstreamOAuth2Tests.clientSecret,
                                                           "--expires-in", String(expiresIn)], name: "oauth2-token-server")
            try process.waitFor("listening ")
        }

        deinit { process.stop() }

        /// The tokens issued (and requests refused), oldest first.
        func log() throws -> [[String: Any]] {
            let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, url + "/control/log"])
            guard r.status == 0 else { throw TestFailure("token server log: \(r.err)") }
            return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
        }

        func issued(to client: String) throws -> [[String: Any]] {
            try log().filter { $0["client_id"] as? String == client }
        }
    }

    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        let apiKey: String

        init(tokenPort: UInt16) throws {
            upstream = try Upstream(logRequests: true)
            files.secrets["vendor-oauth"] = Array(UpstreamOAuth2Tests.clientSecret.utf8)
            apiKey = files.addAPIKey(org: "acme", roles: ["member"])
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: World.routes(tokenPort: tokenPort),
                                    extra: files.configSections(), prepare: { try files.write(to: $0) })
        }

        static func routes(tokenPort: UInt16) -> String {
            let endpoint = "https://127.0.0.1:\(tokenPort)/token"
            return """
            [ { pathPrefix: "/basic/", upstream: "app", access: { methods: { "*": "app:use" } },
                upstreamCredential: { oauth2: { tokenEndpoint: "\(endpoint)", clientId: "gw-basic", clientSecret: "vendor-oauth",
                                                scope: "read write", audience: "https://api.vendor.test", caFile: "\(TestCertificate.cert)" } } },
              { pathPrefix: "/post/", upstream: "app", access: { methods: { "*": "app:use" } },
                upstreamCredential: { oauth2: { tokenEndpoint: "\(endpoint)", clientId: "gw-post", clientSecret: "vendor-oauth",
                                                authMethod: "client_secret_post", caFile: "\(TestCertificate.cert)" } } },
              { pathPrefix: "/plain/", upstream: "app", access: { methods: { "*": "app:use" } } } ]
            """
        }

        func get(_ path: String) throws -> Response {
            try gw.get(path, headers: "Authorization: Bearer \(apiKey)\r\n")
        }
    }

    @Test func theTokenIsSentAsBearerToTheUpstreamWithBasicAuthScopeAndAudience() throws {
        let server = try TokenServer()
        let w = try World(tokenPort: server.port)
        let r = try w.get("/basic/x")
        #expect(r.status == 200, "\(r.text)")
        let issued = try server.issued(to: "gw-basic")
        #expect(issued.count == 1)
        let token = try #require(issued.first?["access_token"] as? String)
        let echo = try Echo.from(r)
        // The gateway's token replaces the client's own Authorization (the API key it presented).
        #expect(echo.all("authorization") == ["Bearer \(token)"])
        #expect(issued.first?["auth_method"] as? String == "client_secret_basic")
        #expect(issued.first?["scope"] as? String == "read write")
        #expect(issued.first?["audience"] as? String == "https://api.vendor.test")
        // A route without a credential gets no token, and the client's Authorization is not forwarded either.
        #expect(try Echo.from(try w.get("/plain/x")).header("authorization") == nil)
        // Neither the secret nor the token is in any log.
        let logs = w.gw.process.stderr + w.gw.accessLog
        #expect(!logs.contains(UpstreamOAuth2Tests.clientSecret) && !logs.contains(token))
    }

    @Test func clientSecretPostSendsTheCredentialsInTheForm() throws {
        let server = try TokenServer()
        let w = try World(tokenPort: server.port)
        let r = try w.get("/post/x")
        #expect(r.status == 200, "\(r.text)")
        let issued = try server.issued(to: "gw-post")
        // Authlib's client "gw-post" accepts client_secret_post only (and "gw-basic" basic only).
        #expect(issued.count == 1 && issued.first?["auth_method"] as? String == "client_secret_post")
        #expect(try Echo.from(r).header("authorization") == "Bearer \(try #require(issued.first?["access_token"] as? String))")
        let log = try server.log()
        #expect(log.allSatisfy { $0["error"] == nil }, "a token request was refused: \(log)")
    }

    @Test func concurrentRequestsShareOneFetch() throws {
        let server = try TokenServer()
        let w = try World(tokenPort: server.port)
        let n = 24
        final class Results: @unchecked Sendable { var statuses = [Int](repeating: 0, count: 24); var auth = [String](repeating: "", count: 24) }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: n) { i in
            if let r = try? w.get("/basic/\(i)") {
                results.statuses[i] = r.status
                results.auth[i] = (try? Echo.from(r).header("authorization")) ?? ""
            }
        }
        #expect(results.statuses.allSatisfy { $0 == 200 }, "\(results.statuses)")
        #expect(Set(results.auth).count == 1)
        let log = try server.log()
        #expect(log.filter { $0["client_id"] as? String == "gw-basic" }.count == 1, "one token for all: \(log)")
    }

    /// With a 20 s token, the gateway fetches the next one ahead of expiry (at 3/4 of its
    /// lifetime): requests keep succeeding and the upstream sees the new token.
    @Test func theTokenIsRefreshedBeforeItExpires() throws {
        let server = try TokenServer(expiresIn: 20)
        let w = try World(tokenPort: server.port)
        let first = try Echo.from(try w.get("/basic/x")).header("authorization")
        var latest = first
        let end = Date().addingTimeInterval(90)
        while latest == first && Date() < end {
            usleep(500_000)
            let r = try w.get("/basic/x")
            #expect(r.status == 200, "\(r.status) \(r.text)")
            latest = try Echo.from(r).header("authorization")
        }
        #expect(latest != first, "no new token within 90 s")
        let issued = try server.issued(to: "gw-basic")
        #expect(issued.count >= 2)
        if issued.count >= 2, let t0 = issued[0]["issued_at"] as? Double, let t1 = issued[1]["issued_at"] as? Double {
            #expect(t1 < t0 + 20, "the second token was fetched after the first expired")
        }
    }

    /// Token endpoint down: 502 with Retry-After, a log line naming the client and the reason but
    /// not the secret; retried with backoff, and served once the endpoint is back.
    @Test func aTokenEndpointThatIsDownGives502WithRetryAfterAndIsRetried() throws {
        let port = freePort()
        let w = try World(tokenPort: port)
        let r = try w.get("/basic/x")
        #expect(r.status == 502)
        let retryAfter = try #require(r.header("retry-after").flatMap { Int($0) })
        #expect(retryAfter >= 1 && retryAfter <= 60)
        #expect(w.upstream.requestCount == 0)
        let stderr = w.gw.process.stderr
        #expect(errorLogText(stderr).contains("upstream token for client \"gw-basic\" at https://127.0.0.1:\(port)/token: token endpoint: network"), "\(stderr)")
        #expect(stderr.contains("retrying in"))
        #expect(!stderr.contains(UpstreamOAuth2Tests.clientSecret))
        // Other routes are unaffected.
        #expect(try w.get("/plain/x").status == 200)

        let server = try TokenServer(port: port)
        var status = 0
        let end = Date().addingTimeInterval(90)
        while status != 200 && Date() < end {
            usleep(500_000)
            status = try w.get("/basic/x").status
        }
        #expect(status == 200)
        #expect(try server.issued(to: "gw-basic").count == 1)
        #expect(errorLogText(w.gw.process.stderr).contains("upstream token for client \"gw-basic\" at https://127.0.0.1:\(port)/token: obtained again after"))
    }

    /// A refused client (wrong secret): the server's OAuth error code is logged, the request gets 502.
    @Test func aRefusedClientIsLoggedWithTheServersErrorCode() throws {
        let server = try TokenServer()
        let w = try World(tokenPort: server.port)
        try w.gw.write(routesJSON: World.routes(tokenPort: server.port).replacingOccurrences(of: "clientId: \"gw-basic\"", with: "clientId: \"gw-unknown\""),
                       extra: w.files.configSections())
        try w.gw.reload(expect: "reloaded configuration")
        let r = try w.get("/basic/x")
        #expect(r.status == 502 && r.header("retry-after") != nil)
        #expect(errorLogText(w.gw.process.stderr).contains("client \"gw-unknown\" at \(server.url)/token: token endpoint: HTTP 401 invalid_client"), "\(w.gw.process.stderr)")
        // The unchanged client kept its token across the reload: no second fetch.
        #expect(try w.get("/post/x").status == 200)
        #expect(try server.issued(to: "gw-post").count == 1)
    }

    @Test func checkConfigRejectsAnHTTPEndpointAndAMissingSecret() throws {
        let w = try World(tokenPort: freePort())
        try w.gw.write(routesJSON: World.routes(tokenPort: 1).replacingOccurrences(of: "https://127.0.0.1:1/token", with: "http://127.0.0.1:1/token"),
                       extra: w.files.configSections())
        var check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1)
        #expect(check.err.contains("routes[0].upstreamCredential.oauth2.tokenEndpoint") && check.err.contains("must be an https:// URL"), "\(check.err)")

        try w.gw.write(routesJSON: World.routes(tokenPort: 1).replacingOccurrences(of: "clientSecret: \"vendor-oauth\"", with: "clientSecret: \"nope\""),
                       extra: w.files.configSections())
        check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1)
        #expect(check.err.contains("routes[0].upstreamCredential.oauth2.clientSecret: no secret named \"nope\" (drawbridge secret set nope)"), "\(check.err)")
        // The running gateway refuses the same file at reload and keeps serving the old one.
        try w.gw.reload(expect: "reload rejected")
    }
}
