import CLinux
import CTLSSupport
import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeStore
import Foundation
import Glibc

/// The process: loads the configuration, opens the listeners, runs one worker thread per core,
/// and handles signals on the main thread: SIGHUP reload, SIGUSR1 reopen the log files,
/// SIGTERM/SIGINT graceful stop (in-flight requests finish, up to drainSeconds), SIGQUIT stop at
/// once; SIGUSR2 is logged and ignored (docs/OPERATIONS.md).
public final class Gateway {
    let configDirectory: String
    private var snapshot: Snapshot
    private var workers: [Worker] = []
    private var threads: [pthread_t] = []
    private var generation = 1
    /// Where lines go before the error log is open (stderr, as text); then `note` writes there.
    private let log: @Sendable (String) -> Void
    /// The error and event log (`errorLog`), open from `run` on.
    private var errorLog: ErrorLog?
    /// Mode cut-offs that apply in memory but could not be saved yet (retried every few seconds).
    private var unsavedCutoffs: AuthRuntime?
    private var sinks: [LogSink] = []
    private var sinkReports: [LogSink.ReportState] = []
    private var revocations: RevocationStore?
    /// Fetches the routes' upstream OAuth 2.0 tokens on its own thread (started in `run`).
    private var upstreamTokens: UpstreamTokenFetcher?
    private var logFiles = LogReopen()
    /// Instance locks on the listen addresses (see `InstanceLock`), released when stopping.
    private var instanceLocks: [Int32] = []
    private var acceptReport = AcceptPauseReport.State()
    /// Active upstream health checks (`healthCheck`), on a thread of their own.
    private var healthChecker: HealthChecker?
    /// Called once the listeners are bound, before the gateway reports that it serves (the pid
    /// file is written there: a pid file names a gateway that holds its addresses).
    public var onListening: (() throws -> Void)?
    /// How often sign-outs are pruned and compacted and failed saves retried.
    static let maintenanceSeconds: UInt64 = 10

    public init(configDirectory: String, log: @escaping @Sendable (String) -> Void) throws {
        self.configDirectory = configDirectory
        self.log = log
        // First of all, before anything is written (a restore completed, leftovers removed, state
        // saved): a second gateway on these addresses stops here and touches nothing.
        if let peek = try? ConfigLoader.load(directory: configDirectory) {
            instanceLocks = try InstanceLock.acquire(try (peek.httpsListen + peek.httpRedirectListen).map(Self.resolve))
        }
        if try StateRestore.completeInterrupted(configDirectory: configDirectory) { log("drawbridge: completed an interrupted restore") }
        let config = try ConfigLoader.load(directory: configDirectory)
        try Self.checkPermissions(configDirectory: configDirectory, config: config)
        if let auth = config.auth {
            // Temporary files of a writer killed mid-write (kill -9, power cut): never part of the state.
            for file in StateFiles.all(configDirectory: configDirectory, auth: auth).map(\.path) {
                for name in AtomicFile.removeLeftovers(of: file) {
                    log("drawbridge: removed \((file as NSString).deletingLastPathComponent)/\(name), left by an interrupted write")
                }
            }
        }
        snapshot = try Snapshot(config: config, generation: generation)
        if let auth = snapshot.auth, auth.cutoffsChanged { saveCutoffs(auth) }
    }

    /// Validates a configuration directory completely (files, certificates, keys, upstream names,
    /// permissions, the state files) without starting anything. Returns the problems, empty if none.
    public static func check(configDirectory: String) -> [String] {
        do {
            let config = try ConfigLoader.load(directory: configDirectory)
            var problems = StatePermissions.check(configDirectory: configDirectory, config: config).map(\.description)
            problems += logProblems(config)
            if let auth = config.auth {
                do { _ = try SignOutFile.read(path: StateFiles.signOutsFile(auth)) } catch { problems.append("\(error)") }
            }
            do {
                _ = try Snapshot(config: config, generation: 0)
            } catch let e as ConfigErrors {
                problems += e.issues.map { $0.description }
            }
            return problems
        } catch let e as ConfigErrors {
            return e.issues.map { $0.description }
        } catch {
            return ["\(configDirectory): \(error)"]
        }
    }

    /// Refuses a configuration whose directory or state files others could change (StrictModes).
    private static func checkPermissions(configDirectory: String, config: GatewayConfig) throws {
        let issues = StatePermissions.check(configDirectory: configDirectory, config: config)
        guard issues.isEmpty else { throw ConfigErrors(issues: issues) }
    }

    /// Log files that are symbolic links (opened with O_NOFOLLOW, they would fail at start).
    private static func logProblems(_ config: GatewayConfig) -> [String] {
        var problems: [String] = []
        for (what, target) in [("accessLog", config.accessLog), ("errorLog", config.errorLog), ("auth.auditLog", config.auth?.auditLog ?? .off)] {
            guard case .file(let path) = target else { continue }
            var st = stat()
            if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
                problems.append("\(path): \(what) is a symbolic link; refused (logs are opened with O_NOFOLLOW: name the real file)")
            }
        }
        return problems
    }

    /// Saves the mode cut-offs; on failure they apply in memory and are retried until saved.
    private func saveCutoffs(_ auth: AuthRuntime) {
        do {
            try auth.saveCutoffs()
            if unsavedCutoffs != nil { note("state", "drawbridge: \(auth.stateFile): mode cut-offs saved") }
            unsavedCutoffs = nil
        } catch {
            if unsavedCutoffs == nil {
                note("state", "drawbridge: error: mode cut-offs not saved (\(error)); they apply in memory, and are retried every "
                    + "\(Self.maintenanceSeconds)s: until then a restart would forget them")
            }
            unsavedCutoffs = auth
        }
    }

    /// Blocks the signals the gateway handles (and ignores SIGPIPE) on the calling thread; call it
    /// first thing on the main thread, before any other thread exists, so that every thread
    /// inherits the mask and only `run`'s signal loop takes them.
    public static func blockSignals() { _ = CLinux_block_signals() }

    public func run() throws -> Int32 {
        Self.blockSignals() // (again, for callers that did not: threads started from here on inherit it)
        let config = snapshot.config
        let n = config.resolvedWorkers
        let accessLog = LogSink(fd: try openLog(config.accessLog), name: "access log \(Self.describe(config.accessLog))")
        // The error log target is read at start (a change takes a restart); its level at each reload.
        let errorSink = LogSink(fd: try openLog(config.errorLog, what: "errorLog"), name: "error log \(Self.describe(config.errorLog))")
        let errorLog = ErrorLog(sink: errorSink, level: config.errorLogLevel)
        self.errorLog = errorLog
        // The audit log target is read at start; changing it takes a restart.
        let auditTarget = config.auth?.auditLog ?? .off
        let auditLog = LogSink(fd: try openLog(auditTarget, what: "auth.auditLog"), name: "audit log \(Self.describe(auditTarget))")
        sinks = [errorSink, accessLog, auditLog].filter(\.enabled)
        sinkReports = sinks.map { _ in LogSink.ReportState() }
        let services = AuthServices(audit: AuditLog(sink: auditLog), queues: config.auth?.workQueues ?? WorkQueuesConfig())
        if let auth = snapshot.auth {
            let store = try FileRevocationStore(path: StateFiles.signOutsFile(auth.config), readers: n, wallNow: unixNow(),
                                                monotonicNs: CLinux_monotonic_ns(), log: errorLog.logger("signouts"))
            services.revocations = store
            revocations = store
        }
        let httpsAddresses = try config.httpsListen.map(Self.resolve)
        let redirectAddresses = try config.httpRedirectListen.map(Self.resolve)
        if instanceLocks.isEmpty { instanceLocks = try InstanceLock.acquire(httpsAddresses + redirectAddresses) }
        let tokens = UpstreamTokenFetcher(readers: n, log: errorLog.logger("upstream_token"))
        tokens.start()
        tokens.follow(snapshot.tokenClients) // a first token before the first request (bounded wait)
        services.upstreamTokens = tokens.published
        upstreamTokens = tokens
        var listenerSets: [([Int32], [Int32])] = []
        for _ in 0..<n {
            listenerSets.append((try httpsAddresses.map { try Sockets.listen($0) }, try redirectAddresses.map { try Sockets.listen($0) }))
        }
        // The admin listener (metrics, health) binds with the others: a taken address fails the start.
        var admin: AdminListener?
        if let a = config.admin {
            MetricsRegistry.shared.enable() // before the workers: they count only when it is on
            admin = try AdminListener(a, resolve: Self.resolve)
        }
        try onListening?()
        for i in 0..<n {
            let w = Worker(index: i, snapshot: snapshot, accessLog: AccessLog(sink: accessLog), errorLog: ErrorLogBuffer(log: errorLog), services: services,
                           httpsListeners: listenerSets[i].0, redirectListeners: listenerSets[i].1)
            workers.append(w)
        }
        logWarnings(snapshot)
        for w in workers { threads.append(Threads.start(detached: false) { w.run() }) }
        MetricsRegistry.shared.serving(snapshot, listening: true)
        admin?.start()
        let checker = HealthChecker(log: errorLog)
        checker.follow(snapshot)
        checker.start()
        healthChecker = checker
        if let admin { note("start", "drawbridge: admin endpoints (/metrics, /healthz, /readyz) on http://\(admin.address)") }
        let serving = "drawbridge: serving https on \(config.httpsListen.map(\.description).joined(separator: ", "))"
            + (config.httpRedirectListen.isEmpty ? "" : ", redirecting http on \(config.httpRedirectListen.map(\.description).joined(separator: ", "))")
            + " with \(n) worker\(n == 1 ? "" : "s")"
        note("start", serving)
        // An error log elsewhere: whoever started the gateway (a shell, a supervisor) still sees
        // on stderr that it serves, and where the rest of its log goes.
        if config.errorLog != .stderr { log(serving + "; error log: \(Self.describe(config.errorLog))") }

        let backups = BackupScheduler(configDirectory: configDirectory, log: errorLog.logger("backup"))
        var nextRotation = CLinux_monotonic_ns() + UInt64(config.tls.ticketKeyRotationSeconds) * 1_000_000_000
        var nextMaintenance = CLinux_monotonic_ns() + Self.maintenanceSeconds * 1_000_000_000
        while true {
            let sig = CLinux_wait_signal(1000)
            let now = CLinux_monotonic_ns()
            if now >= nextRotation {
                _ = CTLS_ticket_keys_rotate() // session ticket keys rotate on a schedule
                nextRotation = now + UInt64(snapshot.config.tls.ticketKeyRotationSeconds) * 1_000_000_000
            }
            reportLogFailures(nowSeconds: now / 1_000_000_000)
            if let (paused, line) = AcceptPauseReport.shared.report(&acceptReport, nowSeconds: now / 1_000_000_000) {
                if paused { note("accept_paused", line) } else { note("accept_resumed", line) }
            }
            if now >= nextMaintenance {
                nextMaintenance = now + Self.maintenanceSeconds * 1_000_000_000
                maintain(monotonicNs: now)
            }
            backups.tick(snapshot.config, now: unixNow())
            switch sig {
            case SIGHUP:
                note("signal", "drawbridge: SIGHUP received: reloading the configuration")
                reload()
            case SIGUSR1:
                note("signal", "drawbridge: SIGUSR1 received: reopening the log files")
                // logrotate has renamed the files (nginx's USR1): new writes go to new files.
                for line in logFiles.reopen() { note("log_reopen", line) }
            case SIGUSR2:
                // nginx upgrades its binary on USR2; the gateway has no such upgrade: the signal
                // must not end it (its default action), so it is named and ignored.
                note("signal", "drawbridge: SIGUSR2 ignored (SIGHUP reloads, SIGUSR1 reopens the log files; docs/OPERATIONS.md)")
            case SIGTERM, SIGINT, SIGQUIT:
                // TERM/INT: in-flight requests finish (up to drainSeconds); QUIT: connections close now.
                let drain = sig == SIGQUIT ? 0 : snapshot.config.timeouts.drainSeconds
                note("stop", sig == SIGQUIT ? "drawbridge: stopping now (SIGQUIT): closing every connection"
                    : "drawbridge: stopping (\(sig == SIGTERM ? "SIGTERM" : "SIGINT") received): finishing in-flight requests (up to \(drain)s)")
                for w in workers { w.mailbox.postStop(drainNs: Snapshot.ns(drain)) }
                // The listeners close now: a new gateway on the same addresses may start meanwhile.
                for fd in instanceLocks { close(fd) }
                instanceLocks = []
                for t in threads { pthread_join(t, nil) }
                upstreamTokens?.stop()
                backups.finish()   // even on QUIT: a backup under way is finished, never left half-written
                note("stop", "drawbridge: stopped")
                return 0
            default:
                break
            }
        }
    }

    /// A line for the error log once it is open; before, on stderr as text ("drawbridge: ...").
    private func note(_ event: StaticString, _ line: String) {
        if let errorLog { errorLog.text(event, line) } else { log(line) }
    }

    /// Log write failures, at most once per interval per log (the workers only count them).
    private func reportLogFailures(nowSeconds: UInt64) {
        for i in sinks.indices {
            guard let line = sinks[i].failureReport(&sinkReports[i], nowSeconds: nowSeconds) else { continue }
            // The error log's own failures go to stderr (where else), the others to the error log.
            if sinks[i] === errorLog?.sink && sinks[i].fd != 2 { log(line) } else { note("log_write", line) }
        }
    }

    /// Prunes and compacts the sign-out list, retries what could not be saved.
    private func maintain(monotonicNs: UInt64) {
        for line in revocations?.maintain(wallNow: unixNow(), monotonicNs: monotonicNs) ?? [] { note("signouts", line) }
        if let pending = unsavedCutoffs { saveCutoffs(pending) }
    }

    static func describe(_ t: LogTarget) -> String {
        switch t {
        case .off: return "(off)"
        case .stdout: return "(stdout)"
        case .stderr: return "(stderr)"
        case .file(let path): return path
        }
    }

    /// Names that grant nothing: worth an operator's look, not a refusal.
    private func logWarnings(_ s: Snapshot) {
        for w in s.warnings { note("config_warning", "drawbridge: warning: \(w) (it grants nothing)") }
    }

    /// Builds a complete new snapshot off the loops; only a fully valid one replaces the old.
    private func reload() {
        do {
            if try StateRestore.completeInterrupted(configDirectory: configDirectory) { note("state", "drawbridge: completed an interrupted restore") }
            let config = try ConfigLoader.load(directory: configDirectory)
            try Self.checkPermissions(configDirectory: configDirectory, config: config)
            generation += 1
            let next = try Snapshot(config: config, generation: generation, previous: snapshot)
            // Saved when changed (or still unsaved); if the disk refuses, the cut-offs apply in
            // memory anyway: refusing the reload would keep a switched-off mode working.
            if let auth = next.auth, auth.cutoffsChanged || unsavedCutoffs != nil { saveCutoffs(auth) }
            if config.httpsListen != snapshot.config.httpsListen || config.httpRedirectListen != snapshot.config.httpRedirectListen
                || config.resolvedWorkers != snapshot.config.resolvedWorkers {
                note("reload", "drawbridge: warning: reload: listen addresses and worker count apply at the next restart")
            }
            if config.errorLog != snapshot.config.errorLog {
                note("reload", "drawbridge: warning: reload: errorLog applies at the next restart (errorLogLevel applies now)")
            }
            errorLog?.setLevel(config.errorLogLevel)
            upstreamTokens?.follow(next.tokenClients)
            snapshot = next
            for w in workers { w.mailbox.post(next) }
            MetricsRegistry.shared.reloaded(next)
            healthChecker?.follow(next)
            note("reload", "drawbridge: reloaded configuration (generation \(generation))")
            logWarnings(next)
        } catch let e as ConfigErrors {
            MetricsRegistry.shared.reloaded(nil)
            note("reload_rejected", "drawbridge: error: reload rejected, still serving the previous configuration: "
                 + e.issues.map(\.description).joined(separator: "; "))
        } catch {
            MetricsRegistry.shared.reloaded(nil)
            note("reload_rejected", "drawbridge: error: reload rejected, still serving the previous configuration: \(error)")
        }
    }

    private static func resolve(_ a: ListenAddress) throws -> SocketAddress {
        guard let addr = SocketAddress.resolve(host: a.host, port: a.port).first else {
            throw TLSSetupError(description: "listen: cannot resolve \(a.host)")
        }
        return addr
    }

    private func openLog(_ t: LogTarget, what: String = "accessLog") throws -> Int32 {
        switch t {
        case .off: return -1
        case .stdout: return 1
        case .stderr: return 2
        case .file(let path):
            // O_NOFOLLOW: as root, a symlinked log would append to whatever file it points at.
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
            if fd < 0 {
                let e = CLinux_errno()
                if e == ELOOP { throw TLSSetupError(description: "\(what) \(path): is a symbolic link; refused (name the real file)") }
                throw SocketError.system("\(what) \(path)", e)
            }
            logFiles.add(path: path, fd: fd, what: what)
            return fd
        }
    }
}
