import DrawbridgeCrypto
import Foundation
import Testing

/// OIDC sign-in end to end: a real issuer on loopback over TLS (Support/oidc_issuer.py) that
/// signs real ID tokens (RS256 and ES256) with its own keys, the real gateway, whoami behind it.
/// The browser's part is played by SignInClient (gateway) and curl (issuer), following the
/// redirects by hand so each hop can be checked.
@Suite(.serialized) struct OIDCTests {
    /// The test issuer on a free port, with its state in a temporary directory.
    final class Issuer {
        let process: ChildProcess
        let port: Int
        let stateDir: String
        var url: String { "https://127.0.0.1:\(port)" }

        init() throws {
            stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("db-issuer-\(getpid())-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
            let script = Binaries.packageRoot.appendingPathComponent("Tests/IntegrationTests/Support/oidc_issuer.py").path
            process = try ChildProcess("/usr/bin/python3", ["-u", script, "--port", "0", "--cert", TestCertificate.cert,
                                                           "--key", TestCertificate.key, "--state-dir", stateDir], name: "issuer")
            try process.waitFor("listening ")
            let line = process.stdout.split(separator: "\n").first { $0.hasPrefix("listening ") } ?? ""
            port = Int(line.split(separator: " ").last ?? "") ?? 0
        }

        deinit {
            process.stop()
            try? FileManager.default.removeItem(atPath: stateDir)
        }

        /// What the next ID token says (see the script's /control/user); email_verified defaults to true.
        func nextUser(_ text: String) throws {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            if object["email_verified"] == nil { object["email_verified"] = true }
            let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, "-X", "POST", "-H", "Content-Type: application/json",
                                             "--data-binary", json, url + "/control/user"])
            guard r.status == 0 else { throw TestFailure("issuer control: \(r.err)") }
        }

        func rotate() throws {
            let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, "-X", "POST", url + "/control/rotate"])
            guard r.status == 0 else { throw TestFailure("issuer rotate: \(r.err)") }
        }

        /// Follows the authorization URL as a browser would and returns where the issuer sends it back.
        func authorize(_ location: String) throws -> String {
            let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, "-o", "/dev/null", "-w", "%{redirect_url}", location])
            guard r.status == 0, !r.out.isEmpty else { throw TestFailure("authorize: \(r.err) \(r.out)") }
            return r.out
        }
    }

    final class World {
        let files = IdentityFiles()
        let issuer: Issuer
        let upstream: Upstream
        let gw: GatewayFixture

        init(orgs: String? = nil) throws {
            issuer = try Issuer()
            upstream = try Upstream(logRequests: true)
            files.users = [
                TestUser(id: "u_dave", email: "dave@acme.test", roles: ["member"], password: nil),
                TestUser(id: "u_erin", email: "erin@beta.test", org: "beta", password: nil),
            ]
            files.secrets = ["oidc-test": Array("test-secret".utf8)]
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                    extra: Self.sections(files, issuer: issuer.url, orgs: orgs),
                                    prepare: { try files.write(to: $0) })
        }

        static func sections(_ files: IdentityFiles, issuer: String, orgs: String?) -> String {
            files.configSections(modes: #"["password", "api_key", "oidc:test"]"#, orgs: orgs, authExtra: """
                oidc: { test: { issuer: "\(issuer)", clientId: "drawbridge-test", clientSecret: "oidc-test",
                                displayName: "Test IdP", caFile: "\(TestCertificate.cert)",
                                trustedFor: { organizations: ["acme", "beta"] } } },
                """)
        }

        func rewrite(orgs: String?) throws {
            try gw.write(routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#, extra: Self.sections(files, issuer: issuer.url, orgs: orgs))
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }

        /// A client that, like a browser, sends the Host with the port (the redirect URI uses it).
        func client() -> SignInClient {
            let c = SignInClient(gw)
            c.host = "localhost:\(gw.httpsPort)"
            return c
        }

        /// start → issuer → callback. Returns the callback's response.
        func signIn(_ c: SignInClient, hint: String = "", rd: String = "", editCallback: (String) -> String = { $0 }) throws -> Response {
            let start = try c.get("/.drawbridge/oidc/start?provider=test&login_hint=\(hint)&rd=\(rd)")
            guard start.status == 302, let location = start.header("location") else {
                throw TestFailure("start: \(start.status) \(start.text)")
            }
            let back = try issuer.authorize(location)
            let prefix = "https://localhost:\(gw.httpsPort)"
            guard back.hasPrefix(prefix + "/.drawbridge/oidc/callback?") else { throw TestFailure("issuer sent the browser to \(back)") }
            return try c.get(editCallback(String(back.dropFirst(prefix.count))))
        }
    }

    @Test(arguments: ["RS256", "ES256"])
    func signInWithVerifiedIDToken(alg: String) throws {
        let w = try World()
        try w.issuer.nextUser(#"{"email": "Dave@acme.test", "email_verified": true, "sub": "google-123", "alg": "\#(alg)"}"#)
        let c = w.client()
        let start = try c.get("/.drawbridge/oidc/start?provider=test&login_hint=dave@acme.test")
        #expect(start.status == 302)
        let location = try #require(start.header("location"))
        let q = try #require(URLComponents(string: location)).queryItems ?? []
        func item(_ n: String) -> String? { q.first { $0.name == n }?.value }
        #expect(location.hasPrefix(w.issuer.url + "/authorize?"))
        #expect(item("response_type") == "code")
        #expect(item("client_id") == "drawbridge-test")
        #expect(item("code_challenge_method") == "S256")
        #expect(item("redirect_uri") == "https://localhost:\(w.gw.httpsPort)/.drawbridge/oidc/callback")
        #expect((item("state") ?? "").count >= 43 && (item("nonce") ?? "").count >= 43)
        #expect(item("scope")?.split(separator: " ").contains("openid") == true)
        let flight = start.headers("set-cookie").first { $0.hasPrefix("__Host-drawbridge-oidc=") } ?? ""
        for a in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] { #expect(flight.contains(a), "\(flight)") }

        let back = try w.issuer.authorize(location)
        let r = try c.get(String(back.dropFirst("https://localhost:\(w.gw.httpsPort)".count)))
        #expect(r.status == 303, "\(r.text)")
        #expect(c.cookies["__Host-drawbridge"] != nil)
        #expect(c.cookies["__Host-drawbridge-oidc"] == nil) // the sign-in in flight is cleared
        let page = try c.get("/app")
        #expect(page.status == 200)
        let echo = try Echo.from(page)
        #expect(echo.header("x-drawbridge-user") == "u_dave")
        #expect(echo.header("x-drawbridge-auth-mode") == "oidc:test")
        #expect(w.audit.contains("\"mode\":\"oidc:test\""))
        #expect(!w.audit.contains("test-secret"))
        // The same callback again (a replayed code) does not sign anyone in.
        let replay = SignInClient(w.gw)
        replay.host = c.host
        #expect(try replay.get(String(back.dropFirst("https://localhost:\(w.gw.httpsPort)".count))).status == 401)
        #expect(replay.cookies["__Host-drawbridge"] == nil)
    }

    struct BadToken: CustomStringConvertible, Sendable {
        let name: String
        let user: String
        var description: String { name }
    }

    static let badTokens: [BadToken] = [
        .init(name: "wrong nonce", user: #"{"email": "dave@acme.test", "extra_claims": {"nonce": "not-the-one"}}"#),
        .init(name: "no nonce", user: #"{"email": "dave@acme.test", "extra_claims": {"nonce": null}}"#),
        .init(name: "wrong issuer", user: #"{"email": "dave@acme.test", "extra_claims": {"iss": "https://evil.example"}}"#),
        .init(name: "wrong audience", user: #"{"email": "dave@acme.test", "extra_claims": {"aud": "someone-else"}}"#),
        .init(name: "expired", user: #"{"email": "dave@acme.test", "extra_claims": {"exp": 1000}}"#),
        .init(name: "issued in the future", user: #"{"email": "dave@acme.test", "extra_claims": {"iat": 4102444800}}"#),
        .init(name: "email not verified", user: #"{"email": "dave@acme.test", "email_verified": false}"#),
        .init(name: "unknown kid", user: #"{"email": "dave@acme.test", "kid": "no-such-key"}"#),
        .init(name: "unknown account", user: #"{"email": "mallory@acme.test"}"#),
    ]

    @Test(arguments: badTokens)
    func rejectedIDTokensSignNobodyIn(_ c: BadToken) throws {
        let w = try World()
        try w.issuer.nextUser(c.user)
        let client = w.client()
        let r = try w.signIn(client)
        #expect(r.status == 401 || r.status == 403, "\(r.status) \(r.text)")
        #expect(client.cookies["__Host-drawbridge"] == nil)
        #expect(try client.get("/app", headers: "Accept: application/json\r\n").status == 401)
        #expect(w.upstream.requestCount == 0)
        #expect(w.audit.contains("\"event\":\"login_failure\""))
    }

    @Test func stateMustMatchTheBrowsersCookie() throws {
        let w = try World()
        try w.issuer.nextUser(#"{"email": "dave@acme.test"}"#)
        let c = w.client()
        // A callback with another state (an attacker's code planted in the victim's browser).
        let r = try w.signIn(c) { $0.replacingOccurrences(of: "state=", with: "state=x") }
        #expect(r.status == 401)
        #expect(c.cookies["__Host-drawbridge"] == nil)
        // And a callback with no sign-in in flight at all.
        let stranger = w.client()
        try w.issuer.nextUser(#"{"email": "dave@acme.test"}"#)
        let start = try w.client().get("/.drawbridge/oidc/start?provider=test")
        let back = try w.issuer.authorize(try #require(start.header("location")))
        #expect(try stranger.get(String(back.dropFirst("https://localhost:\(w.gw.httpsPort)".count))).status == 401)
        #expect(stranger.cookies["__Host-drawbridge"] == nil)
    }

    @Test func rotatedIssuerKeyIsFetchedOnUnknownKid() throws {
        let w = try World()
        try w.issuer.nextUser(#"{"email": "dave@acme.test", "alg": "ES256"}"#)
        #expect(try w.signIn(w.client()).status == 303) // JWKS now cached
        try w.issuer.rotate()
        try w.issuer.nextUser(#"{"email": "dave@acme.test", "alg": "ES256"}"#)
        let c = w.client()
        #expect(try w.signIn(c).status == 303)
        #expect(c.cookies["__Host-drawbridge"] != nil)
    }

    static let acmeWithoutOIDC = #"{ acme: { name: "Acme", emailDomains: ["acme.test"], disabledModes: ["oidc:test"] }, beta: { name: "Beta", emailDomains: ["beta.test"] } }"#

    @Test func orgThatDisablesTheProviderIsRefusedNamingItsModes() throws {
        let w = try World(orgs: Self.acmeWithoutOIDC)
        // Refused at once when the typed email names the org ...
        let start = try w.client().get("/.drawbridge/oidc/start?provider=test&login_hint=dave@acme.test")
        #expect(start.status == 403)
        #expect(start.text.contains("Test IdP sign-in is turned off for Acme. Acme allows: API key, Password."), "\(start.text)")
        #expect(start.header("location") == nil)
        // ... and at the callback when the verified email belongs to it.
        try w.issuer.nextUser(#"{"email": "dave@acme.test"}"#)
        let c = w.client()
        let r = try w.signIn(c)
        #expect(r.status == 403)
        #expect(r.text.contains("Test IdP sign-in is turned off for Acme. Acme allows: API key, Password."), "\(r.text)")
        #expect(c.cookies["__Host-drawbridge"] == nil)
        // Another org still signs in with it.
        try w.issuer.nextUser(#"{"email": "erin@beta.test"}"#)
        #expect(try w.signIn(w.client()).status == 303)
    }

    @Test func disablingTheProviderByReloadEndsItsSessions() throws {
        let w = try World()
        try w.issuer.nextUser(#"{"email": "dave@acme.test"}"#)
        let c = w.client()
        #expect(try w.signIn(c).status == 303)
        #expect(try c.get("/app").status == 200)
        try w.rewrite(orgs: Self.acmeWithoutOIDC)
        try w.gw.reload(expect: "reloaded")
        #expect(try c.get("/app", headers: "Accept: application/json\r\n").status == 401)
        #expect(w.upstream.requestCount == 1)
    }
}
