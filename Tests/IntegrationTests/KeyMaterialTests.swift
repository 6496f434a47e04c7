import DrawbridgeCrypto
import Foundation
import Testing

/// Issue 18 items 7 and 8, and the login clock (issue 21 item 2), end to end with the real
/// gateway binary: sealed values bound to their kind, sessions sealed under subkeys, password
/// hashes upgraded, the master key's file and variable handled as key material.
@Suite(.serialized) struct KeyMaterialTests {
    typealias World = IdentityBindingTests.World
    static let password = IdentityBindingTests.password

    // MARK: 7. Sealed values keep their kind; sessions use subkeys

    @Test func aTOTPSeedCopiedIntoTheSecretsFileNeverOpensAsASecret() throws {
        let files = IdentityFiles()
        files.users = [TestUser(id: "alice", email: "alice@acme.test", totpSeed: SecureRandom.bytes(20))]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-kind-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try files.write(to: dir)
        // The attacker copies alice's sealed seed, unchanged, into the secrets file under the name
        // it was sealed for, and names it as an OIDC client secret.
        let users = try String(contentsOfFile: dir + "/users.json", encoding: .utf8)
        let sealedSeed = try #require(users.components(separatedBy: "\"totp\": \"").dropFirst().first?.split(separator: "\"").first)
        var secrets = try String(contentsOfFile: dir + "/secrets.json", encoding: .utf8)
        secrets = secrets.replacingOccurrences(of: #""secrets": { "#, with: #""secrets": { "user/alice/totp": "\#(sealedSeed)", "#)
        try secrets.write(toFile: dir + "/secrets.json", atomically: true, encoding: .utf8)
        let upstream = try Upstream()
        let config = """
            { workers: 1, listen: { https: "127.0.0.1:\(freePort())" },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:\(upstream.port)"] } },
              routes: [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ],
              \(files.configSections(modes: #"["password", "oidc:x"]"#, authExtra: """
                oidc: { x: { issuer: "https://127.0.0.1:1", clientId: "c", clientSecret: "user/alice/totp", trustedFor: { organizations: ["acme"] } } },
                """)) }
            """
        try config.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", dir], name: "drawbridge")
        let status = p.waitExit(timeout: 20)
        #expect(status == 1, "the gateway started with a TOTP seed as its client secret: \(p.stderr)")
        #expect(p.stderr.contains("secrets.json") && p.stderr.contains("user/alice/totp"), "\(p.stderr)")
        let check = try run(Binaries.drawbridge, ["check-config", "--config", dir])
        #expect(check.status == 1 && check.err.contains("user/alice/totp"))
    }

    /// The migration path: files sealed by an earlier release are refused with the command that
    /// converts them; `drawbridge secret reseal` converts them once (a second run changes nothing).
    @Test func valuesSealedByAnEarlierReleaseAreConvertedOnce() throws {
        let files = IdentityFiles()
        let seed = SecureRandom.bytes(20)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-reseal-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try files.write(to: dir)
        // Rewrite both files in the earlier format (version 1).
        let users = #"{ "version": 1, "users": [ { "id": "u_a", "email": "a@acme.test", "status": "active", "sessionEpoch": 0, "memberships": [ { "org": "acme", "roles": [] } ], "totp": "\#(try files.sealVersion1(seed, name: "user/u_a/totp"))" } ] }"#
        try users.write(toFile: dir + "/users.json", atomically: true, encoding: .utf8)
        let secrets = #"{ "version": 1, "secrets": { "session-key-1": "\#(try files.sealVersion1(files.sessionKey, name: "session-key-1"))" } }"#
        try secrets.write(toFile: dir + "/secrets.json", atomically: true, encoding: .utf8)
        let config = """
            { listen: { https: "127.0.0.1:\(freePort())" },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9"] } },
              routes: [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ],
              \(files.configSections()) }
            """
        try config.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let before = try run(Binaries.drawbridge, ["check-config", "--config", dir])
        #expect(before.status == 1 && before.err.contains("drawbridge secret reseal"), "\(before)")
        let reseal = try run(Binaries.drawbridge, ["secret", "reseal", "--config", dir])
        #expect(reseal.status == 0 && reseal.out.contains("re-sealed 1 TOTP seed and 1 secret"), "\(reseal)")
        #expect(try run(Binaries.drawbridge, ["check-config", "--config", dir]).status == 0)
        #expect(try run(Binaries.drawbridge, ["secret", "reseal", "--config", dir]).out.contains("re-sealed 0 TOTP seeds and 0 secrets"))
    }

    /// The session key never seals a cookie itself: a token sealed directly under it (today's
    /// format) is refused, one sealed under the documented per-purpose subkey is accepted.
    @Test func sessionsAreSealedUnderPerPurposeSubkeys() throws {
        let w = try World()
        let c = w.client()
        #expect(try c.signIn(email: "dev@example.test", password: Self.password).status == 303)
        let token = try #require(Base64URL.decode(c.cookies["__Host-drawbridge"] ?? ""))
        #expect(token[0] == 2 && token[1] == 1)
        let sessionKey = w.files.sessionKey
        func subkey(_ id: ArraySlice<UInt8>) -> [UInt8] {
            HKDF.sha256(ikm: sessionKey, salt: Array("drawbridge-subkey-v2".utf8), info: Array("session".utf8) + [0] + Array(id))
        }
        let context = Array("drawbridge-session-v2".utf8)
        let claims = try AESGCM.openCombined(key: subkey(token[2..<10]), combined: Array(token[10...]), aad: Array(token[0..<10]) + context)
        // Sealed under the raw session key (version 1): refused.
        let raw = [1, 1] + (try AESGCM.sealCombined(key: sessionKey, plaintext: claims, aad: [1, 1] + Array("drawbridge-session-v1".utf8)))
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(Base64URL.encode(raw))\r\n").status == 401)
        // Under a subkey of another (random) id, derived as documented: accepted.
        let id = SecureRandom.bytes(8)
        let header = [2, 1] + id
        let mine = header + (try AESGCM.sealCombined(key: subkey(id[...]), plaintext: claims, aad: header + context))
        #expect(try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(Base64URL.encode(mine))\r\n").status == 200)
        // A process keeps its subkey for many seals; another process draws a new one.
        let c2 = w.client()
        #expect(try c2.signIn(email: "ops@example.test", password: Self.password).status == 303)
        let second = try #require(Base64URL.decode(c2.cookies["__Host-drawbridge"] ?? ""))
        #expect(second[2..<10] == token[2..<10])
        try w.gw.restart()
        let c3 = w.client()
        #expect(try c3.signIn(email: "ops@example.test", password: Self.password).status == 303)
        let third = try #require(Base64URL.decode(c3.cookies["__Host-drawbridge"] ?? ""))
        #expect(third[2..<10] != token[2..<10])
    }

    // MARK: 8. Password hashes, master key file and variable

    @Test func aWeakPasswordHashIsUpgradedAtTheNextSignIn() throws {
        let w = try World()
        #expect(w.usersFile.contains("$scrypt$ln=10,r=8,p=1$"))   // the tests' cheap hashes
        #expect(try w.client().signIn(email: "dev@example.test", password: Self.password).status == 303)
        let dev = try #require(w.usersFile.components(separatedBy: "\"id\": ").first { $0.hasPrefix("\"u_dev\"") })
        #expect(dev.contains("$scrypt$ln=17,r=8,p=1$"), "\(dev)")
        #expect(w.audit.contains("\"event\":\"password_rehashed\""))
        // The upgraded hash verifies after a reload; other users are untouched.
        try w.gw.reload(expect: "reloaded")
        #expect(try w.client().signIn(email: "dev@example.test", password: Self.password).status == 303)
        let ops = try #require(w.usersFile.components(separatedBy: "\"id\": ").first { $0.hasPrefix("\"u_ops\"") })
        #expect(ops.contains("$scrypt$ln=10,r=8,p=1$"))
    }

    /// A configuration whose master key is `keyPath` (as `check-config` sees it).
    private static func checkWithKey(_ edit: (IdentityFiles, String) throws -> String) throws -> (status: Int32, err: String) {
        let files = IdentityFiles()
        files.users = [TestUser(id: "u_a", email: "a@acme.test")]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-mk-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try files.write(to: dir)
        let keyPath = try edit(files, dir)
        let config = """
            { listen: { https: "127.0.0.1:\(freePort())" },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9"] } },
              routes: [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ],
              \(files.configSections().replacingOccurrences(of: files.keyPath, with: keyPath)) }
            """
        try config.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let r = try run(Binaries.drawbridge, ["check-config", "--config", dir])
        return (r.status, r.err)
    }

    @Test func theMasterKeyFileIsNeitherALinkNorSomeoneElses() throws {
        // Sanity: the plain file is accepted.
        #expect(try Self.checkWithKey { files, _ in files.keyPath }.status == 0)
        // A symbolic link to the very same key, also through a "../" path: refused by O_NOFOLLOW.
        let link = try Self.checkWithKey { files, _ in
            let link = files.keyDir + "/sub/../link.key"
            try FileManager.default.createDirectory(atPath: files.keyDir + "/sub", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: files.keyDir + "/link.key", withDestinationPath: files.keyPath)
            return link
        }
        #expect(link.status == 1 && link.err.contains("symbolic link"), "\(link)")
        // Owned by another user (mode 0600 all the same): refused.
        let foreign = try Self.checkWithKey { files, _ in
            guard chown(files.keyPath, 65534, 65534) == 0 else { throw TestFailure("chown needs root") }
            return files.keyPath
        }
        #expect(foreign.status == 1 && foreign.err.contains("owned by uid 65534"), "\(foreign)")
    }

    @Test func theMasterKeyVariableLeavesTheEnvironmentOnceRead() throws {
        let w = try World(masterKeyInEnvironment: true)
        let hex = w.files.masterKey.map { String(format: "%02x", $0) }.joined()
        #expect(!w.gw.configText().contains("masterKeyFile"))
        let environ = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(w.gw.process.pid)/environ")), as: UTF8.self)
        #expect(!environ.contains("DRAWBRIDGE_MASTER_KEY") && !environ.contains(hex))
        // Still known to the gateway: a reload opens the secrets again.
        try w.gw.reload(expect: "reloaded")
        #expect(try w.client().signIn(email: "dev@example.test", password: Self.password).status == 303)
    }

    // MARK: Login throttling follows the monotonic clock (issue 21 item 2)

    @Test func aWallClockStepBackDoesNotProlongALockout() throws {
        guard FakeClock.available else { throw TestFailure("faketime is not installed (scripts/ensure-deps faketime)") }
        let clock = try FakeClock(offset: "+0")
        let w = try World(limits: "loginLimits: { perAddress: 1000, perAccountFailures: 3, lockoutSeconds: 1, maxLockoutSeconds: 3600 }",
                          environment: clock.environment)
        for _ in 0..<3 { #expect(try w.client().signIn(email: "dev@example.test", password: "wrong").status == 401) }
        #expect(try w.client().signIn(email: "dev@example.test", password: Self.password).status == 429)
        // The wall clock steps back a day (as NTP at boot might); the one-second lockout still ends.
        try clock.set("-1d")
        usleep(2_000_000)   // the library re-reads the offset every second
        #expect(try w.client().signIn(email: "dev@example.test", password: Self.password).status == 303)
    }
}
