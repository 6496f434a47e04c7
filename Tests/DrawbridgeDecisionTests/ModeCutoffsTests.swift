import DrawbridgeIdentity
import Testing
@testable import DrawbridgeDecision

@Suite struct ModeCutoffsTests {
    let global = GlobalAuthSettings(enabledModes: [.password, .apiKey, .oidc(provider: "google")])
    let known: [AuthMode] = [.password, .apiKey, .oidc(provider: "google")]

    @Test func offMovesTheCutoffOnKeepsIt() {
        let on = Organization(id: "acme", displayName: "Acme")
        let off = Organization(id: "acme", displayName: "Acme", modePolicy: .disable([.password]))
        let a = ModeCutoffs().updated(orgs: [on], knownModes: known, global: global, now: 100)
        #expect(a.cutoff(org: "acme", mode: .password) == nil)
        let b = a.updated(orgs: [off], knownModes: known, global: global, now: 200)
        #expect(b.cutoff(org: "acme", mode: .password) == 200)
        #expect(b.cutoff(org: "acme", mode: .apiKey) == nil)
        // Still off at the next load: nothing changes (nothing to write).
        #expect(b.updated(orgs: [off], knownModes: known, global: global, now: 250) == b)
        // Switched on again: the cutoff moves to then, so sessions (and keys) from before stay dead.
        let c = b.updated(orgs: [on], knownModes: known, global: global, now: 300)
        #expect(c.cutoff(org: "acme", mode: .password) == 299)
        #expect(c.updated(orgs: [on], knownModes: known, global: global, now: 350) == c)
        // Off globally: every org gets a cutoff for it.
        let noGoogle = GlobalAuthSettings(enabledModes: [.password, .apiKey])
        let d = c.updated(orgs: [on, Organization(id: "beta", displayName: "Beta")], knownModes: known, global: noGoogle, now: 400)
        #expect(d.cutoff(org: "acme", mode: .oidc(provider: "google")) == 400)
        #expect(d.cutoff(org: "beta", mode: .oidc(provider: "google")) == 400)
        // An allow-list org: everything not listed is off.
        let only = Organization(id: "acme", displayName: "Acme", modePolicy: .only([.oidc(provider: "google")]))
        let e = d.updated(orgs: [only], knownModes: known, global: global, now: 500)
        #expect(e.cutoff(org: "acme", mode: .password) == 500 && e.cutoff(org: "acme", mode: .apiKey) == 500)
        #expect(e.cutoff(org: "acme", mode: .oidc(provider: "google")) == 499)   // back on
    }
}
