/// How an organisation narrows the globally enabled auth modes. An org can only narrow, never
/// widen: a mode must always be enabled globally too (see `AuthModeResolver`).
///
/// `.only` is the fail-closed choice ("only Google"): a mode added globally later does NOT become
/// usable for that org. `.disable` is the opt-out choice: everything global except the listed
/// modes, so modes added globally later DO become usable. Config should prefer `.only` for
/// orgs that asked for a restriction.
public enum OrgModePolicy: Hashable, Sendable {
    case inheritGlobal
    case disable(Set<AuthMode>)
    case only(Set<AuthMode>)
}

public struct Organization: Hashable, Sendable {
    public var id: String
    public var displayName: String
    /// Lowercased email domains that belong to the org (for login-page routing, not for authz).
    public var emailDomains: [String]
    public var modePolicy: OrgModePolicy
    /// Every session in this org must carry the second factor (`SessionClaims.mfa`).
    public var mfaRequired: Bool
    /// nil: use `GlobalAuthSettings`.
    public var idleTimeoutSeconds: UInt64?
    /// nil: use `GlobalAuthSettings`.
    public var absoluteTimeoutSeconds: UInt64?

    public init(id: String, displayName: String, emailDomains: [String] = [],
                modePolicy: OrgModePolicy = .inheritGlobal, mfaRequired: Bool = false,
                idleTimeoutSeconds: UInt64? = nil, absoluteTimeoutSeconds: UInt64? = nil) {
        self.id = id
        self.displayName = displayName
        self.emailDomains = emailDomains.map { $0.lowercased() }
        self.modePolicy = modePolicy
        self.mfaRequired = mfaRequired
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.absoluteTimeoutSeconds = absoluteTimeoutSeconds
    }
}
