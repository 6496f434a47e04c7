import DrawbridgeConfig
import DrawbridgeHTTP
import DrawbridgeIdentity

/// The access policy compiled for the request path: build once per configuration load (off the
/// event loop), share read-only between workers, call `decide` for every request to a route.
///
/// Compiled form: every concrete permission that some route requires gets a dense id; every role
/// and every group becomes a bit set over those ids (role patterns such as `reports:*` are expanded
/// here, once); each route index maps to a compiled rule (method table, template segments); every
/// user id maps to the organisations the user is a member of (for object-level grants).
/// Deciding is then byte comparisons, one table lookup per role or group name the caller holds
/// and one bit test each: no locks, no Foundation, no String built.
public struct PolicySnapshot: Sendable {
    private struct Span: Sendable {
        var start: Int32
        var count: Int32
    }

    private struct MethodEntry: Sendable {
        var name: Span
        var permission: Int32
    }

    private enum SegmentKind: UInt8, Sendable {
        case literal, org, group, user
    }

    private struct Segment: Sendable {
        var kind: SegmentKind
        var literal: Span
    }

    private struct Rule: Sendable {
        var acceptsSession: Bool
        var acceptsAPIKey: Bool
        var mfa: Bool
        var sensitive: Bool
        var methods: Span
        /// Permission of `"*"`, or -1.
        var anyMethod: Int32
        /// Template segments; count 0 = no template.
        var segments: Span
        /// Permission id of `ownerOverride`, or -1.
        var ownerOverride: Int32
        /// The route's upstream has `caseInsensitivePaths`: the template compares case-folded, as it serves.
        var foldCase: Bool
        /// `methodOverride: "refuse"`: a `_method` parameter in the query string is refused.
        var refusesMethodOverride: Bool
    }

    private static let publicRoute: Int32 = -2
    private static let noRule: Int32 = -1

    /// Per route index: rule index, `noRule` or `publicRoute`.
    private let routeRules: [Int32]
    /// Per route index: the upstream's name (the audience of a public route's grant).
    private let routeUpstreams: [String]
    private let rules: [Rule]
    /// Per rule (apart from `Rule`, which then holds no reference and copies for free).
    private let audiences: [String]
    private let methods: [MethodEntry]
    private let segments: [Segment]
    /// Method names and template literals, back to back.
    private let bytes: [UInt8]
    /// Permission id → its text.
    private let permissionNames: [String]
    /// UInt64 words per bit set.
    private let words: Int
    /// Bit sets: the roles' (by role id), then the groups' (by group id), `words` each.
    private let bits: [UInt64]
    private let roleIds: NameTable
    private let groupIds: NameTable
    /// Who is a member of which organisation (users.json), for object-level grants.
    private let members: MembershipTable

    /// Compiles the policy of a loaded configuration and the memberships of its users.
    public init(config: GatewayConfig, users: [User] = []) {
        self.init(roles: config.roles, groups: config.groups, routes: config.routes, users: users,
                  caseInsensitive: config.routes.map { config.upstreams[$0.upstream]?.caseInsensitivePaths ?? false })
    }

    /// Compiles `roles`, `groups`, the `access` rules of `routes` (indices as in `RouteTable`) and
    /// who is a member of which organisation (`users`, as users.json has them: an object-level
    /// grant reaches only members of the caller's organisation, so without users no override allows).
    /// Input is expected to be validated by `ConfigLoader`; anything odd that slips through (an
    /// unknown role in a group, an invalid pattern) grants nothing rather than trapping.
    /// `caseInsensitive[i]`: route i's upstream treats paths case-insensitively (missing: false).
    public init(roles: [RoleConfig], groups: [GroupConfig], routes: [RouteConfig], users: [User] = [], caseInsensitive: [Bool] = []) {
        var permissionIds: [String: Int32] = [:]
        var permissionNames: [String] = []
        func permission(_ text: String) -> Int32 {
            if let id = permissionIds[text] { return id }
            let id = Int32(permissionNames.count)
            permissionIds[text] = id
            permissionNames.append(text)
            return id
        }
        var bytes: [UInt8] = []
        func store(_ text: String) -> Span {
            let span = Span(start: Int32(bytes.count), count: Int32(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
            return span
        }

        var routeRules: [Int32] = []
        var rules: [Rule] = []
        var audiences: [String] = []
        var methods: [MethodEntry] = []
        var segments: [Segment] = []
        for (routeIndex, route) in routes.enumerated() {
            if route.isPublic { routeRules.append(Self.publicRoute); continue }
            guard let access = route.access else { routeRules.append(Self.noRule); continue }
            let methodStart = methods.count
            var anyMethod: Int32 = -1
            for name in access.methods.keys.sorted() {
                let id = permission(access.methods[name]!)
                if name == "*" { anyMethod = id } else { methods.append(MethodEntry(name: store(name), permission: id)) }
            }
            let segmentStart = segments.count
            for segment in access.bind?.segments ?? [] {
                switch segment {
                case .literal(let text): segments.append(Segment(kind: .literal, literal: store(text)))
                case .org: segments.append(Segment(kind: .org, literal: Span(start: 0, count: 0)))
                case .group: segments.append(Segment(kind: .group, literal: Span(start: 0, count: 0)))
                case .user: segments.append(Segment(kind: .user, literal: Span(start: 0, count: 0)))
                }
            }
            routeRules.append(Int32(rules.count))
            rules.append(Rule(
                acceptsSession: access.credentials.contains(.session), acceptsAPIKey: access.credentials.contains(.apiKey),
                mfa: access.mfa, sensitive: access.sensitive,
                methods: Span(start: Int32(methodStart), count: Int32(methods.count - methodStart)), anyMethod: anyMethod,
                segments: Span(start: Int32(segmentStart), count: Int32(segments.count - segmentStart)),
                ownerOverride: access.ownerOverride.map(permission) ?? -1,
                foldCase: routeIndex < caseInsensitive.count && caseInsensitive[routeIndex],
                refusesMethodOverride: access.methodOverride == .refuse))
            audiences.append(access.audience)
        }

        // Roles and groups as bit sets over the permissions routes require.
        let words = max(1, (permissionNames.count + 63) / 64)
        var bits = [UInt64](repeating: 0, count: (roles.count + groups.count) * words)
        let roleIds = NameTable(roles.map(\.name))
        for (r, role) in roles.enumerated() {
            for pattern in role.permissions where PermissionSyntax.isPattern(pattern) {
                for (p, name) in permissionNames.enumerated() where PermissionSyntax.matches(pattern: pattern, permission: name) {
                    bits[r * words + (p >> 6)] |= 1 << UInt64(p & 63)
                }
            }
        }
        for (g, group) in groups.enumerated() {
            let base = (roles.count + g) * words
            for name in group.roles {
                let r = roleIds.id(of: name)
                guard r >= 0 else { continue }
                for w in 0..<words { bits[base + w] |= bits[r * words + w] }
            }
        }

        self.routeRules = routeRules
        self.routeUpstreams = routes.map(\.upstream)
        self.rules = rules
        self.audiences = audiences
        self.methods = methods
        self.segments = segments
        self.bytes = bytes
        self.permissionNames = permissionNames
        self.words = words
        self.bits = bits
        self.roleIds = roleIds
        self.groupIds = NameTable(groups.map(\.name))
        self.members = MembershipTable(users)
    }

    // MARK: - Deciding

    /// Decides one request. Pure: the same arguments always give the same answer.
    ///
    /// - Parameters:
    ///   - route: the index `RouteTable.match` returned (into `GatewayConfig.routes`).
    ///   - method: the request method as on the wire (`GET`).
    ///   - path: the normalised path (`PathNormalizer`), without the query.
    ///   - query: what follows the path: empty, or `?` and the query as sent (never decoded).
    ///   - credential: what the authenticator found (`.none` when nothing was presented).
    ///   - now: Unix seconds; reserved for time-bound rules (not used yet).
    ///
    /// Checks, in order (the first failing one is the reason): route known → the method is one the
    /// gateway accepts (`RequestMethod`) → public routes allow → a credential (401) → the route has
    /// an access rule → the credential kind is accepted → no `_method` in the query where refused →
    /// the method has a permission → the path matches the template → `{org}`, `{group}`,
    /// `{user}`/`{owner}` (an override only towards members of the caller's org) → the caller holds
    /// the permission → the second factor (`mfa`).
    public func decide(route: Int, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                       query: UnsafeRawBufferPointer, credential: Credential, now: UInt64) -> Decision {
        switch check(route: route, method: method, path: path, query: query, credential: credential, now: now) {
        case .allow(let a): return .allow(grant(a, credential: credential))
        case .deny(let d): return .deny(d)
        }
    }

    /// `decide` without spelling out the grant: the request path reads only whether it is
    /// allowed, audited or via the owner override, so no string of the snapshot or the credential
    /// is copied (`grant` and `permissionName` give them when asked). Same checks, same order.
    public func check(route: Int, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                      query: UnsafeRawBufferPointer, credential: Credential, now: UInt64) -> Check {
        guard route >= 0 && route < routeRules.count else { return Self.forbidden(.unknownRoute) }
        // One spelling per method (the request parser refuses the same; a caller may not have parsed).
        if let refusal = RequestMethod.refusal(method) {
            return .deny(Denial(status: refusal.status, reason: .refusedMethod(refusal)))
        }
        let r = routeRules[route]
        if r == Self.publicRoute {
            return .allow(Allowance(route: Int32(route), rule: Self.publicRoute, permission: -1, viaOwnerOverride: false, sensitive: false))
        }
        switch credential {
        case .none:
            return .deny(Denial(status: 401, reason: .noCredential))
        case .session(let identity):
            return check(route: route, rule: r, method: method, path: path, query: query, kind: .session, subject: identity.userId,
                         orgId: identity.orgId, roles: identity.roles, groups: identity.groups, mfa: identity.mfa)
        case .apiKey(let keyId, let orgId, let roles):
            return check(route: route, rule: r, method: method, path: path, query: query, kind: .apiKey, subject: keyId,
                         orgId: orgId, roles: roles, groups: [], mfa: false)
        }
    }

    /// The grant of an allowance `check` gave for `credential` (the same credential).
    public func grant(_ a: Allowance, credential: Credential) -> Grant {
        guard a.rule >= 0 else {
            return Grant(credential: nil, subject: "", orgId: "", permission: nil, viaOwnerOverride: false,
                         audience: routeUpstreams[Int(a.route)], sensitive: false)
        }
        let kind: CredentialKind, subject: String, orgId: String
        switch credential {
        case .session(let i): kind = .session; subject = i.userId; orgId = i.orgId
        case .apiKey(let keyId, let org, _): kind = .apiKey; subject = keyId; orgId = org
        case .none: kind = .session; subject = ""; orgId = "" // not reached: no credential is never allowed on a rule
        }
        return Grant(credential: kind, subject: subject, orgId: orgId, permission: permissionName(a),
                     viaOwnerOverride: a.viaOwnerOverride, audience: audiences[Int(a.rule)], sensitive: a.sensitive)
    }

    /// The permission an allowance was given with; nil on a public route.
    public func permissionName(_ a: Allowance) -> String? {
        a.permission >= 0 ? permissionNames[Int(a.permission)] : nil
    }

    /// `decide` for Strings; for tests and tools (the request path has bytes). `query` as above
    /// (`"?_method=PUT"`), empty by default.
    public func decide(route: Int, method: String, path: String, query: String = "", credential: Credential,
                       now: UInt64) -> Decision {
        var method = method, path = path, query = query
        return method.withUTF8 { m in
            path.withUTF8 { p in
                query.withUTF8 { q in
                    decide(route: route, method: UnsafeRawBufferPointer(m), path: UnsafeRawBufferPointer(p),
                           query: UnsafeRawBufferPointer(q), credential: credential, now: now)
                }
            }
        }
    }

    private func check(route: Int, rule r: Int32, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                       query: UnsafeRawBufferPointer, kind: CredentialKind, subject: String, orgId: String,
                       roles: [String], groups: [String], mfa: Bool) -> Check {
        guard r >= 0 else { return Self.forbidden(.noAccessRule) }
        let rule = rules[Int(r)]
        guard kind == .session ? rule.acceptsSession : rule.acceptsAPIKey else {
            return Self.forbidden(.credentialNotAccepted(kind))
        }
        // Symfony/Laravel run the method named by `_method`, not the one decided here.
        if rule.refusesMethodOverride && MethodOverrideQuery.contains(query) {
            return Self.forbidden(.methodOverrideInQuery)
        }

        // The method's permission.
        var permission = rule.anyMethod
        var i = Int(rule.methods.start)
        let methodsEnd = i + Int(rule.methods.count)
        while i < methodsEnd {
            if equalsStored(methods[i].name, method, 0, method.count) { permission = methods[i].permission; break }
            i += 1
        }
        guard permission >= 0 else { return Self.forbidden(.methodNotAllowed) }

        // The template: its shape first, then what the placeholders bind to.
        var viaOwnerOverride = false
        if rule.segments.count > 0 {
            var org = -1, orgLength = 0, group = -1, groupLength = 0, user = -1, userLength = 0
            var position = 0
            var s = Int(rule.segments.start)
            let segmentsEnd = s + Int(rule.segments.count)
            while s < segmentsEnd {
                guard position < path.count, path[position] == UInt8(ascii: "/") else { return Self.forbidden(.templateMismatch) }
                let start = position + 1
                var end = start
                while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
                let length = end - start
                let segment = segments[s]
                switch segment.kind {
                case .literal:
                    guard equalsStored(segment.literal, path, start, length, fold: rule.foldCase) else { return Self.forbidden(.templateMismatch) }
                case .org:
                    guard length > 0 else { return Self.forbidden(.templateMismatch) }
                    org = start; orgLength = length
                case .group:
                    guard length > 0 else { return Self.forbidden(.templateMismatch) }
                    group = start; groupLength = length
                case .user:
                    guard length > 0 else { return Self.forbidden(.templateMismatch) }
                    user = start; userLength = length
                }
                position = end
                s += 1
            }
            if org >= 0, !equals(orgId, UnsafeRawBufferPointer(rebasing: path[org ..< org + orgLength]), fold: rule.foldCase) {
                return Self.forbidden(.wrongOrganization)
            }
            if group >= 0 {
                guard kind == .session else { return Self.forbidden(.apiKeyHasNoGroups) }
                let segment = UnsafeRawBufferPointer(rebasing: path[group ..< group + groupLength])
                var member = false
                for name in groups where equals(name, segment, fold: rule.foldCase) { member = true; break }
                guard member else { return Self.forbidden(.notGroupMember) }
            }
            if user >= 0 {
                let target = UnsafeRawBufferPointer(rebasing: path[user ..< user + userLength])
                // The owner: a session is for one of its user's memberships, so the object is in `orgId`.
                let isOwner = kind == .session && equals(subject, target, fold: rule.foldCase)
                if !isOwner {
                    guard rule.ownerOverride >= 0, holds(rule.ownerOverride, roles: roles, groups: groups) else {
                        return Self.forbidden(.notOwner)
                    }
                    // An override reaches members of the caller's org only: never another tenant's user.
                    guard isMember(user: target, of: orgId) else { return Self.forbidden(.targetOutsideOrganization) }
                    viaOwnerOverride = true
                }
            }
        }

        guard holds(permission, roles: roles, groups: groups) else {
            return Self.forbidden(.missingPermission(permissionNames[Int(permission)]))
        }
        if rule.mfa && !mfa {
            return .deny(Denial(status: 403, stepUp: kind == .session, reason: .mfaRequired))
        }
        return .allow(Allowance(route: Int32(route), rule: r, permission: permission, viaOwnerOverride: viaOwnerOverride,
                                sensitive: rule.sensitive))
    }

    @inline(__always)
    private static func forbidden(_ reason: DenyReason) -> Check {
        .deny(Denial(status: 403, reason: reason))
    }

    /// Whether one of `roles`, or a role of one of `groups`, grants permission id `p`.
    @inline(__always)
    private func holds(_ p: Int32, roles: [String], groups: [String]) -> Bool {
        let word = Int(p) >> 6
        let bit: UInt64 = 1 << UInt64(p & 63)
        for name in roles {
            let id = roleIds.id(of: name)
            if id >= 0 && bits[id * words + word] & bit != 0 { return true }
        }
        let groupBase = roleIds.count
        for name in groups {
            let id = groupIds.id(of: name)
            if id >= 0 && bits[(groupBase + id) * words + word] & bit != 0 { return true }
        }
        return false
    }

    /// Whether the user spelled by `user` is a member of organisation `orgId` (users.json, as
    /// compiled): the check an owner override makes before it lifts a `{user}` binding.
    @inline(__always)
    public func isMember(user: UnsafeRawBufferPointer, of orgId: String) -> Bool {
        if let found = orgId.utf8.withContiguousStorageIfAvailable({ members.isMember(user: user, of: UnsafeRawBufferPointer($0)) }) {
            return found
        }
        var copy = orgId   // not native UTF-8 (bridged): never on Linux
        return copy.withUTF8 { members.isMember(user: user, of: UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    private func equalsStored(_ span: Span, _ other: UnsafeRawBufferPointer, _ start: Int, _ length: Int, fold: Bool = false) -> Bool {
        guard Int(span.count) == length else { return false }
        let base = Int(span.start)
        var j = 0
        while j < length {
            if bytes[base + j] != other[start + j] && !(fold && lowerASCII(bytes[base + j]) == lowerASCII(other[start + j])) { return false }
            j += 1
        }
        return true
    }

    // MARK: - Introspection (tools, tests; allocates)

    /// Whether roles and groups (as a session's membership names them) grant `permission`, one of
    /// the permissions some route requires. Permissions no route requires are not compiled: false.
    public func grants(_ permission: String, roles: [String], groups: [String] = []) -> Bool {
        guard let p = permissionNames.firstIndex(of: permission) else { return false }
        return holds(Int32(p), roles: roles, groups: groups)
    }

    /// The permissions some route requires, by id.
    public var requiredPermissions: [String] { permissionNames }

    /// `isMember` for Strings.
    public func isMember(user: String, of orgId: String) -> Bool {
        var user = user
        return user.withUTF8 { isMember(user: UnsafeRawBufferPointer($0), of: orgId) }
    }
}
