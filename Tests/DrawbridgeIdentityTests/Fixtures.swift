@testable import DrawbridgeIdentity

/// Shared test world: two orgs, a few users, fixed clock.
enum Fixture {
    static let google = AuthMode.oidc(provider: "google")
    static let github = AuthMode.oidc(provider: "github")
    static let allModes: Set<AuthMode> = [.password, google, github, .apiKey]
    static let global = GlobalAuthSettings(enabledModes: allModes, idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 43200)
    static let now: UInt64 = 1_700_000_000

    static let acme = Organization(id: "acme", displayName: "Acme", emailDomains: ["ACME.example"])
    static let googleOnly = Organization(id: "g-only", displayName: "Google only", modePolicy: .only([google]),
                                         mfaRequired: false, idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600)
    static let noPassword = Organization(id: "no-pw", displayName: "No password", modePolicy: .disable([.password]))

    static let alice = User(id: "u-alice", email: "Alice@Acme.example",
                            memberships: [Membership(orgId: "acme", roles: ["admin"], groups: ["ops"]),
                                          Membership(orgId: "g-only", roles: ["viewer"])],
                            sessionEpoch: 3)
    static let bob = User(id: "u-bob", email: "bob@acme.example",
                          memberships: [Membership(orgId: "no-pw", roles: ["member"])])

    static func directory(users: [User] = [alice, bob], orgs: [Organization] = [acme, googleOnly, noPassword],
                          apiKeys: [APIKeyRecord] = []) -> Directory {
        try! Directory(organizations: orgs, users: users, apiKeys: apiKeys)
    }
}
