import DrawbridgeIdentity

/// One sign-out: a single session, or every session of a user issued up to a time.
public enum Revocation: Sendable, Equatable {
    /// `expiresAt`: the token's own absolute expiry (from its claims), not the timeout in force at
    /// sign-out: an admin who shortens and then restores an org's timeout must not bring the
    /// session back once a shorter entry has been dropped.
    case session(SessionID, expiresAt: UInt64)
    case allOfUser(String, issuedAtOrBefore: UInt64)

    /// The longest a session can live (`auth.session.absoluteTimeoutSeconds` is at most a year):
    /// an "every session of a user" entry is needed that long.
    static let maxSessionSeconds: UInt64 = 31_536_000

    /// After this time no token the entry ends could be valid any more.
    var end: UInt64 {
        switch self {
        case .session(_, let expiresAt): return expiresAt
        case .allOfUser(_, let before): return before &+ Self.maxSessionSeconds
        }
    }
}

/// Why a revocation is not durable. It applies in memory all the same (every worker refuses the
/// session); the user is told to try again, and the store retries in the background.
public struct RevocationNotSaved: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Where sign-outs are kept. The request path never calls it: workers read the published
/// `RevocationSet` without a lock (`PublishedRevocations`). Everything here runs on job threads
/// (sign-out) or the main thread (maintenance).
///
/// `FileRevocationStore` keeps them in `signouts.jsonl`, fsynced. The interface is what a store
/// shared by several gateway instances (Redis: write there, subscribe, publish each incoming
/// revocation locally) would implement, so the hot path stays on local memory either way.
public protocol RevocationStore: AnyObject, Sendable {
    /// What workers read.
    var published: PublishedRevocations { get }
    /// Applies `r` for every worker at once, then makes it durable; returns only once it is.
    /// Throws when it could not be made durable: it applies in memory all the same.
    func revoke(_ r: Revocation) throws(RevocationNotSaved)
    /// Makes durable what applies in memory only (after failures); no-op when nothing is pending.
    func savePending() throws(RevocationNotSaved)
    /// Drops entries no token could need any more (by a clock it does not take on trust alone),
    /// compacts storage, retries pending saves. Returns lines for the gateway's log.
    func maintain(wallNow: UInt64, monotonicNs: UInt64) -> [String]
    /// Revocations applied in memory only, and failed saves since start (counters).
    var pendingCount: Int { get }
    var failedSaves: Int { get }
}
