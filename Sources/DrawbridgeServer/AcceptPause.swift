import CLinux
import Glibc
import Synchronization

/// Out of file descriptors (EMFILE, ENFILE) or kernel memory: accept(2) fails while the pending
/// connection stays in the backlog, so a level-triggered listener is ready again at once and the
/// worker would spin at 100% CPU. As nginx (`ngx_disable_accept_events`, then a timer of
/// accept_mutex_delay, 500 ms) and HAProxy (`limit_listener`, then a 100 ms retry) do, the worker
/// takes its listeners out of epoll for `pause`, keeps serving the connections it has (whose
/// closing frees descriptors) and puts them back; pending clients wait in the backlog meanwhile.
struct AcceptPause {
    static let pauseNs: UInt64 = 500_000_000
    /// Monotonic ns at which the listeners go back into epoll; 0: accepting.
    var resumeAt: UInt64 = 0

    /// Whether a failed accept's errno means "no resources now" (pause) rather than a failure of
    /// that one connection (ECONNABORTED...) or an empty backlog (EAGAIN).
    @inline(__always) static func isResourceShortage(_ e: Int32) -> Bool {
        e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM
    }
}

extension Worker {
    /// After an accept failed for lack of descriptors: stop watching the listeners for a while.
    func pauseAccepting(errno e: Int32) {
        guard acceptPause.resumeAt == 0 else { return }
        acceptPause.resumeAt = now + AcceptPause.pauseNs
        for fd in listenFds + redirectFds { _ = CLinux_epoll_ctl(epfd, 3, fd, 0, 0) }
        AcceptPauseReport.shared.paused(errno: e)
    }

    /// Called by the loop: the pause is over, watch the listeners again.
    func resumeAcceptingIfDue() {
        guard acceptPause.resumeAt != 0, now >= acceptPause.resumeAt else { return }
        acceptPause.resumeAt = 0
        for fd in listenFds { register(fd: fd, .httpsListener, events: CLinux_EPOLLIN) }
        for fd in redirectFds { register(fd: fd, .redirectListener, events: CLinux_EPOLLIN) }
    }
}

/// What the workers' pauses were, for the main thread to log at most once per interval (the
/// workers are event loops and do not log themselves; the descriptor limit is the process's).
final class AcceptPauseReport: Sendable {
    static let shared = AcceptPauseReport()
    static let reportInterval: UInt64 = 60

    private let pauses = Atomic<UInt64>(0)
    private let lastErrno = Atomic<Int32>(0)
    /// Set by a pause, cleared by the next accepted connection.
    private let short = Atomic<Bool>(false)

    func paused(errno e: Int32) {
        lastErrno.store(e, ordering: .relaxed)
        short.store(true, ordering: .relaxed)
        pauses.add(1, ordering: .releasing)
    }

    /// By a worker after an accept succeeded (one relaxed load unless a pause was reported).
    @inline(__always) func accepted() {
        if short.load(ordering: .relaxed) { short.store(false, ordering: .relaxed) }
    }

    struct State {
        var reported: UInt64 = 0
        var lastReportAt: UInt64 = 0   // monotonic seconds; 0: never
        var short = false
    }

    /// A line for the error log when there is something new: pauses since the last report (at
    /// most once per `reportInterval`; `paused`), or that connections are accepted again.
    func report(_ state: inout State, nowSeconds: UInt64) -> (paused: Bool, line: String)? {
        let n = pauses.load(ordering: .acquiring)
        if n > state.reported, state.lastReportAt == 0 || nowSeconds >= state.lastReportAt + Self.reportInterval {
            let e = lastErrno.load(ordering: .relaxed)
            let count = n - state.reported
            state.reported = n
            state.lastReportAt = nowSeconds
            state.short = true
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            return (true, "drawbridge: error: accept() failed (\(e): \(String(cString: strerror(e)))): not accepting new connections for "
                + "\(AcceptPause.pauseNs / 1_000_000) ms at a time (\(count) pause\(count == 1 ? "" : "s") since the last report), "
                + "open connections are still served; descriptor limit \(limit.rlim_cur) (raise LimitNOFILE or ulimit -n, "
                + "or lower limits.maxConnectionsPerWorker)")
        }
        if state.short && !short.load(ordering: .relaxed) {
            state.short = false
            return (false, "drawbridge: accepting new connections again")
        }
        return nil
    }
}
