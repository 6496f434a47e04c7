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
    enum Lookup: UInt8 { case found, unknownUser, unknownOrganization, notAMember }
    let lookup: Lookup
    let userActive: Bool
    let userExpiresAt: UInt64?
    let userEpoch: UInt64
    let modeUsable: Bool
    let mfaRequired: Bool
    public let timeouts: SessionTimeouts
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
    public static func check(_ claims: SessionClaims, _ s: SessionStanding, now: UInt64) -> SessionInvalidation? {
        if s.lookup == .unknownUser { return .unknownUser }
        guard s.userActive else { return .userDisabled }
        if let end = s.userExpiresAt, now >= end { return .userExpired }
        // Epochs are not secret (the token is already authenticated): a plain compare is fine.
        guard claims.epoch == s.userEpoch else { return .epochMismatch }
        if s.lookup == .unknownOrganization { return .unknownOrganization }
        if s.lookup == .notAMember { return .notAMember }
        guard s.modeUsable else { return .modeNotUsable(claims.authMode) }
        // MFA switched on for the org applies to sessions that already exist, too.
        if s.mfaRequired && !claims.mfa { return .mfaRequired }
        // The org's current absolute limit wins if it was shortened after issue; the token's own
        // expiresAt (checked at open) wins if it was lengthened.
        let sinceIssue = now >= claims.issuedAt ? now - claims.issuedAt : 0   // clock stepped back: no underflow trap
        guard now < claims.expiresAt, sinceIssue < s.timeouts.absoluteSeconds else { return .absoluteTimeout }
        guard idleElapsed(claims, now: now) < s.timeouts.idleSeconds else { return .idleTimeout }
        return nil
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
    public static func needsRenewal(_ claims: SessionClaims, idleTimeoutSeconds: UInt64, now: UInt64) -> Bool {
        idleElapsed(claims, now: now) > idleTimeoutSeconds / 2
    }

    /// Seconds since the idle base; a clock that stepped backwards counts as no time elapsed.
    static func idleElapsed(_ claims: SessionClaims, now: UInt64) -> UInt64 {
        now >= claims.lastSeen ? now - claims.lastSeen : 0
    }
}
