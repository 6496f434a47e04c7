/// What a session cookie asserts. All times are unix seconds.
public struct SessionClaims: Hashable, Sendable {
    public var userId: String
    public var orgId: String
    public var authMode: AuthMode
    /// The second factor (TOTP) was verified at sign-in.
    public var mfa: Bool
    public var issuedAt: UInt64
    /// Absolute end of the session, fixed at issue; renewal never moves it.
    public var expiresAt: UInt64
    /// Base of the idle window; moved forward by renewal.
    public var lastSeen: UInt64
    /// The user's `sessionEpoch` at issue.
    public var epoch: UInt64
    public var sessionId: SessionID

    public init(userId: String, orgId: String, authMode: AuthMode, mfa: Bool, issuedAt: UInt64,
                expiresAt: UInt64, lastSeen: UInt64, epoch: UInt64, sessionId: SessionID) {
        self.userId = userId
        self.orgId = orgId
        self.authMode = authMode
        self.mfa = mfa
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.lastSeen = lastSeen
        self.epoch = epoch
        self.sessionId = sessionId
    }

    /// Fresh claims after a successful sign-in; the absolute end comes from the org (or global).
    public static func issue(user: User, org: Organization, mode: AuthMode, mfa: Bool,
                             global: GlobalAuthSettings, now: UInt64) -> SessionClaims {
        let timeouts = SessionTimeouts(org: org, global: global)
        return SessionClaims(userId: user.id, orgId: org.id, authMode: mode, mfa: mfa, issuedAt: now,
                             expiresAt: now &+ timeouts.absoluteSeconds, lastSeen: now,
                             epoch: user.sessionEpoch, sessionId: .random())
    }

    /// The same session with its idle window restarted at `now` (sliding renewal).
    public func renewed(now: UInt64) -> SessionClaims {
        var c = self
        // Never move backwards (clock steps) and never past the absolute end.
        c.lastSeen = min(max(lastSeen, now), expiresAt)
        return c
    }
}
