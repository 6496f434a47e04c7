import DrawbridgeConfig
import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// A gateway whose users, API key and secrets were made with the CLI, with a `backup` section.
/// `serve: false`: the configuration and state only (CLI tests), no process.
final class BackupWorld {
    static let password = "correct horse battery staple"
    static let stateNames = ["drawbridge.json5", "users.json", "apikeys.json", "secrets.json", "auth-state.json", "signouts.jsonl"]
    let root: String
    let keyFile: String
    let backupDir: String
    var conf = ""
    var gw: GatewayFixture!
    var upstream: Upstream!
    var apiKey = ""

    init(serve: Bool = true, backupDirectory: String? = nil) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("db-backup-\(getpid())-\(UUID().uuidString.prefix(8))").path
        keyFile = root + "/master.key"
        backupDir = backupDirectory ?? root + "/backups"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let sections = """
            roles: { member: { permissions: ["app:use"] } },
            auth: { masterKeyFile: "\(keyFile)", modes: ["password", "api_key"] },
            organizations: { acme: { name: "Acme", emailDomains: ["acme.test"] } },
            backup: { directory: "\(backupDir)", everyHours: 6, keepDays: 4 },
            """
        let routes = #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#
        let prepare: (String) throws -> Void = { dir in
            self.conf = dir
            // A complete configuration for the CLI (the fixture writes its own, same sections, before serving).
            try """
                { workers: 1, listen: { https: "127.0.0.1:\(freePort())" },
                  tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
                  upstreams: { app: { servers: ["127.0.0.1:9"] } }, routes: \(routes), accessLog: "off",
                  \(sections) }
                """.write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
            try self.cli(["master-key", "generate", self.keyFile])
            try self.cli(["secret", "set", "session-key-1", "--random"])
            try self.cli(["user", "add", "alice@acme.test", "--org", "acme", "--role", "member", "--password-stdin"], stdin: Self.password + "\n")
            self.apiKey = try self.cli(["apikey", "create", "--org", "acme", "--role", "member", "--name", "ci"]).out
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try self.cli(["secret", "set", "upstream-token"], stdin: "s3cr3t-upstream-token\n")
        }
        if serve {
            upstream = try Upstream()
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: routes, extra: sections, prepare: prepare)
        } else {
            let dir = root + "/conf"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try prepare(dir)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// drawbridge ARGS --config CONF; `fakeTime`: run under faketime (libfaketime), "@YYYY-MM-DD HH:MM:SS".
    @discardableResult
    func cli(_ args: [String], stdin: String? = nil, expect status: Int32 = 0, fakeTime: String? = nil,
             environment: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> (status: Int32, out: String, err: String) {
        var (program, argv) = ("/usr/bin/env", environment + [Binaries.drawbridge] + args + ["--config", conf])
        if let fakeTime { (program, argv) = FakeClock.command(startingAt: fakeTime, argv) }
        let r = try run(program, argv, stdin: stdin.map { Data($0.utf8) })
        #expect(r.status == status, "drawbridge \(args.joined(separator: " ")): \(r.out)\(r.err)", sourceLocation: sourceLocation)
        return r
    }

    /// The state files' bytes by name (nil: absent).
    func state() -> [String: Data?] {
        Dictionary(uniqueKeysWithValues: Self.stateNames.map { ($0, FileManager.default.contents(atPath: conf + "/" + $0)) })
    }

    var archives: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: backupDir)) ?? []).filter { $0.hasSuffix(".dbb") }.sorted()
    }

    /// The id printed by `backup create`.
    func create(fakeTime: String? = nil) throws -> String {
        let out = try cli(["backup", "create"], fakeTime: fakeTime).out
        return String(try #require(out.split(separator: " ").dropFirst(2).first))
    }

    func signsIn(_ password: String = BackupWorld.password) throws -> Bool {
        let c = SignInClient(gw)
        guard try c.signIn(email: "alice@acme.test", password: password).status == 303 else { return false }
        return try c.get("/app").status == 200
    }

    /// A signed-in client and its session token.
    func session() throws -> (client: SignInClient, token: String) {
        let c = SignInClient(gw)
        #expect(try c.signIn(email: "alice@acme.test", password: Self.password).status == 303)
        return (c, c.cookies["__Host-drawbridge"] ?? "")
    }

    func signOut(_ c: SignInClient) throws {
        #expect(try c.post("/.drawbridge/logout", form: [("csrf", c.csrf)]).status == 200)
    }

    func sessionWorks(_ token: String) throws -> Bool {
        try gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(token)\r\n").status == 200
    }

    func apiKeyWorks() throws -> Bool {
        try gw.get("/api", headers: "Authorization: Bearer \(apiKey)\r\n").status == 200
    }
}

@Suite(.serialized) struct BackupTests {
    /// Back up; change everything; restore into the running gateway (pid file, SIGHUP): it keeps
    /// serving and signs in as at backup time. Then wipe the state, restore, restart: same.
    @Test func roundTripSignsInAsBefore() throws {
        let w = try BackupWorld()
        #expect(try w.signsIn() && w.apiKeyWorks())
        // Sign-outs before and after the backup, and after the restore: none is ever undone.
        let a = try w.session(), b = try w.session()
        try w.signOut(a.client)
        let id = try w.create()
        let atBackup = w.state()
        try w.signOut(b.client)

        try w.cli(["user", "set-password", "alice@acme.test"], stdin: "another password entirely\n")
        try w.cli(["apikey", "revoke", String(w.apiKey.dropFirst(3).prefix(16))])
        try w.cli(["secret", "remove", "upstream-token"])
        try w.gw.reload(expect: "reloaded configuration (generation 2)")
        #expect(try !w.signsIn() && !w.apiKeyWorks())

        let pidFile = w.root + "/gateway.pid"
        try "\(w.gw.process.pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        let r = try w.cli(["backup", "restore", id, "--pid-file", pidFile])
        #expect(r.out.contains("restored backup \(id)") && r.err.contains("reloaded gateway (pid \(w.gw.process.pid))"))
        try w.gw.process.waitFor("reloaded configuration (generation 3)")   // the restore's own SIGHUP
        #expect(try w.signsIn() && w.apiKeyWorks())
        for name in ["users.json", "apikeys.json", "secrets.json", "drawbridge.json5"] { #expect(w.state()[name] == atBackup[name], "\(name)") }
        let c = try w.session()
        try w.signOut(c.client)   // after the restore: must reach the file too
        try w.gw.restart()
        for token in [a.token, b.token, c.token] { #expect(try !w.sessionWorks(token)) }
        #expect(try w.sessionWorks(try w.session().token))

        // Disaster: the state is gone. Restore, start again: everything as at backup time.
        w.gw.process.stop()
        for name in ["users.json", "apikeys.json", "secrets.json", "auth-state.json", "signouts.jsonl"] { unlink(w.conf + "/" + name) }
        try w.cli(["backup", "restore", id])
        try w.gw.restart()
        #expect(try w.signsIn() && w.apiKeyWorks())
        let data = try IdentityStore.load(try #require(try ConfigLoader.load(directory: w.conf).auth))
        #expect(data.secrets["upstream-token"] == Array("s3cr3t-upstream-token".utf8) && data.sessionKeys.count == 1)
        // Nothing left behind: no staged file, no journal.
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: w.conf)).contains { $0.hasSuffix(".restore") || $0.contains("journal") })
    }

    /// Flip a byte, truncate, reorder chunks, swap in another archive's header: `verify` and
    /// `restore` refuse (exit 1), and the state is untouched.
    @Test func tamperedArchivesAreRefusedAndChangeNothing() throws {
        let w = try BackupWorld(serve: false)
        // Enough state for several 1 MiB chunks: a large sealed secret.
        let big = (0..<3_000_000).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement()! }
        try w.cli(["secret", "set", "big-blob"], stdin: String(big) + "\n")
        let id = try w.create()
        let other = try w.create()
        let path = w.backupDir + "/drawbridge-backup-\(id).dbb"
        let original = try #require(FileManager.default.contents(atPath: path)).map { $0 }
        let otherBytes = try #require(FileManager.default.contents(atPath: w.backupDir + "/drawbridge-backup-\(other).dbb")).map { $0 }
        try w.cli(["user", "add", "bob@acme.test", "--org", "acme"])
        let before = w.state()
        let header = 8 + 2 + 4 + 8 + 1 + Int(original[22])
        func chunks(_ a: [UInt8]) -> [Range<Int>] {
            var out: [Range<Int>] = [], at = header
            while at + 4 <= a.count {
                let n = a[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
                out.append(at..<min(a.count, at + 4 + n)); at += 4 + n
            }
            return out
        }
        let c = chunks(original)
        #expect(c.count >= 3)
        let cases: [(String, [UInt8], String)] = [
            ("flipped byte", { var a = original; a[c[1].lowerBound + 100] ^= 0x80; return a }(), "does not authenticate"),
            ("flipped header byte", { var a = original; a[15] ^= 0x01; return a }(), "does not authenticate"),
            ("truncated at a chunk boundary", Array(original[..<c[c.count - 1].lowerBound]), "truncated"),
            ("truncated inside a chunk", Array(original[..<(c[1].lowerBound + 1000)]), "truncated"),
            ("chunks swapped", Array(original[..<c[0].lowerBound] + original[c[1]] + original[c[0]] + original[c[2].lowerBound...]), "does not authenticate"),
            ("another archive's header", Array(otherBytes[..<header] + original[header...]), "does not authenticate"),
        ]
        for (name, bytes, message) in cases {
            let t = w.root + "/tampered.dbb"
            _ = FileManager.default.createFile(atPath: t, contents: Data(bytes))
            let v = try w.cli(["backup", "verify", t], expect: 1)
            #expect(v.out.contains("FAILED") && v.out.contains(message), "\(name): \(v.out)")
            let r = try w.cli(["backup", "restore", t], expect: 1)
            #expect(r.err.contains(message), "\(name): \(r.err)")
            #expect(w.state() == before, "\(name): the state changed")
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: w.conf)).contains { $0.hasSuffix(".restore") || $0.contains("journal") })
        #expect(try w.cli(["backup", "verify", id]).out.contains("ok \(id)"))
        // An older archive renamed over a newer one (a rollback): refused by its name.
        let otherPath = w.backupDir + "/drawbridge-backup-\(other).dbb"
        try FileManager.default.removeItem(atPath: otherPath)
        try FileManager.default.copyItem(atPath: path, toPath: otherPath)
        #expect(try w.cli(["backup", "verify", other], expect: 1).out.contains("holds archive \(id)"))
        try w.cli(["backup", "restore", other], expect: 1)
        #expect(w.state() == before)
    }

    /// Six days of backups every six hours under a simulated clock (faketime), pruned as they go:
    /// only the last four days remain, by key and by file; a copy of a destroyed archive taken
    /// off the machine can no longer be read by anyone holding the master key and the key file.
    @Test func retentionWindowAcrossSixDaysWithCryptoErasure() throws {
        let w = try BackupWorld(serve: false)
        let start = 1_735_689_600   // 2025-01-01 00:00:00Z
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        func at(_ t: Int) -> String { "@" + f.string(from: Date(timeIntervalSince1970: TimeInterval(t))) }
        var ids: [String] = []
        var offsite = ""
        for step in 0..<24 {
            let now = start + step * 6 * 3600
            ids.append(try w.create(fakeTime: at(now)))
            if step == 0 {
                offsite = w.root + "/offsite-copy.dbb"
                try FileManager.default.copyItem(atPath: w.backupDir + "/drawbridge-backup-\(ids[0]).dbb", toPath: offsite)
            }
            try w.cli(["backup", "prune"], fakeTime: at(now + 60))
        }
        let kept = Array(ids[8...])   // created within four days of the last prune
        #expect(w.archives == kept.map { "drawbridge-backup-\($0).dbb" })
        let keyFile = try String(contentsOfFile: w.conf + "/backup-keys.json", encoding: .utf8)
        for id in ids { #expect(keyFile.contains(id) == kept.contains(id), "\(id)") }
        let list = try w.cli(["backup", "list"]).out
        #expect(list.split(separator: "\n").count == 1 + kept.count && !list.contains(ids[7]))
        // The copy made before its key was destroyed: unreadable now.
        let v = try w.cli(["backup", "verify", offsite], expect: 1)
        #expect(v.out.contains("data key") && v.out.contains("destroyed"))
        try w.cli(["backup", "restore", offsite], expect: 1)
        #expect(try w.cli(["backup", "verify"]).out.split(separator: "\n").allSatisfy { $0.hasPrefix("ok ") })
    }

    /// `serve` makes a backup at start when none is recent, destroys those past the window, and a
    /// failing backup is logged while the gateway keeps serving.
    @Test func serveMakesScheduledBackups() throws {
        let w = try BackupWorld(serve: false)
        let old = try w.create(fakeTime: "@2020-01-01 00:00:00")
        let gw = try ChildProcess(Binaries.drawbridge, ["serve", "--config", w.conf], name: "drawbridge")
        defer { gw.stop() }
        try gw.waitFor("backup: created")
        try gw.waitFor("backup: destroyed \(old)")
        #expect(w.archives.count == 1 && !w.archives[0].contains(old))
        #expect(try w.cli(["backup", "verify"]).out.hasPrefix("ok "))
        gw.signal(SIGTERM)
        #expect(gw.waitExit() == 0)

        // An unusable backup directory (its parent is a file): logged, not fatal.
        let broken = try BackupWorld(backupDirectory: "/dev/null/backups")
        try broken.gw.process.waitFor("backup failed (still serving")
        #expect(try broken.signsIn())
    }

    /// `serve` under a clock running 14,400 times fast (libfaketime; 4 simulated hours per
    /// second) for six simulated days: backups never closer than `everyHours`, every archive
    /// older than `keepDays` destroyed key first, what remains a window of under four days.
    @Test func serveKeepsAFourDayWindowOverSixSimulatedDays() throws {
        let w = try BackupWorld(serve: false)
        // The multi-threaded libfaketime, preloaded into the gateway itself (env execs it).
        let (program, argv) = FakeClock.command(startingAt: "@2025-01-01 00:00:00 x14400",
                                                [Binaries.drawbridge, "serve", "--config", w.conf])
        let gw = try ChildProcess(program, argv, name: "drawbridge")
        defer { gw.stop() }
        try gw.waitFor("serving")
        try gw.waitFor("backup: created 20250107", timeout: 120)
        gw.signal(SIGTERM)
        #expect(gw.waitExit() == 0)
        let log = errorLogText(gw.stderr)   // "backup: created ID (...)"
        let created = log.split(separator: "\n").filter { $0.hasPrefix("backup: created ") }
            .map { String($0.split(separator: " ")[2]) }
        let destroyed = log.split(separator: "\n").filter { $0.hasPrefix("backup: destroyed ") }
            .map { String($0.split(separator: " ")[2]) }
        func time(_ id: String) -> Int {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            return Int(f.date(from: String(id.prefix(16)))!.timeIntervalSince1970)
        }
        #expect(created.count >= 8 && !destroyed.isEmpty, "\(log)")
        for (a, b) in zip(created, created.dropFirst()) { #expect(time(b) - time(a) >= 6 * 3600, "\(a) -> \(b)") }
        let kept = w.archives.map { String($0.dropFirst("drawbridge-backup-".count).dropLast(".dbb".count)) }
        #expect(Set(kept) == Set(created).subtracting(destroyed))
        // Pruned right after the newest was made: nothing of four days before it remains.
        #expect(time(kept.last!) - time(kept.first!) < 4 * 86_400, "\(kept)")
        #expect(destroyed.allSatisfy { time(kept.last!) - time($0) >= 4 * 86_400 })
        let keyFile = try String(contentsOfFile: w.conf + "/backup-keys.json", encoding: .utf8)
        for id in destroyed { #expect(!keyFile.contains(id)) }
        #expect(try w.cli(["backup", "verify"]).out.split(separator: "\n").count == kept.count)
    }

    /// A restore killed (SIGKILL) between its renames leaves a mix on disk; the next command or
    /// gateway start completes it before reading anything, so no mix is ever used.
    @Test func restoreKilledBetweenRenamesIsCompletedAtNextStart() throws {
        let w = try BackupWorld(serve: false)
        let id = try w.create()
        let atBackup = w.state()
        for (resume, expectLog) in [(["user", "list"], "bob@acme.test"), (["serve"], "completed an interrupted restore")] {
            try w.cli(["user", "add", "bob@acme.test", "--org", "acme"])
            try w.cli(["secret", "set", "later", "--random"])
            let changed = w.state()
            #expect(changed["users.json"] != atBackup["users.json"] && changed["secrets.json"] != atBackup["secrets.json"])
            let r = try run("/usr/bin/env", ["DRAWBRIDGE_TEST_RESTORE_CRASH_AFTER=2", Binaries.drawbridge, "backup", "restore", id, "--config", w.conf])
            #expect(r.status == SIGKILL, "\(r)")
            // Killed with drawbridge.json5 and users.json renamed, secrets.json not yet: a mix on disk.
            #expect(w.state()["users.json"] == atBackup["users.json"] && w.state()["secrets.json"] == changed["secrets.json"])
            #expect(FileManager.default.fileExists(atPath: w.conf + "/" + StateRestore.journalName))
            if resume == ["serve"] {
                let gw = try ChildProcess(Binaries.drawbridge, ["serve", "--config", w.conf], name: "drawbridge")
                defer { gw.stop() }
                try gw.waitFor(expectLog)
                try gw.waitFor("serving")
            } else {
                #expect(!(try w.cli(resume).out.contains(expectLog)))   // bob is gone: the restore was completed first
            }
            #expect(!FileManager.default.fileExists(atPath: w.conf + "/" + StateRestore.journalName))
            for name in ["drawbridge.json5", "users.json", "apikeys.json", "secrets.json"] { #expect(w.state()[name] == atBackup[name], "\(name)") }
        }
    }

    @Test func clearErrors() throws {
        let w = try BackupWorld(serve: false)
        let cases: [([String], Int32, String)] = [
            (["backup"], 2, "missing subcommand"),
            (["backup", "frobnicate"], 2, "unknown subcommand 'frobnicate'"),
            (["backup", "restore"], 2, "missing ARCHIVE"),
            (["backup", "create", "extra"], 2, "unexpected argument 'extra'"),
            (["backup", "verify"], 1, "no archives in"),
            (["backup", "restore", w.root + "/nope.dbb"], 1, "nope.dbb: cannot open"),
            (["backup", "restore", "20250101T000000Z-0000000000000000"], 1, "cannot open"),
        ]
        for (args, status, message) in cases {
            let r = try w.cli(args, expect: status)
            #expect((r.out + r.err).contains(message), "\(args): \(r.err)")
        }
        let notArchive = w.root + "/x.dbb"
        try "hello".write(toFile: notArchive, atomically: true, encoding: .utf8)
        #expect(try w.cli(["backup", "verify", notArchive], expect: 1).out.contains("not a Drawbridge backup archive"))
        // Without a backup section: named.
        var config = try String(contentsOfFile: w.conf + "/drawbridge.json5", encoding: .utf8)
        config = config.replacingOccurrences(of: #"backup: { directory: "\#(w.backupDir)", everyHours: 6, keepDays: 4 },"#, with: "")
        try config.write(toFile: w.conf + "/drawbridge.json5", atomically: true, encoding: .utf8)
        #expect(try w.cli(["backup", "list"], expect: 1).err.contains("has no backup section"))
    }
}
