import Dispatch
import DrawbridgeCrypto
import Glibc

/// Process-wide identity services the workers share: the audit log, login throttling, the job
/// queues for slow work (password hashing, calls to OIDC issuers, sign-outs that wait for the
/// disk) and the sign-out list. Nothing here is touched by a proxied request on a public route;
/// credential checks only read the published sign-out list (no lock) and per-worker state.
final class AuthServices: @unchecked Sendable {
    let audit: AuditLog
    let throttle = LoginThrottle()
    /// A hash of a random password, verified when the account is unknown so that an unknown
    /// email and a wrong password cost the same time. Made on first use (on a job queue), not at
    /// start: a gateway without sign-ins never pays scrypt's 32 MiB.
    private var dummy: String?
    private var dummyLock = pthread_mutex_t()
    private let queues: [DispatchQueue]
    private var next = 0
    private var lock = pthread_mutex_t()
    let oidc = OIDCState()
    /// The sign-out list (nil without an auth section). Set before workers start.
    var revocations: RevocationStore?

    init(audit: AuditLog) {
        self.audit = audit
        // A few serial queues, not a concurrent one: a flood of sign-ins cannot start more than
        // this many scrypt computations (32 MiB each) at once.
        queues = (0..<4).map { DispatchQueue(label: "drawbridge.jobs.\($0)", qos: .userInitiated) }
        pthread_mutex_init(&lock, nil)
        pthread_mutex_init(&dummyLock, nil)
    }

    /// Called only from job queues (it may take a scrypt's time the first time).
    func dummyHash() -> String {
        pthread_mutex_lock(&dummyLock); defer { pthread_mutex_unlock(&dummyLock) }
        if let d = dummy { return d }
        let d = (try? PasswordHash.hash(Base64URL.encode(SecureRandom.bytes(16)))) ?? ""
        dummy = d
        return d
    }

    func submit(_ work: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&lock)
        let q = queues[next % queues.count]
        next &+= 1
        pthread_mutex_unlock(&lock)
        q.async(execute: work)
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
