import Foundation
import Glibc
import Testing

/// The gateway as a process: signals, a second instance, the pid file, running out of descriptors.
/// Each test drives a real gateway over TLS with a real upstream (docs/OPERATIONS.md, "Signals").
@Suite(.serialized) struct ProcessTests {
    @Test func usr1ReopensARenamedLogFile() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        #expect(try gw.get("/before-rotation").status == 200)
        // logrotate without copytruncate: rename, then USR1.
        let log = gw.dir + "/access.log", rotated = gw.dir + "/access.log.1"
        #expect(rename(log, rotated) == 0)
        #expect(try gw.get("/between").status == 200)   // still the old descriptor: the renamed file
        // The worker writes its buffered lines at the end of a loop iteration, after the response:
        // wait for that write, or the reopen can overtake it (as with nginx's buffered logs).
        try waitUntil { ((try? String(contentsOfFile: rotated, encoding: .utf8)) ?? "").contains("/between") }
        gw.process.signal(SIGUSR1)
        try gw.process.waitFor("reopened accessLog \(log)")
        #expect(try gw.get("/after-rotation").status == 200)
        try waitUntil { gw.accessLog.contains("/after-rotation") }
        let old = (try? String(contentsOfFile: rotated, encoding: .utf8)) ?? ""
        #expect(old.contains("/before-rotation") && old.contains("/between") && !old.contains("/after-rotation"))
        #expect(!gw.accessLog.contains("/between"))
        #expect(gw.process.process.isRunning)
    }

    /// Only the main thread's signal loop may take the signals the gateway handles: a thread that
    /// had TERM unblocked (a job pool's, started while the configuration loads) would be killed by
    /// a TERM that arrives while the loop is busy (a reload), with no drain.
    @Test func everyOtherThreadBlocksTheHandledSignals() throws {
        let up = try Upstream()
        let files = IdentityFiles()   // an auth section: sign-in, provider and sign-out job pools
        let gw = try GatewayFixture(upstreams: [up], extra: files.configSections(), prepare: { try files.write(to: $0) })
        let handled: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM]
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(gw.process.pid)/task")
        #expect(tasks.count > 3)   // workers, job pools, ...
        for tid in tasks where tid != "\(gw.process.pid)" {   // the main thread waits in sigtimedwait
            let status = try String(contentsOfFile: "/proc/\(gw.process.pid)/task/\(tid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") })
            let mask = try #require(UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16))
            for s in handled { #expect(mask & (1 << UInt64(s - 1)) != 0, "thread \(tid) does not block signal \(s)") }
        }
    }

    @Test func usr2IsLoggedAndIgnored() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        gw.process.signal(SIGUSR2)
        try gw.process.waitFor("SIGUSR2 ignored")
        #expect(try gw.get("/").status == 200)
        #expect(gw.process.process.isRunning)
    }

    @Test func termDrainsAnInFlightSlowRequestAndRefusesNewConnections() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("GET /slow/1500 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(200_000)
        gw.process.signal(SIGTERM)
        try gw.process.waitFor("finishing in-flight requests")
        #expect(throws: (any Error).self) { _ = try RawClient(port: gw.httpsPort) }   // listeners are closed
        let r = try c.readResponse()
        #expect(r.status == 200 && r.header("Connection") == "close")
        #expect(gw.process.waitExit(timeout: 20) == 0)
        #expect(errorLogLines(gw.process.stderr, event: "stop").contains { $0["message"] as? String == "stopped" })
    }

    @Test func quitStopsAtOnceWithoutWaitingForInFlightRequests() throws {
        let up = try Upstream()
        // A drain long enough that waiting for the slow request would outlast waitExit below.
        let gw = try GatewayFixture(upstreams: [up], extra: "timeouts: { drainSeconds: 120, upstreamResponseSeconds: 120 },")
        let c = try gw.client()
        try c.send("GET /slow/60000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(300_000)
        gw.process.signal(SIGQUIT)
        #expect(gw.process.waitExit(timeout: 20) == 0)
        #expect(gw.process.stderr.contains("stopping now (SIGQUIT)"))
        #expect(throws: (any Error).self) { _ = try c.readResponse() }   // closed without a response
    }

    /// A second `serve` on addresses a running gateway (or another SO_REUSEPORT listener) holds.
    @Test func secondInstanceIsRefusedNamingTheAddress() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let second = try run(Binaries.drawbridge, ["serve", "--config", gw.dir], timeout: 30)
        #expect(second.status == 1)
        #expect(second.err.contains("127.0.0.1:\(gw.httpsPort) is already served by another drawbridge (pid \(gw.process.pid))"), "\(second.err)")
        for _ in 0..<6 { #expect(try gw.get("/").status == 200) }
        #expect(gw.process.process.isRunning)

        // Not a gateway: a process listening with SO_REUSEPORT (which the gateway's sockets would join).
        let port = freePort()
        let squatter = try listeningSocket(port: port, reusePort: true)
        defer { close(squatter) }
        try gw.writeRaw(gw.configText().replacingOccurrences(of: "https: \"127.0.0.1:\(gw.httpsPort)\"", with: "https: \"127.0.0.1:\(port)\"")
            .replacingOccurrences(of: "httpRedirect: \"127.0.0.1:\(gw.redirectPort)\"", with: "httpRedirect: \"127.0.0.1:\(freePort())\""))
        let third = try run(Binaries.drawbridge, ["serve", "--config", gw.dir], timeout: 30)
        #expect(third.status == 1)
        #expect(third.err.contains("127.0.0.1:\(port) is already in use by another process"), "\(third.err)")
    }

    @Test func pidFileIsWrittenAfterBindLockedReplacedWhenStaleAndRemovedAtExit() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        gw.process.signal(SIGTERM)
        #expect(gw.process.waitExit() == 0)
        let pidPath = gw.dir + "/drawbridge.pid"
        try "999999\n".write(toFile: pidPath, atomically: true, encoding: .utf8)   // left by a gateway killed -9
        let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", gw.dir, "--pid-file", pidPath], name: "drawbridge")
        try p.waitFor("serving")
        #expect(p.stderr.contains("replacing stale pid file \(pidPath) (pid 999999 is not running)"))
        #expect((try String(contentsOfFile: pidPath, encoding: .utf8)) == "\(p.pid)\n")
        let fd = open(pidPath, O_RDONLY)
        #expect(flock(fd, LOCK_EX | LOCK_NB) != 0)   // held by the gateway
        close(fd)

        // A second gateway on other addresses but the same pid file: refused, the file untouched.
        let other = try GatewayFixture(upstreams: [up])
        other.process.signal(SIGTERM)
        #expect(other.process.waitExit() == 0)
        let second = try run(Binaries.drawbridge, ["serve", "--config", other.dir, "--pid-file", pidPath], timeout: 30)
        #expect(second.status == 1 && second.err.contains("\(pidPath) is locked by a running gateway (pid \(p.pid))"), "\(second.err)")
        #expect((try String(contentsOfFile: pidPath, encoding: .utf8)) == "\(p.pid)\n")
        // Refused for its addresses: no pid file at all.
        let refusedPath = gw.dir + "/refused.pid"
        let third = try run(Binaries.drawbridge, ["serve", "--config", gw.dir, "--pid-file", refusedPath], timeout: 30)
        #expect(third.status == 1 && !FileManager.default.fileExists(atPath: refusedPath))

        p.signal(SIGTERM)
        #expect(p.waitExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: pidPath))
    }

    /// Out of descriptors with connections waiting: the worker pauses accepting instead of spinning
    /// on a listener that stays ready, serves its open connections, and accepts again by itself.
    @Test func outOfDescriptorsPausesAcceptingAndRecovers() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let pid = gw.process.pid
        let open = try gw.client()
        try open.send("GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n")   // keeps an upstream connection pooled
        #expect(try open.readResponse().status == 200)
        let inUse = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        let limit = inUse + 4
        let set = try run("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=\(limit):"])
        #expect(set.status == 0, "\(set.err)")

        // More connections than descriptors left: some are accepted, the rest wait in the backlog.
        var fillers = try (0..<12).map { _ in try RawClient(port: gw.httpsPort, tls: false) }
        try gw.process.waitFor("accept() failed (24: Too many open files)")
        #expect(gw.process.stderr.contains("descriptor limit \(limit)"))

        // CPU over a window of 2 s (200 ticks of one core at 100 Hz). Paused, the gateway measured 0
        // ticks; spinning on the ready listener, 65 on a machine at load 15 (2 cores) and ~200 idle.
        let before = try cpuTicks(pid)
        usleep(2_000_000)
        let used = try cpuTicks(pid) - before
        #expect(used < 20, "the gateway used \(used) ticks of CPU in 2 s while out of descriptors")
        #expect(gw.process.stderr.components(separatedBy: "accept() failed").count == 2)   // logged once

        // The open connection is still served.
        try open.send("GET /still-served HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try Echo.from(try open.readResponse()).target == "/still-served")

        // A new client waits; once descriptors are free it is accepted and served.
        final class Outcome: @unchecked Sendable { var status = 0; var error = "" }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let port = gw.httpsPort
        Thread.detachNewThread {
            do {
                let c = try RawClient(port: port, timeout: 30)
                try c.send("GET /late HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                outcome.status = try c.readResponse().status
            } catch { outcome.error = "\(error)" }
            done.signal()
        }
        usleep(500_000)
        fillers.removeAll()   // closes them: the gateway frees their descriptors
        #expect(done.wait(timeout: .now() + 40) == .success)
        #expect(outcome.status == 200, "\(outcome.error)")
        try gw.process.waitFor("accepting new connections again")
        #expect(try gw.get("/after").status == 200)
    }
}

/// utime + stime of a process, in clock ticks, from /proc/PID/stat.
private func cpuTicks(_ pid: Int32) throws -> Int {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
    return Int(fields[11])! + Int(fields[12])!   // fields 14 and 15 of proc(5)
}

private func waitUntil(timeout: Double = 10, _ condition: () -> Bool) throws {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return }
        usleep(20_000)
    }
    throw TestFailure("condition not met within \(timeout)s")
}

/// A listening loopback socket, as another program would hold it.
private func listeningSocket(port: UInt16, reusePort: Bool) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard r == 0, listen(fd, 16) == 0 else { close(fd); throw TestFailure("cannot listen on \(port)") }
    return fd
}
