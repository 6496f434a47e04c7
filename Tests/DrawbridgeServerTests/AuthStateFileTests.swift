import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeStore
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

    /// At start the state file is read only once the identity data checked out (the runtime's
    /// `previous` is evaluated late), so a bad users file or a missing session key is the error
    /// reported, as before the decision module; given the previous snapshot's table, the file is
    /// not read at all. Every failure leaves the old snapshot serving (the runtime throws).
    @Test func theStateFileIsReadAfterTheIdentityDataChecksOut() throws {
        let dir = NSTemporaryDirectory() + "drawbridge-state-order-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["a.crt", "a.key"] { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("x\n".utf8)) }
        let config = try ConfigLoader.parse(json5: """
            { listen: { https: "127.0.0.1:8443" }, tls: { certificates: [ { cert: "a.crt", key: "a.key" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9000"] } }, routes: [ { upstream: "app", public: true } ],
              auth: { modes: ["password"], auditLog: "off" }, organizations: { acme: {} } }
            """, file: "drawbridge.json5", baseDirectory: dir)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: StateFiles.cutoffsFile(config.auth!)))
        let user = User(id: "u1", email: "a@acme.test", memberships: [Membership(orgId: "acme", roles: [])])
        let key = SessionKey.generate(id: 1)
        func failure(_ data: IdentityData, previous: ModeCutoffs? = nil) -> String? {
            do { _ = try AuthRuntime(config: config, data: data, previous: previous, now: 1000); return nil }
            catch { return "\(error)" }
        }
        let duplicate = failure(IdentityData(users: [user, user], sessionKeys: [key]))
        #expect(duplicate?.contains("/users.json: ") == true, "\(duplicate ?? "no error")")
        let noKey = failure(IdentityData(users: [user]))
        #expect(noKey?.contains("no session key") == true, "\(noKey ?? "no error")")
        let state = failure(IdentityData(users: [user], sessionKeys: [key]))
        #expect(state?.contains("auth-state.json: not a Drawbridge state file") == true, "\(state ?? "no error")")
        #expect(failure(IdentityData(users: [user], sessionKeys: [key]), previous: ModeCutoffs()) == nil)
    }
}
