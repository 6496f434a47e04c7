import CLinux
import DrawbridgeDecision
import DrawbridgeStore
import Foundation
import Glibc

/// Sign-outs kept in `signouts.jsonl`, each durable before it is acknowledged (as etcd and SQLite
/// acknowledge a write): the line is written with a checked `write(2)` and `fdatasync`ed (a new
/// file's directory too), and a compaction goes through `AtomicFile` (temporary file, fsync,
/// rename, directory fsync). Concurrent sign-outs share one `fdatasync` (group commit).
///
/// When a sign-out cannot be made durable (a full disk, an I/O error) it still applies in
/// memory, the caller gets `RevocationNotSaved` (the user a 503 "try again"), the failure is
/// logged and counted, and the file is rewritten whole at the next chance: the next sign-out,
/// a retry, or maintenance every few seconds.
final class FileRevocationStore: RevocationStore, @unchecked Sendable {
    let path: String
    let published: PublishedRevocations
    private let horizon: DeletionHorizon
    private let log: @Sendable (String) -> Void

    private var lock = pthread_mutex_t()
    private var synced = pthread_cond_t()
    private var file: AppendOnlyFile?
    /// Bytes appended and bytes known durable, as running totals (group commit).
    private var appended: UInt64 = 0, durable: UInt64 = 0
    private var syncing = false
    /// Running total up to which a failed sync left appends not durable.
    private var failedThrough: UInt64 = 0
    /// The file may not hold everything in memory: replace it whole before appending again.
    private var damaged = false
    private var pending = 0
    private var failures = 0
    /// Lines in the file that no longer hold a live entry (compaction when they outnumber the live ones).
    private var deadLines = 0

    /// Reads the list (an unreadable or malformed one stops the start, naming the file), drops
    /// what the clock rule allows, compacts only when that dropped something, and opens the file
    /// for appending. Nothing is written when nothing changed: a full disk does not stop a start.
    init(path: String, readers: Int, wallNow: UInt64, monotonicNs: UInt64, log: @escaping @Sendable (String) -> Void) throws {
        self.path = path
        self.log = log
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&synced, nil)
        // Streamed into one table (entries without a recorded time get the evidence, below).
        var table = RevocationTable()
        var undated: [Revocation] = []
        let (contents, exists) = try SignOutFile.read(path: path) { r, at in
            if let at { table.add(r, at: at) } else { undated.append(r) }
        }
        var evidence = contents.newest
        if evidence == nil && exists {
            var st = stat()
            if stat(path, &st) == 0 { evidence = UInt64(max(0, st.st_mtim.tv_sec)) }
        }
        horizon = DeletionHorizon(evidence: evidence, startWall: wallNow, startMonotonicNs: monotonicNs)
        if let warning = horizon.startWarning { log("drawbridge: warning: \(path): \(warning)") }
        for r in undated { table.add(r, at: evidence ?? horizon.trustedNow(wall: wallNow, monotonicNs: monotonicNs)) }
        let before = table.count
        table.removeAll(endingBy: horizon.dropCutoff(wall: wallNow, monotonicNs: monotonicNs))
        let dropped = before - table.count
        let kept = RevocationSet(generation: 1, large: table, small: RevocationTable())
        published = PublishedRevocations(kept, readers: readers)
        deadLines = contents.count - kept.count
        if dropped > 0 || contents.tornTail {
            do {
                try compactLocked()
            } catch {
                // Not fatal: the file still holds every live entry (and more); appends continue after it.
                log("drawbridge: warning: \(path): could not compact the sign-out list (\(error)); keeping the file as it is")
            }
        }
        if file == nil {
            do {
                file = try AppendOnlyFile(path: path, validLength: contents.tornTail ? contents.validLength : nil)
            } catch let e as AppendOnlyFile.Failure where e.damaged {
                // A torn last line that cannot be cut off: rewrite the file before the next append.
                damaged = true
                log("drawbridge: warning: \(e.description); the list will be rewritten at the next sign-out")
            }
        }
        // Loading a long list leaves freed heap behind; give it back to the system once.
        _ = CLinux_malloc_trim()
    }

    var pendingCount: Int { withLock { pending } }
    var failedSaves: Int { withLock { failures } }

    func revoke(_ r: Revocation) throws(RevocationNotSaved) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let at = horizon.trustedNow(wall: unixNow(), monotonicNs: CLinux_monotonic_ns())
        // In memory first, for every worker: whatever happens on disk, the session is refused from now on.
        published.publish(published.latest.adding(r, at: at))
        do {
            // Earlier sign-outs not saved yet, or a file that may have lost some: rewrite it whole.
            if damaged || file == nil || pending > 0 {
                try compactLocked()
                return
            }
            try appendLocked(SignOutFile.line(r, at: at))
        } catch {
            pending += 1
            failures += 1
            let reason = "\(error)"
            log("drawbridge: error: sign-out not saved (\(reason)); it applies in memory only until it is "
                + "(\(pending) pending, \(failures) failed since start); retrying")
            throw RevocationNotSaved(description: reason)
        }
    }

    func savePending() throws(RevocationNotSaved) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard pending > 0 || damaged else { return }
        do {
            try compactLocked()
        } catch {
            failures += 1
            throw RevocationNotSaved(description: "\(error)")
        }
    }

    func maintain(wallNow: UInt64, monotonicNs: UInt64) -> [String] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        var lines: [String] = []
        if let added = absorbOthersLocked(), added > 0 {
            lines.append("drawbridge: \(path): \(added) sign-out\(added == 1 ? "" : "s") added to the file by another writer (a restore) apply now")
        }
        let cutoff = horizon.dropCutoff(wall: wallNow, monotonicNs: monotonicNs)
        let current = published.latest
        if current.earliestEnd <= cutoff {
            let (next, dropped) = current.dropping(endingBy: cutoff)
            if dropped > 0 {
                published.publish(next)
                deadLines += dropped
            }
        }
        let wasPending = pending
        if pending > 0 || damaged || (deadLines > 0 && deadLines >= published.latest.count) {
            do {
                try compactLocked()
                if wasPending > 0 { lines.append("drawbridge: \(path): \(wasPending) pending sign-out\(wasPending == 1 ? "" : "s") saved") }
            } catch {
                if wasPending > 0 { lines.append("drawbridge: \(path): \(wasPending) sign-out\(wasPending == 1 ? "" : "s") still not saved (\(error))") }
            }
        }
        return lines
    }

    // MARK: Under the lock

    /// Writes `line` and returns once it is durable, sharing each fdatasync with the sign-outs
    /// written meanwhile.
    private func appendLocked(_ line: [UInt8]) throws {
        guard let file else { throw RevocationNotSaved(description: "\(path): not open") }
        do {
            try file.append(line)
        } catch let e as AppendOnlyFile.Failure {
            if e.damaged { damaged = true }
            throw e
        }
        appended += UInt64(line.count)
        let mine = appended
        while durable < mine {
            if failedThrough >= mine { throw RevocationNotSaved(description: "\(path): fdatasync failed") }
            if syncing {
                pthread_cond_wait(&synced, &lock)
                continue
            }
            syncing = true
            let target = appended
            let f = file
            pthread_mutex_unlock(&lock)
            var failure: Error?
            do { try f.sync() } catch { failure = error }
            pthread_mutex_lock(&lock)
            syncing = false
            if let failure {
                failedThrough = max(failedThrough, target)
                damaged = true
                pthread_cond_broadcast(&synced)
                throw failure
            }
            durable = max(durable, target)
            pthread_cond_broadcast(&synced)
        }
    }

    /// Lines another writer appended to the file in place (`drawbridge backup restore` merges the
    /// archived sign-outs so): read back and applied, so that they count at once and a compaction
    /// keeps them. Returns how many entries were new, nil when the file was not changed by others.
    private func absorbOthersLocked() -> Int? {
        guard let file, file.changedByOthers else { return nil }
        if let now = file.currentSize, now < file.size { damaged = true }   // shrunk: rewrite it whole
        var table = RevocationTable()
        do {
            _ = try SignOutFile.read(path: path) { r, at in table.add(r, at: at ?? 0) }
        } catch {
            log("drawbridge: warning: \(path) was changed by another writer and cannot be read back (\(error)); "
                + "it will be rewritten from memory")
            damaged = true
            return 0
        }
        file.acceptCurrentSize()
        let current = published.latest
        var added = 0
        var next = current
        for e in table.entries() where !current.covers(e.revocation) {
            next = next.adding(e.revocation, at: e.at)
            added += 1
        }
        if added > 0 { published.publish(next) }
        return added
    }

    /// Replaces the file with exactly the entries in force (the one atomic writer), and reopens
    /// it for appending. Everything in memory is durable afterwards.
    private func compactLocked() throws {
        _ = absorbOthersLocked()   // never drop what another writer added
        var text: [UInt8] = []
        let entries = published.latest.entries()
        text.reserveCapacity(entries.count * 80)
        for e in entries { text += SignOutFile.line(e.revocation, at: e.at) }
        try AtomicFile.write(path, contents: text)
        file = try AppendOnlyFile(path: path)
        // Earlier appends are superseded by the new file.
        durable = appended
        failedThrough = 0
        damaged = false
        pending = 0
        deadLines = 0
    }

    private func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }
}
