import Foundation
import Glibc
import Testing

/// Runs every shell command of README.md's "Quick start" section against a real gateway, so the
/// README cannot drift from what the gateway does.
///
/// How the commands are run (the only substitutions made):
/// - in a sandbox directory laid out like a checkout: `conf/drawbridge.json5` (the shipped file),
///   `scripts/dev-cert` and `scripts/dev-identity` (the shipped scripts), and `.build/release`, a
///   link to the binaries under test ($DRAWBRIDGE_BIN_DIR); so `conf`, `certs/dev.crt`, `.state/…`
///   and `.build/release/drawbridge` in the README mean what they mean in a checkout;
/// - the ports 8443, 8080 and 9000 are replaced by free ports, in the configuration and in the
///   commands alike (another gateway or test may hold the fixed ones);
/// - the commands of one block run in one bash, in order (a variable set by one is seen by the
///   next); after a command that reloads the gateway (`--pid-file`, `kill -HUP`) the harness waits
///   for the gateway's "reloaded configuration" line before the next one.
/// Every command must exit 0 and print what `expected` says. A README command the test does not
/// know fails the test (add its expected outcome here), and so does one it cannot run unless it is
/// listed in `notRun` with the reason.
@Suite(.serialized) struct QuickStartTests {
    /// Commands the test cannot run, and what it does instead.
    static let notRun: [String: String] = [
        "scripts/run": "installs packages, builds with SwiftPM and holds the terminal; the test performs its steps itself "
            + "(scripts/dev-cert certs, scripts/dev-identity, whoami --name demo, drawbridge serve --config conf --pid-file .state/gateway.pid)",
    ]

    /// (a piece of the command that identifies it, what its standard output must contain; "" = exit 0 is enough).
    static let expected: [(command: String, output: String)] = [
        ("-si https://localhost:8443/ | head -n 1", "HTTP/1.1 302 Found"),
        ("-H 'Accept: application/json' https://localhost:8443/", #"{"error":"unauthenticated""#),
        ("curl -si http://localhost:8080/ | head -n 1", "HTTP/1.1 308 Permanent Redirect"),
        ("key=$(.build/release/drawbridge apikey create --org example --role viewer", ""),
        (#"-s -H "Authorization: Bearer $key" https://localhost:8443/hello"#, #"["X-Drawbridge-Roles","viewer"]"#),
        (#"-X POST -H "Authorization: Bearer $key""#, "403"),
        (".build/release/drawbridge check-config --config conf", ""),
        (#"kill -HUP "$(cat .state/gateway.pid)""#, ""),
    ]

    /// The fenced `sh` blocks of the README section "## Quick start", one array of commands each
    /// (comment lines dropped, `\` continuations joined).
    static func quickStartBlocks() throws -> [[String]] {
        let readme = try String(contentsOf: Binaries.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "\n## Quick start\n") else { throw TestFailure("README.md has no '## Quick start' section") }
        let rest = readme[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var blocks: [[String]] = []
        var current: [String]?
        var pending = ""
        for raw in section.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if current == nil {
                if line.trimmingCharacters(in: .whitespaces) == "```sh" { current = [] }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!)
                current = nil
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty && (trimmed.isEmpty || trimmed.hasPrefix("#")) { continue }
            if trimmed.hasSuffix("\\") { pending += String(trimmed.dropLast()) + " "; continue }
            current!.append(pending + trimmed)
            pending = ""
        }
        return blocks
    }

    @Test func everyQuickStartCommandWorksAgainstARealGateway() throws {
        let blocks = try Self.quickStartBlocks()
        let commands = blocks.flatMap { $0 }
        #expect(!commands.isEmpty, "no sh blocks in the Quick start section")
        for c in commands where Self.notRun[c] == nil {
            let known = Self.expected.filter { c.contains($0.command) }
            #expect(known.count == 1, "README quick-start command not known to QuickStartTests (add its expected outcome, or list it in notRun with the reason): \(c)")
        }

        // The sandbox "checkout".
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("db-quickstart-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try fm.createDirectory(atPath: root + "/conf", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/scripts", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/.build", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: root) }
        try fm.createSymbolicLink(atPath: root + "/.build/release", withDestinationPath: Binaries.dir)
        for s in ["dev-cert", "dev-identity"] {
            try fm.copyItem(atPath: Binaries.packageRoot.appendingPathComponent("scripts/" + s).path, toPath: root + "/scripts/" + s)
        }
        let ports = ["8443": freePort(), "8080": freePort(), "9000": freePort()]
        func substitute(_ s: String) -> String {
            ports.reduce(s) { $0.replacingOccurrences(of: $1.key, with: String($1.value)) }
        }
        let shipped = try String(contentsOf: Binaries.packageRoot.appendingPathComponent("conf/drawbridge.json5"), encoding: .utf8)
        try substitute(shipped).write(toFile: root + "/conf/drawbridge.json5", atomically: true, encoding: .utf8)

        // What scripts/run does, step by step, on the sandbox.
        func step(_ args: [String]) throws {
            let r = try run("/bin/bash", ["-c", "cd \"$1\" && shift && exec \"$@\"", "step", root] + args, timeout: 120)
            guard r.status == 0 else { throw TestFailure("\(args) failed (\(r.status)): \(r.err)") }
        }
        try step(["scripts/dev-cert", "certs"])
        try step(["scripts/dev-identity", ".build/release/drawbridge"])
        let upstream = try ChildProcess(Binaries.whoami, ["--listen", "127.0.0.1:\(ports["9000"]!)", "--name", "demo"], name: "whoami-demo")
        try upstream.waitFor("listening")
        defer { upstream.stop() }
        let gateway = try ChildProcess(Binaries.drawbridge, ["serve", "--config", root + "/conf", "--pid-file", root + "/.state/gateway.pid"],
                                       name: "drawbridge")
        try gateway.waitFor("serving")
        defer { gateway.stop() }

        // Each block in one bash; each command's output and status in files of its own.
        let out = root + "/.out"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        var ran: [(command: String, index: Int)] = []
        for block in blocks {
            var script = "cd \"\(root)\"\n"
            for c in block {
                if let reason = Self.notRun[c] { print("QuickStartTests: not run: \(c): \(reason)"); continue }
                let i = ran.count
                ran.append((c, i))
                let reloads = c.contains("--pid-file") || c.contains("kill -HUP")
                if reloads { script += "n=$(grep -c 'reloaded configuration' \"\(gateway.errURL.path)\")\n" }
                script += "{ \(substitute(c))\n} >\(out)/\(i).out 2>\(out)/\(i).err; echo $? >\(out)/\(i).rc\n"
                if reloads {
                    // wait (bounded) for the gateway to have applied the reload the command asked for
                    script += "for _ in $(seq 400); do [ \"$(grep -c 'reloaded configuration' \"\(gateway.errURL.path)\")\" -gt \"$n\" ] && break; sleep 0.05; done\n"
                }
            }
            let r = try run("/bin/bash", ["-c", script], timeout: 120)
            #expect(r.status == 0, "bash: \(r.err)")
        }
        for (c, i) in ran {
            let status = (try? String(contentsOfFile: "\(out)/\(i).rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let stdout = (try? String(contentsOfFile: "\(out)/\(i).out", encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOfFile: "\(out)/\(i).err", encoding: .utf8)) ?? ""
            #expect(status == "0", "README command failed (exit \(status ?? "none")): \(c)\nstdout: \(stdout)\nstderr: \(stderr)")
            if let want = Self.expected.first(where: { c.contains($0.command) })?.output, !want.isEmpty {
                #expect(stdout.contains(want), "README command printed something else than \(want): \(c)\nstdout: \(stdout)\nstderr: \(stderr)")
            }
        }
        // The reloads were applied and the gateway still serves.
        #expect(gateway.process.isRunning, "gateway: \(gateway.stderr)")
        #expect(!gateway.stderr.contains("reload rejected"), "gateway: \(gateway.stderr)")
    }
}
