import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// A configuration directory with an auth section and an organisation, and a master key made by
/// `drawbridge master-key generate` outside it.
struct IdentityFixture {
    let root: String
    let conf: String
    let keyFile: String

    init(masterKey: Bool = true, auth: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("db-id-\(getpid())-\(UUID().uuidString.prefix(8))").path
        conf = root + "/conf"
        keyFile = root + "/master.key"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        let authSection = auth ? """
            auth: { masterKeyFile: "\(keyFile)", modes: ["password", "api_key"], totpIssuer: "Acme Gate" },
            organizations: { acme: { name: "Acme" }, beta: {} },
            roles: { admin: { permissions: ["*"] }, reader: { permissions: ["docs:read"] }, member: { permissions: ["app:use"] } },
            groups: { eng: { roles: ["reader"] } },
            """ : ""
        try """
            {
              workers: 1,
              listen: { https: "127.0.0.1:\(freePort())", httpRedirect: [] },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9"] } },
              routes: [ { pathPrefix: "/", upstream: "app", public: true } ],
              accessLog: "off",
              \(authSection)
            }
            """.write(toFile: conf + "/drawbridge.json5", atomically: true, encoding: .utf8)
        if masterKey {
            let r = try run(Binaries.drawbridge, ["master-key", "generate", keyFile, "--config", conf])
            guard r.status == 0 else { throw TestFailure("master-key generate: \(r.err)") }
        }
    }

    @discardableResult
    func cli(_ args: [String], stdin: String? = nil, expect status: Int32 = 0,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> (status: Int32, out: String, err: String) {
        let r = try run(Binaries.drawbridge, args + ["--config", conf], stdin: stdin.map { Data($0.utf8) })
        #expect(r.status == status, "drawbridge \(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
        return r
    }

    func file(_ name: String) -> String { (try? String(contentsOfFile: conf + "/" + name, encoding: .utf8)) ?? "" }
    var allFiles: String {
        ((try? FileManager.default.contentsOfDirectory(atPath: conf)) ?? []).map { file($0) }.joined(separator: "\n")
    }
    var auth: AuthConfig { get throws { try ConfigLoader.load(directory: conf).auth! } }

    /// (email, status, sessionEpoch) from users.json, read with the store's own parser.
    func users() throws -> [String: (status: String, epoch: UInt64, password: String?)] {
        var result: [String: (String, UInt64, String?)] = [:]
        for u in try IdentityStore.readUsers(try auth) {
            result[u.email] = (u.status == .active ? "active" : "disabled", u.sessionEpoch, u.passwordHash)
        }
        return result
    }
}

@Suite(.serialized) struct IdentityCLITests {
    @Test func userLifecycle() throws {
        let f = try IdentityFixture()
        var r = try f.cli(["user", "add", "Alice@Acme.test", "--org", "acme", "--role", "admin", "--group", "eng",
                           "--expires", "2030-01-02", "--password-stdin"], stdin: "first password\n")
        #expect(r.out.contains("alice@acme.test") && r.err.contains("kill -HUP"))
        try f.cli(["user", "add", "bob@acme.test", "--org", "beta"])
        try f.cli(["user", "add", "alice@acme.test", "--org", "acme"], expect: 1)   // email is unique
        var users = try f.users()
        #expect(users["alice@acme.test"]?.epoch == 0 && users["alice@acme.test"]?.status == "active")
        #expect(users["bob@acme.test"]?.password == nil)
        #expect(!f.file("users.json").contains("first password"))
        let firstHash = try #require(users["alice@acme.test"]?.password)
        #expect(PasswordHash.verify("first password", against: firstHash))

        try f.cli(["user", "disable", "alice@acme.test"])
        users = try f.users()
        #expect(users["alice@acme.test"]?.status == "disabled" && users["alice@acme.test"]?.epoch == 1)
        try f.cli(["user", "enable", "alice@acme.test"])
        users = try f.users()
        #expect(users["alice@acme.test"]?.status == "active" && users["alice@acme.test"]?.epoch == 1)
        try f.cli(["user", "set-password", "alice@acme.test"], stdin: "second password\n")
        users = try f.users()
        #expect(users["alice@acme.test"]?.epoch == 2)
        #expect(PasswordHash.verify("second password", against: try #require(users["alice@acme.test"]?.password)))
        try f.cli(["user", "logout-all", "ALICE@acme.test"])
        #expect(try f.users()["alice@acme.test"]?.epoch == 3)
        try f.cli(["user", "set-password", "alice@acme.test"], stdin: "\n", expect: 1)   // empty refused
        try f.cli(["user", "disable", "nobody@acme.test"], expect: 1)

        r = try f.cli(["user", "list"])
        #expect(r.out.contains("alice@acme.test") && r.out.contains("acme:admin") && r.out.contains("2030-01-02"))
        #expect(!r.out.contains("$scrypt$"))
        let line = try #require(r.out.split(separator: "\n").first { $0.contains("bob@") })
        #expect(line.contains("beta") && line.contains("no"))
        // Deterministic file format: sorted keys, 2-space indent, trailing newline.
        #expect(f.file("users.json").hasPrefix("{\n  \"users\": [\n") && f.file("users.json").hasSuffix("\"version\": 1\n}\n"))
    }

    @Test func apiKeys() throws {
        let f = try IdentityFixture()
        let r = try f.cli(["apikey", "create", "--org", "acme", "--role", "reader", "--name", "ci deploy"])
        let key = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(r.out == key + "\n" && key.hasPrefix("db_") && key.count == 63)   // only the key on stdout
        #expect(r.err.contains("only this once"))
        let id = String(key.dropFirst(3).prefix(16))
        let secretPart = String(key.dropFirst(20))
        #expect(!f.allFiles.contains(secretPart) && !f.allFiles.contains(key))   // only the hash is stored
        let keys = try IdentityStore.readAPIKeys(try f.auth)
        #expect(keys.count == 1 && keys[0].record.keyId == id && keys[0].name == "ci deploy" && !keys[0].record.revoked)
        #expect(keys[0].record.hash == SHA256.hash(Array("drawbridge-api-key-v1".utf8) + Base64URL.decode(secretPart)!))

        var list = try f.cli(["apikey", "list"])
        #expect(list.out.contains(id) && list.out.contains("ci deploy") && list.out.contains("reader"))
        #expect(!list.out.contains(Base64URL.encode(keys[0].record.hash)))
        try f.cli(["apikey", "revoke", id])
        list = try f.cli(["apikey", "list"])
        #expect(try #require(list.out.split(separator: "\n").first { $0.contains(id) }).hasSuffix("yes"))
        try f.cli(["apikey", "revoke", "0000000000000000"], expect: 1)
        try f.cli(["apikey", "create", "--org", "ghost"], expect: 2)
    }

    @Test func totpEnrollment() throws {
        let f = try IdentityFixture()
        try f.cli(["user", "add", "carol@acme.test", "--org", "acme"])
        let r = try f.cli(["totp", "enroll", "carol@acme.test"])
        let secretLine = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("secret: ") })
        let secret = String(secretLine.dropFirst(8))
        #expect(r.out.contains("otpauth://totp/Acme%20Gate:carol@acme.test?secret=\(secret)&issuer=Acme%20Gate&algorithm=SHA1&digits=6&period=30"))
        let seed = try #require(Base32.decode(secret))
        #expect(seed.count == 20)
        #expect(!f.file("users.json").contains(secret) && !f.file("users.json").contains(Base64URL.encode(seed)))

        let data = try IdentityStore.load(try f.auth)
        let id = try #require(data.users.first { $0.email == "carol@acme.test" }?.id)
        let sealedSeed = try #require(data.totpSecrets[id])
        let now = UInt64(Date().timeIntervalSince1970)
        let code = try TOTP.code(secret: seed, time: now)   // what the authenticator app shows
        #expect(TOTP.verify(code, secret: sealedSeed, time: now))
        #expect(try f.cli(["user", "list"]).out.split(separator: "\n").first { $0.contains("carol") }?.hasSuffix("yes") == true)

        try f.cli(["totp", "remove", "carol@acme.test"])
        #expect(try IdentityStore.load(try f.auth).totpSecrets.isEmpty)
    }

    @Test func secrets() throws {
        let f = try IdentityFixture()
        try f.cli(["secret", "set", "oidc-google"], stdin: "very-secret-client-value\n")
        try f.cli(["secret", "set", "session-key-1", "--random"])
        try f.cli(["secret", "set", "session-key-2"], stdin: "typed\n", expect: 2)   // session keys: --random only
        try f.cli(["secret", "set", "assertion-key-1"], stdin: "typed\n", expect: 2)  // assertion keys: --p256 only
        try f.cli(["secret", "set", "assertion-key-1", "--p256"])
        #expect(try IdentityStore.load(try f.auth).assertionKeys.map(\.id) == [1])
        try f.cli(["secret", "remove", "assertion-key-1"])
        #expect(!f.allFiles.contains("very-secret-client-value"))
        #expect(!f.allFiles.contains(Base64URL.encode(Array("very-secret-client-value".utf8))))
        let list = try f.cli(["secret", "list"])
        #expect(list.out == "oidc-google\nsession-key-1\n")
        let data = try IdentityStore.load(try f.auth)
        #expect(data.secrets["oidc-google"] == Array("very-secret-client-value".utf8) && data.sessionKeys.map(\.id) == [1])
        try f.cli(["secret", "remove", "oidc-google"])
        try f.cli(["secret", "remove", "oidc-google"], expect: 1)
        #expect(try f.cli(["secret", "list"]).out == "session-key-1\n")
        var st = stat()
        #expect(stat(f.conf + "/secrets.json", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: f.conf)).contains { $0.contains(".tmp-") })
    }

    @Test func badArgumentsExitTwoWithAMessage() throws {
        let f = try IdentityFixture()
        let cases: [([String], String)] = [
            (["user"], "missing subcommand"),
            (["user", "frobnicate"], "unknown subcommand 'frobnicate'"),
            (["user", "add"], "missing EMAIL"),
            (["user", "add", "a@acme.test"], "missing --org"),
            (["user", "add", "not-an-email", "--org", "acme"], "invalid email"),
            (["user", "add", "a@acme.test", "--org", "acme", "--expires", "2030-13-45"], "invalid --expires"),
            (["user", "add", "a@acme.test", "--org", "acme", "--password", "hunter2"], "unknown option '--password'"),
            (["user", "add", "a@acme.test", "--org", "nope"], "unknown organisation 'nope'"),
            (["user", "disable", "a@acme.test", "extra"], "unexpected argument 'extra'"),
            (["apikey", "create", "--org", "acme", "--role", "bad role"], "invalid --role"),
            (["apikey", "revoke", "XYZ"], "invalid key id"),
            (["secret", "set", "Bad Name"], "invalid secret name"),
            (["secret", "set", "oidc", "value-in-argv"], "unexpected argument"),
            (["master-key"], "missing subcommand"),
        ]
        for (args, message) in cases {
            let r = try f.cli(args, expect: 2)
            #expect(r.err.contains(message) && r.err.contains("usage:"), "\(args): \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: f.conf + "/users.json"))
        // No auth section: a clear error, exit 1.
        let noAuth = try IdentityFixture(masterKey: false, auth: false)
        let r = try noAuth.cli(["user", "list"], expect: 1)
        #expect(r.err.contains("no auth section"))
    }

    @Test func masterKeyProblems() throws {
        let f = try IdentityFixture(masterKey: false)
        var r = try f.cli(["secret", "set", "x", "--random"], expect: 1)
        #expect(r.err.contains(f.keyFile) && r.err.contains("master-key generate"))
        try f.cli(["master-key", "generate", f.keyFile])
        try f.cli(["master-key", "generate", f.keyFile], expect: 1)                  // never overwritten
        r = try f.cli(["master-key", "generate", f.conf + "/inside.key"], expect: 1)
        #expect(r.err.contains("configuration directory"))
        chmod(f.keyFile, 0o644)
        r = try f.cli(["secret", "set", "x", "--random"], expect: 1)
        #expect(r.err.contains("chmod 600"))
        chmod(f.keyFile, 0o600)
        try f.cli(["secret", "set", "x", "--random"])
    }

    @Test func pidFileGetsSIGHUP() throws {
        let f = try IdentityFixture()
        // A stand-in gateway: a shell that records each SIGHUP it receives.
        let marker = f.root + "/hup"
        let child = try ChildProcess("/bin/sh", ["-c", "trap 'echo hup >> \(marker)' HUP; echo ready; while :; do sleep 0.05; done"],
                                     name: "hup")
        defer { child.stop() }
        try child.waitFor("ready")
        let pidFile = f.root + "/gateway.pid"
        try "\(child.pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        let r = try f.cli(["secret", "set", "x", "--random", "--pid-file", pidFile])
        #expect(r.err.contains("reloaded gateway (pid \(child.pid))"))
        var delivered = false
        for _ in 0..<100 where !delivered {
            delivered = FileManager.default.fileExists(atPath: marker)
            usleep(20_000)
        }
        #expect(delivered)
        // A stale pid file: no signal, and the manual instruction instead.
        child.stop()
        let stale = try f.cli(["secret", "set", "y", "--random", "--pid-file", pidFile])
        #expect(stale.err.contains("kill -HUP") && !stale.err.contains("reloaded gateway"))
    }

    @Test func serveWritesItsPidFile() throws {
        let f = try IdentityFixture(auth: false)
        let pidFile = f.root + "/gateway.pid"
        let gw = try ChildProcess(Binaries.drawbridge, ["serve", "--config", f.conf, "--pid-file", pidFile], name: "drawbridge")
        defer { gw.stop() }
        try gw.waitFor("serving")
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        #expect(text == "\(gw.pid)\n")
        var st = stat()
        #expect(stat(pidFile, &st) == 0 && st.st_mode & 0o777 == 0o644)
        gw.signal(SIGHUP)
        try gw.waitFor("reloaded")
        gw.signal(SIGTERM)
        #expect(gw.waitExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: pidFile))
    }
}
