import DrawbridgeCrypto
import DrawbridgeServer
import Foundation

/// drawbridge [serve|check-config] [--config DIR]
let usage = """
usage: drawbridge [serve] [--config DIR]     start the gateway (default configuration directory: conf)
       drawbridge check-config [--config DIR]
                                             validate the configuration and exit (0: valid, 1: invalid)
       drawbridge hash-password [--pbkdf2]   read a password from standard input, print its hash
                                             (scrypt N=2^15 r=8 p=1 by default; PBKDF2-SHA256 600,000 rounds)
       drawbridge help

"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(code)
}

func stderrLog(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

var args = Array(CommandLine.arguments.dropFirst())
var command = "serve"
if let first = args.first, !first.hasPrefix("-") {
    command = first
    args.removeFirst()
}
var configDir = ProcessInfo.processInfo.environment["DRAWBRIDGE_CONFIG"] ?? "conf"

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

while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--config", "-c":
        guard !args.isEmpty else { fail("drawbridge: --config needs a directory\n" + usage) }
        configDir = args.removeFirst()
    case "-h", "--help":
        print(usage, terminator: ""); exit(0)
    default:
        fail("drawbridge: unknown argument '\(a)'\n" + usage)
    }
}

switch command {
case "serve":
    do {
        let gateway = try Gateway(configDirectory: configDir, log: stderrLog)
        exit(try gateway.run())
    } catch {
        fail("drawbridge: cannot start: \(error)", code: 1)
    }
case "check-config":
    let problems = Gateway.check(configDirectory: configDir)
    if problems.isEmpty {
        print("\(configDir): configuration is valid")
        exit(0)
    }
    fail(problems.joined(separator: "\n"), code: 1)
case "help":
    print(usage, terminator: "")
default:
    fail("drawbridge: unknown command '\(command)'\n" + usage)
}
