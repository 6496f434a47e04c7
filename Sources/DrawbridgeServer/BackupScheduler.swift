import DrawbridgeConfig
import DrawbridgeStore
import Dispatch
import Foundation

/// Scheduled backups inside `serve` (`backup: { directory, everyHours, keepDays }`): a backup when
/// the newest archive is `everyHours` old (so also at start when there is none recent), and the
/// retention window applied after each, and whenever the oldest archive leaves it. The work runs
/// on its own serial queue, never on a worker's event loop nor in the main thread's signal loop;
/// a failure is logged and retried later, never fatal.
final class BackupScheduler: @unchecked Sendable {
    private let queue = DispatchQueue(label: "drawbridge.backup")
    private let log: (String) -> Void
    private let configDirectory: String
    /// Main thread only.
    private var busy = false
    private var nextRun: UInt64 = 0
    private var settings: BackupConfig?
    private let lock = NSLock()
    /// Set by the job, read by the main thread (under `lock`).
    private var finished: (next: UInt64, done: Bool) = (0, false)
    /// After a failure, the next attempt (a full disk or missing key should not spin).
    static let retrySeconds: UInt64 = 600

    init(configDirectory: String, log: @escaping (String) -> Void) {
        self.configDirectory = configDirectory
        self.log = log
    }

    /// Called by the main thread's loop about once a second with the current configuration.
    func tick(_ config: GatewayConfig, now: UInt64) {
        lock.lock()
        if finished.done { busy = false; nextRun = finished.next; finished.done = false }
        lock.unlock()
        if config.backup != settings { settings = config.backup; nextRun = 0 }   // a reload changed the schedule
        guard !busy, now >= nextRun, let settings = config.backup, let auth = config.auth else { return }
        busy = true
        let site = BackupSite(configDirectory: configDirectory, auth: auth, settings: settings)
        queue.async { [self] in
            let next = run(site)
            lock.lock()
            finished = (next, true)
            lock.unlock()
        }
    }

    /// Waits for a job under way (at stop: an archive is never left half-written by us).
    func finish() { queue.sync {} }

    /// One pass; returns when to look again.
    private func run(_ site: BackupSite) -> UInt64 {
        let every = UInt64(site.settings.everyHours) * 3600
        let window = UInt64(site.settings.keepDays) * 86_400
        do {
            var now = UInt64(Date().timeIntervalSince1970)
            var last = now
            if let newest = try Backups.newest(site), newest <= now, now - newest < every {
                last = newest   // recent enough (a restart does not add a backup)
            } else {
                // None, too old, or from the future (a clock set back): a backup now.
                let master = try MasterKey.load(site.auth)
                let c = try Backups.create(site, master: master, now: now)
                log("drawbridge: backup: created \(c.id) (\(c.files) files, \(c.bytes) bytes) in \(site.settings.directory)")
            }
            now = UInt64(Date().timeIntervalSince1970)
            for id in try Backups.prune(site, now: now) {
                log("drawbridge: backup: destroyed \(id) (older than \(site.settings.keepDays) days: data key erased, file removed)")
            }
            var next = last + every
            if let oldest = try Backups.oldest(site), oldest <= now { next = min(next, oldest + window) }
            return max(next, now + 1)
        } catch {
            log("drawbridge: error: backup failed (still serving; next attempt in \(Self.retrySeconds / 60) minutes): \(error)")
            return UInt64(Date().timeIntervalSince1970) + Self.retrySeconds
        }
    }
}
