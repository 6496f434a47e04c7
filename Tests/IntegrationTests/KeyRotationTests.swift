import DrawbridgeCrypto
import Foundation
import Glibc
import Testing

/// Issue 12 item 4, rotation end to end with the real binaries: from master key A to master key B
/// with `drawbridge master-key rotate`, then the gateway runs on B alone — TOTP, an OIDC client
/// secret and an upstream credential all work — A opens nothing, and a backup made before the
/// rotation still restores.
@Suite(.serialized) struct KeyRotationTests {
    static let password = "correct horse battery staple"
    static let vendorToken = "v3nd0r-t0ken-before"

    final class World {
        let files = IdentityFiles()
        let issuer: OIDCTests.Issuer
        let upstream: Upstream
        let totpSeed = SecureRandom.bytes(20)
        let root: String
        let credentials: String
        let backups: String
        var gw: GatewayFixture!

        /// `credential`: A in `$CREDENTIALS_DIRECTORY/drawbridge-master-key` (nothing in the
        /// configuration); otherwise in `auth.masterKeyFile`.
        init(credential: Bool) throws {
            issuer = try OIDCTests.Issuer()
            upstream = try Upstream()
            root = FileManager.default.temporaryDirectory.appendingPathComponent("db-rot-\(getpid())-\(UUID().uuidString.prefix(8))").path
            credentials = root + "/credentials"
            backups = root + "/backups"
            try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
            files.users = [
                TestUser(id: "u_dev", email: "dev@acme.test"),
                TestUser(id: "u_carol", email: "carol@acme.test", totpSeed: totpSeed),
                TestUser(id: "u_olga", email: "olga@acme.test", password: nil),
            ]
            files.secrets = ["oidc-test": Array("test-secret".utf8), "vendor-token": Array(KeyRotationTests.vendorToken.utf8)]
            var sections = files.configSections(modes: #"["password", "api_key", "oidc:test"]"#, authExtra: """
                oidc: { test: { issuer: "\(issuer.url)", clientId: "drawbridge-test", clientSecret: "oidc-test",
                                caFile: "\(TestCertificate.cert)", trustedFor: { organizations: ["acme"] } } },
                """) + #"backup: { directory: "\#(backups)", everyHours: 6, keepDays: 4 },"#
            var environment: [String: String?] = [:]
            if credential {
                sections = sections.replacingOccurrences(of: #"masterKeyFile: "\#(files.keyPath)","#, with: "")
                try Self.install(files.masterKey, in: credentials)
                environment["CREDENTIALS_DIRECTORY"] = credentials
            }
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: """
                [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } },
                  { pathPrefix: "/vendor/", upstream: "app", access: { methods: { "*": "app:use" } },
                    upstreamCredential: { header: "X-Api-Token", secret: "vendor-token", prefix: "Token " } } ]
                """, extra: sections, environment: environment, prepare: { try files.write(to: $0) })
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Puts `key` where systemd would, mode 0400 (replacing what is there).
        static func install(_ key: [UInt8], in directory: String) throws {
            let path = directory + "/drawbridge-master-key"
            chmod(path, 0o600)
            try (hex(key) + "\n").write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o400)
        }

        /// `drawbridge ARGS --config DIR`, with the gateway's environment (its credentials) plus `environment`.
        @discardableResult
        func cli(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
            var env = gw.environment.compactMapValues { $0 }.filter { $0.key != "DRAWBRIDGE_CONFIG" }
            env.merge(environment) { _, b in b }
            return try run("/usr/bin/env", env.map { "\($0.key)=\($0.value)" } + [Binaries.drawbridge] + args + ["--config", gw.dir],
                           stdin: stdin.map { Data($0.utf8) })
        }

        func client() -> SignInClient {
            let c = SignInClient(gw)
            c.host = "localhost:\(gw.httpsPort)"
            return c
        }

        func passwordSignIn(_ email: String) throws -> Bool {
            let c = client()
            return try c.signIn(email: email, password: KeyRotationTests.password).status == 303 && c.get("/app").status == 200
        }

        /// Password, then the current TOTP code.
        func totpSignIn() throws -> Bool {
            let c = client()
            guard try c.signIn(email: "carol@acme.test", password: KeyRotationTests.password).text.contains("Two-step verification") else { return false }
            let code = try TOTP.code(secret: totpSeed, time: UInt64(Date().timeIntervalSince1970))
            return try c.post("/.drawbridge/login/totp", form: [("csrf", c.csrf), ("code", code)]).status == 303 && c.get("/app").status == 200
        }

        /// A whole OIDC sign-in: the issuer accepts the code only with the client secret "test-secret".
        func oidcSignIn() throws -> String? {
            try issuer.nextUser(#"{"email": "olga@acme.test", "sub": "idp-olga"}"#)
            let c = client()
            let start = try c.get("/.drawbridge/oidc/start?provider=test")
            guard start.status == 302, let location = start.header("location") else { return nil }
            let back = try issuer.authorize(location)
            guard try c.get(String(back.dropFirst("https://localhost:\(gw.httpsPort)".count))).status == 303 else { return nil }
            let r = try c.get("/app", headers: "Accept: application/json\r\n")
            return r.status == 200 ? try Echo.from(r).header("x-drawbridge-user") : nil
        }

        /// What the upstream receives as the route's credential.
        func vendorHeader() throws -> String? {
            let c = client()
            guard try c.signIn(email: "dev@acme.test", password: KeyRotationTests.password).status == 303 else { return nil }
            return try Echo.from(try c.get("/vendor/x")).header("x-api-token")
        }

        var archiveIds: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []).filter { $0.hasSuffix(".dbb") }
                .map { String($0.dropLast(4).replacingOccurrences(of: "drawbridge-backup-", with: "")) }.sorted()
        }

        func text(_ name: String) throws -> String { try String(contentsOfFile: gw.dir + "/" + name, encoding: .utf8) }
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// The documented formats (IDENTITY.md "Secrets at rest", BACKUP.md "How an archive is
    /// sealed"), implemented here apart from the gateway: does `key` open any sealed value left?
    static func opensAnything(_ key: [UInt8], _ w: World) throws -> [String] {
        var opened: [String] = []
        let secrets = try #require(try JSONSerialization.jsonObject(with: Data(w.text("secrets.json").utf8)) as? [String: Any])
        for (name, value) in try #require(secrets["secrets"] as? [String: String]) {
            let sealed = try #require(Base64URL.decode(value))
            let k = HKDF.sha256(ikm: key, info: Array("drawbridge at-rest v2 secret".utf8))
            if (try? AESGCM.openCombined(key: k, combined: Array(sealed[1...]), aad: Array("drawbridge-sealed-v2\u{0}secret\u{0}\(name)".utf8))) != nil {
                opened.append("secrets.json \(name)")
            }
        }
        let users = try #require(try JSONSerialization.jsonObject(with: Data(w.text("users.json").utf8)) as? [String: Any])
        for user in try #require(users["users"] as? [[String: Any]]) {
            guard let value = user["totp"] as? String, let id = user["id"] as? String else { continue }
            let sealed = try #require(Base64URL.decode(value))
            let k = HKDF.sha256(ikm: key, info: Array("drawbridge at-rest v2 totp-seed".utf8))
            if (try? AESGCM.openCombined(key: k, combined: Array(sealed[1...]), aad: Array("drawbridge-sealed-v2\u{0}totp-seed\u{0}user/\(id)/totp".utf8))) != nil {
                opened.append("users.json \(id)")
            }
        }
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(w.text("backup-keys.json").utf8)) as? [String: Any])
        let wrapping = HMAC.sha256(key: key, data: Array("drawbridge backup data keys v1".utf8))
        for (id, value) in try #require(keys["keys"] as? [String: [String: Any]]) {
            let created = try #require(value["created"] as? Int)
            for (field, prefix) in [("sealed", "drawbridge-backup-key-v1"), ("masterKey", "drawbridge-backup-master-v1")] {
                guard let text = value[field] as? String else { continue }
                let sealed = try #require(Base64URL.decode(text))
                if (try? AESGCM.openCombined(key: wrapping, combined: Array(sealed[1...]), aad: Array("\(prefix)\u{0}\(id)\u{0}\(created)".utf8))) != nil {
                    opened.append("backup-keys.json \(id) \(field)")
                }
            }
        }
        return opened
    }

    @Test func fromAToBTheGatewayRunsOnBAloneAndOldBackupsStillRestore() throws {
        let w = try World(credential: true)
        let a = w.files.masterKey
        // Backups under A: the one the gateway makes at start, and one by the CLI.
        try w.gw.process.waitFor("backup: created")
        #expect(try w.cli(["backup", "create"]).status == 0)
        let before = w.archiveIds
        #expect(before.count == 2)
        #expect(try w.vendorHeader() == "Token \(Self.vendorToken)")
        #expect(try Self.opensAnything(a, w).count == 4 + 1 + 2)   // sanity: A opens the 4 secrets, 1 seed, 2 data keys

        // Rotate: A from the credential, B on standard input (as from `vault kv get` or `systemd-creds decrypt`).
        let b = SecureRandom.bytes(32)
        let rotate = try w.cli(["master-key", "rotate", "--new-key", "-"], stdin: Self.hex(b) + "\n")
        #expect(rotate.status == 0, "\(rotate)")
        #expect(rotate.out.contains("re-sealed 1 TOTP seed, 4 secrets and 2 backup data keys"), "\(rotate.out)")
        #expect(rotate.out.contains("put the new key where"), "\(rotate.out)")
        #expect(!(rotate.out + rotate.err).contains(Self.hex(a)) && !(rotate.out + rotate.err).contains(Self.hex(b)))

        // B not installed yet: nothing gets sealed under A next to values under B, and the running
        // gateway keeps serving from memory (its reload is refused, naming the files).
        let early = try w.cli(["secret", "set", "later", "--random"])
        #expect(early.status == 1 && early.err.contains("does not open with systemd credential drawbridge-master-key"), "\(early)")
        try w.gw.reload(expect: "reload rejected")
        #expect(try w.passwordSignIn("dev@acme.test"))

        // B installed where systemd takes it from; the gateway restarts on B alone.
        try World.install(b, in: w.credentials)
        try w.gw.restart()
        #expect(try w.passwordSignIn("dev@acme.test"))
        #expect(try w.totpSignIn())
        #expect(try w.oidcSignIn() == "u_olga")
        #expect(try w.vendorHeader() == "Token \(Self.vendorToken)")
        #expect(try w.cli(["backup", "verify"]).status == 0)

        // A opens nothing: not a secret, seed or data key (the documented formats), not a
        // backup, not the configuration.
        #expect(try Self.opensAnything(a, w) == [])
        let withA = FileManager.default.temporaryDirectory.appendingPathComponent("db-rot-a-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: withA, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: withA) }
        try World.install(a, in: withA)
        let verifyA = try w.cli(["backup", "verify"], environment: ["CREDENTIALS_DIRECTORY": withA])
        #expect(verifyA.status == 1 && verifyA.err.contains("does not open"), "\(verifyA)")
        let checkA = try w.cli(["check-config"], environment: ["CREDENTIALS_DIRECTORY": withA])
        #expect(checkA.status == 1 && checkA.err.contains("secrets.json") && checkA.err.contains("wrong master key"), "\(checkA)")

        // A backup made before the rotation restores with B alone.
        #expect(try w.cli(["secret", "set", "vendor-token"], stdin: "changed-after\n").status == 0)
        try w.gw.reload(expect: "reloaded")
        #expect(try w.vendorHeader() == "Token changed-after")
        let restore = try w.cli(["backup", "restore", before[1]])
        #expect(restore.status == 0, "\(restore)")
        try w.gw.reload(expect: "reloaded")
        #expect(try w.vendorHeader() == "Token \(Self.vendorToken)")
        #expect(try w.totpSignIn())
        #expect(try Self.opensAnything(a, w) == [])
        #expect(try w.cli(["backup", "verify", before[0]]).status == 0)
    }

    /// With `auth.masterKeyFile`, rotate makes B, puts it in the key file and overwrites A; a
    /// failure before the commit changes nothing; a crash after it is completed by the next command.
    @Test func aKeyFileIsReplacedAndTheOldKeyOverwritten() throws {
        let w = try World(credential: false)
        let keyFile = w.files.keyPath
        let a = Self.hex(w.files.masterKey)
        try w.gw.process.waitFor("backup: created")
        let names = ["users.json", "secrets.json", "backup-keys.json"]
        let snapshot = { try names.map { try w.text($0) } + [String(contentsOfFile: keyFile, encoding: .utf8)] }

        // One value that A does not open: refused, naming it; nothing changed.
        let secretsBefore = try w.text("secrets.json")
        let foreign = try IdentityFiles().seal(Array("x".utf8), name: "foreign")
        try secretsBefore.replacingOccurrences(of: #""secrets": { "#, with: #""secrets": { "foreign": "\#(foreign)", "#)
            .write(toFile: w.gw.dir + "/secrets.json", atomically: true, encoding: .utf8)
        let unchanged = try snapshot()
        let refused = try w.cli(["master-key", "rotate"])
        #expect(refused.status == 1 && refused.err.contains("secrets.foreign") && refused.err.contains("nothing was changed"), "\(refused)")
        #expect(try snapshot() == unchanged)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.gw.dir).filter { $0.hasSuffix(".restore") || $0.contains("journal") } == [])
        try secretsBefore.write(toFile: w.gw.dir + "/secrets.json", atomically: true, encoding: .utf8)

        // Killed after its first rename (the commit point is behind it): the next command completes it.
        let crashed = try w.cli(["master-key", "rotate"], environment: ["DRAWBRIDGE_TEST_RESTORE_CRASH_AFTER": "1"])
        #expect(crashed.status != 0)
        #expect(try w.cli(["secret", "list"]).status == 0)  // completes the rotation first
        #expect(try w.cli(["check-config"]).status == 0)
        let b = try String(contentsOfFile: keyFile, encoding: .utf8)
        #expect(b.count == 65 && b != a + "\n")
        try w.gw.restart()
        #expect(try w.passwordSignIn("dev@acme.test"))
        #expect(try w.totpSignIn())
        #expect(try w.vendorHeader() == "Token \(Self.vendorToken)")
        #expect(try Self.opensAnything(w.files.masterKey, w) == [])

        // The old key's inode, held open across a rotation, holds only zeros afterwards.
        let fd = open(keyFile, O_RDONLY)
        defer { close(fd) }
        #expect(try w.cli(["master-key", "rotate"]).out.contains("the old key was overwritten"))
        var buffer = [UInt8](repeating: 0xff, count: 65)
        #expect(pread(fd, &buffer, 65, 0) == 65 && buffer.allSatisfy { $0 == 0 })
        #expect(try String(contentsOfFile: keyFile, encoding: .utf8) != b)
        try w.gw.restart()
        #expect(try w.passwordSignIn("dev@acme.test"))
    }
}
