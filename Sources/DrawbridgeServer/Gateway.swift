import CLinux
import CTLSSupport
import DrawbridgeConfig
import DrawbridgeStore
import Foundation
import Glibc

/// The process: loads the configuration, opens the listeners, runs one worker thread per core,
/// and handles signals on the main thread (SIGHUP reload, SIGTERM/SIGINT graceful stop).
public final class Gateway {
    let configDirectory: String
    private var snapshot: Snapshot
    private var workers: [Worker] = []
    private var threads: [pthread_t] = []
    private var generation = 1
    private let log: (String) -> Void

    public init(configDirectory: String, log: @escaping (String) -> Void) throws {
        self.configDirectory = configDirectory
        self.log = log
        if try StateRestore.completeInterrupted(configDirectory: configDirectory) { log("drawbridge: completed an interrupted restore") }
        let config = try ConfigLoader.load(directory: configDirectory)
        snapshot = try Snapshot(config: config, generation: generation)
        try snapshot.auth?.persistCutoffs(previous: nil)
    }

    /// Validates a configuration directory completely (files, certificates, keys, upstream names)
    /// without starting anything. Returns the problems, empty if none.
    public static func check(configDirectory: String) -> [String] {
        do {
            let config = try ConfigLoader.load(directory: configDirectory)
            _ = try Snapshot(config: config, generation: 0)
            return []
        } catch let e as ConfigErrors {
            return e.issues.map { $0.description }
        } catch {
            return ["\(configDirectory): \(error)"]
        }
    }

    public func run() throws -> Int32 {
        _ = CLinux_block_signals() // before any thread starts: only the main thread takes signals
        let config = snapshot.config
        let accessFd = try openLog(config.accessLog)
        // The audit log target is read at start; changing it takes a restart.
        let services = AuthServices(audit: AuditLog(fd: try openLog(config.auth?.auditLog ?? .off, what: "auth.auditLog")),
                                    queues: config.auth?.workQueues ?? WorkQueuesConfig())
        if let auth = snapshot.auth {
            services.signOuts = try SignOutLog(path: (auth.stateFile as NSString).deletingLastPathComponent + "/signouts.jsonl", now: unixNow())
        }
        let n = config.resolvedWorkers
        var listenerSets: [([Int32], [Int32])] = []
        for _ in 0..<n {
            var https: [Int32] = []
            var plain: [Int32] = []
            for a in config.httpsListen { https.append(try bind(a)) }
            for a in config.httpRedirectListen { plain.append(try bind(a)) }
            listenerSets.append((https, plain))
        }
        for i in 0..<n {
            let w = Worker(index: i, snapshot: snapshot, accessLog: AccessLog(fd: accessFd), services: services,
                           httpsListeners: listenerSets[i].0, redirectListeners: listenerSets[i].1)
            workers.append(w)
        }
        services.attach(workers.map(\.mailbox))
        logWarnings(snapshot)
        for w in workers { threads.append(startThread(w)) }
        log("drawbridge: serving https on \(config.httpsListen.map(\.description).joined(separator: ", "))"
            + (config.httpRedirectListen.isEmpty ? "" : ", redirecting http on \(config.httpRedirectListen.map(\.description).joined(separator: ", "))")
            + " with \(n) worker\(n == 1 ? "" : "s")")

        let backups = BackupScheduler(configDirectory: configDirectory, log: log)
        var nextRotation = CLinux_monotonic_ns() + UInt64(config.tls.ticketKeyRotationSeconds) * 1_000_000_000
        while true {
            let sig = CLinux_wait_signal(1000)
            let now = CLinux_monotonic_ns()
            if now >= nextRotation {
                _ = CTLS_ticket_keys_rotate() // session ticket keys rotate on a schedule
                nextRotation = now + UInt64(snapshot.config.tls.ticketKeyRotationSeconds) * 1_000_000_000
            }
            backups.tick(snapshot.config, now: unixNow())
            if sig == SIGHUP {
                reload()
            } else if sig == SIGTERM || sig == SIGINT {
                log("drawbridge: stopping: finishing in-flight requests (up to \(snapshot.config.timeouts.drainSeconds)s)")
                for w in workers { w.mailbox.postStop(drainNs: Snapshot.ns(snapshot.config.timeouts.drainSeconds)) }
                for t in threads { pthread_join(t, nil) }
                backups.finish()
                log("drawbridge: stopped")
                return 0
            }
        }
    }

    /// Names that grant nothing: worth an operator's look, not a refusal.
    private func logWarnings(_ s: Snapshot) {
        for w in s.warnings { log("drawbridge: warning: \(w) (it grants nothing)") }
    }

    /// Builds a complete new snapshot off the loops; only a fully valid one replaces the old.
    private func reload() {
        do {
            if try StateRestore.completeInterrupted(configDirectory: configDirectory) { log("drawbridge: completed an interrupted restore") }
            let config = try ConfigLoader.load(directory: configDirectory)
            generation += 1
            let next = try Snapshot(config: config, generation: generation, previous: snapshot)
            try next.auth?.persistCutoffs(previous: snapshot.auth?.cutoffs)
            if config.httpsListen != snapshot.config.httpsListen || config.httpRedirectListen != snapshot.config.httpRedirectListen
                || config.resolvedWorkers != snapshot.config.resolvedWorkers {
                log("drawbridge: reload: listen addresses and worker count apply at the next restart")
            }
            snapshot = next
            for w in workers { w.mailbox.post(next) }
            log("drawbridge: reloaded configuration (generation \(generation))")
            logWarnings(next)
        } catch let e as ConfigErrors {
            log("drawbridge: reload rejected, still serving the previous configuration:\n" + e.issues.map { "  \($0.description)" }.joined(separator: "\n"))
        } catch {
            log("drawbridge: reload rejected, still serving the previous configuration:\n  \(error)")
        }
    }

    private func bind(_ a: ListenAddress) throws -> Int32 {
        guard let addr = SocketAddress.resolve(host: a.host, port: a.port).first else {
            throw TLSSetupError(description: "listen: cannot resolve \(a.host)")
        }
        return try Sockets.listen(addr)
    }

    private func openLog(_ t: LogTarget, what: String = "accessLog") throws -> Int32 {
        switch t {
        case .off: return -1
        case .stdout: return 1
        case .stderr: return 2
        case .file(let path):
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            if fd < 0 { throw SocketError.system("\(what) \(path)", CLinux_errno()) }
            return fd
        }
    }

    private func startThread(_ w: Worker) -> pthread_t {
        let box = Unmanaged.passRetained(w).toOpaque()
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            let w = Unmanaged<Worker>.fromOpaque(arg!).takeRetainedValue()
            w.run()
            return nil
        }, box)
        return t
    }
}
