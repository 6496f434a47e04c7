// Role-based access control, as configured: the top-level `roles` and `groups` sections and the
// `access` rule of a protected route. DrawbridgePolicy compiles these into a decision snapshot;
// the rules themselves are described in docs/POLICY.md.

/// A role: a named set of permission patterns (`reports:read`, `reports:*`, `*`).
public struct RoleConfig: Sendable, Equatable {
    public var name: String
    /// Valid patterns (see `PermissionSyntax.isPattern`), in file order.
    public var permissions: [String]

    public init(name: String, permissions: [String]) {
        self.name = name
        self.permissions = permissions
    }
}

/// A group: membership grants its roles (for the members' session org).
public struct GroupConfig: Sendable, Equatable {
    public var name: String
    /// Names of roles defined under `roles`.
    public var roles: [String]

    public init(name: String, roles: [String]) {
        self.name = name
        self.roles = roles
    }
}

/// A kind of credential a route accepts, as written in the configuration.
public enum CredentialKind: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case session
    case apiKey = "api_key"

    public var description: String { rawValue }
}

/// What a route does with a `_method` parameter in the query string (`access.methodOverride`).
public enum MethodOverridePolicy: String, Sendable, Equatable {
    /// Not looked at: the request is decided on its own method (the default).
    case pass
    /// Refused (403): the app behind the route would run the method `_method` names.
    case refuse
}

/// The `access` rule of a protected route.
public struct AccessRule: Sendable, Equatable {
    /// Which credentials may be used; never empty. Default: both.
    public var credentials: [CredentialKind]
    /// Method (upper case, as on the wire) → the concrete permission it needs. The key `"*"` covers
    /// every method not listed; without it an unlisted method is denied.
    public var methods: [String: String]
    /// Step-up: a session without a second factor is sent to the TOTP step; an API key is refused.
    public var mfa: Bool
    /// Template checked against the normalised path, e.g. `/orgs/{org}/groups/{group}/`; nil = none.
    public var bind: BindTemplate?
    /// The permission that lifts a `{user}`/`{owner}` binding (e.g. an admin reading anyone's data).
    public var ownerOverride: String?
    /// Allowed requests are audited too, not only denials.
    public var sensitive: Bool
    /// Audience of the signed identity assertion; the loader defaults it to the upstream's name.
    public var audience: String
    /// The operator accepts that `audience` is also presented to other upstreams (each of them can
    /// then replay the assertion to the others); without it, that is a configuration error.
    public var sharedAudience: Bool
    /// `_method` in the query string: passed (default) or refused.
    public var methodOverride: MethodOverridePolicy

    public init(credentials: [CredentialKind] = [.session, .apiKey], methods: [String: String], mfa: Bool = false,
                bind: BindTemplate? = nil, ownerOverride: String? = nil, sensitive: Bool = false, audience: String,
                sharedAudience: Bool = false, methodOverride: MethodOverridePolicy = .pass) {
        self.credentials = credentials
        self.methods = methods
        self.mfa = mfa
        self.bind = bind
        self.ownerOverride = ownerOverride
        self.sensitive = sensitive
        self.audience = audience
        self.sharedAudience = sharedAudience
        self.methodOverride = methodOverride
    }
}

/// A parsed `bind` template: `/`-separated segments, each a literal or one placeholder.
/// The template is matched against the leading segments of the normalised path (a trailing `/` in
/// the template is insignificant; the path may go on below it).
public struct BindTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        /// Must equal the path segment byte for byte (case-sensitive).
        case literal(String)
        /// `{org}`: the caller's organisation.
        case org
        /// `{group}`: one of the caller's groups.
        case group
        /// `{user}` or `{owner}`: the caller's user id, unless the caller holds the override permission.
        case user
    }

    public var segments: [Segment]
    /// As written in the configuration.
    public var text: String

    public var description: String { text }

    public var bindsUser: Bool { segments.contains(.user) }
    public var bindsOrg: Bool { segments.contains(.org) }

    /// Parses a template; throws the reason (for the configuration error) when it is invalid.
    public init(parsing text: String) throws(BindTemplateError) {
        guard text.hasPrefix("/") else { throw BindTemplateError("must start with \"/\", got \"\(text)\"") }
        var parts = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        if parts.last?.isEmpty == true { parts = parts.dropLast() }
        guard !parts.isEmpty else { throw BindTemplateError("must contain at least one segment (\"/\" binds nothing)") }
        var segments: [Segment] = []
        var seen: Set<String> = []
        for part in parts {
            let s = String(decoding: part, as: UTF8.self)
            if s.isEmpty { throw BindTemplateError("empty segment (\"//\") in \"\(text)\"") }
            if s.hasPrefix("{") && s.hasSuffix("}") {
                let segment: Segment
                switch s {
                case "{org}": segment = .org
                case "{group}": segment = .group
                case "{user}", "{owner}": segment = .user
                default:
                    throw BindTemplateError("unknown placeholder \(s) (allowed: {org}, {group}, {user}, {owner})")
                }
                let key = segment == .user ? "{user} or {owner}" : s
                guard seen.insert(key).inserted else { throw BindTemplateError("\(key) appears more than once") }
                segments.append(segment)
                continue
            }
            if s.contains("{") || s.contains("}") {
                throw BindTemplateError("a placeholder must be a whole segment, got \"\(s)\"")
            }
            for b in part {
                if b <= 0x20 || b == 0x7F { throw BindTemplateError("must not contain spaces or control characters") }
                if b >= 0x80 { throw BindTemplateError("must be ASCII (percent-encode other characters as the normalised path has them)") }
                if b == UInt8(ascii: "?") || b == UInt8(ascii: "#") { throw BindTemplateError("must not contain \"?\" or \"#\"") }
            }
            if s == "." || s == ".." { throw BindTemplateError("must not contain \".\" or \"..\" segments") }
            segments.append(.literal(s))
        }
        self.segments = segments
        self.text = text
    }
}

/// Why a `bind` template did not parse.
public struct BindTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Permission strings. A permission is one or more segments joined by `:`, each segment made of
/// `A-Z a-z 0-9 _ - .` (case-sensitive), at most 128 bytes: `reports:read`, `users:read:any`.
/// A pattern (in a role) is a permission, `*` (everything) or a permission followed by `:*`
/// (every permission that starts with it and a `:`: `reports:*` grants `reports:read` and
/// `reports:read:any`, not `reports` nor `reportsx:read`).
public enum PermissionSyntax {
    public static let maxLength = 128

    /// A concrete permission (what a route requires).
    public static func isPermission(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= maxLength else { return false }
        var segmentLength = 0
        for b in u {
            if b == UInt8(ascii: ":") {
                if segmentLength == 0 { return false }
                segmentLength = 0
            } else if isPermissionByte(b) {
                segmentLength += 1
            } else {
                return false
            }
        }
        return segmentLength > 0
    }

    /// A pattern a role may grant.
    public static func isPattern(_ s: String) -> Bool {
        if s == "*" { return true }
        if s.hasSuffix(":*") { return isPermission(String(s.dropLast(2))) }
        return isPermission(s)
    }

    /// Whether `pattern` (valid) grants the concrete `permission`.
    public static func matches(pattern: String, permission: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(":*") {
            let prefix = pattern.utf8.dropLast(1)   // "reports:"
            return permission.utf8.count > prefix.count && permission.utf8.starts(with: prefix)
        }
        return pattern == permission
    }

    static func isPermissionByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    /// Role and group names: `A-Z a-z 0-9 _ - . :`, 1...64 (as the identity files allow).
    public static func isRoleName(_ s: String) -> Bool {
        let u = s.utf8
        return (1...64).contains(u.count) && u.allSatisfy { isPermissionByte($0) || $0 == UInt8(ascii: ":") }
    }
}
