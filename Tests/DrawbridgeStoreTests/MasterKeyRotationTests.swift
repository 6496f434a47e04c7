import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
@testable import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// Rotation without the binary: every sealed value re-sealed, all files or none.
@Suite struct MasterKeyRotationTests {
    @Test func everyValueMovesToTheNewKeyAndTheOldOneOpensNothing() throws {
        let store = try TempStore()
        let seed = SecureRandom.bytes(20), session = SecureRandom.bytes(32)
        try IdentityStore.updateUsers(store.auth) { users in
            users = [User(id: "u_a", email: "a@acme.test", memberships: [Membership(orgId: "acme")],
                          totpSecretSealed: try Sealed.seal(seed, kind: .totpSeed, name: "user/u_a/totp", key: store.key))]
        }
        try IdentityStore.updateSecrets(store.auth) {
            $0["session-key-1"] = try Sealed.seal(session, name: "session-key-1", key: store.key)
            $0["oidc-x"] = try Sealed.seal(Array("client-secret".utf8), name: "oidc-x", key: store.key)
        }
        let keyFile = store.root + "/backup-keys.json"
        var keys = BackupKeyFile()
        let (dataKey, entry) = try BackupKeyFile.newKey(id: "20250101T000000Z-0011223344556677", created: 1_735_689_600, master: store.key)
        keys.entries["20250101T000000Z-0011223344556677"] = entry
        try AtomicFile.write(keyFile, contents: Array(keys.encode().utf8))

        let new = try MasterKey(bytes: SecureRandom.bytes(32), origin: "B")
        let outcome = try MasterKeyRotation.rotate(configDirectory: store.conf, auth: store.auth, backupKeyFile: keyFile,
                                                   from: store.key, to: new, keyFile: store.keyFile)
        #expect(outcome.seeds == 1 && outcome.secrets == 2 && outcome.dataKeys == 1 && outcome.oldKeyOverwritten)
        #expect(try MasterKey.load(file: store.keyFile).bytes == new.bytes)
        let data = try IdentityStore.load(store.auth, key: new)
        #expect(data.totpSecrets["u_a"] == seed && data.secrets["session-key-1"] == session && data.secrets["oidc-x"] == Array("client-secret".utf8))
        #expect(throws: ConfigErrors.self) { try IdentityStore.load(store.auth, key: store.key) }
        let rekeyed = try BackupKeyFile.read(keyFile)
        #expect(try rekeyed.dataKey(id: "20250101T000000Z-0011223344556677", master: new, file: keyFile) == dataKey)
        #expect(throws: BackupError.self) { try rekeyed.dataKey(id: "20250101T000000Z-0011223344556677", master: store.key, file: keyFile) }
        // The archive's values stay under A: A comes along, sealed under B, for as long as the archive's key.
        #expect(try rekeyed.archiveMasterKey(id: "20250101T000000Z-0011223344556677", master: new, file: keyFile)?.bytes == store.key.bytes)
        // No staged file or journal left behind.
        let left = try store.files()
        #expect(left.allSatisfy { !$0.hasSuffix(".restore") && !$0.hasPrefix(".drawbridge-restore") }, "\(left)")

        // Rotating again (B to C) keeps A for that archive, and records B for nothing else.
        let c = try MasterKey(bytes: SecureRandom.bytes(32), origin: "C")
        _ = try MasterKeyRotation.rotate(configDirectory: store.conf, auth: store.auth, backupKeyFile: keyFile, from: new, to: c, keyFile: nil)
        #expect(try BackupKeyFile.read(keyFile).archiveMasterKey(id: "20250101T000000Z-0011223344556677", master: c, file: keyFile)?.bytes
                    == store.key.bytes)
    }

    @Test func aValueThatDoesNotOpenChangesNothing() throws {
        let store = try TempStore()
        try IdentityStore.updateSecrets(store.auth) {
            $0["a"] = try Sealed.seal([1], name: "a", key: store.key)
            $0["b"] = try Sealed.seal([2], name: "b", key: try MasterKey(bytes: SecureRandom.bytes(32)))   // under another key
        }
        let before = try String(contentsOfFile: store.auth.secretsFile, encoding: .utf8)
        let keyBefore = try String(contentsOfFile: store.keyFile, encoding: .utf8)
        let new = try MasterKey(bytes: SecureRandom.bytes(32))
        #expect { try MasterKeyRotation.rotate(configDirectory: store.conf, auth: store.auth, backupKeyFile: nil,
                                               from: store.key, to: new, keyFile: store.keyFile) } throws: {
            "\($0)".contains("secrets.b") && "\($0)".contains("nothing was changed")
        }
        #expect(try String(contentsOfFile: store.auth.secretsFile, encoding: .utf8) == before)
        #expect(try String(contentsOfFile: store.keyFile, encoding: .utf8) == keyBefore)
        let left = try store.files()
        #expect(left.allSatisfy { !$0.hasSuffix(".restore") && !$0.hasPrefix(".drawbridge-restore") }, "\(left)")
        #expect { try MasterKeyRotation.rotate(configDirectory: store.conf, auth: store.auth, backupKeyFile: nil,
                                               from: store.key, to: store.key, keyFile: nil) } throws: { "\($0)".contains("is the current one") }
    }
}

/// A process that read the master key before a rotation (a running gateway's backup scheduler)
/// must not seal a new data key under it next to data keys under the new one.
@Suite struct StaleMasterKeyTests {
    @Test func aBackupWithAnotherKeyThanTheKeyFilesIsRefused() throws {
        let s = try TempStore()
        try s.write(s.conf + "/drawbridge.json5", "{}")
        let site = BackupSite(configDirectory: s.conf, auth: s.auth,
                              settings: BackupConfig(directory: s.root + "/backups", keyFile: s.conf + "/backup-keys.json"))
        _ = try Backups.create(site, master: s.key, now: 1_735_689_600)
        let new = try MasterKey(bytes: SecureRandom.bytes(32), origin: "B")
        _ = try MasterKeyRotation.rotate(configDirectory: s.conf, auth: s.auth, backupKeyFile: site.settings.keyFile,
                                         from: s.key, to: new, keyFile: nil)
        let keysAfterRotation = try String(contentsOfFile: site.settings.keyFile, encoding: .utf8)
        #expect { try Backups.create(site, master: s.key, now: 1_735_689_700) } throws: {
            "\($0)".contains("does not open with auth.masterKeyFile") && "\($0)".contains("no backup was made")
        }
        #expect(try String(contentsOfFile: site.settings.keyFile, encoding: .utf8) == keysAfterRotation)
        #expect(try Backups.list(site).count == 1)
        _ = try Backups.create(site, master: new, now: 1_735_689_800)
        #expect(try Backups.list(site).count == 2)
    }
}
