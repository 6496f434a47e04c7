import DrawbridgeCrypto
import DrawbridgeServer
import Foundation
import Glibc

/// drawbridge COMMAND [...]: a dispatcher; each command group lives in its own file.
let serveUsage = """
    drawbridge [serve] [--config DIR] [--pid-file PATH]
                                                 start the gateway (default configuration directory: conf,
                                                 or $DRAWBRIDGE_CONFIG); --pid-file: write its pid there once
                                                 listening (locked while it runs, removed at exit)
    """
let checkConfigUsage = """
    drawbridge check-config [--config DIR]
                                                 validate the configuration and exit (0: valid, 1: invalid)
    """
let hashPasswordUsage = """
    drawbridge hash-password [--pbkdf2]   read a password from standard input, print its hash
                                                 (scrypt N=2^17 r=8 p=1 by default; PBKDF2-SHA256 600,000 rounds)
    """
let usage = """
usage: \(serveUsage)
       \(checkConfigUsage)
       \(hashPasswordUsage)
       \(UserCommand.usage)
       \(APIKeyCommand.usage)
       \(TOTPCommand.usage)
       \(SecretCommand.usage)
       \(MasterKeyCommand.usage)
       \(BackupCommand.usage)
       drawbridge help [COMMAND]                 this text, or one command's (also: COMMAND --help)
       drawbridge --version

Signals to a running gateway: HUP reload, USR1 reopen log files, TERM/INT stop after in-flight
requests (timeouts.drainSeconds), QUIT stop at once (docs/OPERATIONS.md).

Identity commands take --config DIR and --pid-file PATH (after a change, SIGHUP the gateway whose
pid is in PATH), and --lock-timeout SECONDS (default 30: how long to wait while another command
changes the same file). Passwords and secret values are read from standard input, never from arguments;
a password has 12 to 1024 characters and does not contain the user's email.
The master key comes from one of auth.masterKeyFile, auth.masterKeyCredential (a systemd credential),
auth.masterKeyCommand (a key vault's command), else the systemd credential drawbridge-master-key or
$DRAWBRIDGE_MASTER_KEY (docs/KEYS.md).

\(CLIHelp.exitCodes)

"""

/// Every command, for `help COMMAND` and "did you mean".
let commands = ["serve", "check-config", "hash-password", "user", "apikey", "totp", "secret", "master-key", "backup", "help"]

/// One command's usage and exit 0 (`help COMMAND`, `COMMAND --help`).
func commandHelp(_ name: String) -> Never {
    switch name {
    case "serve": print("usage: \(serveUsage)\n\n\(CLIHelp.exitCodes)")
    case "check-config": print("usage: \(checkConfigUsage)\n\n\(CLIHelp.exitCodes)")
    case "hash-password": print("usage: \(hashPasswordUsage)\n\n\(CLIHelp.exitCodes)")
    case "user": UserCommand.run(["--help"])
    case "apikey": APIKeyCommand.run(["--help"])
    case "totp": TOTPCommand.run(["--help"])
    case "secret": SecretCommand.run(["--help"])
    case "master-key": MasterKeyCommand.run(["--help"])
    case "backup": BackupCommand.run(["--help"])
    case "help": print(usage, terminator: "")
    default: fail("drawbridge help: unknown command '\(name)'" + CLIHelp.hint(name, commands) + "; `drawbridge help` lists the commands")
    }
    exit(0)
}

var args = Array(CommandLine.arguments.dropFirst())
var command = "serve"
if let first = args.first, !first.hasPrefix("-") {
    command = first
    args.removeFirst()
}

switch command {
case "user": UserCommand.run(args)
case "apikey": APIKeyCommand.run(args)
case "totp": TOTPCommand.run(args)
case "secret": SecretCommand.run(args)
case "master-key": MasterKeyCommand.run(args)
case "backup": BackupCommand.run(args)
case "help":
    if args.count > 1 { fail("drawbridge help: one command at a time\n" + usage) }
    if let name = args.first { commandHelp(name) }
    print(usage, terminator: ""); exit(0)
case "version": print("drawbridge \(CLIHelp.version)"); exit(0)
case "serve", "check-config", "hash-password": break
default: fail("drawbridge: unknown command '\(command)'" + CLIHelp.hint(command, commands) + "; `drawbridge help` lists the commands")
}
if args.contains("--version") && command == "serve" && args.count == 1 { print("drawbridge \(CLIHelp.version)"); exit(0) }
if args.contains("-h") || args.contains("--help") {
    // `drawbridge --help` alone is the whole text; after a command, that command's.
    if CommandLine.arguments.dropFirst().first?.hasPrefix("-") ?? true { print(usage, terminator: ""); exit(0) }
    commandHelp(command)
}

if command == "hash-password" {
    var scheme = PasswordHash.Scheme.scrypt()
    for a in args {
        switch a {
        case "--pbkdf2": scheme = .pbkdf2SHA256()
        default: fail("drawbridge hash-password: unknown argument '\(a)'" + CLIHelp.hint(a, ["--pbkdf2", "--help"]) + "\nusage: " + hashPasswordUsage)
        }
    }
    // One line from standard input (a pipe or a typed line); never from the command line, where
    // it would land in shell history and in the process list.
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        fail("drawbridge hash-password: no password on standard input", code: 1)
    }
    if let problem = PasswordRules.problem(line, email: nil) { fail("drawbridge hash-password: \(problem)", code: 1) }
    do {
        print(try PasswordHash.hash(line, scheme: scheme))
        exit(0)
    } catch {
        fail("drawbridge hash-password: \(error)", code: 1)
    }
}

var configDir = ProcessInfo.processInfo.environment["DRAWBRIDGE_CONFIG"] ?? "conf"
var pidFile: String?
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--config", "-c":
        guard !args.isEmpty else { fail("drawbridge: --config needs a directory\n" + usage) }
        configDir = args.removeFirst()
    case "--pid-file" where command == "serve":
        guard !args.isEmpty else { fail("drawbridge: --pid-file needs a path\n" + usage) }
        pidFile = args.removeFirst()
    default:
        let known = command == "serve" ? ["--config", "--pid-file", "--help"] : ["--config", "--help"]
        fail("drawbridge \(command): unknown argument '\(a)'" + CLIHelp.hint(a, known) + "\nusage: " + (command == "serve" ? serveUsage : checkConfigUsage))
    }
}

switch command {
case "serve":
    do {
        // Every signal the gateway handles is blocked from the start, before the first thread
        // (job pools, token fetcher) exists: threads inherit the mask, so only the main thread's
        // signal loop takes them. A thread that had TERM unblocked would be killed by it (default
        // action) whenever the loop was busy, e.g. reloading: no drain. A reload or reopen request
        // sent right away waits for the loop.
        Gateway.blockSignals()
        let gateway = try Gateway(configDirectory: configDir, log: stderrLog)
        if let pidFile { gateway.onListening = { try PidFile.acquire(pidFile) } }
        let status = try gateway.run()
        if let pidFile { PidFile.remove(pidFile) }
        exit(status)
    } catch {
        if let pidFile { PidFile.remove(pidFile) }
        fail("drawbridge: cannot start: \(error)", code: 1)
    }
case "check-config":
    let problems = Gateway.check(configDirectory: configDir)
    if problems.isEmpty {
        print("\(configDir): configuration is valid")
        exit(0)
    }
    fail(problems.joined(separator: "\n"), code: 1)
default:
    fail("drawbridge: unknown command '\(command)'" + CLIHelp.hint(command, commands) + "; `drawbridge help` lists the commands")
}
