import Testing
@testable import DrawbridgeIdentity

struct AuthModeResolverTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let mode: AuthMode
        let globallyEnabled: Bool
        let policy: OrgModePolicy
        let member: Bool
        let usable: Bool
        var testDescription: String { "\(mode) global=\(globallyEnabled) policy=\(policy) member=\(member) → \(usable)" }
    }

    static let g = Fixture.google
    /// global on/off × org policy (inherit / disable it / disable another / only it / only another) × membership.
    static let table: [Row] = {
        var rows = [Row]()
        for mode in [AuthMode.password, g, .apiKey] {
            let other: AuthMode = mode == .password ? g : .password
            let policies: [(OrgModePolicy, Bool)] = [
                (.inheritGlobal, true), (.disable([mode]), false), (.disable([other]), true),
                (.only([mode]), true), (.only([other]), false), (.only([]), false),
            ]
            for globallyEnabled in [true, false] {
                for (policy, orgPermits) in policies {
                    for member in [true, false] {
                        rows.append(Row(mode: mode, globallyEnabled: globallyEnabled, policy: policy, member: member,
                                        usable: globallyEnabled && orgPermits && member))
                    }
                }
            }
        }
        return rows
    }()

    @Test(arguments: table)
    func resolution(_ row: Row) {
        var enabled = Fixture.allModes
        if !row.globallyEnabled { enabled.remove(row.mode) }
        let global = GlobalAuthSettings(enabledModes: enabled)
        let org = Organization(id: "o", displayName: "O", modePolicy: row.policy)
        let user = User(id: "u", email: "u@x", memberships: row.member ? [Membership(orgId: "o")] : [Membership(orgId: "other")])
        #expect(AuthModeResolver.isUsable(row.mode, for: user, in: org, global: global) == row.usable)
    }

    @Test func orgCannotWidenBeyondGlobal() {
        let global = GlobalAuthSettings(enabledModes: [Fixture.google])
        let org = Organization(id: "o", displayName: "O", modePolicy: .only([.password, Fixture.google]))
        #expect(AuthModeResolver.allowedModes(for: org, global: global) == [Fixture.google])
    }

    @Test func onlyPolicyFailsClosedForModesAddedLater() {
        let org = Fixture.googleOnly
        var global = GlobalAuthSettings(enabledModes: [Fixture.google])
        #expect(AuthModeResolver.allowedModes(for: org, global: global) == [Fixture.google])
        global.enabledModes.insert(Fixture.github)
        #expect(AuthModeResolver.allowedModes(for: org, global: global) == [Fixture.google])
    }

    @Test func allowedModesAreSortedAndFiltered() {
        #expect(AuthModeResolver.allowedModes(for: Fixture.noPassword, global: Fixture.global).map(\.description)
                == ["api_key", "oidc:github", "oidc:google"])
        #expect(AuthModeResolver.allowedModes(for: Fixture.acme, global: Fixture.global).map(\.description)
                == ["api_key", "oidc:github", "oidc:google", "password"])
    }
}
