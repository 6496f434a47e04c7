import DrawbridgeCrypto
import Foundation
import Testing

/// Issue 20 end to end: a real gateway with three organisations (acme, beta, gamma), two whoami
/// upstreams (app, billing), sessions made by signing in and API keys; tried as a tenant admin
/// and an API client of another organisation would. Every refusal must leave the upstreams untouched.
@Suite(.serialized) struct TenantTests {
    static let password = "correct horse battery staple"
    static let routes = #"""
        [ { pathPrefix: "/public/", upstream: "app", public: true },
          { pathPrefix: "/orgs/", upstream: "app",
            access: { methods: { "*": "docs:read" }, bind: "/orgs/{org}/users/{user}/", ownerOverride: "users:read:any" } },
          { pathPrefix: "/forms/", upstream: "app",
            access: { methods: { DELETE: "docs:delete", "*": "docs:read" }, methodOverride: "refuse" } },
          { pathPrefix: "/open/", upstream: "app", access: { methods: { DELETE: "docs:delete", "*": "docs:read" } } },
          { pathPrefix: "/billing/", upstream: "billing", access: { methods: { "*": "docs:read" } } } ]
        """#
    static let policy = """
        roles: { reader: { permissions: ["docs:read"] }, support: { permissions: ["users:read:any", "docs:read"] } },
        groups: { eng: { roles: ["reader"] } },
        """
    static let orgs = #"{ acme: { emailDomains: ["acme.test"] }, beta: { emailDomains: ["beta.test"] }, gamma: { emailDomains: ["gamma.test"] } }"#

    final class World {
        let files = IdentityFiles()
        let app: Upstream
        let billing: Upstream
        let gw: GatewayFixture
        var acmeKey = "", betaKey = ""

        init(routes: String = TenantTests.routes) throws {
            app = try Upstream(name: "app", logRequests: true)
            billing = try Upstream(name: "billing", logRequests: true)
            files.users = [
                TestUser(id: "u_ann", email: "ann@acme.test", roles: ["support"]),           // acme's admin
                TestUser(id: "u_amy", email: "amy@acme.test", roles: ["reader"]),
                TestUser(id: "u_ben", email: "ben@beta.test", org: "beta", roles: ["reader"]),
                TestUser(id: "u_gil", email: "gil@gamma.test", org: "gamma", roles: ["support"]), // gamma's admin
                TestUser(id: "u_sue", email: "sue@acme.test", roles: ["reader"], moreMemberships: [("beta", ["reader"])]),
            ]
            acmeKey = files.addAPIKey(org: "acme", roles: ["support"])
            betaKey = files.addAPIKey(org: "beta", roles: ["support"])
            let files = self.files
            gw = try GatewayFixture(upstreams: [app, billing], upstreamsJSON: Self.upstreams(app, billing), routesJSON: routes,
                                    extra: files.configSections(orgs: TenantTests.orgs, policy: TenantTests.policy),
                                    prepare: { try files.write(to: $0) })
        }

        static func upstreams(_ app: Upstream, _ billing: Upstream) -> String {
            "{ app: { servers: [\"127.0.0.1:\(app.port)\"] }, billing: { servers: [\"127.0.0.1:\(billing.port)\"] } }"
        }

        func rewrite(routes: String = TenantTests.routes, orgs: String = TenantTests.orgs, policy: String = TenantTests.policy) throws {
            try files.write(to: gw.dir)
            try gw.write(upstreamsJSON: Self.upstreams(app, billing), routesJSON: routes,
                         extra: files.configSections(orgs: orgs, policy: policy))
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
        /// Request lines each upstream received.
        func seen(_ u: Upstream) -> [String] {
            usleep(100_000)
            return (u.process?.stdout ?? "").split(separator: "\n").filter { $0.hasPrefix("request: ") }.map { String($0.dropFirst(9)) }
        }

        func session(_ email: String) throws -> String {
            let c = SignInClient(gw)
            let r = try c.signIn(email: email, password: TenantTests.password)
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in of \(email): \(r.status) \(r.text)") }
            return "Cookie: __Host-drawbridge=\(v)\r\n"
        }

        func request(_ method: String, _ target: String, _ credential: String, body: String? = nil) throws -> Response {
            let framing = body.map { "Content-Length: \($0.utf8.count)\r\n" } ?? ""
            return try gw.request("\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\(credential)\(framing)Connection: close\r\n\r\n\(body ?? "")")
        }
    }

    static func bearer(_ key: String) -> String { "Authorization: Bearer \(key)\r\n" }

    // MARK: 1. Owner override stays in the caller's organisation

    @Test func ownerOverrideReachesMembersOfTheCallersOrganisationOnly() throws {
        let w = try World()
        let ann = try w.session("ann@acme.test"), gil = try w.session("gil@gamma.test")
        // acme's admin on acme's members (one of them in beta too): allowed, and audited as an override.
        let amy = try w.request("GET", "/orgs/acme/users/u_amy/profile", ann)
        #expect(amy.status == 200, "\(amy.text)")
        #expect(try Echo.from(amy).header("x-drawbridge-org") == "acme")
        #expect(try w.request("GET", "/orgs/acme/users/u_sue/profile", ann).status == 200)
        #expect(w.audit.contains("\"reason\":\"owner override\""))
        // Another tenant's user, whatever org the path names: refused before the upstream.
        #expect(try w.request("GET", "/orgs/acme/users/u_ben/profile", ann).status == 403)
        #expect(try w.request("GET", "/orgs/beta/users/u_ben/profile", ann).status == 403)
        #expect(try w.request("GET", "/orgs/gamma/users/u_sue/profile", gil).status == 403)
        #expect(try w.request("GET", "/orgs/gamma/users/u_ann/profile", gil).status == 403)
        // API keys alike: acme's key on acme's member, then on beta's; beta's key on its own and on acme's.
        #expect(try w.request("GET", "/orgs/acme/users/u_amy/x", Self.bearer(w.acmeKey)).status == 200)
        #expect(try w.request("GET", "/orgs/acme/users/u_ben/x", Self.bearer(w.acmeKey)).status == 403)
        #expect(try w.request("GET", "/orgs/beta/users/u_sue/x", Self.bearer(w.betaKey)).status == 200)
        #expect(try w.request("GET", "/orgs/beta/users/u_amy/x", Self.bearer(w.betaKey)).status == 403)
        #expect(w.seen(w.app) == ["GET /orgs/acme/users/u_amy/profile HTTP/1.1", "GET /orgs/acme/users/u_sue/profile HTTP/1.1",
                                  "GET /orgs/acme/users/u_amy/x HTTP/1.1", "GET /orgs/beta/users/u_sue/x HTTP/1.1"])
        let denial = w.audit.split(separator: "\n").first { $0.contains("u_ben/profile") } ?? ""
        #expect(denial.contains("\"event\":\"access_denied\"") && denial.contains("not a member of the caller's organisation"), "\(denial)")
    }

    @Test func anOverrideThatCannotNameTheObjectsOrganisationIsAConfigurationError() throws {
        let w = try World()
        let ann = try w.session("ann@acme.test")
        let bad = TenantTests.routes.replacingOccurrences(of: "bind: \"/orgs/{org}/users/{user}/\"", with: "bind: \"/orgs/{user}/\"")
        try w.rewrite(routes: bad)
        let check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1)
        #expect(check.err.contains("drawbridge.json5: routes[1].access.ownerOverride: needs {org} in bind as well"), "\(check.err)")
        try w.gw.reload(expect: "routes[1].access.ownerOverride")
        #expect(try w.request("GET", "/orgs/acme/users/u_amy/profile", ann).status == 200)   // the old configuration serves
    }

    // MARK: 2. One spelling of a method

    @Test func methodsHaveOneSpellingAndTraceIsRefused() throws {
        let w = try World()
        let amy = try w.session("amy@acme.test")
        #expect(try w.request("DELETE", "/open/doc", amy).status == 403)     // a reader may not delete
        for m in ["delete", "Delete", "dELETE"] {
            #expect(try w.request(m, "/open/doc", amy).status == 400, "\(m)")  // not taken by "*" and run as DELETE
        }
        for m in ["TRACE", "TRACK"] {
            #expect(try w.request(m, "/public/x", "").status == 501, "\(m)")   // would echo the assertion and credentials
            #expect(try w.request(m, "/open/doc", amy).status == 501, "\(m)")
        }
        #expect(try w.request("get", "/public/x", "").status == 400)
        #expect(w.seen(w.app).isEmpty, "\(w.seen(w.app))")
        #expect(try w.request("PROPFIND", "/open/doc", amy).status == 200)   // an unknown upper-case method: "*" as before
        #expect(w.seen(w.app) == ["PROPFIND /open/doc HTTP/1.1"])
    }

    @Test func methodOverrideInTheQueryIsRefusedWhereTheRouteSaysSo() throws {
        let w = try World()
        let amy = try w.session("amy@acme.test")
        for q in ["_method=DELETE", "a=1&_method=DELETE", "%5Fmethod=DELETE", "_METHOD=delete", ".method=DELETE", "_method[]=DELETE", "a=1;_method=PUT"] {
            #expect(try w.request("POST", "/forms/doc?\(q)", amy, body: "x").status == 403, "\(q)")
        }
        #expect(w.seen(w.app).isEmpty, "\(w.seen(w.app))")
        #expect(w.audit.contains("_method in the query string is refused on this route"))
        // Other parameters pass; a route without methodOverride: "refuse" passes _method on (documented).
        #expect(try w.request("POST", "/forms/doc?method=x&page=2", amy, body: "x").status == 200)
        #expect(try w.request("POST", "/open/doc?_method=DELETE", amy, body: "x").status == 200)
        #expect(w.seen(w.app) == ["POST /forms/doc?method=x&page=2 HTTP/1.1", "POST /open/doc?_method=DELETE HTTP/1.1"])
    }

    // MARK: 4. Identifiers that collide

    @Test func identifiersEqualWhenCaseFoldedAreRefused() throws {
        let w = try World()
        let amy = try w.session("amy@acme.test")
        let cases: [(orgs: String, policy: String, users: [TestUser]?, expect: String)] = [
            (#"{ acme: {}, Acme: {}, beta: {}, gamma: {} }"#, TenantTests.policy, nil,
             #"organizations.acme: organisation id "acme" differs from "Acme" only in letter case"#),
            (TenantTests.orgs, #"roles: { reader: { permissions: ["docs:read"] }, support: { permissions: ["*"] } }, groups: { Eng: { roles: ["reader"] }, eng: { roles: ["reader"] } },"#, nil,
             #"groups.eng: group "eng" differs from "Eng" only in letter case"#),
            (TenantTests.orgs, TenantTests.policy, w.files.users + [TestUser(id: "u_bad", email: "bad@beta.test", org: "beta", roles: ["Support"])],
             #"user bad@beta.test (org beta): role "Support" differs from "support" only in letter case"#),
        ]
        let good = w.files.users
        for c in cases {
            if let users = c.users { w.files.users = users }
            try w.rewrite(orgs: c.orgs, policy: c.policy)
            let check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
            #expect(check.status == 1 && check.err.contains(c.expect), "\(check.err)")
            try w.gw.reload(expect: c.expect)       // a running gateway keeps its configuration
            #expect(try w.request("GET", "/open/doc", amy).status == 200)
            w.files.users = good
        }
        try w.rewrite()
        #expect(try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir]).status == 0)
    }

    // MARK: 5. Assertions go only where they belong

    @Test func anAudienceOfAnotherUpstreamNeedsTheExplicitOptIn() throws {
        let w = try World()
        let amy = try w.session("amy@acme.test")
        let borrowed = TenantTests.routes.replacingOccurrences(of: #"upstream: "billing", access: { methods: { "*": "docs:read" } }"#,
                                                               with: #"upstream: "billing", access: { methods: { "*": "docs:read" }, audience: "app" }"#)
        try w.rewrite(routes: borrowed)
        let check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1)
        #expect(check.err.contains(#"drawbridge.json5: routes[4].access.audience: "app" is also the assertion audience of upstream "app", but this route forwards to "billing""#),
                "\(check.err)")
        try w.gw.reload(expect: "routes[4].access.audience")
        let own = try Echo.from(try w.request("GET", "/billing/x", amy))
        #expect(try audience(own.header("x-drawbridge-assertion")) == "billing")   // still the old configuration
        // Opted in: billing receives app's audience (and could replay it to app, as documented).
        try w.rewrite(routes: borrowed.replacingOccurrences(of: #"audience: "app" }"#, with: #"audience: "app", sharedAudience: true }"#))
        try w.gw.reload(expect: "reloaded")
        let shared = try Echo.from(try w.request("GET", "/billing/x", amy))
        #expect(try audience(shared.header("x-drawbridge-assertion")) == "app")
    }

    /// The assertion's `jti` names a signature, not a request: one assertion per session and
    /// audience is reused while more than half its 60 s are left (docs/POLICY.md).
    @Test func oneAssertionPerSessionAndAudienceIsReused() throws {
        let w = try World()
        let amy = try w.session("amy@acme.test")
        let first = try Echo.from(try w.request("GET", "/open/a", amy)).header("x-drawbridge-assertion")
        let second = try Echo.from(try w.request("POST", "/open/b", amy, body: "x")).header("x-drawbridge-assertion")
        #expect(first != nil && first == second)
        #expect(try claims(first)["jti"] as? String == (try claims(second)["jti"] as? String))
        let billing = try Echo.from(try w.request("GET", "/billing/x", amy)).header("x-drawbridge-assertion")
        #expect(billing != first)
    }

    private func claims(_ token: String?) throws -> [String: Any] {
        let parts = try #require(token).split(separator: ".")
        let payload = try #require(Base64URL.decode(String(parts[1])))
        return try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
    }

    private func audience(_ token: String?) throws -> String? { try claims(token)["aud"] as? String }
}
