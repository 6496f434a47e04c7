import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation
import Glibc
import Testing

/// Security state that survives an operator's bad day, end to end with the real gateway: a full
/// disk (a tmpfs the test mounts), a wrong clock at boot (libfaketime), kill -9, loose
/// permissions and symbolic links, two workers sharing a log, a CLI waiting for a lock.
@Suite(.serialized) struct DurabilityTests {
    static let password = "correct horse battery staple"
    static let routes = #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } }, { pathPrefix: "/public", upstream: "app", public: true } ]"#

    /// A gateway with a protected route "/" and a public "/public", users alice and bob (acme).
    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        var authExtra: String
        var orgs: String?

        init(directory: String? = nil, authExtra: String = "", orgs: String? = nil) throws {
            self.authExtra = authExtra
            self.orgs = orgs
            upstream = try Upstream()
            files.users = [TestUser(id: "u_alice", email: "alice@acme.test"), TestUser(id: "u_bob", email: "bob@acme.test")]
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: DurabilityTests.routes,
                                    extra: files.configSections(orgs: orgs, authExtra: authExtra), directory: directory,
                                    prepare: { try files.write(to: $0) })
        }

        func rewriteConfig(workers: Int = 1) throws {
            try gw.writeRaw(gw.configText(routesJSON: DurabilityTests.routes, extra: files.configSections(orgs: orgs, authExtra: authExtra))
                .replacingOccurrences(of: "workers: 1,", with: "workers: \(workers),"))
        }

        func signIn(_ email: String = "alice@acme.test") throws -> SignInClient {
            let c = SignInClient(gw)
            let r = try c.signIn(email: email, password: DurabilityTests.password)
            guard r.status == 303, c.cookies["__Host-drawbridge"] != nil else { throw TestFailure("sign-in failed: \(r.status) \(r.text)") }
            return c
        }

        /// The status a protected request gets with this session token.
        func status(_ token: String) throws -> Int {
            try gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(token)\r\n").status
        }

        func logout(_ c: SignInClient, all: Bool = false) throws -> Response {
            try c.post("/.drawbridge/logout", form: [("csrf", c.csrf)] + (all ? [("all", "1")] : []))
        }

        /// Stops the gateway with SIGKILL (no graceful anything) and starts it again, through
        /// `via` (e.g. a fake clock) when given.
        func restart(via: ((([String]) -> (String, [String])))? = nil) throws {
            gw.process.stop()
            let args = [Binaries.drawbridge, "serve", "--config", gw.dir]
            let (path, argv) = via?(args) ?? (args[0], Array(args.dropFirst()))
            gw.process = try ChildProcess(path, argv, name: "drawbridge")
            try gw.process.waitFor("serving")
        }

        var signOuts: String { (try? String(contentsOfFile: gw.dir + "/signouts.jsonl", encoding: .utf8)) ?? "" }
        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
    }

    static func token(_ c: SignInClient) throws -> String { try #require(c.cookies["__Host-drawbridge"]) }

    // MARK: 1. A sign-out is acknowledged only once it is durable

    @Test(.enabled(if: Tmpfs.available, "mounting a tmpfs needs root: \(Tmpfs.unavailableReason ?? "")"))
    func signOutOnAFullDiskAnswers503AppliesInMemoryAndIsSavedOnRetry() throws {
        let disk = try Tmpfs(sizeKiB: 1024)
        let w = try World(directory: disk.path)
        let alice = try w.signIn(), other = try w.signIn(), bob = try w.signIn("bob@acme.test")
        let token = try Self.token(alice), otherToken = try Self.token(other)
        try disk.fill()
        let refused = try w.logout(alice)
        #expect(refused.status == 503, "\(refused.status) \(refused.text)")
        #expect(refused.text.contains("Sign-out not saved, try again"))
        #expect(refused.header("retry-after") != nil)
        // Applied in memory all the same, for this session only; logged (with the reason) and audited.
        #expect(try w.status(token) == 401)
        #expect(try w.status(otherToken) == 200)
        #expect(w.gw.process.stderr.contains("sign-out not saved") && w.gw.process.stderr.contains("No space left on device"))
        // "Sign out everywhere" on a full disk: the same.
        #expect(try w.logout(bob, all: true).status == 503)
        #expect(try w.status(try Self.token(bob)) == 401)
        // The CLI's revocations (user disable, logout-all, API key revoke): refused, file unchanged.
        let users = try String(contentsOfFile: w.gw.dir + "/users.json", encoding: .utf8)
        let cli = try run(Binaries.drawbridge, ["user", "disable", "bob@acme.test", "--config", w.gw.dir])
        #expect(cli.status == 1 && cli.err.contains("No space left on device") && cli.err.contains("unchanged"), "\(cli.err)")
        #expect(try String(contentsOfFile: w.gw.dir + "/users.json", encoding: .utf8) == users)
        disk.free()
        // The retry (the session is refused already) saves every pending sign-out.
        let retried = try w.logout(alice)
        #expect(retried.status == 200, "\(retried.text)")
        #expect(w.signOuts.contains("\"user\":\"u_bob\""))
        // Survives a crash and restart: still refused; the session never signed out still works.
        try w.restart()
        #expect(try w.status(token) == 401)
        #expect(try w.status(try Self.token(bob)) == 401)
        #expect(try w.status(otherToken) == 200)
    }

    @Test(.enabled(if: Tmpfs.available, "mounting a tmpfs needs root: \(Tmpfs.unavailableReason ?? "")"))
    func aStartNeedsNoFreeDiskWhenNothingChanged() throws {
        let disk = try Tmpfs(sizeKiB: 1024)
        // An org with a mode off: the mode cut-off table has something in it.
        let w = try World(directory: disk.path, orgs: #"{ acme: { name: "Acme", emailDomains: ["acme.test"], disabledModes: ["api_key"] } }"#)
        let alice = try w.signIn()
        let token = try Self.token(alice)
        #expect(try w.logout(alice).status == 200)
        try disk.fill()
        try w.restart()   // serves: nothing needed writing
        #expect(try w.status(token) == 401)
        #expect(try w.status(try Self.token(try w.signIn("bob@acme.test"))) == 200)
    }

    @Test(.enabled(if: Tmpfs.available, "mounting a tmpfs needs root: \(Tmpfs.unavailableReason ?? "")"))
    func aModeSwitchedOffOnAFullDiskStillEndsItsSessionsAndIsSavedLater() throws {
        let disk = try Tmpfs(sizeKiB: 1024)
        let w = try World(directory: disk.path)
        let token = try Self.token(try w.signIn())
        w.orgs = #"{ acme: { name: "Acme", emailDomains: ["acme.test"], disabledModes: ["password"] } }"#
        try w.rewriteConfig()
        try disk.fill()
        try w.gw.reload(expect: "reloaded")
        #expect(try w.status(token) == 401)
        #expect(w.gw.process.stderr.contains("mode cut-offs not saved"))
        disk.free()
        try w.gw.process.waitFor("mode cut-offs saved", timeout: 30)
        // Back on, and a restart: the old session stays dead (the cut-off was saved).
        w.orgs = nil
        try w.rewriteConfig()
        try w.gw.reload(expect: "(generation 3)")
        try w.restart()
        #expect(try w.status(token) == 401)
        #expect(try w.status(try Self.token(try w.signIn())) == 200)
    }

    /// The write path, read by the kernel: the sign-out line is written and fdatasync'ed before
    /// the gateway records (and answers) the sign-out; a new list's directory is fsynced.
    @Test func signOutIsFsyncedBeforeItIsAcknowledged() throws {
        let w = try World()
        let alice = try w.signIn()
        w.gw.process.stop()
        let trace = w.gw.dir + "/../strace-\(getpid())-\(UUID().uuidString.prefix(6)).txt"
        defer { unlink(trace) }
        unlink(w.gw.dir + "/signouts.jsonl")   // a new list: its directory entry must be made durable too
        try w.restart(via: { ("/usr/bin/strace", ["-f", "-qq", "-s", "120", "-o", trace, "-e", "trace=openat,write,fsync,fdatasync,rename"] + $0) })
        #expect(try w.logout(alice).status == 200)
        // Stopped gracefully through the traced gateway itself (strace then ends with it).
        let tracee = (try? String(contentsOfFile: "/proc/\(w.gw.process.pid)/task/\(w.gw.process.pid)/children", encoding: .utf8))
            .flatMap { Int32($0.split(separator: " ").first ?? "") }
        #expect(tracee != nil)
        if let tracee { kill(tracee, SIGTERM) }
        #expect(w.gw.process.waitExit(timeout: 30) != nil)
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
        // The list's descriptor, and the directory fsync after it was created.
        guard let created = lines.firstIndex(where: { $0.contains("signouts.jsonl\"") && $0.contains("O_CREAT") && !$0.contains("= -1") }),
              let fd = lines[created].split(separator: "=").last?.trimmingCharacters(in: .whitespaces) else {
            Issue.record("no creation of signouts.jsonl in the trace"); return
        }
        let dirOpen = lines[created...].firstIndex { $0.contains("O_DIRECTORY") && !$0.contains("= -1") }
        let dirFd = dirOpen.flatMap { lines[$0].split(separator: "=").last?.trimmingCharacters(in: .whitespaces) }
        #expect(dirFd.map { d in lines[created...].contains { $0.contains("fsync(\(d))") || $0.contains("fsync(\(d) <unfinished") } } == true,
                "no fsync of the directory after creating the list")
        guard let written = lines.firstIndex(where: { $0.contains("write(\(fd), \"{\\\"session\\\":") }) else {
            Issue.record("the sign-out line was not written to fd \(fd)"); return
        }
        let synced = Self.completion(of: "fdatasync(\(fd)", in: lines, after: written)
        let audited = lines.firstIndex { $0.contains("\\\"event\\\":\\\"logout\\\"") }
        #expect(synced != nil, "no fdatasync of the list after the write")
        #expect(audited != nil && synced != nil && synced! < audited!, "the sign-out was recorded before it was durable")
    }

    /// The line where the call `prefix…` (started after `start`) returned 0, following strace's
    /// "<unfinished …>" / "<… resumed>" split when threads interleave.
    static func completion(of prefix: String, in lines: [String], after start: Int) -> Int? {
        guard let begin = lines[start...].firstIndex(where: { $0.contains(prefix) }) else { return nil }
        if lines[begin].hasSuffix("= 0") { return begin }
        let pid = lines[begin].split(separator: " ").first.map(String.init) ?? ""
        let name = prefix.split(separator: "(").first.map(String.init) ?? prefix
        return lines[(begin + 1)...].firstIndex { $0.hasPrefix(pid + " ") && $0.contains("<... \(name) resumed>") && $0.hasSuffix("= 0") }
    }

    // MARK: 2. A wrong clock never deletes sign-outs

    @Test(.enabled(if: FakeClock.available, "libfaketime (Debian package faketime) is missing"))
    func aClockDaysAheadAtBootKeepsTheSignOutList() throws {
        let w = try World()
        let alice = try w.signIn()
        let token = try Self.token(alice)
        #expect(try w.logout(alice).status == 200)
        let before = w.signOuts
        #expect(before.contains("\"session\""))
        let clock = try FakeClock(offset: "+2d")
        try w.restart(via: clock.command)
        #expect(w.gw.process.stderr.contains("the clock reads"), "\(w.gw.process.stderr)")
        #expect(w.signOuts == before)   // not compacted away
        try w.restart()                 // the clock is right again
        #expect(try w.status(token) == 401)
    }

    @Test(.enabled(if: FakeClock.available, "libfaketime (Debian package faketime) is missing"))
    func theListIsPrunedWhileRunningOnceTheClockIsBelieved() throws {
        let w = try World()
        w.gw.process.stop()
        let now = UInt64(Date().timeIntervalSince1970)
        let soon = SessionID.random(), later = SessionID.random()
        // Evidence that a day has already passed (as if a previous run had recorded it), an entry
        // whose token expires in a minute, and one that expires in a year.
        try ("{\"session\":\"\(soon.text)\",\"expires\":\(now + 60),\"at\":\(now)}\n"
            + "{\"session\":\"\(later.text)\",\"expires\":\(now + 31_536_000),\"at\":\(now + 86_400)}\n")
            .write(toFile: w.gw.dir + "/signouts.jsonl", atomically: true, encoding: .utf8)
        let clock = try FakeClock(offset: "+0")
        try w.restart(via: clock.command)
        #expect(w.signOuts.contains(soon.text))
        // Three days on (the wall clock steps; the monotonic one does not): past the first
        // entry's end and its margin, so maintenance drops it from memory and the file, without a restart.
        try clock.set("+3d")
        let deadline = Date().addingTimeInterval(40)
        while w.signOuts.contains(soon.text) && Date() < deadline { usleep(250_000) }
        #expect(!w.signOuts.contains(soon.text), "not pruned while running: \(w.signOuts)")
        #expect(w.signOuts.contains(later.text))
    }

    /// Issue 18, item 5: a sign-out lasts until the token's own expiry, whatever the org's
    /// timeout was when it was recorded.
    @Test(.enabled(if: FakeClock.available, "libfaketime (Debian package faketime) is missing"))
    func aSignOutOutlivesAShortenedAndRestoredTimeout() throws {
        let w = try World(authExtra: "session: { idleTimeoutSeconds: 2592000, absoluteTimeoutSeconds: 2592000 },")
        let alice = try w.signIn()
        let token = try Self.token(alice)
        w.orgs = #"{ acme: { name: "Acme", emailDomains: ["acme.test"], absoluteTimeoutSeconds: 120 } }"#
        try w.rewriteConfig()
        try w.gw.reload(expect: "reloaded")
        #expect(try w.logout(alice).status == 200)
        w.orgs = nil
        try w.rewriteConfig()
        try w.gw.reload(expect: "(generation 3)")
        w.gw.process.stop()
        // Three days later (with a record of that time, so the clock is believed), the token
        // (30 days) is still within its life: the sign-out must be too.
        let now = UInt64(Date().timeIntervalSince1970)
        let f = try FileHandle(forWritingTo: URL(fileURLWithPath: w.gw.dir + "/signouts.jsonl"))
        f.seekToEndOfFile()
        f.write(Data("{\"session\":\"\(SessionID.random().text)\",\"expires\":\(now + 31_536_000),\"at\":\(now + 3 * 86_400)}\n".utf8))
        f.closeFile()
        let clock = try FakeClock(offset: "+3d")
        try w.restart(via: clock.command)
        #expect(try w.status(token) == 401)
    }

    // MARK: 3. A state file that cannot be read stops the start

    static let unreadable: [(name: String, file: String)] = [
        ("sign-out list", "signouts.jsonl"),
        ("mode cut-offs", "auth-state.json"),
        ("users", "users.json"),
    ]

    @Test(arguments: 0..<unreadable.count)
    func aStateFileThatCannotBeReadStopsTheStart(_ index: Int) throws {
        let (_, file) = Self.unreadable[index]
        let w = try World()
        w.gw.process.stop()
        let path = w.gw.dir + "/" + file
        unlink(path)
        // A directory in its place: open succeeds, read fails (EISDIR) — as EIO or EACCES would.
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", w.gw.dir], name: "drawbridge")
        #expect(p.waitExit(timeout: 20) == 1)
        // Named, with what is wrong (the permission check sees it first: not a regular file).
        #expect(p.stderr.contains(path) && (p.stderr.contains("cannot read") || p.stderr.contains("not a regular file")), "\(p.stderr)")
        let check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1 && check.err.contains(path), "\(check.err)")
    }

    @Test func aMalformedSignOutLineStopsTheStartButATornLastLineIsCutOff() throws {
        let w = try World()
        let alice = try w.signIn()
        let token = try Self.token(alice)
        #expect(try w.logout(alice).status == 200)
        w.gw.process.stop()
        let path = w.gw.dir + "/signouts.jsonl"
        let good = w.signOuts
        // A power cut during a write that was never acknowledged: the torn tail is cut off.
        try (good + "{\"session\":\"AAAA").write(toFile: path, atomically: false, encoding: .utf8)
        try w.restart()
        #expect(try w.status(token) == 401)
        #expect(w.signOuts == good)
        let bob = try w.signIn("bob@acme.test")
        #expect(try w.logout(bob).status == 200)
        #expect(w.signOuts.split(separator: "\n").count == 2)
        w.gw.process.stop()
        // A damaged line inside the list: the gateway will not guess what it held.
        try ("garbage\n" + w.signOuts).write(toFile: path, atomically: false, encoding: .utf8)
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", w.gw.dir], name: "drawbridge")
        #expect(p.waitExit(timeout: 20) == 1)
        #expect(p.stderr.contains("signouts.jsonl: line 1"), "\(p.stderr)")
    }

    // MARK: 4. One atomic writer; nothing left behind by a kill

    @Test func killNineNeverLosesAnAcknowledgedSignOutAndLeavesNoTemporaryFiles() throws {
        let w = try World()
        try w.rewriteConfig(workers: 2)
        try w.restart()
        var acknowledged: [String] = []
        for round in 0..<4 {
            let clients = try (0..<6).map { _ in try w.signIn() }
            let tokens = try clients.map(Self.token)
            final class Results: @unchecked Sendable { var statuses = [Int](repeating: 0, count: 6); let lock = NSLock() }
            let results = Results()
            let group = DispatchGroup()
            for (i, c) in clients.enumerated() {
                DispatchQueue.global().async(group: group) {
                    let status = (try? w.logout(c).status) ?? 0
                    results.lock.lock(); results.statuses[i] = status; results.lock.unlock()
                }
            }
            // Round 0 kills at once; later rounds right after the first acknowledgement (not after a
            // fixed delay, which a loaded machine may overrun before any sign-out is answered).
            for _ in 0..<(round == 0 ? 0 : 5_000) {
                results.lock.lock(); let answered = results.statuses.contains(200); results.lock.unlock()
                if answered { break }
                usleep(1_000)
            }
            w.gw.process.stop()   // SIGKILL, somewhere among the sign-outs
            group.wait()
            for (i, s) in results.statuses.enumerated() where s == 200 { acknowledged.append(tokens[i]) }
            // A killed writer's temporary files (this writer's and the old one's): gone after the start.
            for leftover in [".signouts.jsonl.tmp-Ab3dE9", "signouts.jsonl.tmp-12345", ".auth-state.json.tmp-zzzzzz", ".users.json.tmp-q1w2e3"] {
                #expect(FileManager.default.createFile(atPath: w.gw.dir + "/" + leftover, contents: Data(count: 4096),
                                                       attributes: [.posixPermissions: 0o644]))
            }
            try w.restart()
            for t in acknowledged { #expect(try w.status(t) == 401, "an acknowledged sign-out was lost (round \(round))") }
            let names = try FileManager.default.contentsOfDirectory(atPath: w.gw.dir)
            #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
        }
        #expect(!acknowledged.isEmpty)
        var st = stat()
        #expect(stat(w.gw.dir + "/signouts.jsonl", &st) == 0 && st.st_mode & 0o777 == 0o600)
        for line in w.signOuts.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
        }
    }

    // MARK: 5. Permissions and links

    /// Each: what is done to a working configuration, and what the refusal names.
    static let loose: [(name: String, change: (String) throws -> Void, expect: String)] = [
        ("world-writable config directory", { try chmodOrThrow($0, 0o777) }, "writable by everyone"),
        ("group-writable config directory", { try chmodOrThrow($0, 0o775) }, "writable by its group"),
        ("world-writable users.json", { try chmodOrThrow($0 + "/users.json", 0o666) }, "users.json: file is writable by everyone"),
        ("world-writable drawbridge.json5", { try chmodOrThrow($0 + "/drawbridge.json5", 0o646) }, "drawbridge.json5: file is writable by everyone"),
        ("users.json owned by another user", { _ = chown($0 + "/users.json", 4242, 0) }, "owned by uid 4242"),
        ("symlinked users.json", { try moveAndLink($0 + "/users.json") }, "users.json: is a symbolic link"),
        ("symlinked secrets.json", { try moveAndLink($0 + "/secrets.json") }, "secrets.json: is a symbolic link"),
        ("symlinked signouts.jsonl", { try moveAndLink($0 + "/signouts.jsonl") }, "signouts.jsonl: is a symbolic link"),
        ("symlinked audit.log", { try moveAndLink($0 + "/audit.log") }, "audit.log"),
    ]

    static func chmodOrThrow(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw TestFailure("chmod \(path): \(errno)") }
    }

    /// Moves the file away and leaves a symbolic link to it in its place.
    static func moveAndLink(_ path: String) throws {
        let elsewhere = path + ".real"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: Data()) }
        try FileManager.default.moveItem(atPath: path, toPath: elsewhere)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: elsewhere)
    }

    @Test(arguments: 0..<loose.count)
    func loosePermissionsAndLinksAreRefusedAtStartReloadAndCheckConfig(_ index: Int) throws {
        let (name, change, expect) = Self.loose[index]
        let w = try World()
        #expect(try w.logout(try w.signIn()).status == 200)   // a sign-out list exists
        try change(w.gw.dir)
        defer { _ = chmod(w.gw.dir, 0o755) }
        // check-config says so, naming the file and the problem.
        let check = try run(Binaries.drawbridge, ["check-config", "--config", w.gw.dir])
        #expect(check.status == 1 && check.err.contains(expect), "\(name): \(check.err)")
        // A reload is refused (the old configuration keeps serving)...
        if !name.contains("audit.log") {   // (the audit log target is read at start only)
            try w.gw.reload(expect: "reload rejected")
            #expect(w.gw.process.stderr.contains(expect), "\(name): \(w.gw.process.stderr)")
        }
        // ...and so is a start.
        w.gw.process.stop()
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", w.gw.dir], name: "drawbridge")
        #expect(p.waitExit(timeout: 20) == 1, "\(name): started anyway")
        #expect(p.stderr.contains(expect), "\(name): \(p.stderr)")
    }

    @Test func theCLIRefusesToReplaceASymlinkedUsersFile() throws {
        let w = try World()
        w.gw.process.stop()
        let path = w.gw.dir + "/users.json"
        try Self.moveAndLink(path)
        let target = try String(contentsOfFile: path + ".real", encoding: .utf8)
        let r = try run(Binaries.drawbridge, ["user", "disable", "alice@acme.test", "--config", w.gw.dir])
        #expect(r.status == 1 && r.err.contains("symbolic link"), "\(r.err)")
        var st = stat()
        #expect(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)   // still the link
        #expect(try String(contentsOfFile: path + ".real", encoding: .utf8) == target)
    }

    // MARK: 6. Logs that stay valid

    @Test func accessLogLinesStayWholeWithTwoWorkersAndLongPaths() throws {
        let w = try World()
        try w.rewriteConfig(workers: 2)
        try w.restart()
        let long = "/public/" + String(repeating: "a", count: 7_790)
        let connections = 6, perConnection = 300
        let group = DispatchGroup()
        final class Errors: @unchecked Sendable { var count = 0; let lock = NSLock() }
        let errors = Errors()
        for _ in 0..<connections {
            DispatchQueue.global().async(group: group) {
                do {
                    let c = try w.gw.client()
                    for _ in 0..<perConnection {
                        try c.send("GET \(long) HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        guard try c.readResponse().status == 200 else { throw TestFailure("not 200") }
                    }
                } catch { errors.lock.lock(); errors.count += 1; errors.lock.unlock() }
            }
        }
        group.wait()
        #expect(errors.count == 0)
        w.gw.process.signal(SIGTERM)
        _ = w.gw.process.waitExit(timeout: 10)
        let lines = w.gw.accessLog.split(separator: "\n")
        var bad = 0, long_ = 0
        for line in lines {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { bad += 1; continue }
            if (o["path"] as? String)?.hasPrefix("/public/aaaa") == true {
                long_ += 1
                #expect(o["truncated"] as? Bool == true)
            }
        }
        #expect(bad == 0, "\(bad) of \(lines.count) access-log lines are not JSON")
        #expect(long_ == connections * perConnection)
        #expect(lines.allSatisfy { $0.utf8.count < 4096 })
    }

    @Test(.enabled(if: Tmpfs.available, "mounting a tmpfs needs root: \(Tmpfs.unavailableReason ?? "")"))
    func onAFullDiskLogLinesAreLostWholeCountedAndReported() throws {
        let disk = try Tmpfs(sizeKiB: 1024)
        let w = try World(directory: disk.path)
        for _ in 0..<5 { #expect(try w.gw.get("/public/warm").status == 200) }
        try disk.fill()
        // Requests and failed sign-ins until both logs have run past the free bytes of their last page.
        for i in 0..<40 {
            #expect(try w.gw.get("/public/while-full-\(i)-" + String(repeating: "x", count: 150)).status == 200)
            _ = try SignInClient(w.gw).signIn(email: "alice@acme.test", password: "wrong-while-full-\(i)")
        }
        try w.gw.process.waitFor("No space left on device", timeout: 10)
        let report = w.gw.process.stderr
        #expect(report.contains("access log") && report.contains("audit log"), "\(report)")
        disk.free()
        for i in 0..<5 {
            #expect(try w.gw.get("/public/after-\(i)").status == 200)
            _ = try SignInClient(w.gw).signIn(email: "after-\(i)@acme.test", password: "wrong")
        }
        try w.gw.process.waitFor("writing again", timeout: 10)
        w.gw.process.signal(SIGTERM)
        _ = w.gw.process.waitExit(timeout: 10)
        var torn = 0
        for (name, text, after) in [("access", w.gw.accessLog, "/public/after-"), ("audit", w.audit, "\"email\":\"after-")] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            // At most the one line torn by the full disk is not JSON, and it stays alone on its
            // line: every line written once the disk had room again is whole.
            let bad = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }
            #expect(bad.count <= 1, "\(name): \(bad)")
            torn += bad.count
            let later = lines.filter { $0.contains(after) }
            #expect(!later.isEmpty, "\(name) log: no line written after the disk had room again")
            #expect(later.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "\(name): \(later)")
        }
        // The disk ran out inside a line at least once (else this test proved nothing about torn lines).
        #expect(torn >= 1)
    }

    // MARK: 7. A CLI waiting for a lock says so and gives up

    @Test func aCLIWaitingForALockSaysSoAndTimesOut() throws {
        let w = try World()
        let lockPath = w.gw.dir + "/users.json.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o600)
        #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
        // Waits, and says for what and for whom.
        let waiting = try ChildProcess(Binaries.drawbridge, ["user", "add", "carol@acme.test", "--org", "acme", "--config", w.gw.dir], name: "cli")
        try waiting.waitFor("waiting for the lock", timeout: 10)
        #expect(waiting.stderr.contains("held by pid \(getpid())"), "\(waiting.stderr)")
        close(fd)   // released: the command goes on
        #expect(waiting.waitExit(timeout: 10) == 0, "\(waiting.stderr)")
        // Gives up after --lock-timeout, changing nothing.
        let again = open(lockPath, O_RDWR, 0o600)
        #expect(flock(again, LOCK_EX) == 0)
        defer { close(again) }
        let before = try String(contentsOfFile: w.gw.dir + "/users.json", encoding: .utf8)
        let r = try run(Binaries.drawbridge, ["user", "add", "dave@acme.test", "--org", "acme", "--lock-timeout", "1", "--config", w.gw.dir], timeout: 20)
        #expect(r.status == 1 && r.err.contains("timed out after 1 s"), "\(r.err)")
        #expect(try String(contentsOfFile: w.gw.dir + "/users.json", encoding: .utf8) == before)
    }
}
