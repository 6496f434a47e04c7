import DrawbridgeIdentity
import DrawbridgeStore
import Foundation

/// drawbridge apikey create|revoke|list
enum APIKeyCommand {
    static let usage = """
        drawbridge apikey create --org ORG [--role R]... [--name TEXT]
               drawbridge apikey revoke ID
               drawbridge apikey list
        """

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "apikey", usage: usage, known: ["create", "revoke", "list"])
        let command = "apikey \(sub)"
        let rest = Array(argv.dropFirst())
        switch sub {
        case "create": create(Arguments(rest, command: command, usage: usage, options: ["--org", "--role", "--name"]))
        case "revoke": revoke(Arguments(rest, command: command, usage: usage))
        case "list": list(Arguments(rest, command: command, usage: usage))
        default: usageError("apikey", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    static func create(_ args: Arguments) {
        _ = args.positionals()
        guard let org = args.single("--org") else { usageError(args.command, "missing --org ORG", usage: usage) }
        let roles = args.all("--role")
        let name = args.single("--name") ?? ""
        guard StoreNames.isDisplayName(name) else {
            usageError(args.command, "--name must be at most 200 bytes without control characters", usage: usage)
        }
        let ctx = CLIContext(args)
        ctx.requireOrganization(org)
        ctx.requireRoles(roles)
        // Allowed (a key can be given roles by no later command, but may be kept for audit), not silent.
        if roles.isEmpty { stderrLog("drawbridge \(args.command): warning: no --role: this key is granted nothing (every protected route will refuse it)") }
        let presented = ctx.update {
            try IdentityStore.updateAPIKeys(ctx.auth) { keys -> String in
                var generated = APIKey.generate(orgId: org, roles: roles, now: now)
                while keys.contains(where: { $0.record.keyId == generated.record.keyId }) {
                    generated = APIKey.generate(orgId: org, roles: roles, now: now)
                }
                // Only the hash is stored: the key cannot be shown again, only revoked and replaced.
                keys.append(APIKeyEntry(record: generated.record, name: name))
                return generated.presented
            }
        }
        // stdout carries the key alone, so `KEY=$(drawbridge apikey create ...)` works.
        print(presented)
        stderrLog("created API key \(APIKey.parse(presented)?.keyId ?? "?") for \(org); it is shown only this once, store it now")
        ctx.applied()
    }

    static func revoke(_ args: Arguments) {
        let id = args.positionals("ID")[0]
        guard StoreNames.isKeyId(id) else { usageError(args.command, "invalid key id '\(id)' (16 lowercase hex characters)", usage: usage) }
        let ctx = CLIContext(args)
        let wasRevoked = ctx.update {
            try IdentityStore.updateAPIKeys(ctx.auth) { keys -> Bool in
                guard let i = keys.firstIndex(where: { $0.record.keyId == id }) else { throw CLIFailure("no API key with id \(id)") }
                defer { keys[i].record.revoked = true }
                return keys[i].record.revoked
            }
        }
        print(wasRevoked ? "API key \(id) was already revoked" : "revoked API key \(id)")
        if !wasRevoked { ctx.applied() }
    }

    static func list(_ args: Arguments) {
        _ = args.positionals()
        let ctx = CLIContext(args)
        let keys: [APIKeyEntry]
        do { keys = try IdentityStore.readAPIKeys(ctx.auth) } catch { runtimeError(args.command, error) }
        printTable(["ID", "ORG", "ROLES", "NAME", "CREATED", "REVOKED"], keys.map { k in
            [k.record.keyId, k.record.orgId, k.record.roles.joined(separator: ","), k.name.isEmpty ? "-" : k.name,
             formatDate(k.record.createdAt), k.record.revoked ? "yes" : "no"]
        })
    }
}
