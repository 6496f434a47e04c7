import DrawbridgeConfig
import DrawbridgeIdentity
import DrawbridgeStore
import Foundation
import Testing
@testable import DrawbridgeServer

/// Role and group names in users.json / apikeys.json one letter case away from a configured one
/// (or from each other) reject the snapshot: the upstream may read `Admin` as `admin`.
@Suite struct IdentityNameSpellingTests {
    static let config: GatewayConfig = {
        let directory = NSTemporaryDirectory() + "drawbridge-spelling-tests-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["a.crt", "a.key"] { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("x\n".utf8)) }
        return try! ConfigLoader.parse(json5: """
            { listen: { https: "0.0.0.0:8443" }, tls: { certificates: [ { cert: "a.crt", key: "a.key" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9000"] } }, routes: [ { upstream: "app", public: true } ],
              auth: { masterKeyFile: "/var/lib/drawbridge/master.key" },
              organizations: { acme: {}, beta: {}, gamma: {} },
              roles: { admin: { permissions: ["*"] }, viewer: { permissions: ["a:read"] } },
              groups: { eng: { roles: ["viewer"] } } }
            """, file: "spelling.json5", baseDirectory: directory)
    }()

    static func user(_ id: String, org: String = "acme", roles: [String] = [], groups: [String] = []) -> User {
        User(id: id, email: "\(id)@x.test", memberships: [Membership(orgId: org, roles: roles, groups: groups)])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var users: [User]
        var keys: [APIKeyRecord] = []
        /// Substrings of the single problem expected; empty: none.
        var expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "defined spellings", users: [user("a", roles: ["admin", "viewer"], groups: ["eng"])], expected: []),
        Case(name: "undefined but unique names are only warned about", users: [user("a", roles: ["auditor"], groups: ["ops"])], expected: []),
        Case(name: "role Admin in users.json", users: [user("a", roles: ["Admin"])],
             expected: ["users.json: user a@x.test (org acme): role \"Admin\" differs from \"admin\" only in letter case",
                        "roles.admin in the configuration"]),
        Case(name: "group ENG in users.json", users: [user("a", org: "beta", groups: ["ENG"])],
             expected: ["user a@x.test (org beta): group \"ENG\" differs from \"eng\" only in letter case"]),
        Case(name: "two undefined spellings across organisations", users: [user("a", roles: ["Auditor"]), user("b", org: "gamma", roles: ["auditor"])],
             expected: ["user b@x.test (org gamma): role \"auditor\" differs from \"Auditor\"", "user a@x.test (org acme)"]),
        Case(name: "api key role VIEWER", users: [], keys: [APIKeyRecord(keyId: "00000000000000aa", orgId: "acme", roles: ["VIEWER"], createdAt: 0, hash: [])],
             expected: ["apikeys.json: api key 00000000000000aa: role \"VIEWER\" differs from \"viewer\""]),
    ]

    @Test(arguments: cases)
    func collisionsRejectTheSnapshot(_ c: Case) {
        let problems = Snapshot.spellingCollisions(config: Self.config, data: IdentityData(users: c.users, apiKeys: c.keys))
        if c.expected.isEmpty {
            #expect(problems.isEmpty, "\(problems)")
        } else {
            #expect(problems.count == 1, "\(problems)")
            for part in c.expected { #expect(problems.first?.contains(part) == true, "\(problems)") }
        }
    }
}
