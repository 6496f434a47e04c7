import DrawbridgeConfig
import DrawbridgeStore
import Foundation

/// drawbridge backup create|list|verify|restore|prune (docs/BACKUP.md)
enum BackupCommand {
    static let usage = """
        drawbridge backup create|list|prune
               drawbridge backup verify [ARCHIVE]...
               drawbridge backup restore ARCHIVE [--pid-file PATH]
        """

    static func run(_ argv: [String]) -> Never {
        let sub = subcommand(argv, "backup", usage: usage, known: ["create", "list", "verify", "restore", "prune"])
        let args = Arguments(Array(argv.dropFirst()), command: "backup \(sub)", usage: usage)
        switch sub {
        case "create": _ = args.positionals(); create(site(args), args)
        case "list": _ = args.positionals(); list(site(args))
        case "verify": verify(site(args), args)
        case "restore": restore(site(args), args, archive: args.positionals("ARCHIVE")[0])
        case "prune": _ = args.positionals(); prune(site(args), args)
        default: usageError("backup", "unknown subcommand '\(sub)'", usage: usage)
        }
        exit(0)
    }

    /// The configuration's backup settings: without a `backup` section there is nothing to work on.
    static func site(_ args: Arguments) -> (BackupSite, CLIContext) {
        let ctx = CLIContext(args)
        guard let settings = ctx.config.backup else {
            runtimeError(args.command, "\(args.configDirectory)/\(ConfigLoader.mainFileName) has no backup section "
                + "(add backup: { directory: \"/var/backups/drawbridge\" }; see docs/BACKUP.md)")
        }
        return (BackupSite(configDirectory: args.configDirectory, auth: ctx.auth, settings: settings), ctx)
    }

    static func create(_ s: (BackupSite, CLIContext), _ args: Arguments) {
        let (site, ctx) = s
        do {
            let c = try Backups.create(site, master: ctx.masterKey(), now: now)
            print("created backup \(c.id) (\(c.files) files, \(c.bytes) bytes): \(c.path)")
        } catch { runtimeError(args.command, error) }
    }

    static func list(_ s: (BackupSite, CLIContext)) {
        let (site, ctx) = s
        do {
            let rows = try Backups.list(site).map { b -> [String] in
                let state = !b.hasKey ? "unreadable (data key destroyed)" : b.bytes == nil ? "key only (no file in the directory)" : "ok"
                return [b.id, b.created == 0 ? "?" : formatDate(b.created), b.bytes.map(String.init) ?? "-", state]
            }
            printTable(["ID", "CREATED", "BYTES", "STATE"], rows)
            let keep = site.settings.keepDays
            stderrLog("\(rows.count) backup\(rows.count == 1 ? "" : "s") in \(site.settings.directory); kept \(keep) day\(keep == 1 ? "" : "s")")
        } catch { runtimeError(ctx.command, error) }
    }

    /// Every named archive (default: every archive in the directory), opened completely.
    static func verify(_ s: (BackupSite, CLIContext), _ args: Arguments) {
        let (site, ctx) = s
        var paths = args.positional.map(site.resolve)
        if paths.isEmpty {
            do { paths = try Backups.list(site).filter { $0.bytes != nil }.map { site.archivePath(id: $0.id) } }
            catch { runtimeError(args.command, error) }
            if paths.isEmpty { runtimeError(args.command, "no archives in \(site.settings.directory)") }
        }
        let master = ctx.masterKey()
        var failed = 0
        for path in paths {
            var files = 0, bytes = 0
            do {
                let header = try Backups.open(site, master: master, path: path) { m in
                    if let b = m.bytes { files += 1; bytes += b.count }
                }
                print("ok \(header.id) (\(formatDate(header.created)), \(files) files, \(bytes) bytes of state)")
            } catch {
                failed += 1
                print("FAILED \(path): \(error)")
            }
        }
        if failed > 0 { runtimeError(args.command, "\(failed) of \(paths.count) archive\(paths.count == 1 ? "" : "s") failed verification") }
    }

    static func restore(_ s: (BackupSite, CLIContext), _ args: Arguments, archive: String) {
        let (site, ctx) = s
        do {
            let o = try StateRestore.restore(site, master: ctx.masterKey(), path: site.resolve(archive))
            print("restored backup \(o.id) of \(formatDate(o.created))")
            if !o.replaced.isEmpty { print("  replaced: \(o.replaced.joined(separator: ", "))") }
            if !o.removed.isEmpty { print("  removed (absent at backup time): \(o.removed.joined(separator: ", "))") }
            if !o.kept.isEmpty { print("  kept as they are: \(o.kept.joined(separator: ", "))") }
        } catch { runtimeError(args.command, error) }
        ctx.applied()
    }

    static func prune(_ s: (BackupSite, CLIContext), _ args: Arguments) {
        let (site, _) = s
        do {
            let destroyed = try Backups.prune(site, now: now)
            for id in destroyed { print("destroyed backup \(id) (data key erased, file removed)") }
            if destroyed.isEmpty { print("nothing older than \(site.settings.keepDays) days") }
        } catch { runtimeError(args.command, error) }
    }
}
