import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
@testable import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// Where the master key comes from (docs/KEYS.md), with an injected environment: exactly one
/// source, the credential read as systemd leaves it, conflicts named.
@Suite struct MasterKeySourceTests {
    /// A store plus a credentials directory holding `name` (mode 0400) with the store's key.
    struct World {
        let store: TempStore
        let credentials: String
        let hex: String

        init(credential name: String? = MasterKey.defaultCredentialName, mode: mode_t = 0o400) throws {
            store = try TempStore()
            credentials = store.root + "/credentials"
            try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
            hex = MasterKey.hexEncode(store.key.bytes)
            if let name {
                try hex.write(toFile: credentials + "/" + name, atomically: false, encoding: .utf8)
                chmod(credentials + "/" + name, mode)
            }
        }

        func auth(_ source: MasterKeySource?) -> AuthConfig {
            var a = store.auth
            a.masterKeySource = source
            return a
        }
    }

    @Test func theDefaultCredentialNeedsNoConfiguration() throws {
        let w = try World()
        let key = try MasterKey.load(w.auth(nil), environment: ["CREDENTIALS_DIRECTORY": w.credentials])
        #expect(key.bytes == w.store.key.bytes && key.origin.contains("systemd credential drawbridge-master-key"))
        // Named in the configuration: another name, or the default one spelt out.
        let other = try World(credential: "vault-master")
        #expect(try MasterKey.load(other.auth(.credential("vault-master")), environment: ["CREDENTIALS_DIRECTORY": other.credentials]).bytes
                    == other.store.key.bytes)
        #expect(try MasterKey.load(w.auth(.credential(MasterKey.defaultCredentialName)), environment: ["CREDENTIALS_DIRECTORY": w.credentials]).bytes
                    == w.store.key.bytes)
    }

    @Test func aConfiguredCredentialOutsideSystemdSaysHowToRunIt() throws {
        let w = try World(credential: "vault-master")
        #expect { try MasterKey.load(w.auth(.credential("vault-master")), environment: [:]) } throws: {
            "\($0)".contains("$CREDENTIALS_DIRECTORY is not set") && "\($0)".contains("systemd-run")
        }
        #expect { try MasterKey.load(w.auth(.credential("other")), environment: ["CREDENTIALS_DIRECTORY": w.credentials]) } throws: {
            "\($0)".contains(w.credentials + "/other") && "\($0)".contains("No such file")
        }
    }

    /// systemd writes credentials as root or the service's user, mode 0400, and shows the service
    /// user's ACL entry as the group's read bit: accepted. Anything writable or others-readable is not.
    @Test(arguments: [(0o400, true), (0o440, true), (0o600, true), (0o404, false), (0o420, false), (0o402, false), (0o460, false)] as [(mode_t, Bool)])
    func credentialModes(_ mode: mode_t, _ accepted: Bool) throws {
        let w = try World(mode: mode)
        let load = { try MasterKey.load(w.auth(nil), environment: ["CREDENTIALS_DIRECTORY": w.credentials]) }
        if accepted { #expect(try load().bytes == w.store.key.bytes) }
        else { #expect { try load() } throws: { "\($0)".contains("accessible by others") } }
    }

    @Test func aCredentialThatIsALinkIsRefused() throws {
        let w = try World(credential: "real")
        try FileManager.default.createSymbolicLink(atPath: w.credentials + "/" + MasterKey.defaultCredentialName, withDestinationPath: "real")
        #expect { try MasterKey.load(w.auth(nil), environment: ["CREDENTIALS_DIRECTORY": w.credentials]) } throws: {
            "\($0)".contains("symbolic link")
        }
    }

    /// Two places holding a key is an error naming both, whatever they hold (the same key too).
    @Test func twoSourcesAreRefusedNamingBoth() throws {
        let w = try World()
        let env = ["CREDENTIALS_DIRECTORY": w.credentials, MasterKey.environmentVariable: w.hex]
        let table: [(AuthConfig, [String: String], [String])] = [
            (w.auth(nil), env, ["systemd credential drawbridge-master-key", "$DRAWBRIDGE_MASTER_KEY"]),
            (w.auth(.file(w.store.keyFile)), [MasterKey.environmentVariable: w.hex], ["auth.masterKeyFile", "$DRAWBRIDGE_MASTER_KEY"]),
            (w.auth(.file(w.store.keyFile)), ["CREDENTIALS_DIRECTORY": w.credentials], ["auth.masterKeyFile", "drawbridge-master-key"]),
            (w.auth(.command(["/bin/cat", w.store.keyFile], timeoutSeconds: 5)), ["CREDENTIALS_DIRECTORY": w.credentials],
             ["auth.masterKeyCommand", "drawbridge-master-key"]),
            (w.auth(.credential("other")), ["CREDENTIALS_DIRECTORY": w.credentials], ["auth.masterKeyCredential", "drawbridge-master-key"]),
        ]
        for (auth, environment, names) in table {
            #expect { try MasterKey.load(auth, environment: environment) } throws: { e in
                "\(e)".contains("more than one source") && names.allSatisfy { "\(e)".contains($0) } && !"\(e)".contains(w.hex)
            }
        }
        // An empty variable is no source.
        #expect(try MasterKey.load(w.auth(.file(w.store.keyFile)), environment: [MasterKey.environmentVariable: ""]).bytes == w.store.key.bytes)
    }

    @Test func theKeyCheckRefusesAnotherKey() throws {
        let store = try TempStore()
        try IdentityStore.checkMasterKey(store.auth, store.key)   // nothing sealed yet: nothing to compare with
        try IdentityStore.updateSecrets(store.auth) { $0["session-key-1"] = try Sealed.seal(SecureRandom.bytes(32), name: "session-key-1", key: store.key) }
        try IdentityStore.checkMasterKey(store.auth, store.key)
        let other = try MasterKey(bytes: SecureRandom.bytes(32), origin: "the other key")
        #expect { try IdentityStore.checkMasterKey(store.auth, other) } throws: {
            "\($0)".contains("secrets.session-key-1") && "\($0)".contains("the other key") && "\($0)".contains("docs/KEYS.md")
        }
    }
}
