import DrawbridgeConfig
import DrawbridgeStore
import Foundation
import Glibc

/// drawbridge master-key generate|rotate (docs/KEYS.md)
enum MasterKeyCommand {
    static let usage = """
        drawbridge master-key generate FILE
               drawbridge master-key rotate [--new-key FILE|-]
                                             re-seal everything under a new master key (docs/KEYS.md)
        """

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "master-key", usage: usage, known: ["generate", "rotate"])
        let rest = Array(argv.dropFirst())
        switch sub {
        case "generate": generate(Arguments(rest, command: "master-key generate", usage: usage))
        case "rotate": rotate(Arguments(rest, command: "master-key rotate", usage: usage, options: ["--new-key"]))
        default: usageError("master-key", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    static func generate(_ args: Arguments) {
        let file = args.positionals("FILE")[0]
        // The configuration is not loaded: a key is usually made before the config is complete.
        do { try MasterKey.createFile(at: file, configDirectory: args.configDirectory) } catch { runtimeError(args.command, error) }
        print("wrote a new master key to \(file) (mode 0600); point auth.masterKeyFile at it (or load it into your key vault "
            + "or a systemd credential, docs/KEYS.md), and keep a copy apart from the backups: without it the sealed secrets cannot be opened")
    }

    /// From the key the configuration names (A) to a new one (B): every sealed value re-sealed,
    /// all files or none. With `auth.masterKeyFile`, B may be generated here and replaces A in that
    /// file (A overwritten); with any other source, B comes from --new-key and the operator puts
    /// it where the source takes it from.
    static func rotate(_ args: Arguments) {
        _ = args.positionals()
        let ctx = CLIContext(args)
        let source = ctx.auth.masterKeySource
        let old: MasterKey
        do { old = try MasterKey.load(ctx.auth) } catch { runtimeError(args.command, error) }
        let new: MasterKey
        switch args.single("--new-key") {
        case "-"?: new = readKey(args)
        case let file?:
            do { new = try MasterKey.load(file: file) } catch { runtimeError(args.command, error) }
        case nil:
            guard case .file? = source else {
                usageError(args.command, "--new-key FILE|- is required: the master key comes from \(old.origin), where drawbridge "
                               + "cannot put a new one (make one with `drawbridge master-key generate FILE`, or take it from your vault)",
                           usage: usage)
            }
            do { new = try MasterKey(text: MasterKey.generate(), source: "a new random key") } catch { runtimeError(args.command, error) }
        }
        var keyFile: String?
        if case .file(let path)? = source { keyFile = path }
        let backupKeyFile = ctx.config.backup?.keyFile ?? BackupConfig.defaultKeyFile(secretsFile: ctx.auth.secretsFile)
        let outcome: MasterKeyRotation.Outcome
        do {
            outcome = try MasterKeyRotation.rotate(configDirectory: args.configDirectory, auth: ctx.auth, backupKeyFile: backupKeyFile,
                                                   from: old, to: new, keyFile: keyFile)
        } catch { runtimeError(args.command, error) }
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        print("re-sealed \(plural(outcome.seeds, "TOTP seed")), \(plural(outcome.secrets, "secret")) and "
            + "\(plural(outcome.dataKeys, "backup data key")) under the new master key")
        if let file = outcome.keyFile {
            print("\(file) now holds the new key; " + (outcome.oldKeyOverwritten
                ? "the old key was overwritten"
                : "the old key file was replaced but could not be overwritten: destroy any copy of it you know of"))
            if let given = args.single("--new-key"), given != "-" { print("remove \(given): the new key lives in \(file) now") }
            print("restart the gateway now: a running one keeps the old key in memory (its reloads are refused until it restarts)")
        } else {
            print("""
                now, in this order (docs/KEYS.md, "Rotating the master key"):
                  1. put the new key where \(old.origin) takes it from (until then, commands that seal refuse to run)
                  2. restart the gateway (a running one keeps the old key in memory; its reloads are refused until it restarts)
                  3. destroy the old key, and any temporary copy of the new one
                """)
        }
    }

    /// One key on standard input (a pipe from a vault or `systemd-creds decrypt`); the buffer is wiped.
    static func readKey(_ args: Arguments) -> MasterKey {
        var buffer = [UInt8](repeating: 0, count: MasterKey.maximumTextBytes + 1)
        defer { buffer.wipeBytes() }
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            count += n
        }
        guard count <= MasterKey.maximumTextBytes else { runtimeError(args.command, "standard input: more than \(MasterKey.maximumTextBytes) bytes (a key is one line)") }
        var text = Array(buffer[0..<count])
        defer { text.wipeBytes() }
        do { return try MasterKey(utf8: text, source: "standard input") } catch { runtimeError(args.command, error) }
    }
}
