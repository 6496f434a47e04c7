import DrawbridgeConfig
import DrawbridgeStore

extension Snapshot {
    /// Role and group names in the identity files that differ only in letter case from one the
    /// configuration defines, or from another one in the files: the upstream receives them in
    /// `X-Drawbridge-Roles`/`-Groups` and the assertion and may compare them case-insensitively
    /// (`Admin` would read as `admin` there, though it grants nothing here). Refused like the
    /// configuration's own collisions (`IdentifierSpelling`); at most ten are listed.
    static func spellingCollisions(config: GatewayConfig, data: IdentityData) -> [String] {
        guard let auth = config.auth else { return [] }
        var found: [String] = []
        func check(_ kind: String, _ names: [(name: String, place: String)]) {
            var first: [String: (name: String, place: String)] = [:]
            var reported: Set<String> = []
            for (name, place) in names {
                let key = IdentifierSpelling.folded(name)
                guard let earlier = first[key] else { first[key] = (name, place); continue }
                guard earlier.name != name, reported.insert(name).inserted else { continue }
                found.append("\(place): \(IdentifierSpelling.message(kind: kind, name, earlier.name)) (\"\(earlier.name)\": \(earlier.place))")
            }
        }
        var roles = config.roles.map { (name: $0.name, place: "roles.\($0.name) in the configuration") }
        var groups = config.groups.map { (name: $0.name, place: "groups.\($0.name) in the configuration") }
        for u in data.users {
            for m in u.memberships {
                let place = "\(auth.usersFile): user \(u.email) (org \(m.orgId))"
                roles += m.roles.map { ($0, place) }
                groups += m.groups.map { ($0, place) }
            }
        }
        for k in data.apiKeys {
            roles += k.roles.map { ($0, "\(auth.apiKeysFile): api key \(k.keyId)") }
        }
        check("role", roles)
        check("group", groups)
        guard found.count > 10 else { return found }
        return Array(found.prefix(10)) + ["… and \(found.count - 10) more names that differ only in letter case"]
    }
}
