import Dispatch
import DrawbridgeCrypto
import Glibc

/// Process-wide identity services the workers share: the audit log, login throttling, the job
/// queues for slow work (password hashing, calls to OIDC issuers) and the revocation broadcast.
/// Nothing here is touched by a proxied request on a public route; credential checks only read
/// per-worker state.
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
    private var mailboxes: [SnapshotMailbox] = []
    let oidc = OIDCState()
    /// The persistent sign-out list (nil without an auth section). Set before workers start.
    var signOuts: SignOutLog?

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

    func attach(_ boxes: [SnapshotMailbox]) {
        pthread_mutex_lock(&lock); mailboxes = boxes; pthread_mutex_unlock(&lock)
    }

    func submit(_ work: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&lock)
        let q = queues[next % queues.count]
        next &+= 1
        pthread_mutex_unlock(&lock)
        q.async(execute: work)
    }

    /// Every worker learns about the revocation before its next loop iteration.
    func broadcast(_ r: Revocation) {
        signOuts?.append(r) // on disk first: a restart right after still refuses the session
        pthread_mutex_lock(&lock); let boxes = mailboxes; pthread_mutex_unlock(&lock)
        for b in boxes { b.postRevocation(r) }
    }
}
