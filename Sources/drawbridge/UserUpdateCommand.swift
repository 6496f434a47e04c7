import DrawbridgeIdentity
import DrawbridgeStore
import Foundation

/// drawbridge user update|remove: the changes that used to need an edit of users.json.
extension UserCommand {
    /// Changes one membership (the only one, or the one `--org` names): moves it to another org,
    /// replaces its roles or groups; and/or the account's expiry. Roles and groups are read from
    /// the user at each request, so a reload applies them to open sessions; a move to another org
    /// ends the user's sessions (they were opened for the old org).
    static func update(_ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let roles = args.all("--role"), groups = args.all("--group")
        let moveTo = args.single("--move-to"), org = args.single("--org")
        if args.has("--no-roles") && !roles.isEmpty { usageError(args.command, "--no-roles and --role exclude each other", usage: usage) }
        if args.has("--no-groups") && !groups.isEmpty { usageError(args.command, "--no-groups and --group exclude each other", usage: usage) }
        // nil: unchanged; .some(nil): never expires.
        var expires: UInt64??
        if let text = args.single("--expires") {
            if text == "never" {
                expires = .some(nil)
            } else if let t = parseExpiry(text) {
                expires = t
            } else {
                usageError(args.command, "invalid --expires '\(text)' (YYYY-MM-DD, meaning 00:00 UTC that day, unix seconds, or never)", usage: usage)
            }
        }
        let newRoles: [String]? = args.has("--no-roles") ? [] : (roles.isEmpty ? nil : roles)
        let newGroups: [String]? = args.has("--no-groups") ? [] : (groups.isEmpty ? nil : groups)
        guard moveTo != nil || newRoles != nil || newGroups != nil || expires != nil else {
            usageError(args.command, "nothing to change (give --move-to, --role, --no-roles, --group, --no-groups or --expires)", usage: usage)
        }
        let ctx = CLIContext(args)
        if let moveTo { ctx.requireOrganization(moveTo, option: "--move-to") }
        ctx.requireRoles(roles)
        ctx.requireGroups(groups)
        let changes = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> [String] in
                let i = try userIndex(users, email: email)
                var changes: [String] = []
                if let expires {
                    users[i].expiresAt = expires
                    changes.append(expires.map { "expires \(formatDate($0))" } ?? "never expires")
                }
                guard moveTo != nil || newRoles != nil || newGroups != nil else { return changes }
                let orgs = users[i].memberships.map(\.orgId)
                let m: Int
                if let org {
                    guard let found = orgs.firstIndex(of: org) else {
                        throw CLIFailure("\(email) is not a member of '\(org)' (member of: \(orgs.isEmpty ? "none" : orgs.joined(separator: ", ")))")
                    }
                    m = found
                } else {
                    guard orgs.count == 1 else {
                        throw CLIFailure("\(email) is a member of \(orgs.isEmpty ? "no organisation" : orgs.joined(separator: ", ")): name the membership to change with --org ORG")
                    }
                    m = 0
                }
                if let moveTo, moveTo != users[i].memberships[m].orgId {
                    guard !orgs.contains(moveTo) else { throw CLIFailure("\(email) is already a member of '\(moveTo)'") }
                    changes.append("moved from \(users[i].memberships[m].orgId) to \(moveTo)")
                    users[i].memberships[m].orgId = moveTo
                    users[i].sessionEpoch += 1   // sessions were opened for the old org: they end
                }
                if let newRoles { users[i].memberships[m].roles = newRoles; changes.append("roles: \(newRoles.isEmpty ? "none" : newRoles.joined(separator: ","))") }
                if let newGroups { users[i].memberships[m].groups = newGroups; changes.append("groups: \(newGroups.isEmpty ? "none" : newGroups.joined(separator: ","))") }
                return changes
            }
        }
        print("updated \(email): " + (changes.isEmpty ? "no change" : changes.joined(separator: "; ")))
        ctx.applied()
    }

    /// Deletes the account with its password, TOTP seed and OIDC links; its sessions end at the
    /// next reload (a session names a user id that no longer exists).
    static func remove(_ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let ctx = CLIContext(args)
        let id = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> String in
                let i = try userIndex(users, email: email)
                return users.remove(at: i).id
            }
        }
        print("removed user \(email) (\(id)); their sessions end when the gateway reloads")
        ctx.applied()
    }
}
