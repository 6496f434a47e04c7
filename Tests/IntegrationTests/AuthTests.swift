import DrawbridgeCrypto
import Foundation
import Testing

/// Sign-in, sessions and API keys end to end: a real gateway over TLS, whoami behind it, the
/// identity files written as the CLI writes them.
@Suite(.serialized) struct AuthTests {
    static let password = "correct horse battery staple"

    /// A gateway with a protected route "/" and a public one "/public", users alice (acme),
    /// bob (beta) and carol (acme, TOTP).
    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        let totpSeed = SecureRandom.bytes(20)

        init(orgs: String? = nil, modes: String = #"["password", "api_key"]"#) throws {
            upstream = try Upstream(logRequests: true)
            files.users = [
                TestUser(id: "u_alice", email: "alice@acme.test", roles: ["admin"], groups: ["eng"]),
                TestUser(id: "u_bob", email: "bob@beta.test", org: "beta"),
                TestUser(id: "u_carol", email: "carol@acme.test", totpSeed: totpSeed),
            ]
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream],
                                    routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } }, { pathPrefix: "/public", upstream: "app", public: true } ]"#,
                                    extra: files.configSections(modes: modes, orgs: orgs),
                                    prepare: { try files.write(to: $0) })
        }

        func rewriteConfig(orgs: String? = nil, modes: String = #"["password", "api_key"]"#) throws {
            try gw.write(routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } }, { pathPrefix: "/public", upstream: "app", public: true } ]"#,
                         extra: files.configSections(modes: modes, orgs: orgs))
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
    }

    @Test func unauthenticatedBrowserIsSentToSignInAndAPIClientGets401() throws {
        let w = try World()
        let browser = try w.gw.get("/app/page?x=1", headers: "Accept: text/html\r\n")
        #expect(browser.status == 302)
        #expect(browser.header("location")?.hasPrefix("/.drawbridge/login?rd=") == true)
        #expect(browser.header("strict-transport-security") != nil)
        let api = try w.gw.get("/app/page", headers: "Accept: application/json\r\n")
        #expect(api.status == 401)
        #expect(api.text.contains("\"error\":\"unauthenticated\""))
        #expect(api.header("www-authenticate")?.hasPrefix("Bearer") == true)
        let post = try w.gw.request("POST /app HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        #expect(post.status == 401)
        #expect(w.upstream.requestCount == 0) // nothing unauthenticated reached the upstream
        // A public route needs nothing.
        #expect(try w.gw.get("/public/x").status == 200)
    }

    @Test func passwordSignInReachesTheUpstreamWithVerifiedIdentity() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        // Where the user was going is carried through the sign-in.
        let first = try c.get("/app/deep?q=1")
        let rd = try #require(URLComponents(string: first.header("location") ?? "")?.queryItems?.first { $0.name == "rd" }?.value)
        let r = try c.signIn(email: "Alice@Acme.test", password: Self.password, rd: rd)
        #expect(r.status == 303)
        #expect(r.header("location") == "/app/deep?q=1")
        let setCookie = r.headers("set-cookie").first { $0.hasPrefix("__Host-drawbridge=") } ?? ""
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
        let page = try c.get("/app/deep?q=1", headers: "Cookie2: x\r\n")
        #expect(page.status == 200)
        let echo = try Echo.from(page)
        #expect(echo.header("x-drawbridge-user") == "u_alice")
        #expect(echo.header("x-drawbridge-email") == "alice@acme.test")
        #expect(echo.header("x-drawbridge-org") == "acme")
        #expect(echo.header("x-drawbridge-roles") == "admin")
        #expect(echo.header("x-drawbridge-auth-mode") == "password")
        // The session token and sign-in state are the gateway's: the upstream sees none of its cookies.
        #expect(!(echo.header("cookie") ?? "").contains("__Host-drawbridge"))
        #expect(w.audit.contains("\"event\":\"login_success\""))
        #expect(!w.audit.contains(Self.password))
    }

    @Test func spoofedIdentityFieldsNeverReachTheUpstream() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        #expect(try c.signIn(email: "bob@beta.test", password: Self.password).status == 303)
        let echo = try Echo.from(try c.get("/app", headers: "X-Drawbridge-User: u_alice\r\nX-Drawbridge-Org: acme\r\n"))
        #expect(echo.all("x-drawbridge-user") == ["u_bob"])
        #expect(echo.all("x-drawbridge-org") == ["beta"])
    }

    @Test func wrongPasswordUnknownUserAndMissingCSRFAreRefused() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        let wrong = try c.signIn(email: "alice@acme.test", password: "nope")
        let unknown = try c.signIn(email: "mallory@acme.test", password: "nope")
        #expect(wrong.status == 401 && unknown.status == 401)
        // Same page for both: no account enumeration.
        #expect(wrong.text.contains("Wrong email or password") && unknown.text.contains("Wrong email or password"))
        #expect(c.cookies["__Host-drawbridge"] == nil)
        let noCSRF = try SignInClient(w.gw).post("/.drawbridge/login/password", form: [("email", "alice@acme.test"), ("password", Self.password)])
        #expect(noCSRF.status == 403)
        let crossSite = SignInClient(w.gw)
        try crossSite.get("/.drawbridge/login")
        let forged = try crossSite.post("/.drawbridge/login/password", form: [("csrf", crossSite.csrf), ("email", "alice@acme.test"), ("password", Self.password)],
                                        headers: "Origin: https://evil.example\r\n")
        #expect(forged.status == 403)
        #expect(w.audit.contains("wrong password") && w.audit.contains("unknown account"))
    }

    @Test func apiKeysAuthenticateAndAreNotForwarded() throws {
        let files = IdentityFiles()
        let good = files.addAPIKey(org: "acme", roles: ["member"])
        let revoked = files.addAPIKey(org: "acme", roles: ["member"], revoked: true)
        let upstream = try Upstream(logRequests: true)
        let gw = try GatewayFixture(upstreams: [upstream], routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                    extra: files.configSections(), prepare: { try files.write(to: $0) })
        let ok = try gw.get("/api/x", headers: "Authorization: Bearer \(good)\r\n")
        #expect(ok.status == 200)
        let echo = try Echo.from(ok)
        #expect(echo.header("authorization") == nil)
        #expect(echo.header("x-drawbridge-org") == "acme")
        #expect(echo.header("x-drawbridge-roles") == "member")
        #expect(echo.header("x-drawbridge-auth-mode") == "api_key")
        var tampered = Array(good.utf8)
        tampered[tampered.count - 1] = tampered.last == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        for bad in [revoked, String(decoding: tampered, as: UTF8.self), String(good.dropLast()), "db_0000000000000000_" + String(repeating: "A", count: 43)] {
            let r = try gw.get("/api/x", headers: "Authorization: Bearer \(bad)\r\n")
            #expect(r.status == 401, "\(bad)")
            #expect(r.text.contains("unauthenticated")) // never which check failed
        }
        let twice = try gw.get("/api/x", headers: "Authorization: Bearer \(good)\r\nAuthorization: Bearer \(good)\r\n")
        #expect(twice.status == 401)
        #expect(upstream.requestCount == 1)
        let audit = (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? ""
        #expect(audit.contains("credential_rejected") && audit.contains("revoked"))
        #expect(!audit.contains(good))
        // The org switches API keys off: the key stops working at the reload, no restart.
        try gw.write(routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#, extra: files.configSections(
            orgs: #"{ acme: { name: "Acme", disabledModes: ["api_key"] }, beta: { name: "Beta" } }"#))
        try gw.reload(expect: "reloaded")
        #expect(try gw.get("/api/x", headers: "Authorization: Bearer \(good)\r\n").status == 401)
        #expect(upstream.requestCount == 1)
    }

    @Test func addingASessionKeyLogsNobodyOut() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        #expect(try c.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        let oldToken = try #require(c.cookies["__Host-drawbridge"])
        w.files.extraSessionKeys[2] = SecureRandom.bytes(32)
        try w.files.write(to: w.gw.dir)
        try w.gw.reload(expect: "reloaded")
        #expect(try c.get("/app").status == 200)       // sealed under key 1, still opens
        let fresh = SignInClient(w.gw)
        #expect(try fresh.signIn(email: "bob@beta.test", password: Self.password).status == 303)
        let newToken = try #require(fresh.cookies["__Host-drawbridge"])
        #expect(Base64URL.decode(newToken)?[1] == 2)   // new sessions are sealed under the newest key
        #expect(Base64URL.decode(oldToken)?[1] == 1)
        #expect(try fresh.get("/app").status == 200)
    }

    @Test func tamperedTruncatedAndForeignSessionCookiesAreRefused() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        #expect(try c.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        let token = try #require(c.cookies["__Host-drawbridge"])
        var flipped = Array(token.utf8)
        flipped[flipped.count / 2] = flipped[flipped.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let cases = [String(decoding: flipped, as: UTF8.self), String(token.dropLast(4)), String(token.prefix(10)), "", "x" + token,
                     Base64URL.encode(SecureRandom.bytes(80))]
        for bad in cases {
            let r = try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(bad)\r\n")
            #expect(r.status == 401, "\(bad)")
        }
        // The same cookie twice (cookie tossing): refused outright (CookieTests has the table).
        let twice = try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(token); __Host-drawbridge=\(token)\r\n")
        #expect(twice.status == 400)
        #expect(try w.gw.get("/app", headers: "Cookie: __Host-drawbridge=\(token)\r\n").status == 200)
    }

    @Test func totpSecondFactorAndReplay() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        let step = try c.signIn(email: "carol@acme.test", password: Self.password)
        #expect(step.status == 200)
        #expect(step.text.contains("Two-step verification"))
        #expect(c.cookies["__Host-drawbridge"] == nil)
        let wrong = try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", "000000")])
        #expect(wrong.status == 401)
        let code = try TOTP.code(secret: w.totpSeed, time: UInt64(Date().timeIntervalSince1970))
        let ok = try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", code)])
        #expect(ok.status == 303)
        let echo = try Echo.from(try c.get("/app"))
        #expect(echo.header("x-drawbridge-mfa") == "true")
        // The same code again, on a fresh attempt: refused (RFC 6238 §5.2).
        let again = SignInClient(w.gw)
        #expect(try again.signIn(email: "carol@acme.test", password: Self.password).status == 200)
        #expect(try again.post("/.drawbridge/login/totp", form: [("csrf", again.csrf), ("code", code)]).status == 401)
    }

    @Test func disablingTheModeByReloadEndsExistingSessionsAndRefusesNewOnes() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        #expect(try c.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        #expect(try c.get("/app").status == 200)
        try w.rewriteConfig(orgs: #"{ acme: { name: "Acme", emailDomains: ["acme.test"], disabledModes: ["password"] }, beta: { name: "Beta", emailDomains: ["beta.test"] } }"#)
        try w.gw.reload(expect: "reloaded")
        #expect(try c.get("/app", headers: "Accept: application/json\r\n").status == 401)
        let refused = try SignInClient(w.gw).signIn(email: "alice@acme.test", password: Self.password)
        #expect(refused.status == 403)
        // The mode in words, not its id.
        #expect(refused.text.contains("Password sign-in is turned off for Acme. Acme allows: API key."), "\(refused.text)")
        #expect(!refused.text.contains("api_key"))
        // Another org is untouched.
        #expect(try SignInClient(w.gw).signIn(email: "bob@beta.test", password: Self.password).status == 303)
        // Switching it back on restores nothing by itself: the old session stays dead.
        try w.rewriteConfig()
        try w.gw.reload(expect: "reloaded")
        #expect(try c.get("/app", headers: "Accept: application/json\r\n").status == 401)
        #expect(w.audit.contains("modeNotUsable"))
    }

    @Test func disabledExpiredAndEpochBumpedUsersLoseTheirSessions() throws {
        let w = try World()
        var clients: [String: SignInClient] = [:]
        for email in ["alice@acme.test", "bob@beta.test", "carol@acme.test"] where email != "carol@acme.test" {
            let c = SignInClient(w.gw)
            #expect(try c.signIn(email: email, password: Self.password).status == 303)
            clients[email] = c
        }
        w.files.users[0].status = "disabled"
        w.files.users[1].epoch = 1
        try w.files.write(to: w.gw.dir)
        try w.gw.reload(expect: "reloaded")
        #expect(try clients["alice@acme.test"]!.get("/app", headers: "Accept: application/json\r\n").status == 401)
        #expect(try clients["bob@beta.test"]!.get("/app", headers: "Accept: application/json\r\n").status == 401)
        // A disabled user cannot sign in again (and learns nothing more than "wrong").
        #expect(try SignInClient(w.gw).signIn(email: "alice@acme.test", password: Self.password).status == 401)
        // Expiry in the past: refused at sign-in.
        w.files.users[1].expiresAt = UInt64(Date().timeIntervalSince1970) - 10
        try w.files.write(to: w.gw.dir)
        try w.gw.reload(expect: "reloaded")
        #expect(try SignInClient(w.gw).signIn(email: "bob@beta.test", password: Self.password).status == 401)
        #expect(w.audit.contains("user disabled") && w.audit.contains("user expired"))
    }

    @Test func logoutEndsTheSessionAndItsReplay() throws {
        let w = try World()
        let c = SignInClient(w.gw)
        #expect(try c.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        let other = SignInClient(w.gw)
        #expect(try other.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        let token = try #require(c.cookies["__Host-drawbridge"])
        let out = try c.post("/.drawbridge/logout", form: [("csrf", c.csrf)])
        #expect(out.status == 200)
        #expect(c.cookies["__Host-drawbridge"] == nil)
        // Replaying the old cookie after logout: refused. The other session is untouched.
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(token)\r\n").status == 401)
        #expect(try other.get("/app").status == 200)
        // "Sign out everywhere" ends every session of the user, not only the one signing out.
        let third = SignInClient(w.gw)
        #expect(try third.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        let thirdToken = try #require(third.cookies["__Host-drawbridge"])
        #expect(try other.post("/.drawbridge/logout", form: [("csrf", other.csrf), ("all", "1")]).status == 200)
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(thirdToken)\r\n").status == 401)
        #expect(w.audit.contains("\"event\":\"logout\""))
        // Sign-outs are on disk: after a crash and restart the old tokens are still refused,
        // while a session that was never signed out of survives.
        let fresh = SignInClient(w.gw)
        #expect(try fresh.signIn(email: "bob@beta.test", password: Self.password).status == 303)
        try w.gw.restart()
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(token)\r\n").status == 401)
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(thirdToken)\r\n").status == 401)
        #expect(try fresh.get("/app").status == 200)
    }

    @Test func repeatedFailuresLockTheAccount() throws {
        let w = try World()
        for _ in 0..<3 { #expect(try SignInClient(w.gw).signIn(email: "alice@acme.test", password: "wrong").status == 401) }
        // Locked: even the right password is refused for now, the same way an unknown account would be.
        let locked = try SignInClient(w.gw).signIn(email: "alice@acme.test", password: Self.password)
        #expect(locked.status == 429)
        #expect(locked.header("retry-after") != nil)
        #expect(w.audit.contains("\"event\":\"lockout\""))
        // Another account is not affected.
        #expect(try SignInClient(w.gw).signIn(email: "bob@beta.test", password: Self.password).status == 303)
    }

    @Test func returnAddressIsNeverAnotherSite() throws {
        let w = try World()
        // A forged or foreign rd falls back to "/".
        for rd in ["https://evil.example/", "//evil.example", "garbage"] {
            let r = try SignInClient(w.gw).signIn(email: "alice@acme.test", password: Self.password, rd: rd)
            #expect(r.status == 303)
            #expect(r.header("location") == "/", "\(rd)")
        }
    }
}
