import DrawbridgeDecision
import DrawbridgeIdentity
import Foundation
import Testing
@testable import DrawbridgeServer

/// The mode cut-offs' state file (`auth-state.json`): the table itself is tested in the decision module.
@Suite struct AuthStateFileTests {
    let global = GlobalAuthSettings(enabledModes: [.password, .apiKey, .oidc(provider: "google")])
    let known: [AuthMode] = [.password, .apiKey, .oidc(provider: "google")]

    @Test func stateFileRoundTripSurvivesARestart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cutoffs-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try ModeCutoffs.load(path: path) == ModeCutoffs())   // absent: empty
        let off = Organization(id: "acme", displayName: "Acme", modePolicy: .disable([.password, .oidc(provider: "google")]))
        let c = ModeCutoffs().updated(orgs: [off], knownModes: known, global: global, now: 1234)
        try c.save(path: path)
        #expect(try ModeCutoffs.load(path: path) == c)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: AuthSetupError.self) { try ModeCutoffs.load(path: path) }
    }
}
