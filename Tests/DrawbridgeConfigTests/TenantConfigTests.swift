import Testing
@testable import DrawbridgeConfig

// Issue 20 at load time: ids one spelling apart, assertions that could travel to another
// upstream, overrides that cannot say whose object they reach, methods no rule ever sees.

private let auth = #"auth: { masterKeyFile: "/var/lib/drawbridge/master.key" },"#
private let roles = #"roles: { viewer: { permissions: ["a:read"] } },"#
private let twoUpstreams = #"upstreams: { app: { servers: ["127.0.0.1:9000"] }, billing: { servers: ["127.0.0.1:9001"] } },"#

/// A config with `extra` top-level sections and `routes` over the upstreams `app` and `billing`.
private func config(routes: String = #"[ { upstream: "app", access: { methods: { GET: "a:read" } } } ]"#, extra: String = "",
                    upstreams: String = twoUpstreams) -> String {
    minimalConfig(upstreams: upstreams, routes: "routes: \(routes),", extra: auth + roles + extra)
}

@Suite struct TenantConfigTests {
    typealias Case = ConfigErrorTests.Case

    static let collisions: [Case] = [
        .init(name: "organisations acme and Acme",
              text: config(extra: #"organizations: { acme: { name: "A" }, Acme: { name: "B" } },"#),
              path: "organizations.acme", reason: "organisation id \"acme\" differs from \"Acme\" only in letter case"),
        .init(name: "organisations in upper and mixed case",
              text: config(extra: #"organizations: { BETA: {}, Beta: {}, gamma: {} },"#),
              path: "organizations.Beta", reason: "organisation id \"Beta\" differs from \"BETA\" only in letter case"),
        .init(name: "groups Eng and eng",
              text: config(extra: #"groups: { Eng: { roles: ["viewer"] }, eng: { roles: ["viewer"] } },"#),
              path: "groups.eng", reason: "group \"eng\" differs from \"Eng\" only in letter case"),
        .init(name: "roles admin and Admin",
              text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true } ],"#,
                                  extra: auth + #"roles: { admin: { permissions: ["*"] }, Admin: { permissions: ["a:read"] } },"#),
              path: "roles.admin", reason: "role \"admin\" differs from \"Admin\" only in letter case"),
        .init(name: "upstreams app and App (default audiences)",
              text: config(upstreams: #"upstreams: { app: { servers: ["127.0.0.1:9000"] }, App: { servers: ["127.0.0.1:9001"] } },"#),
              path: "upstreams.app", reason: "upstream \"app\" differs from \"App\" only in letter case"),
        .init(name: "OIDC providers google and Google",
              text: config(extra: #"organizations: { acme: {} },"#).replacingOccurrences(of: auth, with: """
                  auth: { masterKeyFile: "/var/lib/drawbridge/master.key", modes: ["password"],
                          oidc: { google: { issuer: "https://accounts.google.com", clientId: "a", clientSecret: "s1" },
                                  Google: { issuer: "https://accounts.google.com", clientId: "b", clientSecret: "s2" } } },
                  """),
              path: "auth.oidc.google", reason: "OIDC provider \"google\" differs from \"Google\" only in letter case"),
    ]

    static let audiences: [Case] = [
        .init(name: "audience naming another upstream",
              text: config(routes: #"[ { pathPrefix: "/a/", upstream: "app", access: { methods: { GET: "a:read" } } }, { pathPrefix: "/b/", upstream: "billing", access: { methods: { GET: "a:read" }, audience: "app" } } ]"#),
              path: "routes[1].access.audience", reason: "\"app\" is also the assertion audience of upstream \"app\", but this route forwards to \"billing\""),
        .init(name: "audience naming another upstream that has no routes",
              text: config(routes: #"[ { upstream: "app", access: { methods: { GET: "a:read" }, audience: "billing" } } ]"#),
              path: "routes[0].access.audience", reason: "also the assertion audience of upstream \"billing\""),
        .init(name: "audience naming another upstream in another case",
              text: config(routes: #"[ { upstream: "app", access: { methods: { GET: "a:read" }, audience: "Billing" } } ]"#),
              path: "routes[0].access.audience", reason: "\"Billing\" is also the assertion audience of upstream \"billing\""),
        .init(name: "one custom audience on two upstreams (first route)",
              text: config(routes: #"[ { pathPrefix: "/a/", upstream: "app", access: { methods: { GET: "a:read" }, audience: "reports" } }, { pathPrefix: "/b/", upstream: "billing", access: { methods: { GET: "a:read" }, audience: "reports" } } ]"#),
              path: "routes[0].access.audience", reason: "also the assertion audience of upstream \"billing\""),
        .init(name: "one custom audience on two upstreams (second route)",
              text: config(routes: #"[ { pathPrefix: "/a/", upstream: "app", access: { methods: { GET: "a:read" }, audience: "reports" } }, { pathPrefix: "/b/", upstream: "billing", access: { methods: { GET: "a:read" }, audience: "reports" } } ]"#),
              path: "routes[1].access.audience", reason: "also the assertion audience of upstream \"app\""),
        .init(name: "sharedAudience not a boolean",
              text: config(routes: #"[ { upstream: "app", access: { methods: { GET: "a:read" }, sharedAudience: "yes" } } ]"#),
              path: "routes[0].access.sharedAudience", reason: "expected a boolean"),
    ]

    static let rules: [Case] = [
        .init(name: "ownerOverride without {org}: no way to establish the object's org",
              text: config(routes: #"[ { pathPrefix: "/users/", upstream: "app", access: { methods: { GET: "a:read" }, bind: "/users/{user}/", ownerOverride: "users:read:any" } } ]"#),
              path: "routes[0].access.ownerOverride", reason: "needs {org} in bind as well"),
        .init(name: "ownerOverride with {owner} and {group} but no {org}",
              text: config(routes: #"[ { upstream: "app", access: { methods: { GET: "a:read" }, bind: "/g/{group}/{owner}", ownerOverride: "users:read:any" } } ]"#),
              path: "routes[0].access.ownerOverride", reason: "needs {org} in bind as well"),
        .init(name: "TRACE in a rule",
              text: config(routes: #"[ { upstream: "app", access: { methods: { TRACE: "a:read" } } } ]"#),
              path: "routes[0].access.methods.TRACE", reason: "the gateway refuses TRACE on every route"),
        .init(name: "TRACK in a rule",
              text: config(routes: #"[ { upstream: "app", access: { methods: { TRACK: "a:read" } } } ]"#),
              path: "routes[0].access.methods.TRACK", reason: "the gateway refuses TRACK on every route"),
        .init(name: "CONNECT in a rule",
              text: config(routes: #"[ { upstream: "app", access: { methods: { CONNECT: "a:read" } } } ]"#),
              path: "routes[0].access.methods.CONNECT", reason: "the gateway refuses CONNECT on every route"),
        .init(name: "unknown methodOverride",
              text: config(routes: #"[ { upstream: "app", access: { methods: { GET: "a:read" }, methodOverride: "deny" } } ]"#),
              path: "routes[0].access.methodOverride", reason: "unknown value \"deny\" (allowed: \"refuse\", \"pass\")"),
        .init(name: "methodOverride on a public route",
              text: config(routes: #"[ { upstream: "app", public: true, methodOverride: "refuse" } ]"#),
              path: "routes[0].methodOverride", reason: "unknown key"),
    ]

    @Test(arguments: collisions + audiences + rules)
    func reportsFilePathAndReason(_ c: Case) {
        let issues = Fixture().issues(c.text)
        let matching = issues.filter { $0.path == c.path && $0.message.contains(c.reason) }
        #expect(matching.count == 1, "issues were: \(issues.map(\.description))")
        if let issue = matching.first {
            #expect(issue.description.hasPrefix("\(Fixture.file): \(c.path): "))
        }
    }

    /// What stays valid: distinct ids, an audience of one's own, an explicit opt-in, the default.
    @Test func acceptedSpellingsAndAudiences() throws {
        let ok = try Fixture().parse(config(routes: #"""
            [ { pathPrefix: "/a/", upstream: "app", access: { methods: { GET: "a:read" } } },
              { pathPrefix: "/a2/", upstream: "app", access: { methods: { GET: "a:read" }, audience: "app" } },
              { pathPrefix: "/r/", upstream: "app", access: { methods: { GET: "a:read" }, audience: "reports" } },
              { pathPrefix: "/r2/", upstream: "app", access: { methods: { GET: "a:read" }, audience: "reports" } },
              { pathPrefix: "/b/", upstream: "billing", access: { methods: { GET: "a:read" }, audience: "app", sharedAudience: true } },
              { pathPrefix: "/f/", upstream: "billing", access: { methods: { POST: "a:read" }, methodOverride: "refuse",
                bind: "/f/{org}/users/{user}/", ownerOverride: "users:read:any" } } ]
            """#, extra: #"organizations: { acme: {}, beta: {}, gamma: {} }, groups: { eng: { roles: ["viewer"] }, ops: { roles: ["viewer"] } },"#))
        #expect(ok.routes[4].access?.sharedAudience == true && ok.routes[4].access?.audience == "app")
        #expect(ok.routes[5].access?.methodOverride == .refuse && ok.routes[0].access?.methodOverride == .pass)
        #expect(ok.routes[0].access?.sharedAudience == false)
    }

    @Test(arguments: [
        (["acme", "beta", "Acme", "acme", "ACME", "gamma"], [("Acme", "acme"), ("ACME", "acme")]),
        (["a", "b"], []), ([], []), (["x", "x"], []),
    ] as [([String], [(String, String)])])
    func collisionsAreFoundOncePerSpelling(ids: [String], expected: [(String, String)]) {
        let found = IdentifierSpelling.collisions(ids)
        #expect(found.map(\.id) == expected.map(\.0) && found.map(\.earlier) == expected.map(\.1))
    }
}
