import CLinux
import DrawbridgeDecision
import DrawbridgeOIDC
import Glibc

/// Fetches the OAuth 2.0 tokens routes send to their upstreams, on a thread of its own (never a
/// worker's), and publishes them to the workers (`Published<TokenBoard>`, read without a lock):
///
/// - One fetch per client, whatever the number of requests: requests never fetch, they read the
///   board, so concurrent requests share the one token.
/// - A token is refreshed ahead of expiry: at 3/4 of its lifetime, at most 5 minutes before it
///   expires; it is sent until a margin before expiry (a tenth of its lifetime, at most 10 s).
///   Without `expires_in` a lifetime of 5 minutes is assumed.
/// - A failed fetch is retried with exponential backoff (1 s, 2 s, … 60 s) and logged with its
///   reason (status, OAuth error code or network error: never the secret or a token). A token
///   still valid stays in use; without one, requests on the route get 502 with Retry-After.
/// - Clients fetch one at a time (each bounded by a 10 s timeout).
final class UpstreamTokenFetcher: @unchecked Sendable {
    let published: Published<TokenBoard>
    typealias Fetch = @Sendable (ClientCredentials.Client) throws(OIDCError) -> ClientCredentials.Token

    private var lock = pthread_mutex_t()
    private var changed = pthread_cond_t()
    // Under the lock:
    private var wanted: [UpstreamTokenClient] = []
    private var attempted: Set<Int> = []
    private var stopping = false
    private var wakeup = false
    // Fetcher thread only:
    private var states: [Int: State] = [:]
    private var generation: UInt64 = 0
    private let log: @Sendable (String) -> Void
    private let fetch: Fetch

    struct State {
        var client: UpstreamTokenClient
        var line: [UInt8]?
        var usableUntil: UInt64 = 0
        var refreshAt: UInt64 = 0
        var failures = 0
        var nextAttempt: UInt64 = 0
    }

    static let defaultLifetimeSeconds: UInt64 = 300
    static let maxBackoffSeconds: UInt64 = 60

    init(readers: Int, log: @escaping @Sendable (String) -> Void, fetch: @escaping Fetch = { c throws(OIDCError) in try ClientCredentials.fetch(c) }) {
        published = Published(TokenBoard.empty, readers: readers)
        self.log = log
        self.fetch = fetch
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&changed, &attr)
        pthread_mutex_init(&lock, nil)
    }

    func start() {
        Threads.start(detached: true) { self.run() }
    }

    func stop() {
        pthread_mutex_lock(&lock); stopping = true; pthread_cond_broadcast(&changed); pthread_mutex_unlock(&lock)
    }

    /// The clients of the snapshot about to be published (main thread, at start and reload).
    /// Waits (at most `timeoutSeconds`) until each has had a first attempt, so the first requests
    /// of a new route find a token rather than a 502. Off the request path: workers keep serving.
    func follow(_ clients: [UpstreamTokenClient], timeoutSeconds: UInt64 = 15) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        wanted = clients
        wakeup = true
        pthread_cond_broadcast(&changed)
        let deadline = CLinux_monotonic_ns() + timeoutSeconds * 1_000_000_000
        while !stopping && clients.contains(where: { !attempted.contains($0.id) }) {
            let now = CLinux_monotonic_ns()
            if now >= deadline { break }
            var ts = Self.timespec(ns: min(deadline, now + 1_000_000_000))
            pthread_cond_timedwait(&changed, &lock, &ts)
        }
    }

    private func run() {
        while true {
            pthread_mutex_lock(&lock)
            if stopping { pthread_mutex_unlock(&lock); return }
            let clients = wanted
            wakeup = false
            pthread_mutex_unlock(&lock)

            let now = CLinux_monotonic_ns()
            var publish = false
            for c in clients where states[c.id] == nil { states[c.id] = State(client: c) }
            // Clients no snapshot names any more stay until their token expires: requests decided
            // under the previous snapshot may still use it.
            let keep = Set(clients.map(\.id))
            for (id, s) in states where !keep.contains(id) && s.usableUntil <= now { states[id] = nil; publish = true }
            if publish { publishBoard() }
            var next = now + 1_000_000_000
            for c in clients {
                let s = states[c.id]!
                if (s.line == nil || now >= s.refreshAt) && now >= s.nextAttempt {
                    attempt(c)
                    publishBoard() // before `follow` learns of the attempt: the snapshot it waits to post finds the token
                    pthread_mutex_lock(&lock); attempted.insert(c.id); pthread_cond_broadcast(&changed); pthread_mutex_unlock(&lock)
                }
                let after = states[c.id]!
                let at = after.line == nil ? after.nextAttempt : max(after.refreshAt, after.nextAttempt)
                next = min(next, max(at, now))
            }

            pthread_mutex_lock(&lock)
            if !stopping && !wakeup {
                var ts = Self.timespec(ns: max(next, CLinux_monotonic_ns() + 10_000_000))
                pthread_cond_timedwait(&changed, &lock, &ts)
            }
            pthread_mutex_unlock(&lock)
        }
    }

    /// One fetch for `c`, its outcome recorded in `states`.
    private func attempt(_ c: UpstreamTokenClient) {
        var s = states[c.id]!
        let start = CLinux_monotonic_ns()
        do {
            let token = try fetch(c.request)
            let lifetime = UInt64(token.expiresIn.map { UInt64($0) } ?? Self.defaultLifetimeSeconds) * 1_000_000_000
            let times = Self.schedule(obtainedAt: start, lifetimeNs: lifetime)
            s.line = Array("Authorization: Bearer \(token.accessToken)\r\n".utf8)
            s.usableUntil = times.usableUntil
            s.refreshAt = times.refreshAt
            if s.failures > 0 { log("drawbridge: upstream token for \(c.label): obtained again after \(s.failures) failed attempt\(s.failures == 1 ? "" : "s")") }
            s.failures = 0
            s.nextAttempt = 0
        } catch {
            s.failures += 1
            let backoff = Self.backoffSeconds(failures: s.failures)
            let now = CLinux_monotonic_ns()
            s.nextAttempt = now + backoff * 1_000_000_000
            let still = s.line != nil && now < s.usableUntil
            // The reason names the step and the server's answer; OIDCError never carries the secret or a token.
            log("drawbridge: error: upstream token for \(c.label): \(error); retrying in \(backoff)s"
                + (still ? " (the current token stays in use until it expires)" : " (requests on its routes get 502 until then)"))
        }
        states[c.id] = s
    }

    /// When a token obtained at `obtainedAt` is refreshed, and until when it is sent.
    static func schedule(obtainedAt: UInt64, lifetimeNs: UInt64) -> (refreshAt: UInt64, usableUntil: UInt64) {
        let fiveMinutes: UInt64 = 300_000_000_000, tenSeconds: UInt64 = 10_000_000_000
        let refreshIn = max(lifetimeNs / 4 * 3, lifetimeNs > fiveMinutes ? lifetimeNs - fiveMinutes : 0)
        let margin = min(lifetimeNs / 10, tenSeconds)
        return (obtainedAt + refreshIn, obtainedAt + lifetimeNs - margin)
    }

    static func backoffSeconds(failures: Int) -> UInt64 {
        min(maxBackoffSeconds, UInt64(1) << UInt64(min(max(failures - 1, 0), 6)))
    }

    private func publishBoard() {
        generation += 1
        var entries: [Int: TokenBoard.Entry] = [:]
        for (id, s) in states {
            entries[id] = TokenBoard.Entry(line: s.line, usableUntil: s.usableUntil, retryAt: s.nextAttempt)
        }
        published.publish(TokenBoard(generation: generation, entries: entries))
    }

    private static func timespec(ns: UInt64) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}
