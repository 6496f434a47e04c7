import DrawbridgeServer
import Foundation

/// drawbridge [serve|check-config] [--config DIR]
let usage = """
usage: drawbridge [serve] [--config DIR]     start the gateway (default configuration directory: conf)
       drawbridge check-config [--config DIR]
                                             validate the configuration and exit (0: valid, 1: invalid)
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
