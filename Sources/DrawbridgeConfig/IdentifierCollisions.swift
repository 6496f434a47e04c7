/// Identifiers that differ only in letter case. The gateway compares ids byte for byte, but the
/// upstreams that receive them (`X-Drawbridge-Org`, `-Roles`, `-Groups`, the assertion's `org`,
/// `roles`, `groups`, `aud`) may not: a MySQL `_ci` column, a case-insensitive directory or a
/// `strcasecmp` would take `acme` and `Acme` for one tenant and serve one's data to the other.
/// So two ids of one kind that are equal when case-folded are a configuration error.
///
/// Ids that are lower case by syntax need no check: user ids, API key ids, secret names, e-mail
/// addresses, e-mail domains, host and server names.
public enum IdentifierSpelling {
    /// The form two ids are compared in. Ids are ASCII by syntax; `lowercased()` folds the rest too.
    public static func folded(_ id: String) -> String { id.lowercased() }

    /// Every id of `ids` (in order) whose folded form an earlier, differently spelled id already
    /// has, with that earlier spelling. Repeats of the same spelling are not collisions.
    public static func collisions(_ ids: [String]) -> [(id: String, earlier: String)] {
        var first: [String: String] = [:]
        var found: [(id: String, earlier: String)] = []
        for id in ids {
            let key = folded(id)
            if let earlier = first[key] {
                if earlier != id && !found.contains(where: { $0.id == id }) { found.append((id, earlier)) }
            } else {
                first[key] = id
            }
        }
        return found
    }

    /// The configuration error for `id` colliding with `earlier`.
    public static func message(kind: String, _ id: String, _ earlier: String) -> String {
        "\(kind) \"\(id)\" differs from \"\(earlier)\" only in letter case: an upstream that compares ids "
            + "case-insensitively would take them for one (rename one)"
    }
}

extension Validator {
    /// Organisation ids, role and group names, upstream names (the default assertion audiences)
    /// and OIDC provider names (in `X-Drawbridge-Auth-Mode`): one spelling per case-folded id.
    func identifierCollisions(organizations: [OrganizationConfig], roles: [RoleConfig], groups: [GroupConfig],
                              upstreams: [String: UpstreamConfig]?, auth: AuthConfig?) {
        let kinds: [(section: String, kind: String, ids: [String])] = [
            ("organizations", "organisation id", organizations.map(\.id)),
            ("roles", "role", roles.map(\.name)),
            ("groups", "group", groups.map(\.name)),
            ("upstreams", "upstream", (upstreams ?? [:]).keys.sorted()),
            ("auth.oidc", "OIDC provider", (auth?.oidc ?? [:]).keys.sorted()),
        ]
        for k in kinds {
            for (id, earlier) in IdentifierSpelling.collisions(k.ids) {
                issues.add(join(k.section, id), IdentifierSpelling.message(kind: k.kind, id, earlier))
            }
        }
    }
}
