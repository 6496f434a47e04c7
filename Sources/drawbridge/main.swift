import DrawbridgeCrypto
import DrawbridgeServer
import Foundation
import Glibc

/// drawbridge COMMAND [...]: a dispatcher; each command group lives in its own file.
let usage = """
usage: drawbridge [serve] [--config DIR] [--pid-file PATH]
                                             start the gateway (default configuration directory: conf,
                                             or $DRAWBRIDGE_CONFIG); --pid-file: write its pid there
       drawbridge check-config [--config DIR]
                                             validate the configuration and exit (0: valid, 1: invalid)
       drawbridge hash-password [--pbkdf2]   read a password from standard input, print its hash
                                             (scrypt N=2^17 r=8 p=1 by default; PBKDF2-SHA256 600,000 rounds)
       \(UserCommand.usage)
       \(APIKeyCommand.usage)
       \(TOTPCommand.usage)
       \(SecretCommand.usage)
       \(MasterKeyCommand.usage)
       \(BackupCommand.usage)
       drawbridge help

Identity commands take --config DIR and --pid-file PATH (after a change, SIGHUP the gateway whose
pid is in PATH), and --lock-timeout SECONDS (default 30: how long to wait while another command
changes the same file). Passwords and secret values are read from standard input, never from arguments.
The master key comes from one of auth.masterKeyFile, auth.masterKeyCredential (a systemd credential),
auth.masterKeyCommand (a key vault's command), else the systemd credential drawbridge-master-key or
$DRAWBRIDGE_MASTER_KEY (docs/KEYS.md).

"""

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
case "help", "-h", "--help": print(usage, terminator: ""); exit(0)
default: break
}

if command == "hash-password" {
    var scheme = PasswordHash.Scheme.scrypt()
    for a in args {
        switch a {
        case "--pbkdf2": scheme = .pbkdf2SHA256()
        default: fail("drawbridge hash-password: unknown argument '\(a)'\n" + usage)
        }
    }
    // One line from standard input (a pipe or a typed line); never from the command line, where
    // it would land in shell history and in the process list.
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        fail("drawbridge hash-password: no password on standard input", code: 1)
    }
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
    case "-h", "--help":
        print(usage, terminator: ""); exit(0)
    default:
        fail("drawbridge: unknown argument '\(a)'\n" + usage)
    }
}

switch command {
case "serve":
    do {
        // SIGHUP, SIGUSR1 and SIGUSR2 are blocked from the start, so a reload or log-reopen request
        // sent right away waits for the gateway's signal loop instead of killing it (default action).
        var requests = sigset_t()
        sigemptyset(&requests)
        for s in [SIGHUP, SIGUSR1, SIGUSR2] { sigaddset(&requests, s) }
        pthread_sigmask(SIG_BLOCK, &requests, nil)
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
    fail("drawbridge: unknown command '\(command)'\n" + usage)
}
