import DrawbridgeCrypto
import DrawbridgeIdentity
import DrawbridgeStore
import Foundation

/// drawbridge totp enroll|remove
enum TOTPCommand {
    static let usage = """
        drawbridge totp enroll EMAIL
               drawbridge totp remove EMAIL
        """
    static let seedBytes = 20   // 160 bits, RFC 4226's recommended HMAC-SHA1 key length

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "totp", usage: usage, known: ["enroll", "remove"])
        let args = Arguments(Array(argv.dropFirst()), command: "totp \(sub)", usage: usage)
        switch sub {
        case "enroll": enroll(args)
        case "remove": remove(args)
        default: usageError("totp", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    static func enroll(_ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let ctx = CLIContext(args)
        let key = ctx.masterKey()
        let seed = SecureRandom.bytes(seedBytes)
        let replaced = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> Bool in
                let i = try userIndex(users, email: email)
                let had = users[i].totpSecretSealed != nil
                // Sealed under "user/<id>/totp": the seed cannot be copied onto another user.
                users[i].totpSecretSealed = try Sealed.seal(seed, kind: .totpSeed, name: Sealed.totpName(userId: users[i].id), key: key)
                users[i].totpLastStep = nil   // the replay guard belongs to the seed it guarded
                return had
            }
        }
        let secret = Base32.encode(seed)
        let issuer = ctx.auth.totpIssuer
        let label = encode(issuer, extra: "") + ":" + encode(email, extra: "@")
        print("secret: \(secret)")
        print("otpauth://totp/\(label)?secret=\(secret)&issuer=\(encode(issuer, extra: ""))&algorithm=SHA1&digits=6&period=30")
        stderrLog("enrolled TOTP for \(email)\(replaced ? " (the previous authenticator no longer works)" : ""); "
            + "add it to an authenticator app now, it is shown only this once")
        ctx.applied()
    }

    static func remove(_ args: Arguments) {
        let email = args.positionals("EMAIL")[0].lowercased()
        let ctx = CLIContext(args)
        let had = ctx.update {
            try IdentityStore.updateUsers(ctx.auth) { users -> Bool in
                let i = try userIndex(users, email: email)
                defer { users[i].totpSecretSealed = nil; users[i].totpLastStep = nil }
                return users[i].totpSecretSealed != nil
            }
        }
        print(had ? "removed TOTP for \(email)" : "\(email) had no TOTP enrolled")
        if had { ctx.applied() }
    }

    /// Percent-encoding of everything but RFC 3986 unreserved characters (and `extra`).
    static func encode(_ s: String, extra: String) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        allowed.insert(charactersIn: extra)
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
