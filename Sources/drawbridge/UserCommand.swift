import DrawbridgeCrypto
import DrawbridgeIdentity
import DrawbridgeStore
import Foundation

/// drawbridge user add|update|remove|disable|enable|set-password|logout-all|link|unlink|list
enum UserCommand {
    static let usage = """
        drawbridge user add EMAIL --org ORG [--role R]... [--group G]... [--expires YYYY-MM-DD|UNIX] [--password-stdin]
               drawbridge user update EMAIL [--org ORG] [--move-to ORG] [--role R]... [--no-roles] [--group G]... [--no-groups]
                                            [--expires YYYY-MM-DD|UNIX|never]
               drawbridge user remove EMAIL
               drawbridge user disable|enable|set-password|logout-all EMAIL
               drawbridge user link EMAIL --issuer URL --subject SUB
               drawbridge user unlink EMAIL [--issuer URL]
               drawbridge user list
        """

    static let subcommands = ["add", "update", "remove", "disable", "enable", "set-password", "logout-all", "link", "unlink", "list"]

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "user", usage: usage, known: subcommands)
        let command = "user \(sub)"
        switch sub {
        case "add":
            add(Arguments(Array(argv.dropFirst()), command: command, usage: usage, options: ["--org", "--role", "--group", "--expires"],
                          flags: ["--password-stdin"]))
        case "update":
            update(Arguments(Array(argv.dropFirst()), command: command, usage: usage, options: ["--org", "--move-to", "--role", "--group", "--expires"],
                             flags: ["--no-roles", "--no-groups"]))
        case "remove":
            remove(Arguments(Array(argv.dropFirst()), command: command, usage: usage))
        case "disable", "enable", "set-password", "logout-all":
            change(sub, Arguments(Array(argv.dropFirst()), command: command, usage: usage))
        case "link", "unlink":
            link(sub, Arguments(Array(argv.dropFirst()), command: command, usage: usage, options: ["--issuer", "--subject"]))
        case "list":
            list(Arguments(Array(argv.dropFirst()), command: command, usage: usage))
        default:
            usageError("user", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    static func add(_ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        guard StoreNames.isEmail(email) else { usageError(args.command, "invalid email '\(email)'", usage: usage) }
        guard let org = args.single("--org") else { usageError(args.command, "missing --org ORG", usage: usage) }
        let roles = args.all("--role"), groups = args.all("--group")
        var expires: UInt64?
        if let text = args.single("--expires") {
            guard let t = parseExpiry(text) else {
                usageError(args.command, "invalid --expires '\(text)' (YYYY-MM-DD, meaning 00:00 UTC that day, or unix seconds)", usage: usage)
            }
            expires = t
        }
        let ctx = CLIContext(args)
        ctx.requireOrganization(org)
        ctx.requireRoles(roles)
        ctx.requireGroups(groups)
        if roles.isEmpty && groups.isEmpty { stderrLog("drawbridge \(args.command): warning: no --role or --group: \(email) may sign in but is granted nothing") }
        var hash: String?
        if args.has("--password-stdin") { hash = newPasswordHash(args, email: email) }
        let user = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> User in
                guard !users.contains(where: { $0.email == email }) else { throw CLIFailure("a user with email \(email) already exists") }
                var id: String
                repeat { id = StoreNames.newUserId() } while users.contains { $0.id == id }
                let user = User(id: id, email: email, expiresAt: expires,
                                memberships: [Membership(orgId: org, roles: roles, groups: groups)], passwordHash: hash)
                users.append(user)
                return user
            }
        }
        print("added user \(user.email) (\(user.id)) to \(org)" + (hash == nil ? " without a password" : ""))
        ctx.applied()
    }

    static func change(_ sub: String, _ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let ctx = CLIContext(args)
        var hash: String?
        if sub == "set-password" { hash = newPasswordHash(args, email: email) }
        let message = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> String in
                let i = try userIndex(users, email: email)
                switch sub {
                case "disable":
                    users[i].status = .disabled
                    // Bumped here, not on enable: re-enabling must not revive sessions from before the disable.
                    users[i].sessionEpoch += 1
                    return "disabled \(email); existing sessions are ended"
                case "enable":
                    users[i].status = .active
                    return "enabled \(email)"
                case "set-password":
                    users[i].passwordHash = hash
                    users[i].sessionEpoch += 1   // a password change ends every session (it may follow a compromise)
                    return "set the password of \(email); existing sessions are ended"
                default:
                    users[i].sessionEpoch += 1
                    return "ended every session of \(email)"
                }
            }
        }
        print(message)
        ctx.applied()
    }

    /// Links an OIDC account (issuer, subject) to a member ahead of their first sign-in, or
    /// removes links (all, or the one of an issuer): after an unlink the next sign-in through
    /// that provider links again, under the provider-trust rules (see IDENTITY.md).
    static func link(_ sub: String, _ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let issuer = args.single("--issuer"), subject = args.single("--subject")
        if sub == "link" {
            guard let issuer, issuer.hasPrefix("https://"), StoreNames.isVisibleASCII(issuer) else {
                usageError(args.command, "--issuer must be the provider's https issuer URL", usage: usage)
            }
            guard let subject, !subject.isEmpty, subject.utf8.count <= 255, StoreNames.isVisibleASCII(subject) else {
                usageError(args.command, "--subject must be the provider's subject (1 to 255 visible ASCII characters)", usage: usage)
            }
        }
        let ctx = CLIContext(args)
        let message = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> String in
                let i = try userIndex(users, email: email)
                if sub == "unlink" {
                    let before = users[i].oidcLinks.count
                    users[i].oidcLinks.removeAll { issuer == nil || $0.issuer == issuer }
                    users[i].sessionEpoch += 1   // sessions that came through the removed link end too
                    return "removed \(before - users[i].oidcLinks.count) OIDC link(s) of \(email); existing sessions are ended"
                }
                let (issuer, subject) = (issuer!, subject!)
                if let other = users.first(where: { $0.oidcLinks.contains { $0.issuer == issuer && $0.subject == subject } }) {
                    throw CLIFailure("that account is already linked to \(other.email)")
                }
                guard users[i].link(issuer: issuer) == nil else {
                    throw CLIFailure("\(email) is already linked to an account of \(issuer) (unlink it first)")
                }
                users[i].oidcLinks.append(OIDCLink(issuer: issuer, subject: subject, linkedAt: UInt64(Date().timeIntervalSince1970)))
                return "linked \(email) to \(subject) at \(issuer)"
            }
        }
        print(message)
        ctx.applied()
    }

    static func list(_ args: Arguments) {
        _ = args.positionals()
        let ctx = CLIContext(args)
        let users: [User]
        do { users = try IdentityStore.readUsers(ctx.auth) } catch { runtimeError(args.command, error) }
        // Never the hashes or sealed seeds: only whether they are set.
        printTable(["ID", "EMAIL", "STATUS", "EXPIRES", "ORGS/ROLES", "OIDC", "PASSWORD", "TOTP"], users.map { u in
            [u.id, u.email, u.status == .active ? "active" : "disabled", u.expiresAt.map(formatDate) ?? "-",
             u.memberships.map { m in "\(m.orgId):\(m.roles.joined(separator: ","))" + (m.groups.isEmpty ? "" : " [\(m.groups.joined(separator: ","))]") }
                .joined(separator: " "),
             u.oidcLinks.isEmpty ? "-" : u.oidcLinks.map(\.issuer).joined(separator: " "),
             u.passwordHash == nil ? "no" : "yes", u.totpSecretSealed == nil ? "no" : "yes"]
        })
    }

    /// A password from standard input, checked (`PasswordRules`) and hashed.
    static func newPasswordHash(_ args: Arguments, email: String) -> String {
        let password = readSecretLine(args.command, what: "password")
        if let problem = PasswordRules.problem(password, email: email) { runtimeError(args.command, problem) }
        do { return try PasswordHash.hash(password) } catch { runtimeError(args.command, error) }
    }

    /// YYYY-MM-DD (00:00 UTC) or unix seconds.
    static func parseExpiry(_ text: String) -> UInt64? {
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) { return UInt64(text) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        f.isLenient = false
        guard text.utf8.count == 10, let d = f.date(from: text), d.timeIntervalSince1970 >= 0 else { return nil }
        return UInt64(d.timeIntervalSince1970)
    }
}
