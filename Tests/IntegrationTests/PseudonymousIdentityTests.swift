import DrawbridgeCrypto
import Foundation
import Testing

/// Pairwise pseudonymous identity end to end (`identity: "pseudonymous"`): two applications
/// behind the gateway get different, stable subjects for the same user, and neither the email
/// nor the user id reaches them, in the identity fields or in the signed assertion.
@Suite(.serialized) struct PseudonymousIdentityTests {
    static let password = "correct horse battery staple"

    final class World {
        let files = IdentityFiles()
        let crm: Upstream, wiki: Upstream, hr: Upstream
        let gw: GatewayFixture
        let pseudonymKey = SecureRandom.bytes(32)
        let apiKey: String

        static let routes = """
            [ { pathPrefix: "/crm/", upstream: "crm", identity: "pseudonymous", access: { methods: { "*": "app:use" } } },
              { pathPrefix: "/wiki/", upstream: "wiki", identity: "pseudonymous", access: { methods: { "*": "app:use" } } },
              { pathPrefix: "/hr/", upstream: "hr", access: { methods: { "*": "app:use" } } } ]
            """

        init(withKey: Bool = true) throws {
            crm = try Upstream(name: "crm")
            wiki = try Upstream(name: "wiki")
            hr = try Upstream(name: "hr")
            files.users = [
                TestUser(id: "u_alice", email: "alice@acme.test", roles: ["member"], groups: []),
                TestUser(id: "u_bob", email: "bob@acme.test", roles: ["member"]),
            ]
            if withKey { files.secrets["pseudonym-key"] = pseudonymKey }
            apiKey = files.addAPIKey(org: "acme", roles: ["member"])
            let files = self.files
            gw = try GatewayFixture(upstreams: [crm, wiki, hr], upstreamsJSON: Self.upstreams(crm, wiki, hr), routesJSON: Self.routes,
                                    extra: files.configSections(), prepare: { try files.write(to: $0) })
        }

        static func upstreams(_ crm: Upstream, _ wiki: Upstream, _ hr: Upstream) -> String {
            "{ crm: { servers: [\"127.0.0.1:\(crm.port)\"] }, wiki: { servers: [\"127.0.0.1:\(wiki.port)\"] }, hr: { servers: [\"127.0.0.1:\(hr.port)\"] } }"
        }

        /// A new session (a new sign-in) for `email`, as a Cookie field.
        func session(_ email: String) throws -> String {
            let c = SignInClient(gw)
            let r = try c.signIn(email: email, password: PseudonymousIdentityTests.password)
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in of \(email): \(r.status) \(r.text)") }
            return "Cookie: __Host-drawbridge=\(v)\r\n"
        }

        func echo(_ path: String, _ credential: String) throws -> Echo {
            let r = try gw.get(path, headers: credential)
            guard r.status == 200 else { throw TestFailure("\(path): \(r.status) \(r.text)") }
            return try Echo.from(r)
        }

        /// The assertion's claims, verified with the gateway's published keys.
        func claims(_ e: Echo) throws -> [String: Any] {
            let jwks = try gw.get("/.drawbridge/jwks.json")
            let keys = try JWK.parseSet(jwks.body)
            let verified = try JWS.verify(try #require(e.header("x-drawbridge-assertion"))) { JWK.select(keys, kid: $0) }
            return try #require(try JSONSerialization.jsonObject(with: Data(verified.payload)) as? [String: Any])
        }

        /// The documented derivation (docs/IDENTITY.md), computed independently of the gateway.
        func expectedSubject(_ userId: String, audience: String) -> String {
            let a = Array(audience.utf8)
            let input = Array("drawbridge-pairwise-v1\u{0}".utf8) + [0, 0, 0, UInt8(a.count)] + a + Array(userId.utf8)
            return Base64URL.encode(HMAC.sha256(key: pseudonymKey, data: input))
        }
    }

    /// Everything the upstream received, headers and assertion payload, as one text to search.
    static func everything(_ e: Echo, _ claims: [String: Any]) -> String {
        e.headers.map { $0.joined(separator: ": ") }.joined(separator: "\n") + "\n"
            + String(decoding: try! JSONSerialization.data(withJSONObject: claims), as: UTF8.self)
    }

    @Test func twoAudiencesGetDifferentStableSubjectsAndNoEmailOrUserId() throws {
        let w = try World()
        let alice = try w.session("alice@acme.test")
        let crm = try w.echo("/crm/x", alice), wiki = try w.echo("/wiki/x", alice)
        let crmSubject = try #require(crm.header("x-drawbridge-user")), wikiSubject = try #require(wiki.header("x-drawbridge-user"))
        #expect(crmSubject != wikiSubject)
        #expect(crmSubject == w.expectedSubject("u_alice", audience: "crm"))
        #expect(wikiSubject == w.expectedSubject("u_alice", audience: "wiki"))
        for (e, subject, audience) in [(crm, crmSubject, "crm"), (wiki, wikiSubject, "wiki")] {
            let claims = try w.claims(e)
            #expect(claims["sub"] as? String == subject)
            #expect(claims["aud"] as? String == audience)
            #expect(claims["email"] == nil && claims["pseudonymous"] as? Bool == true)
            // Org and roles unchanged: what the app authorises on.
            #expect(e.header("x-drawbridge-org") == "acme" && claims["org"] as? String == "acme")
            #expect(e.header("x-drawbridge-roles") == "member" && claims["roles"] as? [String] == ["member"])
            #expect(e.header("x-drawbridge-email") == nil && e.header("x-drawbridge-identity") == "pseudonymous")
            let all = Self.everything(e, claims)
            #expect(!all.contains("alice") && !all.contains("u_alice"), "\(all)")
        }
        // The two apps' session ids differ too (the raw one would join them).
        #expect(try w.claims(crm)["sid"] as? String != (try w.claims(wiki)["sid"] as? String))
        // A route with the full identity still gets it.
        let hr = try w.echo("/hr/x", alice)
        #expect(hr.header("x-drawbridge-user") == "u_alice" && hr.header("x-drawbridge-email") == "alice@acme.test")
    }

    @Test func theSubjectIsTheSameAcrossSignInsAndDiffersBetweenUsers() throws {
        let w = try World()
        let first = try w.echo("/crm/a", try w.session("alice@acme.test")).header("x-drawbridge-user")
        let second = try w.echo("/crm/b", try w.session("alice@acme.test")).header("x-drawbridge-user")
        #expect(first != nil && first == second)
        let bob = try w.echo("/crm/a", try w.session("bob@acme.test")).header("x-drawbridge-user")
        #expect(bob != nil && bob != first)
        // And across a restart (the key is the sealed secret, not process state).
        try w.gw.restart()
        #expect(try w.echo("/crm/c", try w.session("alice@acme.test")).header("x-drawbridge-user") == first)
    }

    @Test func anAPIKeyGetsAPairwiseKeySubject() throws {
        let w = try World()
        let key = "Authorization: Bearer \(w.apiKey)\r\n"
        let crm = try w.echo("/crm/x", key), wiki = try w.echo("/wiki/x", key)
        let id = try #require(w.files.apiKeys.first?.record.keyId)
        #expect(crm.header("x-drawbridge-api-key") == w.expectedSubject("apikey:" + id, audience: "crm"))
        #expect(crm.header("x-drawbridge-api-key") != wiki.header("x-drawbridge-api-key"))
        let claims = try w.claims(crm)
        #expect(claims["api_key"] == nil && !Self.everything(crm, claims).contains(id))
    }

    @Test func aMissingKeyOrMixedIdentityForOneAudienceIsRefused() throws {
        // No pseudonym-key: the gateway refuses to start, naming the command that creates it.
        let files = IdentityFiles()
        files.users = [TestUser(id: "u_alice", email: "alice@acme.test")]
        let up = try Upstream(name: "crm")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-pseudo-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try files.write(to: dir)
        let config = """
            { listen: { https: "127.0.0.1:\(freePort())" }, tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { crm: { servers: ["127.0.0.1:\(up.port)"] } },
              routes: [ { pathPrefix: "/", upstream: "crm", identity: "pseudonymous", access: { methods: { "*": "app:use" } } } ],
              \(files.configSections()) }
            """
        try config.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let check = try run(Binaries.drawbridge, ["check-config", "--config", dir])
        #expect(check.status == 1 && check.err.contains("routes[0].identity: pseudonymous identity needs the secret \"pseudonym-key\"")
                && check.err.contains("drawbridge secret set pseudonym-key --random"), "\(check.err)")
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", dir], name: "drawbridge")
        #expect(p.waitExit(timeout: 20) == 1 && p.stderr.contains("pseudonym-key"), "\(p.stderr)")

        // Two routes of one audience that disagree: the app could join the pseudonym to the user.
        let mixed = config.replacingOccurrences(of: #"access: { methods: { "*": "app:use" } } } ]"#,
                                                with: #"access: { methods: { "*": "app:use" } } }, { pathPrefix: "/full/", upstream: "crm", access: { methods: { "*": "app:use" } } } ]"#)
        try mixed.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let again = try run(Binaries.drawbridge, ["check-config", "--config", dir])
        #expect(again.status == 1 && again.err.contains("routes[1].identity") && again.err.contains("same audience \"crm\""), "\(again.err)")
    }
}
