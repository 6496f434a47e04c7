import Testing
@testable import DrawbridgeIdentity

struct SessionValidatorTests {
    static let now = Fixture.now
    static let revokedId = SessionID(bytes: Array(repeating: 0xEE, count: 16))!

    /// A session Alice opened in acme with Google 10 minutes ago (idle 30 min, absolute 12 h).
    static func aliceClaims() -> SessionClaims {
        var c = SessionClaims.issue(user: Fixture.alice, org: Fixture.acme, mode: Fixture.google, mfa: false,
                                    global: Fixture.global, now: now - 600)
        c.sessionId = SessionID(bytes: Array(repeating: 0x11, count: 16))!
        return c
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var claims: SessionClaims = SessionValidatorTests.aliceClaims()
        var users: [User] = [Fixture.alice, Fixture.bob]
        var orgs: [Organization] = [Fixture.acme, Fixture.googleOnly, Fixture.noPassword]
        var global: GlobalAuthSettings = Fixture.global
        var now: UInt64 = SessionValidatorTests.now
        let expected: SessionInvalidation?
        var testDescription: String { name }
    }

    static func alice(_ edit: (inout User) -> Void) -> [User] {
        var a = Fixture.alice
        edit(&a)
        return [a, Fixture.bob]
    }

    static func acme(_ edit: (inout Organization) -> Void) -> [Organization] {
        var o = Fixture.acme
        edit(&o)
        return [o, Fixture.googleOnly, Fixture.noPassword]
    }

    static func claims(_ edit: (inout SessionClaims) -> Void) -> SessionClaims {
        var c = aliceClaims()
        edit(&c)
        return c
    }

    static let cases: [Case] = [
        Case(name: "all good", expected: nil),
        Case(name: "revoked id", claims: claims { $0.sessionId = revokedId }, expected: .revoked),
        Case(name: "user deleted", users: [Fixture.bob], expected: .unknownUser),
        Case(name: "user disabled", users: alice { $0.status = .disabled }, expected: .userDisabled),
        Case(name: "user expired", users: alice { $0.expiresAt = now }, expected: .userExpired),
        Case(name: "user expires later", users: alice { $0.expiresAt = now + 1 }, expected: nil),
        Case(name: "epoch bumped", users: alice { $0.sessionEpoch += 1 }, expected: .epochMismatch),
        Case(name: "org deleted", users: [User(id: "u-alice", email: "alice@acme.example", sessionEpoch: 3)],
             orgs: [Fixture.googleOnly], expected: .unknownOrganization),
        Case(name: "membership removed", users: alice { $0.memberships.removeFirst() }, expected: .notAMember),
        Case(name: "mode disabled globally after issue",
             global: GlobalAuthSettings(enabledModes: [.password], idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 43200),
             expected: .modeNotUsable(Fixture.google)),
        Case(name: "mode disabled by org after issue", orgs: acme { $0.modePolicy = .disable([Fixture.google]) },
             expected: .modeNotUsable(Fixture.google)),
        Case(name: "org restricted to another mode", orgs: acme { $0.modePolicy = .only([.password]) },
             expected: .modeNotUsable(Fixture.google)),
        Case(name: "mfa required after issue", orgs: acme { $0.mfaRequired = true }, expected: .mfaRequired),
        Case(name: "mfa required and present", claims: claims { $0.mfa = true }, orgs: acme { $0.mfaRequired = true }, expected: nil),
        Case(name: "idle timeout (global)", now: now - 600 + 1800, expected: .idleTimeout),
        Case(name: "just inside idle window", now: now - 600 + 1799, expected: nil),
        Case(name: "idle timeout (org override)", orgs: acme { $0.idleTimeoutSeconds = 300 }, expected: .idleTimeout),
        Case(name: "renewed session survives idle", claims: claims { $0.lastSeen = now - 60 }, now: now, expected: nil),
        Case(name: "absolute timeout (token)", claims: claims { $0.lastSeen = $0.expiresAt }, now: now - 600 + 43200,
             expected: .absoluteTimeout),
        Case(name: "absolute timeout (org shortened)", orgs: acme { $0.absoluteTimeoutSeconds = 600 }, expected: .absoluteTimeout),
        Case(name: "clock stepped back", claims: claims { $0.issuedAt = now + 100; $0.lastSeen = now + 100 }, expected: nil),
    ]

    @Test(arguments: cases)
    func validation(_ c: Case) throws {
        let directory = try Directory(organizations: c.orgs, users: c.users)
        let result = SessionValidator.validate(c.claims, directory: directory, global: c.global,
                                               revokedSessionIds: [Self.revokedId], now: c.now)
        switch (result, c.expected) {
        case (.success(let identity), nil):
            #expect(identity.userId == "u-alice")
            #expect(identity.orgId == "acme")
            #expect(identity.email == "alice@acme.example")
            #expect(identity.roles == ["admin"])
            #expect(identity.groups == ["ops"])
            #expect(identity.authMode == Fixture.google)
        case (.failure(let why), let expected?):
            #expect(why == expected)
        default:
            Issue.record("got \(result), expected \(String(describing: c.expected))")
        }
    }

    @Test func rolesComeFromTheCurrentMembership() throws {
        let users = Self.alice { $0.memberships[0].roles = ["viewer"] }
        let d = Fixture.directory(users: users)
        let id = try SessionValidator.validate(Self.aliceClaims(), directory: d, global: Fixture.global,
                                               isRevoked: { _ in false }, now: Self.now).get()
        #expect(id.roles == ["viewer"])
    }

    @Test func orgTimeoutsOverrideGlobal() throws {
        let c = SessionClaims.issue(user: Fixture.alice, org: Fixture.googleOnly, mode: Fixture.google, mfa: false,
                                    global: Fixture.global, now: Self.now)
        #expect(c.expiresAt == Self.now + 3600)
        let id = try SessionValidator.validate(c, directory: Fixture.directory(), global: Fixture.global,
                                               isRevoked: { _ in false }, now: Self.now + 1).get()
        #expect(id.timeouts == SessionTimeouts(org: Fixture.googleOnly, global: Fixture.global))
        #expect(id.timeouts.idleSeconds == 600)
        #expect(id.roles == ["viewer"])
    }

    static let renewal: [(UInt64, Bool)] = [(0, false), (899, false), (900, false), (901, true), (1799, true), (5000, true)]

    @Test(arguments: renewal)
    func renewsAfterHalfTheIdleWindow(_ elapsed: UInt64, _ expected: Bool) {
        let c = Self.aliceClaims()
        #expect(SessionValidator.needsRenewal(c, idleTimeoutSeconds: 1800, now: c.lastSeen + elapsed) == expected)
    }

    @Test func renewalMovesIdleBaseButNotAbsoluteEnd() {
        let c = Self.aliceClaims()
        let r = c.renewed(now: Self.now)
        #expect(r.lastSeen == Self.now)
        #expect(r.expiresAt == c.expiresAt)
        #expect(r.issuedAt == c.issuedAt)
        #expect(r.sessionId == c.sessionId)
        #expect(c.renewed(now: c.issuedAt - 5).lastSeen == c.lastSeen)
        #expect(c.renewed(now: UInt64.max).lastSeen == c.expiresAt)
        #expect(!SessionValidator.needsRenewal(r, idleTimeoutSeconds: 1800, now: Self.now))
    }
}
