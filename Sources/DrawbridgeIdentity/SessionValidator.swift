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

/// Re-checks opened session claims against the current config snapshot on every request, so
/// that config changes (user disabled, mode switched off, membership removed) take effect on
/// the next request instead of when the cookie expires.
public enum SessionValidator {
    public static func validate(_ claims: SessionClaims, directory: Directory, global: GlobalAuthSettings,
                                isRevoked: (SessionID) -> Bool, now: UInt64) -> Result<Identity, SessionInvalidation> {
        // Single logout: checked first so the audit log names the most specific reason.
        if isRevoked(claims.sessionId) { return .failure(.revoked) }
        guard let user = directory.user(id: claims.userId) else { return .failure(.unknownUser) }
        guard user.status == .active else { return .failure(.userDisabled) }
        if let end = user.expiresAt, now >= end { return .failure(.userExpired) }
        // Epochs are not secret (the token is already authenticated): a plain compare is fine.
        guard claims.epoch == user.sessionEpoch else { return .failure(.epochMismatch) }
        guard let org = directory.organization(id: claims.orgId) else { return .failure(.unknownOrganization) }
        guard let membership = user.membership(in: org.id) else { return .failure(.notAMember) }
        // The same rule as at sign-in: a mode toggled off at reload ends its sessions here.
        guard AuthModeResolver.isUsable(claims.authMode, for: user, in: org, global: global) else {
            return .failure(.modeNotUsable(claims.authMode))
        }
        // MFA switched on for the org applies to sessions that already exist, too.
        if org.mfaRequired && !claims.mfa { return .failure(.mfaRequired) }
        let timeouts = SessionTimeouts(org: org, global: global)
        // The org's current absolute limit wins if it was shortened after issue; the token's own
        // expiresAt (checked at open) wins if it was lengthened.
        let sinceIssue = now >= claims.issuedAt ? now - claims.issuedAt : 0   // clock stepped back: no underflow trap
        guard now < claims.expiresAt, sinceIssue < timeouts.absoluteSeconds else {
            return .failure(.absoluteTimeout)
        }
        guard idleElapsed(claims, now: now) < timeouts.idleSeconds else { return .failure(.idleTimeout) }
        return .success(Identity(userId: user.id, email: user.email, orgId: org.id, roles: membership.roles,
                                 groups: membership.groups, authMode: claims.authMode, mfa: claims.mfa,
                                 sessionId: claims.sessionId, timeouts: timeouts))
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
