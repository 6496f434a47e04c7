import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
@testable import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// A temporary directory with an auth section pointing into it, and a key file outside "conf".
struct TempStore {
    let root: String
    let conf: String
    let auth: AuthConfig
    let key: MasterKey
    let keyFile: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("db-store-\(getpid())-\(UUID().uuidString.prefix(8))").path
        conf = root + "/conf"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        keyFile = root + "/master.key"
        try MasterKey.createFile(at: keyFile, configDirectory: conf)
        key = try MasterKey.load(file: keyFile)
        auth = AuthConfig(usersFile: conf + "/users.json", apiKeysFile: conf + "/apikeys.json", secretsFile: conf + "/secrets.json",
                          masterKeyFile: keyFile, modes: [.password])
    }

    func write(_ file: String, _ text: String) throws { try text.write(toFile: file, atomically: false, encoding: .utf8) }
    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: conf).sorted() }
}

let testKey = try! MasterKey(bytes: Array(0..<32))

@Suite struct SealingTests {
    @Test func roundTrip() throws {
        for plaintext in [[], [1], Array("hunter2".utf8), SecureRandom.bytes(1000)] as [[UInt8]] {
            let sealed = try Sealed.seal(plaintext, name: "db/password", key: testKey)
            #expect(sealed.count == 1 + 12 + plaintext.count + 16 && sealed[0] == 2)
            #expect(try Sealed.open(sealed, name: "db/password", key: testKey) == plaintext)
            let text = try Sealed.sealString(plaintext, name: "x", key: testKey)
            #expect(try Sealed.open(string: text, name: "x", key: testKey) == plaintext)
        }
    }

    @Test func movedToAnotherNameFails() throws {
        let sealed = try Sealed.seal(Array("value".utf8), name: "a", key: testKey)
        #expect(throws: SealingError.self) { try Sealed.open(sealed, name: "b", key: testKey) }
        let totp = try Sealed.seal([1, 2, 3], name: Sealed.totpName(userId: "u_0000000000000001"), key: testKey)
        #expect(throws: SealingError.self) { try Sealed.open(totp, name: Sealed.totpName(userId: "u_0000000000000002"), key: testKey) }
    }

    @Test func everyByteRegionIsAuthenticated() throws {
        let plaintext = Array("correct horse battery staple".utf8)
        let sealed = try Sealed.seal(plaintext, name: "n", key: testKey)
        // version (0), nonce (1...12), ciphertext, tag (last 16)
        let regions = [0, 1, 12, 13, 13 + plaintext.count - 1, sealed.count - 16, sealed.count - 1]
        for i in regions {
            var t = sealed
            t[i] ^= 0x01
            #expect(throws: SealingError.self, "byte \(i)") { try Sealed.open(t, name: "n", key: testKey) }
        }
        for n in [0, 1, 12, 28, sealed.count - 1] {
            #expect(throws: SealingError.self, "length \(n)") { try Sealed.open(Array(sealed.prefix(n)), name: "n", key: testKey) }
        }
        let other = try MasterKey(bytes: Array(repeating: 7, count: 32))
        #expect(throws: SealingError.self) { try Sealed.open(sealed, name: "n", key: other) }
    }

    @Test func errorNamesTheSecretNotTheValue() throws {
        let sealed = try Sealed.seal(Array("s3cr3t-value".utf8), name: "api/token", key: testKey)
        do {
            _ = try Sealed.open(sealed, name: "api/token", key: MasterKey(bytes: Array(repeating: 1, count: 32)))
            Issue.record("opened under the wrong key")
        } catch {
            #expect("\(error)".contains("api/token") && !"\(error)".contains("s3cr3t"))
        }
    }
}

@Suite struct MasterKeyTests {
    let bytes: [UInt8] = (0..<32).map { UInt8($0 * 7 % 256) }

    @Test func parsesHexAndBase64URL() throws {
        let hex = MasterKey.hexEncode(bytes)
        #expect(try MasterKey(text: hex, source: "t").bytes == bytes)
        #expect(try MasterKey(text: hex.uppercased(), source: "t").bytes == bytes)
        #expect(try MasterKey(text: "  \(hex)\n", source: "t").bytes == bytes)
        #expect(try MasterKey(text: Base64URL.encode(bytes) + "\r\n", source: "t").bytes == bytes)
    }

    @Test func rejectsBadKeysNamingTheSource() throws {
        let hex = MasterKey.hexEncode(bytes)
        let bad = [String(hex.dropLast(2)), hex + "00", "", "   \n", String(hex.dropLast()) + "g",
                   String(Base64URL.encode(bytes).dropLast()) + "=", Base64URL.encode(bytes) + "A"]
        for text in bad {
            do {
                _ = try MasterKey(text: text, source: "/etc/db.key")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix("/etc/db.key: "), "\(error)")
                #expect(error.description.contains("master-key generate"))
            }
        }
    }

    @Test func keyFilePermissionsAndEnvironmentFallback() throws {
        let store = try TempStore()
        #expect(try MasterKey.load(file: store.keyFile).bytes.count == 32)
        chmod(store.keyFile, 0o640)
        #expect { try MasterKey.load(file: store.keyFile) } throws: { "\($0)".contains("chmod 600") }
        chmod(store.keyFile, 0o602)
        #expect { try MasterKey.load(file: store.keyFile) } throws: { "\($0)".contains("chmod 600") }
        chmod(store.keyFile, 0o600)
        #expect { try MasterKey.load(file: store.root + "/missing.key") } throws: { "\($0)".contains("missing.key") }

        var auth = store.auth
        auth.masterKeyFile = nil
        let env = ["DRAWBRIDGE_MASTER_KEY": Base64URL.encode(bytes)]
        #expect(try MasterKey.load(auth, environment: env).bytes == bytes)
        #expect { try MasterKey.load(auth, environment: [:]) } throws: {
            "\($0)".contains("DRAWBRIDGE_MASTER_KEY") && "\($0)".contains("masterKeyFile")
        }
    }

    @Test func createFileRefusesOverwriteAndConfigDirectory() throws {
        let store = try TempStore()
        var st = stat()
        #expect(stat(store.keyFile, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let before = try String(contentsOfFile: store.keyFile, encoding: .utf8)
        #expect(throws: ConfigErrors.self) { try MasterKey.createFile(at: store.keyFile, configDirectory: store.conf) }
        #expect(try String(contentsOfFile: store.keyFile, encoding: .utf8) == before)
        #expect(throws: ConfigErrors.self) { try MasterKey.createFile(at: store.conf + "/master.key", configDirectory: store.conf) }
        #expect(throws: ConfigErrors.self) { try MasterKey.createFile(at: store.conf + "/../conf/x.key", configDirectory: store.conf) }
        #expect(!FileManager.default.fileExists(atPath: store.conf + "/master.key"))
        #expect(MasterKey.generate() != MasterKey.generate())
    }
}

@Suite struct StoreFileTests {
    @Test func usersRoundTrip() throws {
        let store = try TempStore()
        let totp = try Sealed.seal(Array(repeating: 9, count: 20), kind: .totpSeed, name: Sealed.totpName(userId: "u_00000000000000aa"), key: store.key)
        let users = [
            User(id: "u_00000000000000aa", email: "alice@acme.test", status: .active, expiresAt: 1767225600,
                 memberships: [Membership(orgId: "acme", roles: ["admin"], groups: ["eng"])],
                 passwordHash: try PasswordHash.hash("pw", scheme: .pbkdf2SHA256(iterations: 1)), totpSecretSealed: totp, sessionEpoch: 3),
            User(id: "u_00000000000000bb", email: "bob@acme.test", status: .disabled),
        ]
        try IdentityStore.updateUsers(store.auth) { $0 = users }
        #expect(try IdentityStore.readUsers(store.auth) == users)
        let text = try String(contentsOfFile: store.auth.usersFile, encoding: .utf8)
        #expect(text == StoreFiles.encodeUsers(users) && text.hasSuffix("}\n") && text.contains("\n  \"users\": ["))
        let loaded = try IdentityStore.load(store.auth)
        #expect(loaded.users == users && loaded.totpSecrets == ["u_00000000000000aa": Array(repeating: 9, count: 20)])
    }

    @Test func apiKeysAndSecretsRoundTrip() throws {
        let store = try TempStore()
        let (_, record) = APIKey.generate(orgId: "acme", roles: ["reader"], now: 1767225600)
        var revoked = APIKey.generate(orgId: "beta", roles: [], now: 5).record
        revoked.revoked = true
        let entries = [APIKeyEntry(record: record, name: "ci deploy \"quoted\""), APIKeyEntry(record: revoked, name: "")]
        try IdentityStore.updateAPIKeys(store.auth) { $0 = entries }
        #expect(try IdentityStore.readAPIKeys(store.auth) == entries)

        let sessionKey = SecureRandom.bytes(32)
        try IdentityStore.updateSecrets(store.auth) {
            $0["oidc-google"] = try Sealed.seal(Array("client secret".utf8), name: "oidc-google", key: store.key)
            $0["session-key-2"] = try Sealed.seal(sessionKey, name: "session-key-2", key: store.key)
            $0["session-key-1"] = try Sealed.seal(SecureRandom.bytes(32), name: "session-key-1", key: store.key)
        }
        let secretsText = try String(contentsOfFile: store.auth.secretsFile, encoding: .utf8)
        #expect(!secretsText.contains("client secret"))
        let data = try IdentityStore.load(store.auth)
        #expect(data.apiKeys == entries.map(\.record))
        #expect(data.apiKeyNames[record.keyId] == "ci deploy \"quoted\"")
        #expect(data.secrets["oidc-google"] == Array("client secret".utf8))
        #expect(data.sessionKeys.map(\.id) == [1, 2])
        // Deterministic: writing the same data again gives the same bytes.
        let again = try IdentityStore.readSecrets(store.auth)
        #expect(StoreFiles.encodeSecrets(again) == secretsText)
    }

    @Test func absentFilesAreEmpty() throws {
        let store = try TempStore()
        let data = try IdentityStore.load(store.auth)
        #expect(data.users.isEmpty && data.apiKeys.isEmpty && data.secrets.isEmpty && data.sessionKeys.isEmpty)
    }

    static let hash = Base64URL.encode(Array(repeating: 1, count: 32))
    static let user = #"{ "id": "u_00000000000000aa", "email": "a@acme.test", "status": "active", "sessionEpoch": 0 }"#

    /// (file, text, expected path, expected words in the message)
    static let malformed: [(String, String, String, String)] = [
        ("users", #"{ "version": 2, "users": [] }"#, "version", "unsupported format version 2"),
        ("users", #"{ "users": [] }"#, "version", "missing"),
        ("users", #"{ "version": 1, "users": {} }"#, "users", "expected an array"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "a@acme.test", "status": "gone" } ] }"#,
         "users[0].status", "unknown status \"gone\""),
        ("users", #"{ "version": 1, "users": [ \#(user), { "id": "u_00000000000000ab", "email": "a@acme.test", "status": "active" } ] }"#,
         "users[1].email", "duplicate email"),
        ("users", #"{ "version": 1, "users": [ \#(user), { "id": "u_00000000000000aa", "email": "b@acme.test", "status": "active" } ] }"#,
         "users[1].id", "duplicate user id"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "A@acme.test", "status": "active" } ] }"#,
         "users[0].email", "invalid email"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "a@acme.test", "status": "active", "pasword": "x" } ] }"#,
         "users[0].pasword", "unknown key (known keys: id, email"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "a@acme.test", "status": "active", "passwordHash": "plain" } ] }"#,
         "users[0].passwordHash", "malformed password hash"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "a@acme.test", "status": "active", "memberships": [ { "org": "acme", "roles": ["a b"] } ] } ] }"#,
         "users[0].memberships[0].roles[0]", "invalid name"),
        ("users", #"{ "version": 1, "users": [ { "id": "u_00000000000000aa", "email": "a@acme.test", "status": "active", "totp": "AAAA" } ] }"#,
         "users[0].totp", "truncated"),
        ("users", #"{ "version": 1, "users": [ "#, "line 1", "syntax error"),
        ("apikeys", #"{ "version": 1, "keys": [ { "id": "00000000000000aa", "org": "acme", "createdAt": 1, "revoked": false, "hash": "AAAA" } ] }"#,
         "keys[0].hash", "malformed key hash"),
        ("apikeys", #"{ "version": 1, "keys": [ { "id": "00000000000000aa", "org": "acme", "createdAt": 1, "revoked": false, "hash": "\#(hash)" }, { "id": "00000000000000aa", "org": "acme", "createdAt": 1, "revoked": false, "hash": "\#(hash)" } ] }"#,
         "keys[1].id", "duplicate key id"),
        ("apikeys", #"{ "version": 1, "keys": [ { "id": "00000000000000AA", "org": "acme", "createdAt": 1, "revoked": false, "hash": "\#(hash)" } ] }"#,
         "keys[0].id", "invalid key id"),
        ("apikeys", #"{ "version": 1, "keys": [ { "id": "00000000000000aa", "org": "acme", "createdAt": 1, "hash": "\#(hash)" } ] }"#,
         "keys[0].revoked", "missing required key"),
        ("secrets", #"{ "version": 1, "secrets": { "Bad Name": "AAAA" } }"#, "secrets.Bad Name", "invalid secret name"),
        ("secrets", #"{ "version": 1, "secrets": { "ok": 5 } }"#, "secrets.ok", "expected a sealed value"),
        ("secrets", #"{ "version": 1, "secrets": { "ok": "not base64!" } }"#, "secrets.ok", "not valid base64url"),
    ]

    @Test(arguments: 0..<malformed.count) func malformedFilesNameFileAndPath(_ index: Int) throws {
        let (kind, text, path, words) = Self.malformed[index]
        let store = try TempStore()
        let file = store.conf + "/\(kind).json"
        try store.write(file, text)
        do {
            _ = try IdentityStore.load(store.auth)
            Issue.record("loaded: \(text)")
        } catch let e as ConfigErrors {
            let hit = e.issues.first { $0.file == file && $0.path == path && $0.message.contains(words) }
            #expect(hit != nil, "\(e)")
        }
        // A broken file is never overwritten by an update either.
        #expect(throws: ConfigErrors.self) {
            switch kind {
            case "users": try IdentityStore.updateUsers(store.auth) { _ in }
            case "apikeys": try IdentityStore.updateAPIKeys(store.auth) { _ in }
            default: try IdentityStore.updateSecrets(store.auth) { _ in }
            }
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == text)
    }

    @Test func sealedValuesFailingToOpenAreReportedByName() throws {
        let store = try TempStore()
        let moved = try Sealed.seal(Array("v".utf8), name: "one", key: store.key)
        try IdentityStore.updateSecrets(store.auth) { $0["two"] = moved }
        #expect { try IdentityStore.load(store.auth) } throws: {
            let e = $0 as! ConfigErrors
            return e.issues.count == 1 && e.issues[0].path == "secrets.two" && e.issues[0].message.contains("\"two\"")
        }
        // A TOTP seed copied to another user does not open either.
        let seed = try Sealed.seal([1, 2, 3], kind: .totpSeed, name: Sealed.totpName(userId: "u_00000000000000aa"), key: store.key)
        try IdentityStore.updateSecrets(store.auth) { $0 = [:] }
        try IdentityStore.updateUsers(store.auth) {
            $0 = [User(id: "u_00000000000000bb", email: "b@acme.test", totpSecretSealed: seed)]
        }
        #expect { try IdentityStore.load(store.auth) } throws: { "\($0)".contains("users[0].totp") }
    }

    /// The kind is bound: a TOTP seed never opens as a secret (nor the reverse), even under the
    /// same name; and the earlier format (no kind) is refused with the command that converts it.
    @Test func sealedKindsNeverOpenAsEachOther() throws {
        let seed = try Sealed.seal([7, 7, 7], kind: .totpSeed, name: "user/alice/totp", key: testKey)
        #expect(throws: SealingError.self) { try Sealed.open(seed, kind: .secret, name: "user/alice/totp", key: testKey) }
        let secret = try Sealed.seal([7, 7, 7], kind: .secret, name: "oidc-x", key: testKey)
        #expect(throws: SealingError.self) { try Sealed.open(secret, kind: .totpSeed, name: "oidc-x", key: testKey) }
        #expect(try Sealed.open(seed, kind: .totpSeed, name: "user/alice/totp", key: testKey) == [7, 7, 7])
        // Secret names cannot take a seed's name at all.
        #expect(!StoreNames.isSecretName("user/alice/totp") && StoreNames.isSecretName("users-db"))
        let legacy = [1] + (try AESGCM.sealCombined(key: Array(0..<32), plaintext: [1], aad: Array("drawbridge-secret-v1\u{0}x".utf8)))
        #expect { try Sealed.open(legacy, name: "x", key: testKey) } throws: { "\($0)".contains("drawbridge secret reseal") }
        #expect(try Sealed.openLegacy(legacy, name: "x", key: testKey) == [1])
    }

    @Test func sessionKeysNeedTheRightNameAndLength() throws {
        let store = try TempStore()
        for (name, length, ok) in [("session-key-1", 32, true), ("session-key-255", 32, true), ("session-key-3", 16, false),
                                   ("session-key-0", 32, false), ("session-key-256", 32, false), ("session-key-07", 32, false),
                                   ("session-key-x", 32, false)] {
            try IdentityStore.updateSecrets(store.auth) { $0 = [name: try Sealed.seal(SecureRandom.bytes(length), name: name, key: store.key)] }
            if ok {
                #expect(try IdentityStore.load(store.auth).sessionKeys.count == 1, "\(name)")
            } else {
                #expect(throws: ConfigErrors.self, "\(name)") { try IdentityStore.load(store.auth) }
            }
        }
        #expect(IdentityStore.sessionKeyId("session-key-255") == 255)
    }

    @Test func assertionKeysArePEMKeysWithNumberedNames() throws {
        let store = try TempStore()
        let pem = Array(try ECPrivateKey.generate().pem.utf8)
        for (name, value, ok) in [("assertion-key-1", pem, true), ("assertion-key-0", pem, false), ("assertion-key-01", pem, false),
                                  ("assertion-key-2", SecureRandom.bytes(32), false), ("assertion-key-3", Array("-----BEGIN PRIVATE KEY-----".utf8), false)] {
            try IdentityStore.updateSecrets(store.auth) { $0 = [name: try Sealed.seal(value, name: name, key: store.key)] }
            if ok {
                let keys = try IdentityStore.load(store.auth).assertionKeys
                #expect(keys.count == 1 && keys[0].id == 1 && keys[0].kid.utf8.count == 43, "\(name)")
            } else {
                #expect(throws: ConfigErrors.self, "\(name)") { try IdentityStore.load(store.auth) }
            }
        }
    }

    @Test func missingMasterKeyIsReported() throws {
        let store = try TempStore()
        var auth = store.auth
        auth.masterKeyFile = nil
        #expect { try IdentityStore.load(auth, environment: [:]) } throws: { "\($0)".contains("DRAWBRIDGE_MASTER_KEY") }
    }
}

@Suite struct AtomicWriteTests {
    @Test func writeLeavesNoTempFileAndMode0600() throws {
        let store = try TempStore()
        let file = store.conf + "/x.json"
        try AtomicFile.write(file, contents: Array("one\n".utf8))
        try AtomicFile.write(file, contents: Array("two\n".utf8))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "two\n")
        var st = stat()
        #expect(stat(file, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try store.files() == ["x.json"])
    }

    @Test func failedWriteLeavesNoTempFile() throws {
        let store = try TempStore()
        // The target is a non-empty directory: rename fails after the temp file was written.
        try FileManager.default.createDirectory(atPath: store.conf + "/d/sub", withIntermediateDirectories: true)
        #expect(throws: (any Error).self) { try AtomicFile.write(store.conf + "/d", contents: Array("x".utf8)) }
        #expect(try store.files() == ["d"])
    }

    @Test func updateThatThrowsWritesNothing() throws {
        let store = try TempStore()
        struct Stop: Error {}
        #expect(throws: Stop.self) { try IdentityStore.updateUsers(store.auth) { $0.append(User(id: "u_00000000000000aa", email: "a@b.c")); throw Stop() } }
        #expect(!FileManager.default.fileExists(atPath: store.auth.usersFile))
        // An update that would produce an invalid file (duplicate email) is refused before writing.
        #expect(throws: ConfigErrors.self) {
            try IdentityStore.updateUsers(store.auth) {
                $0 = [User(id: "u_00000000000000aa", email: "a@b.c"), User(id: "u_00000000000000ab", email: "a@b.c")]
            }
        }
        #expect(try store.files().filter { !$0.hasSuffix(".lock") }.isEmpty)
    }
}
