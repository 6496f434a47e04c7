import DrawbridgeHTTP
import Foundation
import Testing
@testable import DrawbridgeConfig

private let auth = #"auth: { masterKeyFile: "/var/lib/drawbridge/master.key" },"#
private let roles = """
    roles: { viewer: { permissions: ["reports:read"] }, editor: { permissions: ["reports:*", "users:read"] },
             admin: { permissions: ["*"] } },
    groups: { eng: { roles: ["editor"] }, ops: { roles: ["viewer", "admin"] } },
    """

/// A config with roles, groups and auth, and `routes` as given.
private func policyConfig(routes: String, roles rolesText: String = roles) -> String {
    minimalConfig(routes: "routes: \(routes),", extra: auth + rolesText)
}

@Suite struct PolicyConfigTests {
    @Test func fullPolicyParses() throws {
        let config = try Fixture().parse(policyConfig(routes: """
            [ { pathPrefix: "/orgs/", upstream: "whoami",
                access: { credentials: ["session"], methods: { GET: "reports:read", HEAD: "reports:read", "*": "reports:admin" },
                          mfa: true, bind: "/orgs/{org}/users/{owner}/", ownerOverride: "users:read:any",
                          sensitive: true, audience: "reports" } },
              { pathPrefix: "/plain", upstream: "whoami", access: { methods: { POST: "reports:write" } } },
              { pathPrefix: "/legacy", upstream: "whoami" },
              { pathPrefix: "/pub", upstream: "whoami", public: true } ]
            """))
        #expect(config.roles == [RoleConfig(name: "admin", permissions: ["*"]),
                                 RoleConfig(name: "editor", permissions: ["reports:*", "users:read"]),
                                 RoleConfig(name: "viewer", permissions: ["reports:read"])])
        #expect(config.groups == [GroupConfig(name: "eng", roles: ["editor"]), GroupConfig(name: "ops", roles: ["viewer", "admin"])])
        let full = try #require(config.routes[0].access)
        #expect(full.credentials == [.session])
        #expect(full.methods == ["GET": "reports:read", "HEAD": "reports:read", "*": "reports:admin"])
        #expect(full.mfa && full.sensitive)
        #expect(full.bind?.segments == [.literal("orgs"), .org, .literal("users"), .user])
        #expect(full.bind?.text == "/orgs/{org}/users/{owner}/")
        #expect(full.ownerOverride == "users:read:any")
        #expect(full.audience == "reports")
        // Defaults.
        #expect(config.routes[1].access == AccessRule(credentials: [.session, .apiKey], methods: ["POST": "reports:write"],
                                                      mfa: false, bind: nil, ownerOverride: nil, sensitive: false,
                                                      audience: "whoami"))
        // Backwards compatible: a protected route without access still loads (and is denied by the policy).
        #expect(config.routes[2].access == nil && !config.routes[2].isPublic)
        #expect(config.routes[3].access == nil && config.routes[3].isPublic)
    }

    @Test func pathsStripListAndUpstreamCredentialParse() throws {
        let config = try Fixture().parse(policyConfig(routes: #"""
            [ { upstream: "whoami", access: { methods: { GET: "a:b" } }, upstreamCredential: { header: "Authorization", secret: "vendor", prefix: "Bearer " } } ]
            """#, roles: #"paths: { allowEncodedSlash: true, mergeSlashes: false }, stripRequestHeaders: ["X-Employee-Id"],"#))
        #expect(config.pathPolicy == PathPolicy(allowEncodedSlash: true, mergeSlashes: false))
        #expect(config.stripRequestHeaders == ["x-employee-id"])
        #expect(config.routes[0].upstreamCredential == UpstreamCredentialConfig(header: "Authorization", secret: "vendor", prefix: "Bearer "))
        // Strict by default.
        #expect(try Fixture().parse(minimalConfig()).pathPolicy == PathPolicy())
    }

    @Test func noPolicySectionsMeansNoRoles() throws {
        let config = try Fixture().parse(minimalConfig())
        #expect(config.roles.isEmpty && config.groups.isEmpty)
    }

    @Test(arguments: [
        ("reports:read", true, true), ("a", true, true), ("users:read:any", true, true), ("A-b_c.d:e", true, true),
        ("reports:*", false, true), ("*", false, true), ("a:b:*", false, true),
        ("", false, false), ("reports:", false, false), (":read", false, false), ("a::b", false, false),
        ("reports*", false, false), ("reports:*:read", false, false), ("*:read", false, false), ("a b", false, false),
        ("rapports:lire\u{E9}", false, false), ("**", false, false), (":*", false, false),
        (String(repeating: "a", count: 129), false, false),
    ] as [(String, Bool, Bool)])
    func permissionSyntax(text: String, isPermission: Bool, isPattern: Bool) {
        #expect(PermissionSyntax.isPermission(text) == isPermission)
        #expect(PermissionSyntax.isPattern(text) == isPattern)
    }

    @Test(arguments: [
        ("reports:read", "reports:read", true), ("reports:read", "reports:write", false),
        ("reports:*", "reports:read", true), ("reports:*", "reports:read:any", true),
        ("reports:*", "reportsx:read", false), ("reports:*", "reports", false), ("*", "anything:at:all", true),
        ("Reports:read", "reports:read", false),
    ] as [(String, String, Bool)])
    func patternMatching(pattern: String, permission: String, expected: Bool) {
        #expect(PermissionSyntax.matches(pattern: pattern, permission: permission) == expected)
    }

    static let errorCases: [ConfigErrorTests.Case] = [
        .init(name: "upstream credential: bad header name",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a:b" } }, upstreamCredential: { header: "X Api", secret: "t" } } ]"#),
              path: "routes[0].upstreamCredential.header", reason: "not a header field name"),
        .init(name: "upstream credential: no secret",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a:b" } }, upstreamCredential: { header: "X-Api" } } ]"#),
              path: "routes[0].upstreamCredential.secret", reason: "missing required key"),
        .init(name: "upstream credential: control character in prefix",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a:b" } }, upstreamCredential: { header: "X-Api", secret: "t", prefix: "a\nb" } } ]"#),
              path: "routes[0].upstreamCredential.prefix", reason: "must not contain control characters"),
        .init(name: "strip list with a bad name",
              text: policyConfig(routes: #"[ { upstream: "whoami", public: true } ]"#, roles: #"stripRequestHeaders: ["X-Ok", "bad name"],"#),
              path: "stripRequestHeaders[1]", reason: "not a header field name"),
        .init(name: "unknown key in paths",
              text: policyConfig(routes: #"[ { upstream: "whoami", public: true } ]"#, roles: #"paths: { allowEncodedSlashes: true },"#),
              path: "paths.allowEncodedSlashes", reason: "unknown key"),
        .init(name: "roles not an object", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]", roles: "roles: [],"),
              path: "roles", reason: "expected an object mapping role names to roles, got an array"),
        .init(name: "bad role name", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                         roles: #"roles: { "read er": { permissions: [] } },"#),
              path: "roles.read er", reason: "invalid role name \"read er\""),
        .init(name: "unknown key in a role", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                 roles: #"roles: { viewer: { permission: ["a:b"] } },"#),
              path: "roles.viewer.permission", reason: "unknown key (did you mean permissions?)"),
        .init(name: "role without permissions", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                    roles: #"roles: { viewer: {} },"#),
              path: "roles.viewer.permissions", reason: "missing required key"),
        .init(name: "bad permission: empty segment", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                         roles: #"roles: { viewer: { permissions: ["reports:read", "reports:"] } },"#),
              path: "roles.viewer.permissions[1]", reason: "bad permission \"reports:\""),
        .init(name: "bad permission: wildcard inside", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                           roles: #"roles: { viewer: { permissions: ["reports:*:read"] } },"#),
              path: "roles.viewer.permissions[0]", reason: "bad permission \"reports:*:read\""),
        .init(name: "bad permission: glued wildcard", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                          roles: #"roles: { viewer: { permissions: "reports*" } },"#),
              path: "roles.viewer.permissions", reason: "bad permission \"reports*\""),
        .init(name: "unknown role in a group", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                   roles: roles.replacingOccurrences(of: #"["editor"]"#, with: #"["edtor"]"#)),
              path: "groups.eng.roles[0]", reason: "unknown role \"edtor\" (defined: admin, editor, viewer)"),
        .init(name: "unknown key in a group", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                  roles: #"roles: { editor: { permissions: ["a"] } }, groups: { eng: { role: ["editor"] } },"#),
              path: "groups.eng.role", reason: "unknown key (did you mean roles?)"),
        .init(name: "group role list has a number", text: policyConfig(routes: "[ { upstream: \"whoami\", public: true } ]",
                                                                        roles: #"roles: { viewer: { permissions: ["a"] } }, groups: { eng: { roles: ["viewer", 3] } },"#),
              path: "groups.eng.roles[1]", reason: "expected a string, got"),
        .init(name: "access on a public route",
              text: policyConfig(routes: #"[ { upstream: "whoami", public: true, access: { methods: { GET: "a:b" } } } ]"#),
              path: "routes[0].access", reason: "a public route takes no access rule"),
        .init(name: "unknown key in access",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { method: { GET: "a:b" } } } ]"#),
              path: "routes[0].access.method", reason: "unknown key (did you mean methods?)"),
        .init(name: "access without methods",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { mfa: true } } ]"#),
              path: "routes[0].access.methods", reason: "missing required key"),
        .init(name: "empty methods",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: {} } } ]"#),
              path: "routes[0].access.methods", reason: "must list at least one method"),
        .init(name: "methods as a list",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: ["GET"] } } ]"#),
              path: "routes[0].access.methods", reason: "expected an object mapping methods to permissions"),
        .init(name: "lowercase method",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { get: "reports:read" } } } ]"#),
              path: "routes[0].access.methods.get", reason: "methods are case-sensitive: write \"GET\""),
        .init(name: "bad method token",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { "GE T": "reports:read" } } } ]"#),
              path: "routes[0].access.methods.GE T", reason: "bad method name"),
        .init(name: "route requires a pattern",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "reports:*" } } } ]"#),
              path: "routes[0].access.methods.GET", reason: "a route requires one concrete permission, got the pattern \"reports:*\""),
        .init(name: "route requires a bad permission",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { "*": "reports read" } } } ]"#),
              path: "routes[0].access.methods.*", reason: "bad permission \"reports read\""),
        .init(name: "method permission not a string",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: true } } } ]"#),
              path: "routes[0].access.methods.GET", reason: "expected a permission string"),
        .init(name: "unknown credential",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { credentials: ["cookie"], methods: { GET: "a" } } } ]"#),
              path: "routes[0].access.credentials[0]", reason: "unknown credential \"cookie\""),
        .init(name: "no credentials",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { credentials: [], methods: { GET: "a" } } } ]"#),
              path: "routes[0].access.credentials", reason: "must accept at least one credential"),
        .init(name: "credential twice",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { credentials: ["session", "session"], methods: { GET: "a" } } } ]"#),
              path: "routes[0].access.credentials[1]", reason: "listed twice"),
        .init(name: "bind without leading slash",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "orgs/{org}" } } ]"#),
              path: "routes[0].access.bind", reason: "must start with \"/\""),
        .init(name: "bind with unknown placeholder",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/t/{tenant}/" } } ]"#),
              path: "routes[0].access.bind", reason: "unknown placeholder {tenant}"),
        .init(name: "bind with partial placeholder",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/org-{org}/" } } ]"#),
              path: "routes[0].access.bind", reason: "a placeholder must be a whole segment"),
        .init(name: "bind with user and owner",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/u/{user}/o/{owner}" } } ]"#),
              path: "routes[0].access.bind", reason: "{user} or {owner} appears more than once"),
        .init(name: "bind with empty segment",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/orgs//{org}" } } ]"#),
              path: "routes[0].access.bind", reason: "empty segment"),
        .init(name: "bind with dot-dot",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/orgs/../{org}" } } ]"#),
              path: "routes[0].access.bind", reason: "must not contain \".\" or \"..\" segments"),
        .init(name: "bind that conflicts with the path prefix",
              text: policyConfig(routes: #"[ { pathPrefix: "/orgs/", upstream: "whoami", access: { methods: { GET: "a" }, bind: "/org/{org}/" } } ]"#),
              path: "routes[0].access.bind", reason: "can never match a path under pathPrefix \"/orgs/\""),
        .init(name: "ownerOverride without a user binding",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/orgs/{org}", ownerOverride: "users:read:any" } } ]"#),
              path: "routes[0].access.ownerOverride", reason: "only meaningful with a {user} or {owner} segment in bind"),
        .init(name: "ownerOverride without bind",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, ownerOverride: "users:read:any" } } ]"#),
              path: "routes[0].access.ownerOverride", reason: "only meaningful with a {user} or {owner} segment in bind"),
        .init(name: "ownerOverride as a pattern",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, bind: "/u/{user}", ownerOverride: "users:*" } } ]"#),
              path: "routes[0].access.ownerOverride", reason: "a route requires one concrete permission"),
        .init(name: "bad audience",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, audience: "re\"ports" } } ]"#),
              path: "routes[0].access.audience", reason: "visible ASCII"),
        .init(name: "mfa not a boolean",
              text: policyConfig(routes: #"[ { upstream: "whoami", access: { methods: { GET: "a" }, mfa: "yes" } } ]"#),
              path: "routes[0].access.mfa", reason: "expected a boolean"),
    ]

    @Test(arguments: errorCases)
    func reportsFilePathAndReason(_ c: ConfigErrorTests.Case) {
        let issues = Fixture().issues(c.text)
        let matching = issues.filter { $0.path == c.path && $0.message.contains(c.reason) }
        #expect(matching.count == 1, "issues were: \(issues.map(\.description))")
        if let issue = matching.first {
            #expect(issue.description.hasPrefix("\(Fixture.file): \(c.path): "))
        }
    }

    @Test(arguments: [
        ("/orgs/{org}/groups/{group}/", [BindTemplate.Segment.literal("orgs"), .org, .literal("groups"), .group]),
        ("/orgs/{org}", [.literal("orgs"), .org]),
        ("/me/{owner}/files", [.literal("me"), .user, .literal("files")]),
        ("/{user}", [.user]),
    ])
    func templatesParse(text: String, segments: [BindTemplate.Segment]) throws {
        #expect(try BindTemplate(parsing: text).segments == segments)
    }
}
