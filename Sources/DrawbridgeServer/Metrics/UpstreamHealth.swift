import CLinux
import DrawbridgeConfig
import Glibc

/// The health of one upstream's servers, shared by every worker and the active checker: four
/// relaxed atomic words per server, so picking a server reads two words and takes no lock.
///
/// Passive (nginx `max_fails`/`fail_timeout`): `maxFails` failures (connect errors and timeouts,
/// 5xx responses) within `failTimeout` mark a server down for `failTimeout`; a success clears the
/// count. As in nginx, an upstream of one server is never marked down passively (there is nowhere
/// else to go). Active (`healthCheck`): the checker's verdict; a server it finds down is down
/// whatever the passive state says.
final class UpstreamHealth: @unchecked Sendable {
    let upstream: String
    let servers: [String]
    let config: UpstreamHealthConfig
    private let failTimeoutNs: UInt64
    private let words: UnsafeMutablePointer<UInt64>
    private static let stride = 4 // failures, last failure (ns), down until (ns), down by active check

    private init(upstream: String, servers: [String], config: UpstreamHealthConfig) {
        self.upstream = upstream
        self.servers = servers
        self.config = config
        failTimeoutNs = Snapshot.ns(config.failTimeoutSeconds)
        words = .allocate(capacity: servers.count * Self.stride)
        words.initialize(repeating: 0, count: servers.count * Self.stride)
    }

    /// Passive state applies to upstreams of more than one server with `maxFails` > 0.
    private var passive: Bool { servers.count > 1 && config.maxFails > 0 }

    @inline(__always) func isUp(_ server: Int, now: UInt64) -> Bool {
        let w = words + server * Self.stride
        if CLinux_relaxed_load(w + 3) != 0 { return false }
        return !passive || CLinux_relaxed_load(w + 2) <= now
    }

    /// A connect error or timeout, or a 5xx response. True: this failure marked the server down.
    @discardableResult
    func failed(_ server: Int, now: UInt64) -> Bool {
        guard passive else { return false }
        let w = words + server * Self.stride
        // Failures older than failTimeout no longer count (nginx counts within the window).
        if now &- CLinux_relaxed_load(w + 1) > failTimeoutNs { CLinux_relaxed_store(w, 0) }
        CLinux_relaxed_store(w + 1, now)
        if CLinux_relaxed_add(w, 1) >= UInt64(config.maxFails) {
            CLinux_relaxed_store(w + 2, now + failTimeoutNs)
            CLinux_relaxed_store(w, 0)
            return true
        }
        return false
    }

    /// A response under 500: the failure count starts over (read first: no write per request).
    @inline(__always) func succeeded(_ server: Int) {
        let w = words + server * Self.stride
        if CLinux_relaxed_load(w) != 0 { CLinux_relaxed_store(w, 0) }
    }

    /// What the upstream answered (the status of its response head).
    /// True: this response (a 5xx) marked the server down.
    @discardableResult @inline(__always) func observed(status: Int, server: Int, now: UInt64) -> Bool {
        if status >= 500 { return failed(server, now: now) }
        succeeded(server)
        return false
    }

    func setCheckedDown(_ server: Int, _ down: Bool) {
        CLinux_relaxed_store(words + server * Self.stride + 3, down ? 1 : 0)
    }

    func anyUp(now: UInt64) -> Bool { servers.indices.contains { isUp($0, now: now) } }

    // MARK: Registry: the same servers with the same rules keep their state across reloads.

    private static var lock = pthread_mutex_t()
    private static let lockReady: Void = { pthread_mutex_init(&lock, nil) }()
    nonisolated(unsafe) private static var known: [String: UpstreamHealth] = [:]

    static func of(upstream: String, servers: [String], config: UpstreamHealthConfig) -> UpstreamHealth {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        // Spelled out: describing the struct by reflection costs millions of instructions per load.
        let c = config.check
        let key = [upstream, servers.joined(separator: ","), String(config.maxFails), String(config.failTimeoutSeconds),
                   c.map { "\($0.path) \($0.intervalSeconds) \($0.timeoutSeconds) \($0.healthy) \($0.unhealthy)" } ?? "-"]
            .joined(separator: "\u{0}")
        if let h = known[key] { return h }
        let h = UpstreamHealth(upstream: upstream, servers: servers, config: config)
        known[key] = h // kept for the process's life: a handful of small objects per configuration
        return h
    }
}
