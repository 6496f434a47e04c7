import DrawbridgeConfig
import DrawbridgeHTTP
import DrawbridgeIdentity

/// Who presents the request, as the authenticator found it.
public enum Credential: Sendable {
    /// No credential at all (or the caller chose not to look on a public route).
    case none
    /// A valid session for `Identity.orgId` (roles and groups of that membership).
    case session(Identity)
    /// A valid API key: it belongs to an org and carries its own roles (no user, no groups).
    case apiKey(keyId: String, orgId: String, roles: [String])

    /// The key as `APIKey.verify` returns it.
    public static func apiKey(_ key: APIKeyIdentity) -> Credential {
        .apiKey(keyId: key.keyId, orgId: key.orgId, roles: key.roles)
    }

    /// A stored key record (its `revoked` flag is not looked at: the authenticator decides validity).
    public static func apiKey(_ record: APIKeyRecord) -> Credential {
        .apiKey(keyId: record.keyId, orgId: record.orgId, roles: record.roles)
    }
}

/// The outcome of `PolicySnapshot.decide`.
public enum Decision: Sendable, Equatable {
    case allow(Grant)
    case deny(Denial)

    public var isAllowed: Bool {
        if case .allow = self { return true }
        return false
    }
}

/// The outcome of `PolicySnapshot.check`: `Decision` with the grant left as numbers.
public enum Check: Sendable, Equatable {
    case allow(Allowance)
    case deny(Denial)
}

/// An allowed request as `PolicySnapshot.check` found it: indices into the snapshot, no strings
/// (`PolicySnapshot.grant` spells it out as a `Grant`). Valid for the snapshot that made it.
public struct Allowance: Sendable, Equatable {
    let route: Int32
    /// The compiled rule, or a negative value on a public route.
    let rule: Int32
    /// Permission id; -1 on a public route.
    let permission: Int32
    /// See `Grant.viaOwnerOverride`.
    public let viaOwnerOverride: Bool
    /// See `Grant.sensitive`.
    public let sensitive: Bool
}

/// An allowed request: what to tell the upstream and the audit log. All strings are shared with
/// the snapshot or the credential (no copies are made while deciding).
public struct Grant: Sendable, Equatable {
    /// nil only on a public route.
    public var credential: CredentialKind?
    /// The user id (session) or key id (API key); "" on a public route.
    public var subject: String
    /// The organisation the caller acts in; "" on a public route.
    public var orgId: String
    /// The permission the request was allowed with (the method's permission); nil on a public route.
    public var permission: String?
    /// A `{user}`/`{owner}` binding was lifted by the route's `ownerOverride` permission
    /// (the caller acts on someone else's data: worth auditing).
    public var viaOwnerOverride: Bool
    /// Audience of the signed identity assertion (the rule's, default the upstream's name).
    public var audience: String
    /// Allowed requests on this route are audited too.
    public var sensitive: Bool

    public init(credential: CredentialKind?, subject: String, orgId: String, permission: String?,
                viaOwnerOverride: Bool, audience: String, sensitive: Bool) {
        self.credential = credential
        self.subject = subject
        self.orgId = orgId
        self.permission = permission
        self.viaOwnerOverride = viaOwnerOverride
        self.audience = audience
        self.sensitive = sensitive
    }
}

/// A refused request.
public struct Denial: Sendable, Equatable, CustomStringConvertible {
    /// 401: no credential (the caller chooses a login redirect or a 401 JSON body);
    /// 403: authenticated but not allowed; 400 or 501: a method the gateway refuses for everyone
    /// (`refusedMethod`, what the request parser answers for it too).
    public var status: Int
    /// A session without a second factor reached an `mfa: true` route: send it to the TOTP step
    /// rather than answer 403 (only ever set with `reason == .mfaRequired` on a session).
    public var stepUp: Bool
    public var reason: DenyReason

    public init(status: Int, stepUp: Bool = false, reason: DenyReason) {
        self.status = status
        self.stepUp = stepUp
        self.reason = reason
    }

    /// For the audit log.
    public var description: String { reason.description }
}

/// Why a request was denied. `description` is a stable text for the audit log (built only when
/// asked for: deciding itself does not format strings).
public enum DenyReason: Sendable, Equatable, CustomStringConvertible {
    /// The route index is not in the snapshot (fail closed).
    case unknownRoute
    /// A method the gateway refuses on every route (`RequestMethod.refusal`: lower-case letters,
    /// not a token, TRACE, TRACK, CONNECT); status 400 or 501 as the error says.
    case refusedMethod(HTTPError)
    /// 401.
    case noCredential
    /// A protected route without an `access` rule: deny by default.
    case noAccessRule
    case credentialNotAccepted(CredentialKind)
    /// `methodOverride: "refuse"` and the query string carries a `_method` parameter.
    case methodOverrideInQuery
    /// The method is not listed in the rule's `methods` and there is no `"*"`.
    case methodNotAllowed
    case templateMismatch
    /// `{org}` in the path is not the caller's organisation.
    case wrongOrganization
    /// `{group}` in the path is not one of the caller's groups.
    case notGroupMember
    /// `{group}` in the path and an API key (keys belong to no group).
    case apiKeyHasNoGroups
    /// `{user}`/`{owner}` in the path is someone else and the caller lacks the override permission
    /// (an API key always needs the override).
    case notOwner
    /// The override would lift `{user}`/`{owner}`, but that user is not a member of the caller's
    /// organisation (the org the decision is made for).
    case targetOutsideOrganization
    /// The caller's roles do not grant the permission the method needs.
    case missingPermission(String)
    /// `mfa: true` and the credential has no second factor (a session: step-up; an API key: never).
    case mfaRequired

    public var description: String {
        switch self {
        case .unknownRoute: return "unknown route"
        case .refusedMethod(let e): return "method refused: \(e.detail)"
        case .noCredential: return "no credential"
        case .noAccessRule: return "route has no access rule"
        case .credentialNotAccepted(let kind): return "credential \(kind) not accepted on this route"
        case .methodOverrideInQuery: return "_method in the query string is refused on this route"
        case .methodNotAllowed: return "method not allowed by the route's rule"
        case .templateMismatch: return "path does not match the rule's template"
        case .wrongOrganization: return "path names another organisation than the caller's"
        case .notGroupMember: return "caller is not a member of the group in the path"
        case .apiKeyHasNoGroups: return "an api key is not a member of any group"
        case .notOwner: return "path names another user and the caller lacks the owner override"
        case .targetOutsideOrganization: return "path names a user who is not a member of the caller's organisation"
        case .missingPermission(let p): return "missing permission \(p)"
        case .mfaRequired: return "route requires a second factor"
        }
    }
}
