import DrawbridgeConfig
import DrawbridgeIdentity
import DrawbridgeStore
import Foundation
import Glibc

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(code)
}

func stderrLog(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Exit 2: the command line is wrong.
func usageError(_ command: String, _ problem: String, usage: String) -> Never {
    fail("drawbridge \(command): \(problem)\nusage: \(usage)", code: 2)
}

/// Exit 1: the command could not be carried out.
func runtimeError(_ command: String, _ problem: Any) -> Never {
    fail("drawbridge \(command): \(problem)", code: 1)
}

/// The first argument, which must name one of `known` subcommands; `--help` (or `help`) prints
/// the group's usage and exits 0.
func subcommand(_ argv: [String], _ group: String, usage: String, known: [String]) -> String {
    guard let sub = argv.first else {
        usageError(group, "missing subcommand (one of: \(known.joined(separator: ", ")))", usage: usage)
    }
    if sub == "-h" || sub == "--help" || sub == "help" { print("usage: \(usage)"); exit(0) }
    guard !sub.hasPrefix("-") else { usageError(group, "missing subcommand before '\(sub)' (one of: \(known.joined(separator: ", ")))", usage: usage) }
    guard known.contains(sub) else {
        usageError(group, "unknown subcommand '\(sub)'" + CLIHelp.hint(sub, known), usage: usage)
    }
    return sub
}

/// The arguments of one subcommand: positionals, repeatable `--option VALUE`s and flags.
/// `--config DIR` (`-c`), `--pid-file PATH` and `--lock-timeout SECONDS` are accepted everywhere.
struct Arguments {
    let command: String
    let usage: String
    var positional: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    init(_ args: [String], command: String, usage: String, options: Set<String> = [], flags allowedFlags: Set<String> = []) {
        self.command = command
        self.usage = usage
        let valued = options.union(["--config", "--pid-file", "--lock-timeout"])
        var rest = args[...]
        while let a = rest.popFirst() {
            let name = a == "-c" ? "--config" : a
            if valued.contains(name) {
                guard let v = rest.popFirst() else { usageError(command, "\(a) needs a value", usage: usage) }
                values[name, default: []].append(v)
            } else if allowedFlags.contains(name) {
                flags.insert(name)
            } else if name == "-h" || name == "--help" {
                print("usage: \(usage)"); exit(0)
            } else if name.hasPrefix("-") && name != "-" {
                usageError(command, "unknown option '\(a)'" + CLIHelp.hint(a, Array(valued.union(allowedFlags)).sorted() + ["--help"]), usage: usage)
            } else {
                positional.append(a)
            }
        }
    }

    /// Exactly `names.count` positionals, else exit 2 naming what is missing or extra.
    func positionals(_ names: String...) -> [String] {
        if positional.count < names.count { usageError(command, "missing \(names[positional.count])", usage: usage) }
        if positional.count > names.count { usageError(command, "unexpected argument '\(positional[names.count])'", usage: usage) }
        return positional
    }

    func single(_ option: String) -> String? {
        guard let list = values[option] else { return nil }
        if list.count > 1 { usageError(command, "\(option) given more than once", usage: usage) }
        return list[0]
    }

    func all(_ option: String) -> [String] { values[option] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    var configDirectory: String {
        single("--config") ?? ProcessInfo.processInfo.environment["DRAWBRIDGE_CONFIG"] ?? "conf"
    }
}

/// A loaded configuration with its `auth` section, for the identity commands.
struct CLIContext {
    let args: Arguments
    let config: GatewayConfig
    let auth: AuthConfig

    init(_ args: Arguments) {
        self.args = args
        do {
            // A restore cut short after its commit point is completed before any state is read.
            _ = try StateRestore.completeInterrupted(configDirectory: args.configDirectory)
        } catch {
            runtimeError(args.command, error)
        }
        do {
            config = try ConfigLoader.load(directory: args.configDirectory)
        } catch {
            runtimeError(args.command, "invalid configuration:\n\(error)")
        }
        guard let auth = config.auth else {
            runtimeError(args.command, "\(args.configDirectory)/\(ConfigLoader.mainFileName) has no auth section "
                + "(add one with usersFile, apiKeysFile, secretsFile and a master key source; see conf/drawbridge.json5)")
        }
        self.auth = auth
        // The same StrictModes as the gateway: a change must land where the gateway reads it.
        let problems = StatePermissions.check(configDirectory: args.configDirectory, config: config)
        if !problems.isEmpty { runtimeError(args.command, "refusing to work on this configuration:\n" + problems.map { "  \($0)" }.joined(separator: "\n")) }
        if let text = args.single("--lock-timeout") {
            guard let seconds = Double(text), seconds >= 0, seconds <= 86_400 else {
                usageError(args.command, "invalid --lock-timeout '\(text)' (seconds, 0 to 86400)", usage: args.usage)
            }
            AtomicFile.lockTimeoutSeconds = seconds
        }
        // Another command holds the file: say so instead of waiting in silence.
        AtomicFile.lockWaitNotice = { stderrLog("drawbridge \(args.command): \($0)") }
    }

    var command: String { args.command }

    /// The master key from the source the configuration names (the one loader), refused when it
    /// does not open the identity files (nothing gets sealed under a key other than theirs).
    func masterKey() -> MasterKey {
        do {
            let key = try MasterKey.load(auth)
            try IdentityStore.checkMasterKey(auth, key)
            return key
        } catch { runtimeError(command, error) }
    }

    /// The org must be configured: a user or key in an unknown org could never sign in.
    func requireOrganization(_ org: String, option: String = "--org") {
        requireConfigured([org], option: option, what: "organisation", known: config.organizations.map(\.id), section: "organizations")
    }

    /// Roles and groups must be configured: a name the configuration does not define grants nothing.
    func requireRoles(_ names: [String]) {
        requireConfigured(names, option: "--role", what: "role", known: config.roles.map(\.name), section: "roles")
    }

    func requireGroups(_ names: [String]) {
        requireConfigured(names, option: "--group", what: "group", known: config.groups.map(\.name), section: "groups")
    }

    /// Exit 2 naming the unknown name, the closest configured one and all that exist.
    private func requireConfigured(_ names: [String], option: String, what: String, known: [String], section: String) {
        for n in names {
            guard StoreNames.isRoleName(n) else {
                usageError(command, "invalid \(option) '\(n)' (allowed: A-Z a-z 0-9 _ - . :, 1 to 64 characters)", usage: args.usage)
            }
            guard known.contains(n) else {
                let list = known.sorted().joined(separator: ", ")
                usageError(command, "unknown \(what) '\(n)'\(CLIHelp.hint(n, known)); configured in \(args.configDirectory)/\(ConfigLoader.mainFileName) "
                    + "(\(section)): \(list.isEmpty ? "none" : list)", usage: args.usage)
            }
        }
    }

    /// Runs a store update, turning its errors into exit 1.
    func update<T>(_ body: () throws -> T) -> T {
        do { return try body() } catch let e as CLIFailure { runtimeError(command, e.message) } catch { runtimeError(command, error) }
    }

    /// After a write: SIGHUP the gateway named by --pid-file, or say how to apply the change.
    func applied() {
        if let pidFile = args.single("--pid-file") {
            let text = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            // pid 0 or -1 would signal a whole process group or every process: only a plain pid > 1.
            if let pid = Int32(text), pid > 1, kill(pid, 0) == 0, kill(pid, SIGHUP) == 0 {
                stderrLog("reloaded gateway (pid \(pid))")
                return
            }
            stderrLog("no running gateway found through \(pidFile)")
        }
        stderrLog("run `kill -HUP <gateway pid>` (or restart) to apply")
    }
}

/// A refusal found inside an update (unknown user, duplicate email...): exit 1 with its message.
struct CLIFailure: Error { let message: String; init(_ m: String) { message = m } }

/// One line from standard input, trailing newline stripped. Secrets never come from argv, where
/// they would show in the process list and shell history.
func readSecretLine(_ command: String, what: String) -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        runtimeError(command, "no \(what) on standard input (one line; empty is refused)")
    }
    return line
}

/// Table output with columns padded to the widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        print(cells.joined(separator: "  "))
    }
}

func formatDate(_ unix: UInt64) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd HH:mm'Z'"
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
}

var now: UInt64 { UInt64(Date().timeIntervalSince1970) }

/// The index of the member with this (lower-cased) email, or the CLI's error naming it.
func userIndex(_ users: [User], email: String) throws -> Int {
    guard let i = users.firstIndex(where: { $0.email == email }) else { throw CLIFailure("no user with email \(email)") }
    return i
}
