import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation
import Testing

/// Issue 18, end to end: a real gateway over TLS, whoami behind it, two OIDC providers on
/// loopback (Support/oidc_issuer.py, one process each: `corp` and `evil`) and several
/// organisations. Each test is one abuse path that today's main let through.
@Suite(.serialized) struct IdentityBindingTests {
    static let password = "correct horse battery staple"

    /// example: trusts corp. partner: only evil (and password), trusts evil. closed: passwords off.
    static let orgs = #"""
        { example: { name: "Example", emailDomains: ["example.test"], trustedProviders: ["corp"] },
          partner: { name: "Partner", emailDomains: ["partner.test"], modes: ["oidc:evil", "password"], trustedProviders: ["evil"] },
          closed: { name: "Closed", emailDomains: ["closed.test"], disabledModes: ["password"] } }
        """#

    final class World {
        let files = IdentityFiles()
        let corp: OIDCTests.Issuer
        let evil: OIDCTests.Issuer
        let upstream: Upstream
        let gw: GatewayFixture
        let totpSeed = SecureRandom.bytes(20)

        /// `masterKeyInEnvironment`: the master key comes from DRAWBRIDGE_MASTER_KEY, not a file.
        init(authExtra: String = "", limits: String? = nil, environment: [String: String?] = [:],
             masterKeyInEnvironment: Bool = false) throws {
            corp = try OIDCTests.Issuer()
            evil = try OIDCTests.Issuer()
            upstream = try Upstream(logRequests: true)
            files.users = [
                TestUser(id: "u_dev", email: "dev@example.test", org: "example"),
                TestUser(id: "u_ops", email: "ops@example.test", org: "example"),
                TestUser(id: "u_nopw", email: "nopw@example.test", org: "example", password: nil),
                TestUser(id: "u_carol", email: "carol@example.test", org: "example", totpSeed: totpSeed),
                TestUser(id: "u_max", email: "max@elsewhere.test", org: "example"),
                TestUser(id: "u_pat", email: "pat@partner.test", org: "partner"),
                TestUser(id: "u_cat", email: "cat@closed.test", org: "closed"),
            ]
            files.secrets = ["oidc-test": Array("test-secret".utf8)]
            var sections = files.configSections(modes: #"["password", "api_key", "oidc:corp", "oidc:evil"]"#, orgs: IdentityBindingTests.orgs,
                                                authExtra: """
                oidc: { corp: { issuer: "\(corp.url)", clientId: "drawbridge-test", clientSecret: "oidc-test", caFile: "\(TestCertificate.cert)" },
                        evil: { issuer: "\(evil.url)", clientId: "drawbridge-test", clientSecret: "oidc-test", caFile: "\(TestCertificate.cert)" } },
                \(authExtra)
                """)
            if let limits { sections = sections.replacingOccurrences(of: "loginLimits: { perAddress: 1000, perAccountFailures: 3, lockoutSeconds: 60 }", with: limits) }
            var environment = environment
            if masterKeyInEnvironment {
                sections = sections.replacingOccurrences(of: #"masterKeyFile: "[^"]*", "#, with: "", options: .regularExpression)
                environment["DRAWBRIDGE_MASTER_KEY"] = files.masterKey.map { String(format: "%02x", $0) }.joined()
            }
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                    extra: sections, environment: environment, prepare: { try files.write(to: $0) })
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
        var usersFile: String { (try? String(contentsOfFile: gw.dir + "/users.json", encoding: .utf8)) ?? "" }

        func client() -> SignInClient {
            let c = SignInClient(gw)
            c.host = "localhost:\(gw.httpsPort)"
            return c
        }

        func issuer(_ provider: String) -> OIDCTests.Issuer { provider == "corp" ? corp : evil }

        /// start → issuer → the callback path (not yet followed).
        func callbackPath(_ c: SignInClient, provider: String) throws -> String {
            let start = try c.get("/.drawbridge/oidc/start?provider=\(provider)")
            guard start.status == 302, let location = start.header("location") else { throw TestFailure("start: \(start.status) \(start.text)") }
            let back = try issuer(provider).authorize(location)
            return String(back.dropFirst("https://localhost:\(gw.httpsPort)".count))
        }

        /// A whole OIDC sign-in; `user` is what the provider's next ID token says.
        func oidcSignIn(_ provider: String, _ user: String, client: SignInClient? = nil) throws -> (Response, SignInClient) {
            try issuer(provider).nextUser(user)
            let c = client ?? self.client()
            return (try c.get(try callbackPath(c, provider: provider)), c)
        }

        func whoamiUser(_ c: SignInClient) throws -> String? {
            let r = try c.get("/app", headers: "Accept: application/json\r\n")
            return r.status == 200 ? try Echo.from(r).header("x-drawbridge-user") : nil
        }

        func totpCode() throws -> String { try TOTP.code(secret: totpSeed, time: UInt64(Date().timeIntervalSince1970)) }
    }

    // MARK: 1. Provider trust and (issuer, subject) links

    @Test func aProviderSignsInOnlyMembersOfOrganisationsThatTrustIt() throws {
        let w = try World()
        // evil is configured (and the org `partner` trusts it), but `example` does not: evil
        // asserting an example member's email signs nobody in.
        let (stolen, thief) = try w.oidcSignIn("evil", #"{"email": "dev@example.test", "sub": "evil-666"}"#)
        #expect(stolen.status == 403, "\(stolen.status) \(stolen.text)")
        #expect(stolen.text.contains("cannot sign you in here"))
        #expect(thief.cookies["__Host-drawbridge"] == nil)
        #expect(try w.whoamiUser(thief) == nil)
        #expect(w.audit.contains("\"provider\":\"evil\"") && w.audit.contains("not trusted for organisation example"), "\(w.audit)")
        #expect(w.upstream.requestCount == 0)
        // Its own org's members it signs in (and links).
        let (own, pat) = try w.oidcSignIn("evil", #"{"email": "pat@partner.test", "sub": "evil-9"}"#)
        #expect(own.status == 303)
        #expect(try w.whoamiUser(pat) == "u_pat")
    }

    @Test func theLinkIsTheIdentityNotTheEmail() throws {
        let w = try World()
        let (first, c1) = try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#)
        #expect(first.status == 303)
        #expect(try w.whoamiUser(c1) == "u_dev")
        #expect(w.usersFile.contains("\"subject\": \"corp-1\""), "\(w.usersFile)")
        #expect(w.audit.contains("\"event\":\"oidc_linked\""))
        // The same account now says it is ops@: it is still dev (the email moved, the link did not).
        let (moved, c2) = try w.oidcSignIn("corp", #"{"email": "ops@example.test", "sub": "corp-1"}"#)
        #expect(moved.status == 303)
        #expect(try w.whoamiUser(c2) == "u_dev")
        // Another account of the same provider claiming dev's email (a recycled address) is refused.
        let (recycled, c3) = try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-2"}"#)
        #expect(recycled.status == 403)
        #expect(try w.whoamiUser(c3) == nil)
        // Durable: after a crash and restart the link still decides, whatever the email says.
        try w.gw.restart()
        let (after, c4) = try w.oidcSignIn("corp", #"{"email": "someone-new@example.test", "sub": "corp-1"}"#)
        #expect(after.status == 303)
        #expect(try w.whoamiUser(c4) == "u_dev")
        // An unverified email never makes a first link.
        let (unverified, c5) = try w.oidcSignIn("corp", #"{"email": "ops@example.test", "sub": "corp-3", "email_verified": false}"#)
        #expect(unverified.status == 401 && c5.cookies["__Host-drawbridge"] == nil)
    }

    // MARK: 2. Second-factor lockout and TOTP replay

    @Test func secondFactorFailuresCountUntilAWholeSignInSucceeds() throws {
        let w = try World()
        let c = w.client()
        func password() throws -> Int { try c.signIn(email: "carol@example.test", password: Self.password).status }
        func code(_ code: String) throws -> Int { try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", code)]).status }
        // perAccountFailures is 3 here. A correct password between wrong codes does not reset the count.
        #expect(try password() == 200)
        #expect(try code("000000") == 401)
        #expect(try code("000001") == 401)
        #expect(try password() == 200)
        #expect(try code("000002") == 401)   // third consecutive failure: locked
        #expect(w.audit.contains("\"event\":\"lockout\""))
        #expect(try password() == 429)
        #expect(c.cookies["__Host-drawbridge"] == nil)
    }

    @Test func aTOTPCodeIsAcceptedOnceAlsoAcrossARestart() throws {
        let w = try World()
        let c = w.client()
        #expect(try c.signIn(email: "carol@example.test", password: Self.password).status == 200)
        let code = try w.totpCode()
        #expect(try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", code)]).status == 303)
        #expect(w.usersFile.contains("\"totpLastStep\""))
        try w.gw.restart()   // kill -9: nothing kept in memory survives
        let again = w.client()
        #expect(try again.signIn(email: "carol@example.test", password: Self.password).status == 200)
        #expect(try again.post("/.drawbridge/login/totp", form: [("csrf", again.csrf), ("code", code)]).status == 401)
        #expect(again.cookies["__Host-drawbridge"] == nil)
    }

    // MARK: 3. Enumeration

    @Test func aWrongPasswordAnswersAlikeForEveryKindOfAccount() throws {
        let w = try World()
        // Unknown, wrong password, no password set, member of an org with passwords off.
        var bodies: [String] = []
        for email in ["nobody@example.test", "dev@example.test", "nopw@example.test", "cat@closed.test"] {
            let r = try w.client().signIn(email: email, password: "not the password")
            #expect(r.status == 401, "\(email): \(r.status) \(r.text)")
            #expect(r.text.contains("Wrong email or password") && !r.text.contains("Closed"), "\(email)")
            // The email typed is kept on the form; apart from it and the CSRF token, one page for all.
            #expect(r.text.contains("value=\"\(email)\""))
            bodies.append(r.text.replacingOccurrences(of: #"name="csrf" value="[^"]*""#, with: "", options: .regularExpression)
                .replacingOccurrences(of: email, with: "EMAIL"))
        }
        #expect(Set(bodies).count == 1)
        // Who knows the password may learn that the org turned passwords off.
        let right = try w.client().signIn(email: "cat@closed.test", password: Self.password)
        #expect(right.status == 403 && right.text.contains("Password sign-in is turned off for Closed"))
    }

    @Test func theIdentifierStepDependsOnlyOnTheEmailsDomain() throws {
        let w = try World()
        func page(_ email: String) throws -> Response {
            let c = w.client()
            try c.get("/.drawbridge/login")
            return try c.post("/.drawbridge/login", form: [("csrf", c.csrf), ("rd", ""), ("email", email)])
        }
        // max@ is a member of example, but elsewhere.test belongs to no org: same page as a stranger's.
        let member = try page("max@elsewhere.test"), stranger = try page("zed@elsewhere.test")
        #expect(member.status == stranger.status)
        func normalised(_ r: Response, _ email: String) -> String {
            r.text.replacingOccurrences(of: email, with: "EMAIL").replacingOccurrences(of: email.replacingOccurrences(of: "@", with: "%40"), with: "EMAIL")
                .replacingOccurrences(of: #"value="[A-Za-z0-9_-]{43}""#, with: "", options: .regularExpression)
        }
        #expect(normalised(member, "max@elsewhere.test") == normalised(stranger, "zed@elsewhere.test"))
        #expect(!member.text.contains("Sign in to Example"))
        // A provider is offered only where it may vouch: example's page shows corp, not evil.
        let example = try page("someone@example.test")
        #expect(example.text.contains("provider=corp") && !example.text.contains("provider=evil"))
    }

    // MARK: 4. Sign-ins in progress

    @Test func aPendingSecondFactorEndsWithAPasswordChange() throws {
        let w = try World()
        let c = w.client()
        #expect(try c.signIn(email: "carol@example.test", password: Self.password).status == 200)
        // `drawbridge user set-password` bumps the epoch; the reload applies it.
        w.files.users[3].epoch += 1
        try w.files.write(to: w.gw.dir)
        try w.gw.reload(expect: "reloaded")
        let r = try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", try w.totpCode())])
        #expect(r.status == 401, "\(r.status)")
        #expect(c.cookies["__Host-drawbridge"] == nil)
    }

    private static func tokenCalls(_ issuer: OIDCTests.Issuer) throws -> Int {
        let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, issuer.url + "/control/log"])
        return r.out.components(separatedBy: "\"/token\"").count - 1
    }

    private static func control(_ issuer: OIDCTests.Issuer, _ path: String, _ json: String) throws {
        let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, "-X", "POST", "-H", "Content-Type: application/json",
                                          "--data-binary", json, issuer.url + path])
        guard r.status == 0 else { throw TestFailure("issuer \(path): \(r.err)") }
    }

    @Test func anOIDCStateIsUsedOnce() throws {
        let w = try World()
        try w.corp.nextUser(#"{"email": "dev@example.test", "sub": "corp-1"}"#)
        let c = w.client()
        let path = try w.callbackPath(c, provider: "corp")
        let codeless = path.replacingOccurrences(of: #"code=[^&]*"#, with: "", options: .regularExpression)
        // The attacker keeps the sign-in cookie (the gateway's clearing it is only a request to the browser).
        let flight = try #require(c.cookies["__Host-drawbridge-oidc"])
        // 20 made-up codes with the same state and cookie: at most the first reaches the token endpoint.
        for i in 0..<20 {
            c.cookies["__Host-drawbridge-oidc"] = flight
            let r = try c.get(codeless + "&code=made-up-\(i)")
            // The first made-up code reaches the provider, which refuses it (502); replays stop at the gateway (401).
            #expect(i == 0 ? r.status == 502 : r.status == 401, "\(i): \(r.status)")
        }
        #expect(try Self.tokenCalls(w.corp) <= 1)
    }

    @Test func callbacksAreRateLimitedPerClientAddress() throws {
        let w = try World(limits: "loginLimits: { perAddress: 5, perAccountFailures: 3, lockoutSeconds: 60 }")
        var statuses: [Int] = []
        for i in 0..<8 {
            let c = w.client()
            let path = try w.callbackPath(c, provider: "corp")
            statuses.append(try c.get(path.replacingOccurrences(of: #"code=[^&]*"#, with: "code=made-up-\(i)", options: .regularExpression)).status)
        }
        #expect(statuses.suffix(3).allSatisfy { $0 == 429 }, "\(statuses)")
        #expect(try Self.tokenCalls(w.corp) <= 5)
    }

    /// Token requests held by the provider occupy the provider threads; a password sign-in is on
    /// other threads and completes before any of those calls ends (in the audit log: no OIDC
    /// failure before the password's success).
    @Test func aHangingProviderNeverDelaysPasswordSignIns() throws {
        let w = try World()
        try w.corp.nextUser(#"{"email": "dev@example.test", "sub": "corp-1"}"#)
        let paths = try (0..<6).map { _ -> (SignInClient, String) in let c = w.client(); return (c, try w.callbackPath(c, provider: "corp")) }
        try Self.control(w.corp, "/control/hold", #"{"token": true}"#)
        let group = DispatchGroup()
        for (c, path) in paths {
            group.enter()
            DispatchQueue.global().async { _ = try? c.get(path); group.leave() }
        }
        // Wait until the provider holds requests (the flood is in progress).
        var held = 0
        for _ in 0..<100 where held == 0 {
            usleep(100_000)
            held = Int(try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, w.corp.url + "/control/held"]).out
                .filter(\.isNumber)) ?? 0
        }
        #expect(held > 0)
        let r = try w.client().signIn(email: "dev@example.test", password: Self.password)
        #expect(r.status == 303)
        let audit = w.audit
        #expect(audit.contains("\"event\":\"login_success\""))
        #expect(!audit.contains("oidc corp:"), "an OIDC call ended before the password sign-in did: \(audit)")
        try Self.control(w.corp, "/control/hold", #"{"token": false}"#)
        _ = group.wait(timeout: .now() + 30)
    }

    @Test func aFullProviderQueueIsAnsweredAtOnce() throws {
        let w = try World(authExtra: "workQueues: { providerThreads: 1, providerQueue: 2 },")
        try w.corp.nextUser(#"{"email": "dev@example.test", "sub": "corp-1"}"#)
        let paths = try (0..<6).map { _ -> (SignInClient, String) in let c = w.client(); return (c, try w.callbackPath(c, provider: "corp")) }
        try Self.control(w.corp, "/control/hold", #"{"token": true}"#)
        final class Answers: @unchecked Sendable { let lock = NSLock(); var statuses: [Int] = [] }
        let early = Answers()
        let group = DispatchGroup()
        for (c, path) in paths {
            group.enter()
            DispatchQueue.global().async {
                let status = (try? c.get(path).status) ?? -1
                early.lock.lock(); early.statuses.append(status); early.lock.unlock()
                group.leave()
            }
        }
        // One call runs (held), two wait in the queue; the other three are refused without waiting.
        var answered: [Int] = []
        for _ in 0..<300 {
            early.lock.lock(); answered = early.statuses; early.lock.unlock()
            if answered.count >= 3 { break }
            usleep(100_000)
        }
        #expect(answered.count >= 3 && answered.prefix(3).allSatisfy { $0 == 503 }, "\(answered)")
        try Self.control(w.corp, "/control/hold", #"{"token": false}"#)
        _ = group.wait(timeout: .now() + 30)
    }

    @Test func aFailedDiscoveryIsNotRepeatedByEverySignIn() throws {
        let w = try World()
        try Self.control(w.corp, "/control/fail", #"{"discovery": 500}"#)
        for _ in 0..<5 { #expect(try w.client().get("/.drawbridge/oidc/start?provider=corp").status == 502) }
        let log = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, w.corp.url + "/control/log"]).out
        #expect(log.components(separatedBy: "openid-configuration").count - 1 == 1, "\(log)")
    }
}

// MARK: - 6. Provider keys

@Suite(.serialized) struct ProviderKeyTests {
    typealias World = IdentityBindingTests.World

    private static func control(_ w: World, _ path: String, _ json: String = "{}") throws {
        let r = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, "-X", "POST", "-H", "Content-Type: application/json",
                                          "--data-binary", json, w.corp.url + path])
        guard r.status == 0 else { throw TestFailure("issuer \(path): \(r.err)") }
    }

    @Test func aKeyTheProviderRemovedStopsBeingTrusted() throws {
        let w = try World()
        try Self.control(w, "/control/cache", #"{"jwks": "max-age=1"}"#)
        #expect(try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#).0.status == 303)  // key cached
        try Self.control(w, "/control/retire", #"{"alg": "RS256"}"#)   // gone from the provider's set
        usleep(1_500_000)
        // A token signed with the removed key (its kid still known to the old cache): refused.
        let (r, c) = try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1", "key": "retired"}"#)
        #expect(r.status == 401, "\(r.status)")
        #expect(c.cookies["__Host-drawbridge"] == nil)
    }

    @Test func kidlessTokensSurviveAKeyRotation() throws {
        let w = try World()
        #expect(try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1", "kid": ""}"#).0.status == 303)
        try Self.control(w, "/control/rotate")
        let (r, _) = try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1", "kid": ""}"#)
        #expect(r.status == 303, "\(r.status) \(r.text)")
    }

    @Test func aNewKeyUnderAnOldKidIsFetched() throws {
        let w = try World()
        #expect(try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#).0.status == 303)
        try Self.control(w, "/control/rekey", #"{"alg": "RS256"}"#)
        let (r, _) = try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#)
        #expect(r.status == 303, "\(r.status) \(r.text)")
    }

    @Test func keysDoNotOutliveARediscovery() throws {
        let w = try World()
        try Self.control(w, "/control/cache", #"{"discovery": "max-age=1", "jwks": "max-age=3600"}"#)
        #expect(try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#).0.status == 303)
        usleep(1_500_000)
        #expect(try w.oidcSignIn("corp", #"{"email": "dev@example.test", "sub": "corp-1"}"#).0.status == 303)
        let log = try run("/usr/bin/curl", ["-sS", "--cacert", TestCertificate.cert, w.corp.url + "/control/log"]).out
        // At least one rediscovery (more on a loaded machine, where a sign-in can outlast max-age=1),
        // and the keys fetched again with it although their own max-age (an hour) has not run out.
        let discoveries = log.components(separatedBy: "openid-configuration").count - 1
        let keyFetches = log.components(separatedBy: "\"/jwks\"").count - 1
        #expect(discoveries >= 2, "\(log)")
        #expect(keyFetches >= 2 && keyFetches <= discoveries, "\(log)")
    }
}
