import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeDecision
import Glibc

/// Which pool a sign-in job runs on.
enum JobKind: Sendable {
    /// Password hashing, the TOTP step and the writes to the users file.
    case signIn
    /// Anything that calls an OIDC provider (discovery, token endpoint, keys): it can hang on
    /// the network, so it has its own threads and never delays a password sign-in.
    case provider
    /// Sign-outs: they wait for the disk (fdatasync), never behind password hashing, so a
    /// sign-out applies at once even during a flood of sign-ins.
    case signOut
}

/// Process-wide identity services the workers share: the audit log, login throttling, the job
/// pools for slow work (password hashing, calls to OIDC issuers, sign-outs that wait for the
/// disk), single-use OIDC states and the sign-out list. Nothing here is touched by a proxied
/// request on a public route; credential checks only read the published sign-out list (no lock)
/// and per-worker state.
final class AuthServices: @unchecked Sendable {
    let audit: AuditLog
    /// This process's counters; a shared store (`LoginCounters`) goes here for several instances.
    let throttle: any LoginCounters
    private let signInPool: JobPool
    private let providerPool: JobPool
    /// A few threads: concurrent sign-outs share one fdatasync (group commit).
    private let signOutPool = JobPool(name: "sign-out", threads: 4, capacity: 4096)
    let oidc = OIDCState()
    /// The OIDC `state` values already used by a callback (each is accepted once).
    let usedStates = UsedStates()
    /// The sign-out list (nil without an auth section). Set before workers start.
    var revocations: RevocationStore?
    /// The upstream OAuth 2.0 tokens (`UpstreamTokenFetcher`). Set before workers start.
    var upstreamTokens: Published<TokenBoard>?

    init(audit: AuditLog, queues: WorkQueuesConfig = WorkQueuesConfig(), counters: any LoginCounters = LoginThrottle()) {
        self.audit = audit
        throttle = counters
        // Few threads: a flood of sign-ins cannot run more scrypt computations (128 MiB each) at
        // once than there are CPUs; the rest wait in a bounded queue or get 503.
        let cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let hashing = queues.signInThreads > 0 ? queues.signInThreads : min(cpus, 4)
        signInPool = JobPool(name: "sign-in", threads: hashing, capacity: queues.signInQueue)
        providerPool = JobPool(name: "provider", threads: queues.providerThreads, capacity: queues.providerQueue)
    }

    /// Queues `work` on the pool of its kind; false when that queue is full (answer 503).
    func submit(_ kind: JobKind, _ work: @escaping @Sendable () -> Void) -> Bool {
        switch kind {
        case .signIn: return signInPool.submit(work)
        case .provider: return providerPool.submit(work)
        case .signOut: return signOutPool.submit(work)
        }
    }

    /// Every worker refuses the session from its next request on; returns once the sign-out is
    /// durable, or throws when it could not be made so (it applies in memory all the same).
    /// Runs on a job thread (it waits for the disk).
    func revoke(_ r: Revocation) throws(RevocationNotSaved) {
        try revocations?.revoke(r)
    }

    /// Makes durable the sign-outs that apply in memory only (a retried sign-out).
    func savePendingRevocations() throws(RevocationNotSaved) {
        try revocations?.savePending()
    }
}

/// OIDC `state` values seen by a callback, kept until the sign-in they belong to would have
/// expired anyway: a replayed state (with the same or a made-up code) is refused before any call
/// to the provider. Bounded: when full, the oldest entries go first (they are the closest to
/// expiring, and the sealed cookie they belong to expires with them).
final class UsedStates: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var expiry: [[UInt8]: UInt64] = [:]
    private var order: [([UInt8], UInt64)] = []
    private var start = 0
    static let capacity = 200_000

    init() { pthread_mutex_init(&lock, nil) }

    /// Records `state` as used; false when it already was (a replay).
    func consume(_ state: String, expiresAt: UInt64, now: UInt64) -> Bool {
        let key = SHA256.hash(Array(state.utf8))   // fixed size, and no state kept in clear
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        while start < order.count, order[start].1 <= now || expiry.count >= Self.capacity {
            let (k, t) = order[start]
            if expiry[k] == t { expiry[k] = nil }
            start += 1
        }
        if start > 4096 && start * 2 > order.count { order.removeFirst(start); start = 0 }
        if let t = expiry[key], t > now { return false }
        expiry[key] = expiresAt
        order.append((key, expiresAt))
        return true
    }
}
