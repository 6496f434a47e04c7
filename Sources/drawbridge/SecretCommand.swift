import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeStore
import Foundation

/// drawbridge secret set|list|remove|reseal
enum SecretCommand {
    static let usage = """
        drawbridge secret set NAME [--random | --p256]
               drawbridge secret list
               drawbridge secret remove NAME
               drawbridge secret reseal          (once after upgrading: re-seal every value in the current format)
        """

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "secret", usage: usage, known: ["set", "list", "remove", "reseal"])
        let command = "secret \(sub)"
        let rest = Array(argv.dropFirst())
        switch sub {
        case "set": set(Arguments(rest, command: command, usage: usage, flags: ["--random", "--p256"]))
        case "list": list(Arguments(rest, command: command, usage: usage))
        case "remove": remove(Arguments(rest, command: command, usage: usage))
        case "reseal": reseal(Arguments(rest, command: command, usage: usage))
        default: usageError("secret", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    static func checkName(_ name: String, _ args: Arguments) {
        guard StoreNames.isSecretName(name) else {
            usageError(args.command, "invalid secret name '\(name)' (allowed: [a-z0-9][a-z0-9._/-]{0,127}, not starting with \"user/\")", usage: usage)
        }
    }

    static func set(_ args: Arguments) {
        let name = args.positionals("NAME")[0]
        checkName(name, args)
        let isSessionKey = name.hasPrefix(IdentityStore.sessionKeyPrefix)
        if isSessionKey {
            guard let n = Int(name.dropFirst(IdentityStore.sessionKeyPrefix.count)), (1...255).contains(n),
                  name == IdentityStore.sessionKeyPrefix + String(n) else {
                usageError(args.command, "session keys are named session-key-<n>, n in 1...255", usage: usage)
            }
            // Typed text is not 32 uniformly random bytes: session keys come from the CSPRNG only.
            guard args.has("--random") else { usageError(args.command, "session keys must be set with --random", usage: usage) }
        }
        let isAssertionKey = name.hasPrefix(IdentityStore.assertionKeyPrefix)
        if isAssertionKey {
            guard IdentityStore.numberedName(name, prefix: IdentityStore.assertionKeyPrefix) != nil else {
                usageError(args.command, "assertion keys are named assertion-key-<n>, n in 1...255", usage: usage)
            }
            guard args.has("--p256") else { usageError(args.command, "assertion keys must be set with --p256", usage: usage) }
        }
        if args.has("--random") && args.has("--p256") { usageError(args.command, "--random and --p256 exclude each other", usage: usage) }
        let ctx = CLIContext(args)
        let key = ctx.masterKey()
        let value: [UInt8]
        if args.has("--p256") {
            // A fresh P-256 key made here; only its sealed PEM is written.
            guard let k = try? ECPrivateKey.generate() else { runtimeError(args.command, CLIFailure("P-256 key generation failed")) }
            value = Array(k.pem.utf8)
        } else {
            value = args.has("--random") ? SecureRandom.bytes(32) : Array(readSecretLine(args.command, what: "secret value").utf8)
        }
        let existed = ctx.update {
            try IdentityStore.updateSecrets(ctx.auth) { secrets -> Bool in
                let existed = secrets[name] != nil
                secrets[name] = try Sealed.seal(value, name: name, key: key)
                return existed
            }
        }
        print("\(existed ? "replaced" : "set") secret \(name)")
        ctx.applied()
    }

    static func list(_ args: Arguments) {
        _ = args.positionals()
        let ctx = CLIContext(args)
        do {
            for name in try IdentityStore.readSecrets(ctx.auth).keys.sorted() { print(name) }
        } catch { runtimeError(args.command, error) }
    }

    static func remove(_ args: Arguments) {
        let name = args.positionals("NAME")[0]
        checkName(name, args)
        let ctx = CLIContext(args)
        ctx.update {
            try IdentityStore.updateSecrets(ctx.auth) { secrets in
                guard secrets.removeValue(forKey: name) != nil else { throw CLIFailure("no secret named \(name)") }
            }
        }
        print("removed secret \(name)")
        ctx.applied()
    }

    /// Converts values sealed by an earlier release (version 1: no kind in the associated data)
    /// into the current format: TOTP seeds in the users file as kind totp-seed, entries of the
    /// secrets file as kind secret. Each file is rewritten atomically under its lock; values
    /// already current are left as they are, so running it twice changes nothing.
    static func reseal(_ args: Arguments) {
        _ = args.positionals()
        let ctx = CLIContext(args)
        let key = ctx.masterKey()
        let seeds = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> Int in
                var n = 0
                for i in users.indices {
                    guard let sealed = users[i].totpSecretSealed else { continue }
                    let name = Sealed.totpName(userId: users[i].id)
                    guard var seed = try Sealed.openLegacy(sealed, name: name, key: key) else { continue }
                    users[i].totpSecretSealed = try Sealed.seal(seed, kind: .totpSeed, name: name, key: key)
                    for j in seed.indices { seed[j] = 0 }
                    n += 1
                }
                return n
            }
        }
        let secrets = ctx.update {
            try IdentityStore.updateSecrets(ctx.auth) { secrets -> Int in
                var n = 0
                for name in secrets.keys.sorted() {
                    guard var value = try Sealed.openLegacy(secrets[name]!, name: name, key: key) else { continue }
                    secrets[name] = try Sealed.seal(value, kind: .secret, name: name, key: key)
                    for j in value.indices { value[j] = 0 }
                    n += 1
                }
                return n
            }
        }
        print("re-sealed \(seeds) TOTP seed\(seeds == 1 ? "" : "s") and \(secrets) secret\(secrets == 1 ? "" : "s") in the current format")
        if seeds + secrets > 0 { ctx.applied() }
    }
}
