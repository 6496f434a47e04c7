import DrawbridgeCrypto
import Foundation
import Testing

/// RBAC end to end: a real gateway, a recording upstream, sessions made by signing in. Every
/// bypass attempt must be refused by the gateway and must never reach the upstream.
@Suite(.serialized) struct PolicyTests {
    static let password = "correct horse battery staple"
    static let vendorSecret = "s3cret-vendor-value"
    static let routes = #"""
        [ { pathPrefix: "/public/", upstream: "app", public: true },
          { pathPrefix: "/admin", upstream: "app", access: { methods: { "*": "admin:all" } } },
          { pathPrefix: "/orgs/", upstream: "app", access: { methods: { GET: "docs:read", HEAD: "docs:read", "*": "docs:write" }, bind: "/orgs/{org}/" } },
          { pathPrefix: "/groups/", upstream: "app", access: { methods: { "*": "docs:read" }, bind: "/groups/{group}/" } },
          { pathPrefix: "/users/", upstream: "app", access: { credentials: ["session"], methods: { "*": "docs:read" }, bind: "/users/{org}/{user}/", ownerOverride: "users:read:any" } },
          { pathPrefix: "/mfa/", upstream: "app", access: { methods: { "*": "docs:read" }, mfa: true } },
          { pathPrefix: "/billing/", upstream: "app", access: { methods: { "*": "docs:read" }, sensitive: true, audience: "billing" } },
          { pathPrefix: "/vendor/", upstream: "app", access: { methods: { "*": "docs:read" } },
            upstreamCredential: { header: "X-Api-Token", secret: "vendor-token", prefix: "Token " } },
          { pathPrefix: "/norule/", upstream: "app" } ]
        """#
    static let policy = """
        roles: { reader: { permissions: ["docs:read"] }, writer: { permissions: ["docs:*"] }, admin: { permissions: ["*"] },
                 support: { permissions: ["users:read:any", "docs:read"] } },
        groups: { eng: { roles: ["writer"] } },
        stripRequestHeaders: ["X-Employee-Id"],
        """

    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        let totpSeed = SecureRandom.bytes(20)

        init() throws {
            upstream = try Upstream(logRequests: true)
            files.users = [
                TestUser(id: "u_alice", email: "alice@acme.test", roles: ["reader"], groups: ["eng"]),
                TestUser(id: "u_bob", email: "bob@beta.test", org: "beta", roles: ["reader"]),
                TestUser(id: "u_root", email: "root@acme.test", roles: ["admin"]),
                TestUser(id: "u_sam", email: "sam@acme.test", roles: ["support"]),
                TestUser(id: "u_carol", email: "carol@acme.test", roles: ["reader"], totpSeed: totpSeed),
                TestUser(id: "u_dan", email: "dan@acme.test", roles: ["reeder"]),   // a typo: grants nothing, warned about
            ]
            files.secrets["vendor-token"] = Array(PolicyTests.vendorSecret.utf8)
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: PolicyTests.routes,
                                    extra: files.configSections(policy: PolicyTests.policy),
                                    prepare: { try files.write(to: $0) })
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
        var seen: [String] {
            usleep(100_000)
            return (upstream.process?.stdout ?? "").split(separator: "\n").filter { $0.hasPrefix("request: ") }.map { String($0.dropFirst(9)) }
        }

        /// A signed-in session cookie header for `email`.
        func session(_ email: String) throws -> String {
            let c = SignInClient(gw)
            let r = try c.signIn(email: email, password: PolicyTests.password)
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in of \(email): \(r.status) \(r.text)") }
            return "Cookie: __Host-drawbridge=\(v)\r\n"
        }

        func raw(_ head: String) throws -> Response { try gw.request(head) }
    }

    struct Attempt: CustomStringConvertible, Sendable {
        let name: String
        /// Who asks: "" = nobody, else an email that signs in first.
        let as_: String
        let request: String
        /// Acceptable statuses (all refusals).
        let statuses: Set<Int>
        var description: String { name }
    }

    static func get(_ target: String, _ extra: String = "") -> String {
        "GET \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\(extra)Connection: close\r\n\r\n"
    }

    static let attempts: [Attempt] = [
        .init(name: "dot-dot out of a public prefix", as_: "", request: get("/public/../admin"), statuses: [401]),
        .init(name: "encoded dot-dot out of a public prefix", as_: "", request: get("/public/%2e%2e/admin"), statuses: [401]),
        .init(name: "double slash", as_: "", request: get("//admin"), statuses: [401]),
        .init(name: "trailing slash", as_: "", request: get("/admin/"), statuses: [401]),
        .init(name: "upper case", as_: "alice@acme.test", request: get("/ADMIN"), statuses: [404]),
        .init(name: "percent-encoded letter", as_: "alice@acme.test", request: get("/%61dmin"), statuses: [403]),
        .init(name: "path parameter", as_: "", request: get("/admin;x"), statuses: [400]),
        .init(name: "encoded slash", as_: "", request: get("/admin%2f.."), statuses: [400]),
        .init(name: "encoded slash out of a public prefix", as_: "", request: get("/public/..%2fadmin"), statuses: [400]),
        .init(name: "backslash", as_: "", request: get("\\admin"), statuses: [400]),
        .init(name: "backslash inside", as_: "", request: get("/public\\..\\admin"), statuses: [400]),
        .init(name: "encoded NUL", as_: "", request: get("/public/%00/../admin"), statuses: [400]),
        .init(name: "overlong UTF-8 dot", as_: "", request: get("/public/%c0%ae%c0%ae/admin"), statuses: [400]),
        .init(name: "raw fragment", as_: "", request: get("/public/x#/../../admin"), statuses: [400]),
        .init(name: "absolute form with another host", as_: "", request: get("https://evil.example/admin"), statuses: [400, 401, 421]),
        .init(name: "not a member of the org in the path", as_: "alice@acme.test", request: get("/orgs/beta/doc"), statuses: [403]),
        .init(name: "cross-org write", as_: "bob@beta.test", request: "POST /orgs/acme/doc HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", statuses: [403]),
        .init(name: "reader writing in its own org", as_: "bob@beta.test", request: "POST /orgs/beta/doc HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", statuses: [403]),
        .init(name: "method override to smuggle a write", as_: "bob@beta.test", request: get("/orgs/acme/doc", "X-HTTP-Method-Override: GET\r\n"), statuses: [403]),
        .init(name: "another group", as_: "alice@acme.test", request: get("/groups/ops/x"), statuses: [403]),
        .init(name: "another user's object", as_: "alice@acme.test", request: get("/users/acme/u_bob/profile"), statuses: [403]),
        .init(name: "not an admin", as_: "alice@acme.test", request: get("/admin"), statuses: [403]),
        .init(name: "route without a rule", as_: "root@acme.test", request: get("/norule/x"), statuses: [403]),
        .init(name: "MFA route without MFA (API)", as_: "alice@acme.test", request: get("/mfa/x"), statuses: [403]),
        .init(name: "spoofed identity without a session", as_: "", request: get("/orgs/acme/doc", "X-Drawbridge-User: u_root\r\nX-Forwarded-User: u_root\r\n"), statuses: [401]),
    ]

    @Test(arguments: attempts)
    func bypassAttemptsNeverReachTheUpstream(_ a: Attempt) throws {
        let w = try World()
        let cookie = a.as_.isEmpty ? "" : try w.session(a.as_)
        let request = a.request.replacingOccurrences(of: "Connection: close\r\n", with: cookie + "Connection: close\r\n")
        let r = try w.raw(request)
        #expect(a.statuses.contains(r.status), "\(r.status) \(r.text)")
        #expect(w.seen.isEmpty, "reached the upstream: \(w.seen)")
    }

    @Test func hostOtherThanSNIIsMisdirected() throws {
        let w = try World()
        let cookie = try w.session("root@acme.test")
        let r = try w.raw("GET /admin HTTP/1.1\r\nHost: other.example\r\n\(cookie)Connection: close\r\n\r\n")
        #expect(r.status == 421)
        #expect(w.seen.isEmpty)
    }

    @Test func allowedRequestsCarryVerifiableIdentity() throws {
        let w = try World()
        let alice = try w.session("alice@acme.test")
        // Spoofed identity fields in every casing, duplicated, and a method override: all removed.
        let spoof = "x-drawbridge-user: u_root\r\nX-DRAWBRIDGE-USER: u_root\r\nX-Drawbridge-Roles: admin\r\nX-Drawbridge-Assertion: forged\r\n"
            + "x-forwarded-user: u_root\r\nX-Remote-User: u_root\r\nX-HTTP-Method-Override: DELETE\r\n"
        let r = try w.raw("GET /orgs/acme/doc?q=1 HTTP/1.1\r\nHost: localhost\r\n\(alice)\(spoof)Connection: close\r\n\r\n")
        #expect(r.status == 200, "\(r.text)")
        let echo = try Echo.from(r)
        #expect(echo.method == "GET" && echo.target == "/orgs/acme/doc?q=1")
        #expect(echo.headers.filter { $0[0].lowercased() == "x-drawbridge-user" }.map { $0[1] } == ["u_alice"])
        #expect(echo.header("x-drawbridge-roles") == "reader")
        for h in ["x-forwarded-user", "x-remote-user", "x-http-method-override"] { #expect(echo.header(h) == nil, "\(h)") }
        let assertions = echo.headers.filter { $0[0].lowercased() == "x-drawbridge-assertion" }.map { $0[1] }
        #expect(assertions.count == 1)
        // The upstream verifies the assertion with the gateway's published keys.
        let jwks = try w.raw("GET /.drawbridge/jwks.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(jwks.status == 200)
        let keys = try JWK.parseSet(jwks.body)
        let verified = try JWS.verify(try #require(assertions.first)) { kid in JWK.select(keys, kid: kid) }
        let claims = try #require(try JSONSerialization.jsonObject(with: Data(verified.payload)) as? [String: Any])
        #expect(claims["sub"] as? String == "u_alice")
        #expect(claims["org"] as? String == "acme")
        #expect(claims["aud"] as? String == "app")
        #expect(claims["roles"] as? [String] == ["reader"])
        let iat = try #require(claims["iat"] as? Int), exp = try #require(claims["exp"] as? Int)
        #expect(exp - iat == 60)
        // Reused while fresh (one signature per session and audience), per audience otherwise.
        let again = try Echo.from(try w.raw("GET /orgs/acme/other HTTP/1.1\r\nHost: localhost\r\n\(alice)Connection: close\r\n\r\n"))
        #expect(again.header("x-drawbridge-assertion") == assertions.first)
        let billing = try Echo.from(try w.raw("GET /billing/x HTTP/1.1\r\nHost: localhost\r\n\(alice)Connection: close\r\n\r\n"))
        let billingClaims = try JWS.verify(try #require(billing.header("x-drawbridge-assertion"))) { JWK.select(keys, kid: $0) }
        #expect(String(decoding: billingClaims.payload, as: UTF8.self).contains("\"aud\":\"billing\""))
        // A sensitive route's allow is audited; so is every deny.
        #expect(w.audit.contains("\"event\":\"access_allowed\"") && w.audit.contains("/billing/"))
    }

    @Test func groupOwnerAndOverride() throws {
        let w = try World()
        let alice = try w.session("alice@acme.test"), sam = try w.session("sam@acme.test")
        #expect(try w.raw(Self.get("/groups/eng/x", alice)).status == 200)       // member of eng
        #expect(try w.raw(Self.get("/users/acme/u_alice/profile", alice)).status == 200) // her own object
        #expect(try w.raw(Self.get("/users/acme/u_alice/profile", sam)).status == 200)   // override users:read:any
        #expect(try w.raw(Self.get("/orgs/acme/doc", alice)).status == 200)
        #expect(try w.raw("POST /orgs/acme/doc HTTP/1.1\r\nHost: localhost\r\n\(alice)Content-Length: 2\r\nConnection: close\r\n\r\nhi").status == 200) // eng grants writer
        #expect(w.seen.count == 5)
        #expect(w.audit.contains("\"event\":\"access_denied\"") == false)
        #expect(try w.raw(Self.get("/users/acme/u_sam/profile", alice)).status == 403)
        #expect(errorLogText(w.gw.process.stderr).contains("role \"reeder\" is not defined in roles"))
        #expect(try w.raw(Self.get("/orgs/acme/doc", try w.session("dan@acme.test"))).status == 403)
        #expect(w.audit.contains("\"event\":\"access_denied\""))
        let denial = w.audit.split(separator: "\n").first { $0.contains("access_denied") } ?? ""
        for part in ["\"user\":\"u_alice\"", "\"org\":\"acme\"", "\"route\":\"*/users/\"", "\"rule\":\"GET needs docs:read on /users/{org}/{user}/\"",
                     "\"reason\":", "\"request_id\":"] { #expect(denial.contains(part), "\(denial)") }
    }

    @Test func apiKeyScopes() throws {
        let w = try World()
        let key = w.files.addAPIKey(org: "acme", roles: ["reader"])
        try w.files.write(to: w.gw.dir)
        try w.gw.reload(expect: "reloaded")
        let auth = "Authorization: Bearer \(key)\r\n"
        #expect(try w.raw(Self.get("/orgs/acme/doc", auth)).status == 200)
        #expect(try w.raw(Self.get("/orgs/beta/doc", auth)).status == 403)       // other org
        #expect(try w.raw(Self.get("/users/acme/u_alice/x", auth)).status == 403)     // route takes sessions only
        #expect(try w.raw(Self.get("/groups/eng/x", auth)).status == 403)        // keys have no groups
        #expect(try w.raw(Self.get("/admin", auth)).status == 403)
        #expect(w.seen.count == 1)
    }

    @Test func mfaRouteSendsABrowserToTheSecondFactor() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        // carol has TOTP: her sign-in already includes it, so her session has MFA.
        try c.get("/.drawbridge/login")
        let first = try c.post("/.drawbridge/login/password", form: [("csrf", c.csrf), ("email", "carol@acme.test"), ("password", Self.password)])
        #expect(first.status == 200)
        let code = try TOTP.code(secret: w.totpSeed, time: UInt64(Date().timeIntervalSince1970))
        #expect(try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", code)]).status == 303)
        #expect(try c.get("/mfa/x").status == 200)
        // alice signed in with a password only: a browser is sent to the step-up, an API gets 403.
        let alice = try w.session("alice@acme.test")
        let browser = try w.raw("GET /mfa/x HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\(alice)Connection: close\r\n\r\n")
        #expect(browser.status == 302)
        #expect(browser.header("location")?.hasPrefix("/.drawbridge/login/stepup?rd=") == true)
        #expect(w.seen.count == 1)
    }

    @Test func routeAddsTheUpstreamsOwnCredentialFromTheSecretStore() throws {
        let w = try World()
        let alice = try w.session("alice@acme.test")
        let r = try w.raw("GET /vendor/x HTTP/1.1\r\nHost: localhost\r\n\(alice)x-api-token: client-chosen\r\nX-Employee-Id: 7\r\nConnection: close\r\n\r\n")
        #expect(r.status == 200)
        let echo = try Echo.from(r)
        #expect(echo.headers.filter { $0[0].lowercased() == "x-api-token" }.map { $0[1] } == ["Token \(Self.vendorSecret)"])
        #expect(echo.header("x-employee-id") == nil)
        // Other routes do not get it; the secret is in no log.
        #expect(try Echo.from(try w.raw(Self.get("/orgs/acme/x", alice))).header("x-api-token") == nil)
        #expect(!w.audit.contains(Self.vendorSecret) && !w.gw.accessLog.contains(Self.vendorSecret) && !w.gw.process.stderr.contains(Self.vendorSecret))
    }

    @Test func aRouteCredentialWithoutItsSecretIsRejectedAndTheOldConfigKeepsServing() throws {
        let w = try World()
        let alice = try w.session("alice@acme.test")
        try w.gw.write(routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "docs:read" } }, upstreamCredential: { header: "X-Api-Token", secret: "missing" } } ]"#,
                       extra: w.files.configSections(policy: PolicyTests.policy))
        try w.gw.reload(expect: "no secret named \"missing\"")
        #expect(try w.raw(Self.get("/vendor/x", alice)).status == 200) // still the old routes
    }
}
