import DrawbridgeIdentity
import Foundation
import Glibc
import Testing
@testable import DrawbridgeDecision
@testable import DrawbridgeServer

/// The pieces behind "security state that survives", without sockets: the deletion clock rule,
/// the shared sign-out list and its publication, the sign-out file format, the store, log lines.
@Suite struct DeletionHorizonTests {
    static let day: UInt64 = 86_400
    static let t: UInt64 = 1_800_000_000

    /// (evidence, wall at start, wall now, seconds since start, expected trusted now)
    static let cases: [(UInt64?, UInt64, UInt64, UInt64, UInt64)] = [
        (nil, t, t + 10, 10, t + 10),                             // no evidence: the clock is all there is
        (t, t + 60, t + 60, 0, t + 60),                           // a restart a minute later
        (t, t + 2 * day, t + 2 * day, 0, t + day),                // two days ahead at boot: believed only a day past the evidence
        (t, t + 2 * day, t + 2 * day + 600, 600, t + day + 600),  // ...and then only as far as the monotonic clock went
        (t, t + 2 * day, t + 30, 600, t + 30),                    // NTP stepped it back: the wall clock again
        (t + 3 * day, t, t + 10, 10, t + 10),                     // behind the evidence: never ahead of the wall clock
    ]

    @Test(arguments: cases)
    func trustedNow(_ evidence: UInt64?, _ startWall: UInt64, _ wall: UInt64, _ elapsed: UInt64, _ expected: UInt64) {
        let h = DeletionHorizon(evidence: evidence, startWall: startWall, startMonotonicNs: 5_000_000_000)
        #expect(h.trustedNow(wall: wall, monotonicNs: 5_000_000_000 + elapsed * 1_000_000_000) == expected)
        #expect(h.dropCutoff(wall: wall, monotonicNs: 5_000_000_000 + elapsed * 1_000_000_000) == expected - DeletionHorizon.margin)
    }

    /// Whatever the clock says at boot, nothing that could still be valid in real time is dropped.
    @Test(arguments: [UInt64(0), 3_600, day - 1, day, 2 * day, 30 * day])
    func nothingStillValidIsDroppedWhateverTheClockSays(_ ahead: UInt64) {
        let real = Self.t + 3_600   // an hour after the last record
        let h = DeletionHorizon(evidence: Self.t, startWall: real + ahead, startMonotonicNs: 0)
        #expect(h.dropCutoff(wall: real + ahead, monotonicNs: 0) <= real)
        #expect((h.startWarning != nil) == (ahead + 3_600 > DeletionHorizon.margin))
    }
}

@Suite struct SignOutFileTests {
    @Test func linesRoundTripAndOlderLinesWithoutATimeAreRead() throws {
        let id = SessionID.random()
        let text = SignOutFile.line(.session(id, expiresAt: 123), at: 100) + SignOutFile.line(.allOfUser("u\"x", issuedAtOrBefore: 77), at: 101)
            + Array("{\"session\":\"\(id.text)\",\"expires\":999}\n".utf8)
        let c = try SignOutFile.parse(text, path: "s")
        #expect(c.entries.count == 3 && !c.tornTail && c.newest == 101)
        #expect(c.entries[0].revocation == .session(id, expiresAt: 123) && c.entries[0].at == 100)
        #expect(c.entries[1].revocation == .allOfUser("u\"x", issuedAtOrBefore: 77))
        #expect(c.entries[2].at == nil)
    }

    @Test func aTornLastLineIsNotARecordButADamagedLineIsAnError() throws {
        let good = SignOutFile.line(.session(.random(), expiresAt: 5), at: 1)
        let torn = try SignOutFile.parse(good + Array("{\"sess".utf8), path: "s")
        #expect(torn.entries.count == 1 && torn.tornTail && torn.validLength == good.count)
        let zeros = try SignOutFile.parse(good + [0, 0, 0, 0], path: "s")   // a power cut on ext4: zeros past the size
        #expect(zeros.entries.count == 1 && zeros.tornTail)
        for bad in ["{\"session\":\"nope\",\"expires\":1}\n", "{\"user\":\"u\",\"before\":-1}\n", "[1]\n", "{\"session\":\"\(SessionID.random().text)\",\"expires\":1,\"at\":\"x\"}\n"] {
            #expect(throws: SignOutFile.Malformed.self) { try SignOutFile.parse(good + Array(bad.utf8) + good, path: "s") }
        }
    }
}

@Suite(.serialized) struct FileRevocationStoreTests {
    static func directory() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("db-store-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func signOutsAreOnDiskWhenAcknowledgedAndReadBackAtStart() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/signouts.jsonl"
        let now = UInt64(Date().timeIntervalSince1970)
        var store: FileRevocationStore? = try FileRevocationStore(path: path, readers: 1, wallNow: now, monotonicNs: 0, log: { _ in })
        // Concurrent sign-outs (group commit): each one on disk once revoke returns.
        let ids = (0..<64).map { _ in SessionID.random() }
        DispatchQueue.concurrentPerform(iterations: ids.count) { i in
            try? store!.revoke(.session(ids[i], expiresAt: now + 3600))
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for id in ids { #expect(text.contains(id.text)) }
        #expect(store!.pendingCount == 0 && store!.failedSaves == 0)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        store = nil
        // A start with nothing to drop writes nothing (same inode, same bytes).
        let inode = st.st_ino
        store = try FileRevocationStore(path: path, readers: 1, wallNow: now + 5, monotonicNs: 0, log: { _ in })
        #expect(store!.published.latest.count == 64)
        let after = try String(contentsOfFile: path, encoding: .utf8)
        #expect(stat(path, &st) == 0 && st.st_ino == inode && after == text)
    }

    @Test func maintenanceDropsAndCompactsOnlyWhatTheClockRuleAllows() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/signouts.jsonl"
        let now = UInt64(Date().timeIntervalSince1970)
        let store = try FileRevocationStore(path: path, readers: 1, wallNow: now, monotonicNs: 0, log: { _ in })
        let old = SessionID.random(), live = SessionID.random()
        try store.revoke(.session(old, expiresAt: now + 10))
        try store.revoke(.session(live, expiresAt: now + 10 * DeletionHorizon.margin))
        // A clock two days ahead, no time measured: the evidence (now) holds it back; nothing goes.
        _ = store.maintain(wallNow: now + 2 * DeletionHorizon.margin, monotonicNs: 0)
        #expect(store.published.latest.count == 2)
        // A day and a minute measured on the monotonic clock: the first entry's end plus the margin has come.
        _ = store.maintain(wallNow: now + 2 * DeletionHorizon.margin, monotonicNs: (DeletionHorizon.margin + 60) * 1_000_000_000)
        #expect(store.published.latest.count == 1)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(old.text) && text.contains(live.text))   // compacted through the atomic writer
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: dir)).contains { $0.contains(".tmp-") })
    }
}

extension FileRevocationStoreTests {
    /// `drawbridge backup restore` appends archived sign-outs to the file in place while the
    /// gateway runs: they apply at the next maintenance, and a compaction keeps them.
    @Test func linesAnotherWriterAppendsApplyAndSurviveCompaction() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/signouts.jsonl"
        let now = UInt64(Date().timeIntervalSince1970)
        let store = try FileRevocationStore(path: path, readers: 1, wallNow: now, monotonicNs: 0, log: { _ in })
        let mine = SessionID.random(), restored = SessionID.random()
        try store.revoke(.session(mine, expiresAt: now + 10))
        let f = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        f.seekToEndOfFile()
        f.write(Data([0x0A] + SignOutFile.line(.session(restored, expiresAt: now + 10 * DeletionHorizon.margin), at: now)))
        f.closeFile()
        let lines = store.maintain(wallNow: now, monotonicNs: 0)
        #expect(lines.contains { $0.contains("1 sign-out added") })
        #expect(store.published.latest.count == 2)
        // Dropping the first entry compacts the file: the restored line is still there.
        _ = store.maintain(wallNow: now + 3 * DeletionHorizon.margin, monotonicNs: 2 * DeletionHorizon.margin * 1_000_000_000)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(mine.text) && text.contains(restored.text))
        // And the next sign-out appends after it, on a line of its own.
        try store.revoke(.session(.random(), expiresAt: now + 7200))
        #expect(try SignOutFile.parse(Array(try String(contentsOfFile: path, encoding: .utf8).utf8), path: path).count == 2)
    }
}

@Suite struct LogLineTests {
    static func capture(_ body: (LogSink) -> Void) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("db-log-\(UUID().uuidString.prefix(8))").path
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        body(LogSink(fd: fd, name: "test"))
        close(fd)
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    static func entry(path: [UInt8], _ log: AccessLog) {
        let rid = Array(repeating: UInt8(ascii: "0"), count: 32), ip = Array("127.0.0.1".utf8), method = Array("GET".utf8)
        rid.withUnsafeBytes { r in ip.withUnsafeBytes { i in method.withUnsafeBytes { m in path.withUnsafeBytes { p in
            log.log(AccessLog.Entry(requestId: r, client: i, method: m, path: p, status: 200, bytes: 1, durationNs: 1, upstream: nil, upstreamNs: nil))
        } } } }
    }

    /// Non-ASCII logged as UTF-8; controls, quotes and broken bytes escaped; long values cut
    /// (and said so) so a line stays under PIPE_BUF.
    @Test func accessLogLinesAreValidJSONUnderPipeBuf() throws {
        let text = try Self.capture { sink in
            let log = AccessLog(sink: sink)
            Self.entry(path: Array("/caf\u{e9}/\u{1F600}".utf8), log)
            Self.entry(path: Array("/a\"b\n\u{1B}[31m".utf8) + [0xFF], log)
            Self.entry(path: Array(repeating: 0x80, count: 8000), log)   // every byte escaped six-fold
            log.flush()
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        var paths: [String] = []
        for line in lines {
            #expect(line.utf8.count < LogSink.maxWrite)
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            paths.append(o["path"] as? String ?? "")
            #expect((o["truncated"] as? Bool == true) == (line == lines[2]))
        }
        #expect(lines[0].contains("/caf\u{e9}/\u{1F600}"))   // as UTF-8 in the file, not \u00c3\u00a9
        #expect(paths[1] == "/a\"b\n\u{1B}[31m\u{FF}")
    }

    /// Error log lines: valid JSON under PIPE_BUF however long the message and fields; the
    /// gateway's text prefix gives the level; a level not logged builds nothing.
    @Test func errorLogLinesAreValidJSONUnderPipeBufAndLevelled() throws {
        var built = false
        let text = try Self.capture { sink in
            let log = ErrorLog(sink: sink, level: .warn)
            log.text("reload_rejected", "drawbridge: error: reload rejected: " + String(repeating: "\u{1}\"", count: 3000))
            log.text("config_warning", "drawbridge: warning: role \"x\" grants nothing")
            log.text("reload", "drawbridge: reloaded configuration (generation 2)")   // info: not logged at warn
            let worker = ErrorLogBuffer(log: log)
            worker.event(.error, "upstream_failed", "m", ["upstream": .text(String(repeating: "u", count: 5000)), "server": .bytes([0xFF]),
                                                          "errno": .number(111), "a": .text("1"), "b": .text("2"), "c": .text("3"), "d": .text("4")])
            worker.event(.info, "tls_handshake_failed", { built = true; return "x" }())
            worker.flush(now: 1)
        }
        #expect(!built, "a message was built for a level not logged")
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3, "\(text)")
        var objects: [[String: Any]] = []
        for line in lines {
            #expect(line.utf8.count < LogSink.maxWrite)
            objects.append(try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]))
        }
        #expect(objects.map { $0["level"] as? String } == ["error", "warn", "error"])
        #expect(objects[0]["truncated"] as? Bool == true)
        #expect((objects[0]["message"] as? String)?.hasPrefix("reload rejected: \u{1}\"") == true)
        #expect(objects[1]["message"] as? String == "role \"x\" grants nothing")
        #expect(objects[2]["errno"] as? Int == 111 && objects[2]["server"] as? String == "\u{FF}" && objects[2]["d"] == nil)
    }

    /// One line per second per worker; the rest counted, said in a summary once the second is over.
    @Test func rateLimitCountsWhatItDoesNotLog() {
        var r = RateLimit()
        let s: UInt64 = 1_000_000_000
        // (time, admitted?) then (time, summary count) in order.
        var admitted: [Bool] = []
        for t in [10 * s, 10 * s + 1, 10 * s + 2] { admitted.append(r.admit(now: t)) }
        #expect(admitted == [true, false, false])
        let early = r.summaryDue(now: 10 * s + 3)                 // the second is not over
        let joins = r.admit(now: 11 * s + 5)                       // a count is pending: it joins it
        let summary = r.summaryDue(now: 11 * s + 6), none = r.summaryDue(now: 11 * s + 7)
        let soon = r.admit(now: 11 * s + 8)                        // within a second of the summary
        let second = r.summaryDue(now: 12 * s + 6)
        let later = r.admit(now: 13 * s + 7)
        #expect(early == nil && !joins && summary == 3 && none == nil && !soon && second == 1 && later)
    }

    @Test func auditLinesStayUnderPipeBufWhateverTheFields() throws {
        let text = try Self.capture { sink in
            let audit = AuditLog(sink: sink)
            audit.record("login_failure", [("email", String(repeating: "\u{1}", count: 5000)), ("reason", "x"), ("client", "1.2.3.4")])
            audit.record("logout", (0..<20).map { ("field\($0)", String(repeating: "y", count: 400)) })
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            #expect(line.utf8.count < LogSink.maxWrite)
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(o["truncated"] as? Bool == true)
        }
    }
}
