/// Why authentic session claims no longer stand against the current directory (audit log only).
public enum SessionInvalidation: Error, Hashable, Sendable {
    case revoked
    case unknownUser
    case userDisabled
    case userExpired
    /// The user's session epoch was bumped ("log out everywhere", password change).
    case epochMismatch
    case unknownOrganization
    case notAMember
    /// The session's mode is no longer enabled globally or for the org.
    case modeNotUsable(AuthMode)
    /// The org now requires a second factor the session did not present.
    case mfaRequired
    case absoluteTimeout
    case idleTimeout
}

/// What one directory snapshot says about the user and organisation a session names: every
/// input of the per-request rules that does not change until the next reload, as plain values.
/// `SessionValidator.check` applies the rules to it; a worker may keep it next to an opened
/// token for as long as the snapshot it was resolved from serves (never across a reload).
public struct SessionStanding: Sendable {
    @usableFromInline enum Lookup: UInt8, Sendable { case found, unknownUser, unknownOrganization, notAMember }
    // @usableFromInline: `check` is inlined into the request path (no copy of the claims per call).
    @usableFromInline let lookup: Lookup
    @usableFromInline let userActive: Bool
    @usableFromInline let userExpiresAt: UInt64?
    @usableFromInline let userEpoch: UInt64
    @usableFromInline let modeUsable: Bool
    @usableFromInline let mfaRequired: Bool
    public let timeouts: SessionTimeouts
}

/// The plain values of `SessionClaims` that the per-request rules read: no strings, so a copy
/// costs nothing (a worker keeps it next to a cached session).
public struct SessionTimes: Sendable {
    public let issuedAt: UInt64
    public let expiresAt: UInt64
    public let lastSeen: UInt64
    public let epoch: UInt64
    public let mfa: Bool

    @inlinable
    public init(_ c: SessionClaims) {
        issuedAt = c.issuedAt
        expiresAt = c.expiresAt
        lastSeen = c.lastSeen
        epoch = c.epoch
        mfa = c.mfa
    }
}

/// `SessionValidator.check`'s answer on plain values: `.stands` or which rule refused.
public enum SessionCheck: UInt8, Sendable {
    case stands, unknownUser, userDisabled, userExpired, epochMismatch, unknownOrganization, notAMember
    case modeNotUsable, mfaRequired, absoluteTimeout, idleTimeout

    /// nil for `.stands`; `mode` is the session's mode, named by `.modeNotUsable`.
    @inlinable
    public func invalidation(mode: AuthMode) -> SessionInvalidation? {
        switch self {
        case .stands: return nil
        case .unknownUser: return .unknownUser
        case .userDisabled: return .userDisabled
        case .userExpired: return .userExpired
        case .epochMismatch: return .epochMismatch
        case .unknownOrganization: return .unknownOrganization
        case .notAMember: return .notAMember
        case .modeNotUsable: return .modeNotUsable(mode)
        case .mfaRequired: return .mfaRequired
        case .absoluteTimeout: return .absoluteTimeout
        case .idleTimeout: return .idleTimeout
        }
    }
}

/// Re-checks opened session claims against the current config snapshot on every request, so
/// that config changes (user disabled, mode switched off, membership removed) take effect on
/// the next request instead of when the cookie expires.
public enum SessionValidator {
    public static func validate(_ claims: SessionClaims, directory: Directory, global: GlobalAuthSettings,
                                isRevoked: (SessionID) -> Bool, now: UInt64) -> Result<Identity, SessionInvalidation> {
        // Single logout: checked first so the audit log names the most specific reason.
        if isRevoked(claims.sessionId) { return .failure(.revoked) }
        let standing = resolve(claims, directory: directory, global: global)
        if let why = check(claims, standing, now: now) { return .failure(why) }
        // check passed: user, org and membership exist.
        let user = directory.user(id: claims.userId)!, org = directory.organization(id: claims.orgId)!
        return .success(identity(claims, user: user, org: org, timeouts: standing.timeouts))
    }

    /// The directory's side of the rules for `claims` (lookups, the mode rule, the org's MFA and
    /// timeouts): a pure function of the claims and the snapshot.
    public static func resolve(_ claims: SessionClaims, directory: Directory, global: GlobalAuthSettings) -> SessionStanding {
        let none = SessionTimeouts(idleSeconds: 0, absoluteSeconds: 0)
        guard let user = directory.user(id: claims.userId) else {
            return SessionStanding(lookup: .unknownUser, userActive: false, userExpiresAt: nil, userEpoch: 0,
                                   modeUsable: false, mfaRequired: true, timeouts: none)
        }
        var lookup = SessionStanding.Lookup.found
        var modeUsable = false, mfaRequired = true, timeouts = none
        if let org = directory.organization(id: claims.orgId) {
            if user.membership(in: org.id) != nil {
                // The same rule as at sign-in: a mode toggled off at reload ends its sessions.
                modeUsable = AuthModeResolver.isUsable(claims.authMode, for: user, in: org, global: global)
                mfaRequired = org.mfaRequired
                timeouts = SessionTimeouts(org: org, global: global)
            } else {
                lookup = .notAMember
            }
        } else {
            lookup = .unknownOrganization
        }
        return SessionStanding(lookup: lookup, userActive: user.status == .active, userExpiresAt: user.expiresAt,
                               userEpoch: user.sessionEpoch, modeUsable: modeUsable, mfaRequired: mfaRequired,
                               timeouts: timeouts)
    }

    /// Every per-request rule except revocation, in `validate`'s order; nil: the session stands.
    /// Cheap (no lookups, no allocation), so it runs on every request, also for cached sessions.
    @inlinable
    public static func check(_ claims: SessionClaims, _ s: SessionStanding, now: UInt64) -> SessionInvalidation? {
        check(SessionTimes(claims), s, now: now).invalidation(mode: claims.authMode)
    }

    /// The same rules on the claims' plain values, answered as a code without payload (nothing
    /// is copied or allocated unless the caller turns a refusal into a `SessionInvalidation`).
    @inlinable
    public static func check(_ t: SessionTimes, _ s: SessionStanding, now: UInt64) -> SessionCheck {
        if s.lookup == .unknownUser { return .unknownUser }
        guard s.userActive else { return .userDisabled }
        if let end = s.userExpiresAt, now >= end { return .userExpired }
        // Epochs are not secret (the token is already authenticated): a plain compare is fine.
        guard t.epoch == s.userEpoch else { return .epochMismatch }
        if s.lookup == .unknownOrganization { return .unknownOrganization }
        if s.lookup == .notAMember { return .notAMember }
        guard s.modeUsable else { return .modeNotUsable }
        // MFA switched on for the org applies to sessions that already exist, too.
        if s.mfaRequired && !t.mfa { return .mfaRequired }
        // The org's current absolute limit wins if it was shortened after issue; the token's own
        // expiresAt (checked at open) wins if it was lengthened.
        let sinceIssue = now >= t.issuedAt ? now - t.issuedAt : 0   // clock stepped back: no underflow trap
        guard now < t.expiresAt, sinceIssue < s.timeouts.absoluteSeconds else { return .absoluteTimeout }
        guard idleElapsed(lastSeen: t.lastSeen, now: now) < s.timeouts.idleSeconds else { return .idleTimeout }
        return .stands
    }

    /// The identity a valid session stands for (roles and groups from the current membership).
    public static func identity(_ claims: SessionClaims, user: User, org: Organization, timeouts: SessionTimeouts) -> Identity {
        let membership = user.membership(in: org.id)
        return Identity(userId: user.id, email: user.email, orgId: org.id, roles: membership?.roles ?? [],
                        groups: membership?.groups ?? [], authMode: claims.authMode, mfa: claims.mfa,
                        sessionId: claims.sessionId, timeouts: timeouts)
    }

    public static func validate(_ claims: SessionClaims, directory: Directory, global: GlobalAuthSettings,
                                revokedSessionIds: Set<SessionID>, now: UInt64) -> Result<Identity, SessionInvalidation> {
        validate(claims, directory: directory, global: global, isRevoked: { revokedSessionIds.contains($0) }, now: now)
    }

    /// Sliding renewal: re-seal with `claims.renewed(now:)` once more than half the idle window
    /// has passed (not on every request: that would set a cookie on every response).
    @inlinable
    public static func needsRenewal(_ claims: SessionClaims, idleTimeoutSeconds: UInt64, now: UInt64) -> Bool {
        needsRenewal(SessionTimes(claims), idleTimeoutSeconds: idleTimeoutSeconds, now: now)
    }

    @inlinable
    public static func needsRenewal(_ t: SessionTimes, idleTimeoutSeconds: UInt64, now: UInt64) -> Bool {
        idleElapsed(lastSeen: t.lastSeen, now: now) > idleTimeoutSeconds / 2
    }

    /// Seconds since the idle base; a clock that stepped backwards counts as no time elapsed.
    @inlinable
    static func idleElapsed(lastSeen: UInt64, now: UInt64) -> UInt64 {
        now >= lastSeen ? now - lastSeen : 0
    }
}
