import DrawbridgeIdentity
import DrawbridgePolicy
import Glibc

/// A session that checked out: who it is, and the X-Drawbridge-* fields for the upstream,
/// rendered once. Immutable, so a cached one can be handed to every request that presents the
/// same cookie (and to the login endpoints' job threads).
public final class AuthenticatedSession: Sendable {
    let identity: Identity
    /// `identity` as the policy sees it (made once: not copied per request).
    let credential: Credential
    /// The identity's upstream fields ("X-Drawbridge-User: …\r\n" …), see `IdentityFields`.
    public let upstreamFields: [UInt8]
    /// The token's own absolute expiry: a sign-out is kept until then (not until the timeout in
    /// force at sign-out, which an admin may lengthen again).
    public let expiresAt: UInt64

    init(_ identity: Identity, expiresAt: UInt64) {
        self.identity = identity
        credential = .session(identity)
        self.expiresAt = expiresAt
        upstreamFields = IdentityFields.render(identity)
    }

    public var userId: String { identity.userId }
    public var email: String { identity.email }
    public var orgId: String { identity.orgId }
    public var roles: [String] { identity.roles }
    public var groups: [String] { identity.groups }
    public var authMode: AuthMode { identity.authMode }
    public var mfa: Bool { identity.mfa }
    public var sessionId: SessionID { identity.sessionId }
    var timeouts: SessionTimeouts { identity.timeouts }
}

/// The session cookies one worker has opened, so a cookie presented again skips the decoding
/// work only: Base64URL, AES-GCM, the claims' binary layout, the directory lookups of its user
/// and org, the identity fields. The rules themselves (expiry, idle and absolute timeouts, user
/// status, user expiry, epoch, mode, MFA, mode cut-off, sign-out) are applied to the cached claims
/// on every request by `Authenticator`, exactly as for a freshly opened cookie.
///
/// - Key: the exact cookie bytes, compared in full (in constant time); the slot index only
///   picks where to look. Different bytes never hit, so a renewed cookie is a new entry.
/// - Only cookies that opened and passed every rule are stored, so a client cannot fill the
///   cache with garbage; a bounded table (1024 entries in 4-way sets; a full set replaces its
///   ways in turn).
/// - Tied to one `AuthRuntime` (one configuration snapshot: key ring, directory, cut-offs): a
///   reload, a removed session key or a changed user or org empties it. The cache holds its
///   runtime strongly, so a new runtime can never be mistaken for an old one at the same address.
/// - One per worker thread (no locks); it also owns that worker's `SessionOpener` (reused buffers
///   and AES-GCM context for the cookies that miss).
public final class SessionCache {
    static let capacity = 1024

    public final class Entry {
        let cookie: [UInt8]
        let claims: SessionClaims
        /// The claims' plain values, read on every hit.
        let times: SessionTimes
        /// The directory's side of the rules, resolved in the owning snapshot.
        let standing: SessionStanding
        /// When the session's mode was last switched off for its org (owning snapshot), if ever.
        let cutoff: UInt64?
        /// nil only while a freshly opened cookie is being judged (it is never stored so).
        let session: AuthenticatedSession?

        init(cookie: [UInt8], claims: SessionClaims, standing: SessionStanding, cutoff: UInt64?, session: AuthenticatedSession?) {
            self.cookie = cookie
            self.claims = claims
            times = SessionTimes(claims)
            self.standing = standing
            self.cutoff = cutoff
            self.session = session
        }
    }

    private var slots: [Entry?] = []
    private(set) var owner: AuthRuntime?
    let opener = SessionOpener()

    public init() {}
    /// Counters for tests and diagnostics.
    private(set) var hits = 0, misses = 0

    /// The entry for exactly these cookie bytes opened under `auth`, if any.
    func lookup(_ cookie: UnsafeRawBufferPointer, auth: AuthRuntime) -> Entry? {
        if owner !== auth {
            if owner != nil { clear() } // another snapshot now: nothing opened under the old one counts
            misses &+= 1
            return nil
        }
        guard cookie.count >= 8, !slots.isEmpty else { misses &+= 1; return nil }
        let base = Self.set(cookie) * Self.ways
        for w in 0..<Self.ways {
            if let e = slots[base + w], e.cookie.count == cookie.count, e.cookie.withUnsafeBytes({ Self.equal($0, cookie) }) {
                hits &+= 1
                return e
            }
        }
        misses &+= 1
        return nil
    }

    func insert(_ e: Entry, auth: AuthRuntime) {
        guard e.cookie.count >= 8, e.session != nil else { return }
        if owner !== auth || slots.isEmpty {
            slots = [Entry?](repeating: nil, count: Self.capacity)
            owner = auth
        }
        let slot = placement.slot(base: e.cookie.withUnsafeBytes { Self.set($0) } * Self.ways) { slots[$0] == nil }
        slots[slot] = e
    }

    func clear() {
        slots = []
        owner = nil
    }

    var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Four-way set associative: `capacity / ways` sets (`FourWaySets`).
    static let ways = FourWaySets.ways
    private var placement = FourWaySets()

    /// The set of a cookie: its last 8 bytes are the end of the AES-GCM tag.
    @inline(__always) static func set(_ cookie: UnsafeRawBufferPointer) -> Int { FourWaySets.set(cookie, sets: capacity / ways) }

    /// Equal contents, in time that depends only on the length (the caller checked the lengths
    /// are equal): a cached cookie is a credential, and an early exit would tell how many leading
    /// bytes a guess got right.
    @inline(__always) static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = a.count
        var diff: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            diff |= a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            diff |= UInt64(a[i] ^ b[i])
            i += 1
        }
        return diff == 0
    }
}
