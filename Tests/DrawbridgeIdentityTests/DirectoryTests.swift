import Testing
@testable import DrawbridgeIdentity

struct DirectoryTests {
    @Test func lookupByIdAndCaseInsensitiveEmail() {
        let d = Fixture.directory()
        #expect(d.user(id: "u-alice")?.email == "alice@acme.example")
        #expect(d.user(email: "ALICE@acme.EXAMPLE")?.id == "u-alice")
        #expect(d.user(email: "nobody@acme.example") == nil)
        #expect(d.organization(id: "acme")?.emailDomains == ["acme.example"])
        #expect(d.organization(id: "nope") == nil)
    }

    static let badSnapshots: [(String, [Organization], [User], [APIKeyRecord], DirectoryError)] = [
        ("duplicate org", [Fixture.acme, Fixture.acme], [], [], .duplicateOrganization("acme")),
        ("duplicate user", [Fixture.acme], [User(id: "x", email: "a@x"), User(id: "x", email: "b@x")], [], .duplicateUser("x")),
        ("duplicate email across case", [Fixture.acme], [User(id: "x", email: "A@x"), User(id: "y", email: "a@X")], [], .duplicateEmail("a@x")),
        ("membership in unknown org", [Fixture.acme], [User(id: "x", email: "a@x", memberships: [Membership(orgId: "ghost")])], [],
         .membershipInUnknownOrganization(userId: "x", orgId: "ghost")),
        ("api key in unknown org", [Fixture.acme], [], [APIKeyRecord(keyId: "k", orgId: "ghost", roles: [], createdAt: 0, hash: [])],
         .apiKeyInUnknownOrganization(keyId: "k", orgId: "ghost")),
        ("duplicate api key", [Fixture.acme], [], [APIKeyRecord(keyId: "k", orgId: "acme", roles: [], createdAt: 0, hash: []),
                                                  APIKeyRecord(keyId: "k", orgId: "acme", roles: [], createdAt: 0, hash: [])],
         .duplicateAPIKey("k")),
    ]

    @Test(arguments: badSnapshots)
    func refusesInconsistentSnapshot(_ name: String, _ orgs: [Organization], _ users: [User], _ keys: [APIKeyRecord], _ expected: DirectoryError) {
        #expect(throws: expected, "\(name)") { try Directory(organizations: orgs, users: users, apiKeys: keys) }
    }
}
