import Foundation
import Testing
import DrawbridgeConfig
import DrawbridgeHTTP
@testable import DrawbridgeIdentity
import DrawbridgePolicy

// MARK: - The world the table runs in

/// The policy under test, loaded from configuration text the way the gateway loads it.
enum World {
    static let config = """
    {
      listen: { https: "0.0.0.0:8443" },
      tls: { certificates: [ { cert: "a.crt", key: "a.key" } ] },
      upstreams: { app: { servers: ["127.0.0.1:9000"] } },
      auth: { masterKeyFile: "/var/lib/drawbridge/master.key" },
      roles: {
        viewer:         { permissions: ["reports:read"] },
        editor:         { permissions: ["reports:*"] },
        admin:          { permissions: ["*"] },
        member:         { permissions: ["profile:read"] },
        "users-reader": { permissions: ["users:read:any"] },
      },
      groups: { eng: { roles: ["editor"] }, ops: { roles: ["admin"] } },
      routes: [
        /* 0 */ { pathPrefix: "/pub", upstream: "app", public: true },
        /* 1 */ { pathPrefix: "/legacy", upstream: "app" },
        /* 2 */ { pathPrefix: "/reports/", upstream: "app",
                  access: { methods: { GET: "reports:read", HEAD: "reports:read", POST: "reports:write" } } },
        /* 3 */ { pathPrefix: "/reportsx/", upstream: "app", access: { methods: { GET: "reportsx:read" } } },
        /* 4 */ { pathPrefix: "/orgs/", upstream: "app",
                  access: { methods: { GET: "reports:read", "*": "reports:admin" }, bind: "/orgs/{org}/groups/{group}/" } },
        /* 5 */ { pathPrefix: "/people/", upstream: "app",
                  access: { methods: { GET: "profile:read" }, bind: "/people/{org}/{user}/", ownerOverride: "users:read:any" } },
        /* 6 */ { pathPrefix: "/secure/", upstream: "app",
                  access: { methods: { GET: "reports:read" }, mfa: true, sensitive: true, audience: "vault" } },
        /* 7 */ { pathPrefix: "/keys-only/", upstream: "app", access: { credentials: "api_key", methods: { GET: "reports:read" } } },
        /* 8 */ { pathPrefix: "/session-only/", upstream: "app", access: { credentials: ["session"], methods: { GET: "reports:read" } } },
        /* 9 */ { pathPrefix: "/tenants/", upstream: "app", access: { methods: { "*": "reports:read" }, bind: "/tenants/{org}" } },
        /* 10 */ { pathPrefix: "/everything/", upstream: "app", access: { methods: { "*": "admin:anything" } } },
        /* 11 */ { pathPrefix: "/me/", upstream: "app", access: { methods: { GET: "profile:read" }, bind: "/me/{owner}/files" } },
        /* 12 */ { pathPrefix: "/forms/", upstream: "app",
                   access: { methods: { DELETE: "reports:delete", "*": "reports:read" }, methodOverride: "refuse" } },
        /* 13 */ { pathPrefix: "/open/", upstream: "app", access: { methods: { DELETE: "reports:delete", "*": "reports:read" } } },
        /* 14 */ { pathPrefix: "/orgs-users/", upstream: "app", access: { methods: { GET: "profile:read" },
                   bind: "/orgs-users/{org}/groups/{group}/{user}", ownerOverride: "users:read:any" } },
      ],
    }
    """

    static let policy: PolicySnapshot = {
        let directory = NSTemporaryDirectory() + "drawbridge-policy-tests-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["a.crt", "a.key"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("dummy\n".utf8))
        }
        let gateway = try! ConfigLoader.parse(json5: config, file: "policy-tests.json5", baseDirectory: directory)
        return PolicySnapshot(config: gateway, users: users)
    }()

    /// Who is a member of which organisation (as users.json says): three organisations A, B, C;
    /// `shared` is in A and B. Roles here do not matter (the credentials below carry their own).
    static let users: [User] = [
        User(id: "alice", email: "alice@a.test", memberships: [Membership(orgId: "A")]),
        User(id: "bob", email: "bob@a.test", memberships: [Membership(orgId: "A")]),
        User(id: "dave", email: "dave@a.test", memberships: [Membership(orgId: "A")]),
        User(id: "carol", email: "carol@b.test", memberships: [Membership(orgId: "B")]),
        User(id: "shared", email: "shared@b.test", memberships: [Membership(orgId: "B"), Membership(orgId: "A")]),
        User(id: "zoe", email: "zoe@c.test", memberships: [Membership(orgId: "C")]),
        User(id: "u_0123456789abcdef0123456789", email: "long@a.test", memberships: [Membership(orgId: "A")]),
        User(id: "nomember", email: "nomember@a.test"),
    ]

    static func session(_ user: String, org: String = "A", roles: [String] = [], groups: [String] = [], mfa: Bool = false) -> Credential {
        .session(Identity(userId: user, email: "\(user)@example.test", orgId: org, roles: roles, groups: groups,
                          authMode: .password, mfa: mfa, sessionId: SessionID(bytes: [UInt8](repeating: 7, count: 16))!,
                          timeouts: SessionTimeouts(org: Organization(id: org, displayName: org),
                                                    global: GlobalAuthSettings(enabledModes: [.password], idleTimeoutSeconds: 600,
                                                                               absoluteTimeoutSeconds: 3600))))
    }

    static let alice = session("alice", roles: ["viewer"], groups: ["eng"])
    static let bob = session("bob", roles: ["member", "viewer"], mfa: true)
    static let carol = session("carol", org: "B", roles: ["admin"], mfa: true)
    static let dave = session("dave", roles: ["member", "users-reader"])
    static let erin = session("erin", groups: ["ops"])
    static let frank = session("frank", roles: ["editor"])
    static let grace = session("grace", roles: ["users-reader"])
    static let nobody = session("nobody", roles: ["no-such-role"], groups: ["no-such-group"])
    static let keyA = Credential.apiKey(keyId: "00000000000000aa", orgId: "A", roles: ["viewer"])
    static let keyAdmin = Credential.apiKey(keyId: "00000000000000ad", orgId: "A", roles: ["admin"])
    static let keyMember = Credential.apiKey(APIKeyRecord(keyId: "00000000000000bb", orgId: "A", roles: ["member"], createdAt: 0, hash: []))
    static let keyAdminB = Credential.apiKey(keyId: "00000000000000bd", orgId: "B", roles: ["admin"])
    static let keyAdminC = Credential.apiKey(keyId: "00000000000000cd", orgId: "C", roles: ["admin"])
    static let zed = session("zed", org: "C", roles: ["users-reader", "member"])
    static let gina = session("gina", roles: ["users-reader", "member"], groups: ["eng"])
}

// MARK: - The table

enum Expect: Sendable {
    case allow(permission: String, override: Bool = false)
    case deny(status: Int, reason: DenyReason, stepUp: Bool = false)
}

struct Case: CustomTestStringConvertible, Sendable {
    var name: String
    var route: Int
    var method: String
    var path: String
    var query: String
    var credential: Credential
    var expect: Expect
    var testDescription: String { name }

    init(_ name: String, _ route: Int, _ method: String, _ path: String, query: String = "", _ credential: Credential, _ expect: Expect) {
        self.name = name
        self.route = route
        self.method = method
        self.path = path
        self.query = query
        self.credential = credential
        self.expect = expect
    }
}

private func forbidden(_ reason: DenyReason) -> Expect { .deny(status: 403, reason: reason) }

@Suite struct PolicyDecisionTests {
    static let roles: [Case] = [
        Case("role grants its permission", 2, "GET", "/reports/1", World.bob, .allow(permission: "reports:read")),
        Case("role does not grant another permission", 2, "POST", "/reports/1", World.bob, forbidden(.missingPermission("reports:write"))),
        Case("unknown role and group grant nothing", 2, "GET", "/reports/1", World.nobody, forbidden(.missingPermission("reports:read"))),
        Case("no roles at all", 2, "GET", "/reports/1", World.session("zed"), forbidden(.missingPermission("reports:read"))),
    ]
    static let wildcards: [Case] = [
        Case("reports:* grants reports:read", 2, "GET", "/reports/1", World.frank, .allow(permission: "reports:read")),
        Case("reports:* grants reports:write", 2, "POST", "/reports/1", World.frank, .allow(permission: "reports:write")),
        Case("reports:* does not grant reportsx:read", 3, "GET", "/reportsx/1", World.frank, forbidden(.missingPermission("reportsx:read"))),
        Case("* grants reportsx:read", 3, "GET", "/reportsx/1", World.carol, .allow(permission: "reportsx:read")),
        Case("* grants anything", 10, "PATCH", "/everything/x", World.carol, .allow(permission: "admin:anything")),
    ]
    static let groups: [Case] = [
        Case("group eng grants editor (reports:write)", 2, "POST", "/reports/1", World.alice, .allow(permission: "reports:write")),
        Case("group ops grants admin", 10, "GET", "/everything/", World.erin, .allow(permission: "admin:anything")),
        Case("group roles stop at their permissions", 10, "GET", "/everything/", World.alice, forbidden(.missingPermission("admin:anything"))),
    ]
    static let methods: [Case] = [
        Case("method not listed and no * is denied", 2, "DELETE", "/reports/1", World.carol, forbidden(.methodNotAllowed)),
        Case("HEAD listed", 2, "HEAD", "/reports/1", World.bob, .allow(permission: "reports:read")),
        Case("* covers unlisted methods", 4, "DELETE", "/orgs/A/groups/eng/r", World.alice, .allow(permission: "reports:admin")),
        Case("listed method wins over *", 4, "GET", "/orgs/A/groups/eng/r", World.alice, .allow(permission: "reports:read")),
        Case("method prefix is not the method", 2, "GETX", "/reports/1", World.carol, forbidden(.methodNotAllowed)),
    ]
    static let org: [Case] = [
        Case("{org}: own org", 9, "GET", "/tenants/A/x", World.alice, .allow(permission: "reports:read")),
        Case("{org}: org A session on org B", 9, "GET", "/tenants/B/x", World.alice, forbidden(.wrongOrganization)),
        Case("{org}: admin of B on A", 9, "GET", "/tenants/A", World.carol, forbidden(.wrongOrganization)),
        Case("{org}: compared case-sensitively", 9, "GET", "/tenants/a/x", World.alice, forbidden(.wrongOrganization)),
        Case("{org}: a longer segment is another org", 9, "GET", "/tenants/AB/x", World.alice, forbidden(.wrongOrganization)),
        Case("{org}: api key of A in A", 9, "POST", "/tenants/A/x", World.keyA, .allow(permission: "reports:read")),
        Case("{org}: api key of A on B", 9, "GET", "/tenants/B/x", World.keyA, forbidden(.wrongOrganization)),
    ]
    static let group: [Case] = [
        Case("{group}: member", 4, "GET", "/orgs/A/groups/eng/reports", World.alice, .allow(permission: "reports:read")),
        Case("{group}: non-member", 4, "GET", "/orgs/A/groups/ops/reports", World.alice, forbidden(.notGroupMember)),
        Case("{group}: member, but other org", 4, "GET", "/orgs/B/groups/eng/reports", World.alice, forbidden(.wrongOrganization)),
        Case("{group}: no groups at all", 4, "GET", "/orgs/A/groups/eng/", World.bob, forbidden(.notGroupMember)),
        Case("{group}: api key is in no group", 4, "GET", "/orgs/A/groups/eng/", World.keyAdmin, forbidden(.apiKeyHasNoGroups)),
    ]
    static let user: [Case] = [
        Case("{user}: owner", 5, "GET", "/people/A/bob/profile", World.bob, .allow(permission: "profile:read")),
        Case("{user}: another user", 5, "GET", "/people/A/alice/profile", World.bob, forbidden(.notOwner)),
        Case("{user}: prefix of the id is not the id", 5, "GET", "/people/A/bo/profile", World.bob, forbidden(.notOwner)),
        Case("{user}: override permission", 5, "GET", "/people/A/bob/profile", World.dave, .allow(permission: "profile:read", override: true)),
        Case("{user}: override still needs the method's permission", 5, "GET", "/people/A/bob", World.grace,
             forbidden(.missingPermission("profile:read"))),
        Case("{user}: override via * role", 5, "GET", "/people/B/shared", World.carol, .allow(permission: "profile:read", override: true)),
        Case("{user}: api key without override", 5, "GET", "/people/A/bob", World.keyMember, forbidden(.notOwner)),
        Case("{user}: api key with override", 5, "GET", "/people/A/bob", World.keyAdmin, .allow(permission: "profile:read", override: true)),
        Case("{owner}: owner", 11, "GET", "/me/bob/files/a.txt", World.bob, .allow(permission: "profile:read")),
        Case("{owner}: no override on this route", 11, "GET", "/me/bob/files/a.txt", World.dave, forbidden(.notOwner)),
    ]
    /// Object-level grants stay in the caller's organisation (issue 20, item 1): the user an override
    /// reaches must be a member of the org the decision is made for, whatever the path says.
    static let tenants: [Case] = [
        Case("override: a member of the caller's org", 5, "GET", "/people/A/alice/profile", World.dave, .allow(permission: "profile:read", override: true)),
        Case("override: a user of another org, path names the caller's org", 5, "GET", "/people/A/carol/profile", World.dave,
             forbidden(.targetOutsideOrganization)),
        Case("override: a user of another org, path names that org", 5, "GET", "/people/B/carol/profile", World.dave, forbidden(.wrongOrganization)),
        Case("override: a user of a third org", 5, "GET", "/people/A/zoe", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: a user in two orgs, from one of them", 5, "GET", "/people/A/shared", World.dave, .allow(permission: "profile:read", override: true)),
        Case("override: a user in two orgs, from the other", 5, "GET", "/people/B/shared", World.carol, .allow(permission: "profile:read", override: true)),
        Case("override: admin of B on a member of A only", 5, "GET", "/people/B/bob", World.carol, forbidden(.targetOutsideOrganization)),
        Case("override: admin of C on a user in A and B", 5, "GET", "/people/C/shared", World.zed, forbidden(.targetOutsideOrganization)),
        Case("override: admin of C on its own member", 5, "GET", "/people/C/zoe", World.zed, .allow(permission: "profile:read", override: true)),
        Case("override: a user with no membership", 5, "GET", "/people/A/nomember", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: a user nobody knows", 5, "GET", "/people/A/mallory", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: user ids are compared byte for byte", 5, "GET", "/people/A/Alice", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: a prefix of a member's id", 5, "GET", "/people/A/alic", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: a member's id and more", 5, "GET", "/people/A/alicex", World.dave, forbidden(.targetOutsideOrganization)),
        Case("override: a long id (past the first 24 bytes)", 5, "GET", "/people/A/u_0123456789abcdef0123456789", World.dave,
             .allow(permission: "profile:read", override: true)),
        Case("override: a long id differing after 24 bytes", 5, "GET", "/people/A/u_0123456789abcdef0123456788", World.dave,
             forbidden(.targetOutsideOrganization)),
        Case("override: api key of A on a member of A", 5, "GET", "/people/A/bob", World.keyAdmin, .allow(permission: "profile:read", override: true)),
        Case("override: api key of A on a member of B", 5, "GET", "/people/A/carol", World.keyAdmin, forbidden(.targetOutsideOrganization)),
        Case("override: api key of B on a member of A", 5, "GET", "/people/B/alice", World.keyAdminB, forbidden(.targetOutsideOrganization)),
        Case("override: api key of C on a member of C", 5, "GET", "/people/C/zoe", World.keyAdminC, .allow(permission: "profile:read", override: true)),
        Case("override: {group} as well, target in the caller's org", 14, "GET", "/orgs-users/A/groups/eng/bob", World.gina,
             .allow(permission: "profile:read", override: true)),
        Case("override: {group} as well, target of another org", 14, "GET", "/orgs-users/A/groups/eng/carol", World.gina,
             forbidden(.targetOutsideOrganization)),
        Case("owner: own object needs no override", 5, "GET", "/people/B/shared", World.session("shared", org: "B", roles: ["member"]),
             .allow(permission: "profile:read")),
    ]
    /// One spelling of a method (item 2): what is decided is what the upstream runs.
    static let spelling: [Case] = [
        Case("DELETE needs its own permission", 12, "DELETE", "/forms/1", World.bob, forbidden(.missingPermission("reports:delete"))),
        Case("delete is refused, not taken by *", 12, "delete", "/forms/1", World.bob,
             .deny(status: 400, reason: .refusedMethod(.badRequest("method with lower-case letters")))),
        Case("Delete is refused", 13, "Delete", "/open/1", World.bob, .deny(status: 400, reason: .refusedMethod(.badRequest("method with lower-case letters")))),
        Case("get is refused even where GET is listed", 2, "get", "/reports/1", World.carol,
             .deny(status: 400, reason: .refusedMethod(.badRequest("method with lower-case letters")))),
        Case("lower case on a public route", 0, "get", "/pub", .none, .deny(status: 400, reason: .refusedMethod(.badRequest("method with lower-case letters")))),
        Case("TRACE is refused", 0, "TRACE", "/pub", .none, .deny(status: 501, reason: .refusedMethod(.notImplemented("TRACE and TRACK refused")))),
        Case("TRACK is refused", 10, "TRACK", "/everything/", World.carol, .deny(status: 501, reason: .refusedMethod(.notImplemented("TRACE and TRACK refused")))),
        Case("CONNECT is refused", 10, "CONNECT", "/everything/", World.carol, .deny(status: 400, reason: .refusedMethod(.badRequest("CONNECT not supported")))),
        Case("not a token", 10, "GE T", "/everything/", World.carol, .deny(status: 400, reason: .refusedMethod(.badRequest("invalid method")))),
        Case("empty method", 10, "", "/everything/", World.carol, .deny(status: 400, reason: .refusedMethod(.badRequest("invalid method")))),
        Case("an unknown upper-case method goes to *", 13, "PROPFIND", "/open/1", World.bob, .allow(permission: "reports:read")),
        Case("_method in the query, refused", 12, "POST", "/forms/1", query: "?_method=DELETE", World.bob, forbidden(.methodOverrideInQuery)),
        Case("_method refused before the method's permission", 12, "DELETE", "/forms/1", query: "?_method=GET", World.bob, forbidden(.methodOverrideInQuery)),
        Case("_method in the query, default: passed", 13, "POST", "/open/1", query: "?_method=DELETE", World.bob, .allow(permission: "reports:read")),
        Case("no _method: allowed", 12, "POST", "/forms/1", query: "?method=DELETE&x_method=1&_methods=2&a=_method", World.bob, .allow(permission: "reports:read")),
        Case("_method refused for an api key too", 12, "GET", "/forms/1", query: "?_method=DELETE", World.keyA, forbidden(.methodOverrideInQuery)),
        Case("_method without credential is 401 first", 12, "POST", "/forms/1", query: "?_method=DELETE", .none, .deny(status: 401, reason: .noCredential)),
    ]
    /// The spellings of `_method` the frameworks read: each refused on a `methodOverride: "refuse"` route.
    static let overrideQueries = ["?_method=DELETE", "_method=DELETE", "?a=1&_method=PUT", "?a=1;_method=PUT", "?_method", "?_method=",
                                  "?%5Fmethod=DELETE", "?%5fmethod=DELETE", "?_%6Dethod=DELETE", "?_METHOD=delete", "?_Method=x",
                                  "?.method=DELETE", "?%2Emethod=x", "?+_method=x", "?%20%20_method=x", "?[method=x", "?_method[]=DELETE",
                                  "?_method[x]=1", "?_method%5B%5D=DELETE", "?_method%00=x", "?x=1&&_method=PATCH", "?_method=DELETE&_method=GET"]
    /// Names that are not `_method`: passed on the same route.
    static let otherQueries = ["", "?", "?method=DELETE", "?x_method=1", "?_methods=1", "?_metho=1", "?_method_=1", "?a=_method",
                               "?a=b%26_method%3Dx", "?_%6Dethox=1", "?%5Fmethod%", "?%5", "?__method=1", "?a=1&b=2", "?=_method"]
    static let template: [Case] = [
        Case("template: path exactly the template", 4, "GET", "/orgs/A/groups/eng", World.alice, .allow(permission: "reports:read")),
        Case("template: trailing slash", 4, "GET", "/orgs/A/groups/eng/", World.alice, .allow(permission: "reports:read")),
        Case("template: path shorter than the template", 4, "GET", "/orgs/A", World.alice, forbidden(.templateMismatch)),
        Case("template: literal differs", 4, "GET", "/orgs/A/teams/eng/", World.alice, forbidden(.templateMismatch)),
        Case("template: literal is case-sensitive", 4, "GET", "/orgs/A/Groups/eng/", World.alice, forbidden(.templateMismatch)),
        Case("template: literal with a suffix", 4, "GET", "/orgs/A/groupsx/eng/", World.alice, forbidden(.templateMismatch)),
        Case("template: empty placeholder", 4, "GET", "/orgs/A/groups/", World.alice, forbidden(.templateMismatch)),
        Case("template: empty {org}", 9, "GET", "/tenants/", World.alice, forbidden(.templateMismatch)),
        Case("template: mismatch before the org check", 4, "GET", "/orgs/B/teams/eng/", World.alice, forbidden(.templateMismatch)),
        Case("template: empty path", 9, "GET", "", World.alice, forbidden(.templateMismatch)),
        Case("template: literal after the owner", 11, "GET", "/me/bob/photos", World.bob, forbidden(.templateMismatch)),
    ]
    static let mfa: [Case] = [
        Case("mfa: session with a second factor", 6, "GET", "/secure/x", World.bob, .allow(permission: "reports:read")),
        Case("mfa: session without is stepped up", 6, "GET", "/secure/x", World.alice, .deny(status: 403, reason: .mfaRequired, stepUp: true)),
        Case("mfa: api key is refused, no step-up", 6, "GET", "/secure/x", World.keyA, .deny(status: 403, reason: .mfaRequired)),
        Case("mfa: no step-up when it would not help", 6, "GET", "/secure/x", World.nobody, forbidden(.missingPermission("reports:read"))),
    ]
    static let credentials: [Case] = [
        Case("api key: its roles only", 2, "POST", "/reports/1", World.keyA, forbidden(.missingPermission("reports:write"))),
        Case("api key: its roles grant", 2, "GET", "/reports/1", World.keyA, .allow(permission: "reports:read")),
        Case("api key on a session-only route", 8, "GET", "/session-only/", World.keyA, forbidden(.credentialNotAccepted(.apiKey))),
        Case("session on a key-only route", 7, "GET", "/keys-only/", World.bob, forbidden(.credentialNotAccepted(.session))),
        Case("api key on a key-only route", 7, "GET", "/keys-only/", World.keyA, .allow(permission: "reports:read")),
        Case("session on a session-only route", 8, "GET", "/session-only/", World.bob, .allow(permission: "reports:read")),
        Case("missing credential is 401", 2, "GET", "/reports/1", .none, .deny(status: 401, reason: .noCredential)),
        Case("missing credential is 401 before the rule is looked at", 1, "GET", "/legacy", .none, .deny(status: 401, reason: .noCredential)),
        Case("missing credential on an mfa route", 6, "GET", "/secure/", .none, .deny(status: 401, reason: .noCredential)),
        Case("route without access rule denies", 1, "GET", "/legacy", World.carol, forbidden(.noAccessRule)),
        Case("route without access rule denies api keys", 1, "GET", "/legacy", World.keyAdmin, forbidden(.noAccessRule)),
        Case("unknown route index", 99, "GET", "/x", World.carol, forbidden(.unknownRoute)),
        Case("negative route index", -1, "GET", "/x", World.carol, forbidden(.unknownRoute)),
    ]

    @Test(arguments: roles + wildcards + groups + methods + org + group + user + tenants + spelling + template + mfa + credentials)
    func decides(_ c: Case) {
        let decision = World.policy.decide(route: c.route, method: c.method, path: c.path, query: c.query, credential: c.credential,
                                           now: 1_700_000_000)
        switch (c.expect, decision) {
        case (.allow(let permission, let override), .allow(let grant)):
            #expect(grant.permission == permission)
            #expect(grant.viaOwnerOverride == override)
            switch c.credential {
            case .session(let identity):
                #expect(grant.credential == .session && grant.subject == identity.userId && grant.orgId == identity.orgId)
            case .apiKey(let keyId, let orgId, _):
                #expect(grant.credential == .apiKey && grant.subject == keyId && grant.orgId == orgId)
            case .none:
                Issue.record("allowed without a credential")
            }
        case (.deny(let status, let reason, let stepUp), .deny(let denial)):
            #expect(denial.status == status)
            #expect(denial.reason == reason)
            #expect(denial.stepUp == stepUp)
            #expect(!denial.description.isEmpty)
        default:
            Issue.record("expected \(c.expect), got \(decision)")
        }
    }

    @Test(arguments: overrideQueries)
    func methodOverrideInTheQueryIsRefused(_ query: String) {
        let decision = World.policy.decide(route: 12, method: "POST", path: "/forms/x", query: query, credential: World.bob, now: 0)
        #expect(decision == .deny(Denial(status: 403, reason: .methodOverrideInQuery)))
    }

    @Test(arguments: otherQueries)
    func otherQueriesPass(_ query: String) {
        #expect(World.policy.decide(route: 12, method: "POST", path: "/forms/x", query: query, credential: World.bob, now: 0).isAllowed)
    }

    /// The membership table the override consults, directly (policy-bench measures this call).
    @Test func membership() {
        let p = World.policy
        #expect(p.isMember(user: "alice", of: "A") && !p.isMember(user: "alice", of: "B") && !p.isMember(user: "alice", of: "a"))
        #expect(p.isMember(user: "shared", of: "A") && p.isMember(user: "shared", of: "B") && !p.isMember(user: "shared", of: "C"))
        #expect(!p.isMember(user: "nomember", of: "A") && !p.isMember(user: "", of: "A") && !p.isMember(user: "zoe", of: ""))
        #expect(!PolicySnapshot(roles: [], groups: [], routes: []).isMember(user: "alice", of: "A"))
        // Many users: every one found in its own org only.
        let many = (0..<5000).map { User(id: "u\($0)", email: "u\($0)@x.test", memberships: [Membership(orgId: "o\($0 % 7)")]) }
        let big = PolicySnapshot(roles: [], groups: [], routes: [], users: many)
        for i in stride(from: 0, to: 5000, by: 37) {
            #expect(big.isMember(user: "u\(i)", of: "o\(i % 7)") && !big.isMember(user: "u\(i)", of: "o\((i + 1) % 7)"))
        }
        #expect(!big.isMember(user: "u5000", of: "o2"))
    }

    @Test func publicRouteAllowsWithoutCredential() {
        let decision = World.policy.decide(route: 0, method: "GET", path: "/pub", credential: .none, now: 0)
        #expect(decision == .allow(Grant(credential: nil, subject: "", orgId: "", permission: nil, viaOwnerOverride: false,
                                         audience: "app", sensitive: false)))
    }

    /// A route to an upstream with `caseInsensitivePaths` judges its template case-folded, as the
    /// upstream serves it; other routes stay case-sensitive.
    @Test(arguments: [
        ("/orgs/a/groups/ENG/x", true, true), ("/ORGS/A/Groups/eng", true, true), ("/orgs/B/groups/eng", true, false),
        ("/orgs/A/groups/eng", false, true), ("/orgs/a/groups/eng", false, false), ("/ORGS/A/groups/eng", false, false),
    ])
    func caseInsensitiveUpstreamTemplates(_ path: String, _ folded: Bool, _ allowed: Bool) {
        let route = RouteConfig(pathPrefix: "/orgs/", upstream: "app", access: AccessRule(
            methods: ["GET": "reports:read"], bind: try! BindTemplate(parsing: "/orgs/{org}/groups/{group}/"), audience: "app"))
        let policy = PolicySnapshot(roles: [RoleConfig(name: "viewer", permissions: ["reports:read"])], groups: [GroupConfig(name: "eng", roles: ["viewer"])],
                                    routes: [route], caseInsensitive: [folded])
        let decision = policy.decide(route: 0, method: "GET", path: path, credential: World.session("u1", org: "A", groups: ["eng"]), now: 0)
        if case .allow = decision { #expect(allowed, "\(path)") } else { #expect(!allowed, "\(path): \(decision)") }
    }

    @Test func grantCarriesAudienceAndSensitivity() throws {
        guard case .allow(let secure) = World.policy.decide(route: 6, method: "GET", path: "/secure/", credential: World.bob, now: 0),
              case .allow(let plain) = World.policy.decide(route: 2, method: "GET", path: "/reports/", credential: World.bob, now: 0)
        else { Issue.record("expected allows"); return }
        #expect(secure.audience == "vault" && secure.sensitive)
        #expect(plain.audience == "app" && !plain.sensitive)   // default: the upstream's name
    }

    /// The request path hands in slices of bigger buffers: only the given bytes count.
    @Test func rawBytesEntryPoint() {
        let head = Array("GETX".utf8), target = Array("/tenants/A/x?org=B".utf8)
        let decision = head.withUnsafeBytes { h in
            target.withUnsafeBytes { t in
                World.policy.decide(route: 9, method: UnsafeRawBufferPointer(rebasing: h[0..<3]),
                                    path: UnsafeRawBufferPointer(rebasing: t[0..<12]), query: UnsafeRawBufferPointer(rebasing: t[12...]),
                                    credential: World.alice, now: 0)
            }
        }
        #expect(decision.isAllowed)
        // The query is only the bytes given: "_method" past the slice does not count, inside it does.
        let forms = Array("/forms/1?_method=PUT".utf8)
        let decisions = head.withUnsafeBytes { h in
            forms.withUnsafeBytes { t in
                [9, 20].map { end in
                    World.policy.decide(route: 12, method: UnsafeRawBufferPointer(rebasing: h[0..<3]),
                                        path: UnsafeRawBufferPointer(rebasing: t[0..<8]), query: UnsafeRawBufferPointer(rebasing: t[8..<end]),
                                        credential: World.bob, now: 0)
                }
            }
        }
        #expect(decisions[0].isAllowed)
        #expect(decisions[1] == .deny(Denial(status: 403, reason: .methodOverrideInQuery)))
    }

    @Test func everyDenyReasonHasADistinctAuditText() {
        let reasons: [DenyReason] = [.unknownRoute, .noCredential, .noAccessRule, .credentialNotAccepted(.session),
                                     .credentialNotAccepted(.apiKey), .methodNotAllowed, .templateMismatch, .wrongOrganization,
                                     .notGroupMember, .apiKeyHasNoGroups, .notOwner, .missingPermission("a:b"), .mfaRequired,
                                     .refusedMethod(.badRequest("method with lower-case letters")), .methodOverrideInQuery,
                                     .targetOutsideOrganization]
        let texts = reasons.map(\.description)
        #expect(Set(texts).count == texts.count)
        #expect(texts.allSatisfy { !$0.isEmpty && !$0.contains("\n") })
        #expect(DenyReason.noAccessRule.description == "route has no access rule")
        #expect(DenyReason.templateMismatch.description == "path does not match the rule's template")
        #expect(DenyReason.missingPermission("reports:write").description == "missing permission reports:write")
    }
}

@Suite struct PolicyCompileTests {
    @Test func manyRolesAndPermissions() {
        // Enough names to exercise collisions in the tables and several bit-set words.
        let roles = (0..<300).map { RoleConfig(name: "role\($0)", permissions: ["svc\($0):read"]) }
            + [RoleConfig(name: "svc-all", permissions: ["svc7:*"])]
        let routes = (0..<300).map {
            RouteConfig(pathPrefix: "/s\($0)/", upstream: "u",
                        access: AccessRule(methods: ["GET": "svc\($0):read", "POST": "svc\($0):write"], audience: "u"))
        }
        let policy = PolicySnapshot(roles: roles, groups: [GroupConfig(name: "g", roles: ["role299", "role0"])], routes: routes)
        #expect(policy.requiredPermissions.count == 600)
        for i in [0, 1, 63, 64, 150, 299] {
            #expect(policy.grants("svc\(i):read", roles: ["role\(i)"]))
            #expect(!policy.grants("svc\(i):write", roles: ["role\(i)"]))
            #expect(!policy.grants("svc\(i):read", roles: ["role\((i + 1) % 300)"]))
        }
        #expect(policy.grants("svc299:read", roles: [], groups: ["g"]) && policy.grants("svc0:read", roles: [], groups: ["g"]))
        #expect(!policy.grants("svc1:read", roles: [], groups: ["g"]))
        #expect(policy.grants("svc7:write", roles: ["svc-all"]) && !policy.grants("svc70:read", roles: ["svc-all"]))
        #expect(!policy.grants("svc0:read", roles: ["role0x", "Role0", ""]))
        let decision = policy.decide(route: 150, method: "GET", path: "/s150/", credential: .apiKey(keyId: "k", orgId: "o", roles: ["role150"]), now: 0)
        #expect(decision.isAllowed)
    }

    /// Unvalidated input (built in code) degrades to "grants nothing", never a trap.
    @Test func unvalidatedInputGrantsNothing() {
        let policy = PolicySnapshot(roles: [RoleConfig(name: "r", permissions: ["bad pattern", "a:*:b"]), RoleConfig(name: "r", permissions: ["*"])],
                                    groups: [GroupConfig(name: "g", roles: ["missing"])],
                                    routes: [RouteConfig(upstream: "u", access: AccessRule(methods: ["GET": "a:x:b"], audience: "u"))])
        #expect(!policy.grants("a:x:b", roles: ["r"], groups: ["g"]))
        #expect(!policy.decide(route: 0, method: "GET", path: "/", credential: .apiKey(keyId: "k", orgId: "o", roles: ["r"]), now: 0).isAllowed)
    }

    @Test func emptyPolicy() {
        let policy = PolicySnapshot(roles: [], groups: [], routes: [])
        #expect(policy.decide(route: 0, method: "GET", path: "/", credential: .none, now: 0)
                == .deny(Denial(status: 403, reason: .unknownRoute)))
    }
}
