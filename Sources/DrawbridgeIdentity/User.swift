public enum UserStatus: Hashable, Sendable {
    case active
    case disabled
}

/// A user's place in one organisation. Roles apply org-wide; groups carry group-level roles
/// resolved by the authorisation layer.
public struct Membership: Hashable, Sendable {
    public var orgId: String
    public var roles: [String]
    public var groups: [String]

    public init(orgId: String, roles: [String] = [], groups: [String] = []) {
        self.orgId = orgId
        self.roles = roles
        self.groups = groups
    }
}

/// An account at an OpenID Connect provider, linked to a member: the pair (issuer, subject) is
/// what identifies it (OIDC Core §5.7), never the email the provider asserts.
public struct OIDCLink: Hashable, Sendable {
    /// The provider's exact issuer URL.
    public var issuer: String
    /// The ID token's `sub`.
    public var subject: String
    /// Unix seconds when the link was made (display only).
    public var linkedAt: UInt64

    public init(issuer: String, subject: String, linkedAt: UInt64 = 0) {
        self.issuer = issuer
        self.subject = subject
        self.linkedAt = linkedAt
    }
}

public struct User: Hashable, Sendable {
    public var id: String
    /// Stored lowercased: lookups by email are case-insensitive.
    public var email: String
    public var status: UserStatus
    /// Unix seconds after which the account no longer signs in (contractors, trials).
    public var expiresAt: UInt64?
    public var memberships: [Membership]
    /// A `PasswordHash` string; nil when the user cannot use the password mode.
    public var passwordHash: String?
    /// The TOTP secret, AES-GCM sealed at rest; nil when no second factor is enrolled.
    public var totpSecretSealed: [UInt8]?
    /// Bumping it logs the user out everywhere: sessions carry the epoch they were issued under.
    public var sessionEpoch: UInt64
    /// The OIDC accounts that sign in as this user (at most one per issuer).
    public var oidcLinks: [OIDCLink]
    /// The last accepted TOTP time step: a code at or before it is a replay (RFC 6238 §5.2),
    /// also after a restart.
    public var totpLastStep: UInt64?

    public init(id: String, email: String, status: UserStatus = .active, expiresAt: UInt64? = nil,
                memberships: [Membership] = [], passwordHash: String? = nil,
                totpSecretSealed: [UInt8]? = nil, sessionEpoch: UInt64 = 0, oidcLinks: [OIDCLink] = [], totpLastStep: UInt64? = nil) {
        self.id = id
        self.email = email.lowercased()
        self.status = status
        self.expiresAt = expiresAt
        self.memberships = memberships
        self.passwordHash = passwordHash
        self.totpSecretSealed = totpSecretSealed
        self.sessionEpoch = sessionEpoch
        self.oidcLinks = oidcLinks
        self.totpLastStep = totpLastStep
    }

    public func link(issuer: String) -> OIDCLink? { oidcLinks.first { $0.issuer == issuer } }

    public func membership(in orgId: String) -> Membership? {
        memberships.first { $0.orgId == orgId }
    }
}
