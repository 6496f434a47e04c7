/// Validation of the `roles` and `groups` sections and of a route's `access` rule.
extension Validator {
    // MARK: - roles

    /// `roles: { viewer: { permissions: ["reports:read"] }, ... }`, sorted by name.
    func rolesSection(_ top: ObjectReader) -> [RoleConfig] {
        guard let value = top.value("roles") else { return [] }
        guard case .object(let members) = value else {
            issues.add("roles", "expected an object mapping role names to roles, got \(value.kindDescription)")
            return []
        }
        var result: [RoleConfig] = []
        for name in members.keys.sorted() {
            let path = join("roles", name)
            if !PermissionSyntax.isRoleName(name) {
                issues.add(path, "invalid role name \"\(name)\" (allowed: A-Z a-z 0-9 _ - . :, 1 to 64 characters)")
            }
            guard let role = ObjectReader(members[name]!, path: path, known: ["permissions"], issues: issues) else { continue }
            var permissions: [String] = []
            if let list = role.stringList("permissions") {
                for (p, text) in list {
                    if !PermissionSyntax.isPattern(text) {
                        issues.add(p, "bad permission \"\(text)\": \(Self.permissionSyntaxHelp) or a pattern \"x:*\" or \"*\"")
                    } else if permissions.contains(text) {
                        issues.add(p, "\"\(text)\" is listed twice")
                    } else {
                        permissions.append(text)
                    }
                }
            } else if role.value("permissions") == nil {
                issues.add(role.fieldPath("permissions"), "missing required key (an array like [\"reports:read\"])")
            }
            result.append(RoleConfig(name: name, permissions: permissions))
        }
        return result
    }

    static let permissionSyntaxHelp = "expected segments of A-Z a-z 0-9 _ - . joined by \":\" (like \"reports:read\")"

    // MARK: - groups

    /// `groups: { eng: { roles: ["editor"] } }`, sorted by name; every role must be defined.
    func groupsSection(_ top: ObjectReader, roles: [RoleConfig]) -> [GroupConfig] {
        guard let value = top.value("groups") else { return [] }
        guard case .object(let members) = value else {
            issues.add("groups", "expected an object mapping group names to groups, got \(value.kindDescription)")
            return []
        }
        let defined = Set(roles.map(\.name))
        let definedText = defined.isEmpty ? "none" : defined.sorted().joined(separator: ", ")
        var result: [GroupConfig] = []
        for name in members.keys.sorted() {
            let path = join("groups", name)
            if !PermissionSyntax.isRoleName(name) {
                issues.add(path, "invalid group name \"\(name)\" (allowed: A-Z a-z 0-9 _ - . :, 1 to 64 characters)")
            }
            guard let group = ObjectReader(members[name]!, path: path, known: ["roles"], issues: issues) else { continue }
            var granted: [String] = []
            if let list = group.stringList("roles") {
                for (p, role) in list {
                    if !defined.contains(role) {
                        issues.add(p, "unknown role \"\(role)\" (defined: \(definedText))")
                    } else if granted.contains(role) {
                        issues.add(p, "\"\(role)\" is listed twice")
                    } else {
                        granted.append(role)
                    }
                }
            } else if group.value("roles") == nil {
                issues.add(group.fieldPath("roles"), "missing required key (an array like [\"viewer\"])")
            }
            result.append(GroupConfig(name: name, roles: granted))
        }
        return result
    }

    // MARK: - access

    static let accessKeys = ["credentials", "methods", "mfa", "bind", "ownerOverride", "sensitive", "audience", "sharedAudience",
                             "methodOverride"]

    /// A route's `access` rule; nil (after reporting) when anything in it is wrong.
    func accessRule(_ value: JSONValue, path: String, prefix: String, upstream: String) -> AccessRule? {
        guard let access = ObjectReader(value, path: path, known: Self.accessKeys, issues: issues) else { return nil }
        let before = issues.issues.count

        var credentials: [CredentialKind] = [.session, .apiKey]
        if let list = access.stringList("credentials") {
            credentials = []
            for (p, text) in list {
                guard let kind = CredentialKind(rawValue: text) else {
                    issues.add(p, "unknown credential \"\(text)\" (allowed: \"session\", \"api_key\")")
                    continue
                }
                if credentials.contains(kind) { issues.add(p, "\"\(text)\" is listed twice") } else { credentials.append(kind) }
            }
            if list.isEmpty { issues.add(access.fieldPath("credentials"), "must accept at least one credential") }
        }

        var methods: [String: String] = [:]
        if let m = access.required("methods") {
            if case .object(let members) = m {
                if members.isEmpty {
                    issues.add(access.fieldPath("methods"), "must list at least one method (or \"*\")")
                }
                for method in members.keys.sorted() {
                    let p = join(access.fieldPath("methods"), method)
                    if let problem = Self.methodProblem(method) { issues.add(p, problem); continue }
                    guard case .string(let permission) = members[method]! else {
                        issues.add(p, "expected a permission string, got \(members[method]!.kindDescription)")
                        continue
                    }
                    if let problem = Self.requiredPermissionProblem(permission) { issues.add(p, problem); continue }
                    methods[method] = permission
                }
            } else {
                issues.add(access.fieldPath("methods"),
                           "expected an object mapping methods to permissions (like { GET: \"reports:read\" }), got \(m.kindDescription)")
            }
        }

        var bind: BindTemplate?
        if let text = access.string("bind") {
            do {
                let template = try BindTemplate(parsing: text)
                if let conflict = Self.prefixConflict(template, prefix: prefix) {
                    issues.add(access.fieldPath("bind"), conflict)
                } else {
                    bind = template
                }
            } catch {
                issues.add(access.fieldPath("bind"), error.description)
            }
        }

        let ownerOverride = access.string("ownerOverride")
        if let permission = ownerOverride {
            if let problem = Self.requiredPermissionProblem(permission) {
                issues.add(access.fieldPath("ownerOverride"), problem)
            } else if bind?.bindsUser == false || access.value("bind") == nil {   // (a bad bind is reported already)
                issues.add(access.fieldPath("ownerOverride"), "only meaningful with a {user} or {owner} segment in bind")
            } else if bind?.bindsOrg == false {
                // A user may belong to several orgs: the path must say whose object it is, and the decision checks that org.
                issues.add(access.fieldPath("ownerOverride"),
                           "needs {org} in bind as well (like \"/orgs/{org}/users/{user}/\"): without it nothing establishes which organisation's object the path names")
            }
        }

        var audience = upstream
        if let text = access.string("audience") {
            if text.isEmpty || text.utf8.count > 256
                || !text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                issues.add(access.fieldPath("audience"), "must be 1 to 256 visible ASCII characters without quotes or backslashes")
            } else {
                audience = text
            }
        }
        let sharedAudience = access.bool("sharedAudience", default: false)
        var methodOverride = MethodOverridePolicy.pass
        if let text = access.string("methodOverride") {
            if let policy = MethodOverridePolicy(rawValue: text) {
                methodOverride = policy
            } else {
                issues.add(access.fieldPath("methodOverride"), "unknown value \"\(text)\" (allowed: \"refuse\", \"pass\")")
            }
        }
        let mfa = access.bool("mfa", default: false)
        let sensitive = access.bool("sensitive", default: false)
        guard issues.issues.count == before else { return nil }
        return AccessRule(credentials: credentials, methods: methods, mfa: mfa, bind: bind, ownerOverride: ownerOverride,
                          sensitive: sensitive, audience: audience, sharedAudience: sharedAudience, methodOverride: methodOverride)
    }

    /// An HTTP method as on the wire (a token, upper case by convention and here by rule), or `*`.
    static func methodProblem(_ method: String) -> String? {
        if method == "*" { return nil }
        let tchar: (UInt8) -> Bool = { b in
            (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
        if method.isEmpty || method.utf8.count > 32 { return "bad method name \"\(method)\"" }
        if method.utf8.contains(where: { $0 >= 0x61 && $0 <= 0x7A }) {
            return "methods are case-sensitive: write \"\(method.uppercased())\""
        }
        if !method.utf8.allSatisfy(tchar) { return "bad method name \"\(method)\" (expected an HTTP method like GET, or \"*\")" }
        if ["TRACE", "TRACK", "CONNECT"].contains(method) {
            return "the gateway refuses \(method) on every route (it never reaches a rule)"
        }
        return nil
    }

    /// What a route requires must be one concrete permission: wildcards belong in roles.
    static func requiredPermissionProblem(_ permission: String) -> String? {
        if PermissionSyntax.isPermission(permission) { return nil }
        if PermissionSyntax.isPattern(permission) {
            return "a route requires one concrete permission, got the pattern \"\(permission)\" (patterns belong in roles)"
        }
        return "bad permission \"\(permission)\": \(permissionSyntaxHelp)"
    }

    /// The route only sees paths under `prefix` (matched on segment boundaries): a literal template
    /// segment that differs from the prefix's segment at the same place can never match.
    static func prefixConflict(_ template: BindTemplate, prefix: String) -> String? {
        let prefixSegments = prefix.split(separator: "/", omittingEmptySubsequences: true)
        for (index, segment) in template.segments.enumerated() where index < prefixSegments.count {
            if case .literal(let literal) = segment, literal != prefixSegments[index] {
                return "can never match a path under pathPrefix \"\(prefix)\" (segment \(index + 1) is \"\(literal)\" here, \"\(prefixSegments[index])\" there)"
            }
        }
        return nil
    }
}
