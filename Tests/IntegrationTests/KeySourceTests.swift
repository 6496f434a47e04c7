import DrawbridgeCrypto
import Foundation
import Glibc
import Testing

/// Issue 12 item 4, end to end with the real binary: the master key from a systemd credential
/// (`$CREDENTIALS_DIRECTORY`, set here by the test as systemd would) or from a key vault's
/// command (a small script), besides the file and the variable; and every way that goes wrong
/// is a clear start-up error that never shows the key.
@Suite(.serialized) struct KeySourceTests {
    static let password = "correct horse battery staple"

    /// Identity files sealed under `files.masterKey`, a configuration whose `auth` names the key
    /// source `source` (nil: none, the environment decides), and a directory for credentials and scripts.
    final class Setup {
        let files = IdentityFiles()
        let dir: String
        let keys: String
        let upstream: Upstream
        var hex: String { files.masterKey.map { String(format: "%02x", $0) }.joined() }
        var base64: String { Base64URL.encode(files.masterKey) }

        init() throws {
            upstream = try Upstream()
            files.users = [TestUser(id: "u_dev", email: "dev@acme.test")]
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-ks-\(getpid())-\(UUID().uuidString.prefix(8))").path
            keys = dir + "-keys"
            for d in [dir, keys] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            try files.write(to: dir)
        }

        deinit { for d in [dir, keys] { try? FileManager.default.removeItem(atPath: d) } }

        /// `source`: what replaces `masterKeyFile: "…"` in the auth section.
        func sections(_ source: String) -> String {
            files.configSections().replacingOccurrences(of: #"masterKeyFile: "\#(files.keyPath)","#, with: source.isEmpty ? "" : source + ",")
        }

        func configText(_ source: String) -> String {
            """
            { workers: 1, listen: { https: "127.0.0.1:\(freePort())" },
              tls: { certificates: [ { cert: "\(TestCertificate.cert)", key: "\(TestCertificate.key)" } ] },
              upstreams: { app: { servers: ["127.0.0.1:\(upstream.port)"] } },
              routes: [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ],
              \(sections(source)) }
            """
        }

        /// A credentials directory as systemd makes it: `name` holding `text`, mode 0400.
        func credentials(_ name: String = "drawbridge-master-key", text: String? = nil) throws -> String {
            let d = keys + "/credentials"
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            let path = d + "/" + name
            chmod(path, 0o600)
            try (text ?? hex + "\n").write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o400)
            return d
        }

        /// An executable shell script in the keys directory.
        func script(_ name: String, _ body: String) throws -> String {
            let path = keys + "/" + name
            try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        /// `drawbridge serve` on `source` until it serves or exits; the fixture when it serves.
        func serve(_ source: String, environment: [String: String?] = [:]) throws -> GatewayFixture {
            let files = self.files
            let sections = self.sections(source)
            return try GatewayFixture(upstreams: [upstream], routesJSON: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                      extra: sections, environment: environment, prepare: { try files.write(to: $0) })
        }

        /// `drawbridge serve` that must fail to start: its exit status and everything it printed.
        func failedStart(_ source: String, environment: [String: String] = [:]) throws -> (status: Int32?, output: String) {
            try configText(source).write(toFile: dir + "/drawbridge.json5", atomically: true, encoding: .utf8)
            let p = try ChildProcess(Binaries.drawbridge, ["serve", "--config", dir], name: "drawbridge", environment: environment)
            let status = p.waitExit(timeout: 30)
            p.stop()
            return (status, p.stdout + p.stderr)
        }

        func signsIn(_ gw: GatewayFixture) throws -> Bool {
            let c = SignInClient(gw)
            return try c.signIn(email: "dev@acme.test", password: KeySourceTests.password).status == 303 && c.get("/app").status == 200
        }
    }

    /// `drawbridge ARGS` with `environment` set (and nothing else changed).
    static func cli(_ args: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> (status: Int32, out: String, err: String) {
        try run("/usr/bin/env", environment.map { "\($0.key)=\($0.value)" } + [Binaries.drawbridge] + args, stdin: stdin.map { Data($0.utf8) })
    }

    // MARK: - systemd credentials

    /// `LoadCredentialEncrypted=drawbridge-master-key:…` with nothing in the configuration: the
    /// gateway takes the key from `$CREDENTIALS_DIRECTORY/drawbridge-master-key`, keeps it (a
    /// reload needs no credential), and the CLI takes it the same way.
    @Test func theKeyComesFromTheDefaultSystemdCredential() throws {
        let s = try Setup()
        let credentials = try s.credentials()
        let gw = try s.serve("", environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(!gw.configText().contains("masterKeyFile"))
        #expect(try s.signsIn(gw))
        // The CLI reads the same credential (systemd-run -p LoadCredentialEncrypted=… in production).
        let enroll = try Self.cli(["totp", "enroll", "dev@acme.test", "--config", gw.dir], environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(enroll.status == 0 && enroll.out.contains("otpauth://"), "\(enroll)")
        // systemd keeps credentials for the life of the service; the key is kept anyway: a reload
        // opens the new TOTP seed with the key read at start.
        try FileManager.default.removeItem(atPath: credentials + "/drawbridge-master-key")
        try gw.reload(expect: "reloaded")
        let step = SignInClient(gw)
        #expect(try step.signIn(email: "dev@acme.test", password: Self.password).text.contains("Two-step verification"))
        #expect(!gw.process.stderr.contains(s.hex))
    }

    @Test func aNamedCredentialIsReadFromTheCredentialsDirectory() throws {
        let s = try Setup()
        let credentials = try s.credentials("vault-master-key", text: s.base64)
        let gw = try s.serve(#"masterKeyCredential: "vault-master-key""#, environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(try s.signsIn(gw))
        // Outside systemd (no $CREDENTIALS_DIRECTORY) a command says how to run it.
        let list = try Self.cli(["secret", "set", "x", "--random", "--config", gw.dir])
        #expect(list.status == 1 && list.err.contains("$CREDENTIALS_DIRECTORY is not set") && list.err.contains("systemd-run"), "\(list)")
    }

    // MARK: - A key vault's command

    /// The command runs once, at start, without a shell (argv as configured), stdin from
    /// /dev/null, stdout a pipe; a reload keeps the key it printed.
    @Test func theKeyComesFromACommandRunOnce() throws {
        let s = try Setup()
        let runs = s.keys + "/runs", fds = s.keys + "/fds"
        let vault = try s.script("vault", """
            echo "run $*" >> \(runs)
            std=$(readlink /proc/$$/fd/0 /proc/$$/fd/1) && echo "$std" > \(fds)
            read line && echo "stdin had $line" >> \(runs)
            cat \(s.files.keyPath)
            """)
        let gw = try s.serve(#"masterKeyCommand: ["\#(vault)", "kv get", "-field=key"]"#)
        #expect(try s.signsIn(gw))
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run kv get -field=key\n")   // argv as configured, one run
        // Standard input is /dev/null (never the gateway's), standard output a pipe to the gateway.
        let std = try String(contentsOfFile: fds, encoding: .utf8).split(separator: "\n")
        #expect(std.count == 2 && std[0] == "/dev/null" && std[1].hasPrefix("pipe:"), "\(std)")
        try gw.reload(expect: "reloaded")
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run kv get -field=key\n")
        #expect(try s.signsIn(gw))
        // The CLI runs it too (its own process, its own run).
        let r = try Self.cli(["secret", "set", "vendor-token", "--config", gw.dir], stdin: "t0ken\n")
        #expect(r.status == 0, "\(r)")
        #expect(try String(contentsOfFile: runs, encoding: .utf8).components(separatedBy: "run ").count == 3)
    }

    // MARK: - Failures: each a clear start-up error naming the source, never showing the key

    struct Failure: CustomTestStringConvertible, Sendable {
        let name: String
        /// Builds the source line and the environment in the setup.
        let make: @Sendable (Setup) throws -> (source: String, environment: [String: String])
        let says: [String]
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(name: "command fails", make: { s in
            (#"masterKeyCommand: ["\#(try s.script("vault", "cat \(s.files.keyPath); echo 'vault: permission denied' >&2; exit 2"))"]"#, [:])
        }, says: ["auth.masterKeyCommand (", "/vault)", "exited with status 2", "vault: permission denied"]),
        Failure(name: "command times out", make: { s in
            (#"masterKeyCommand: ["\#(try s.script("vault", "sleep 30; cat \(s.files.keyPath)"))"], masterKeyCommandTimeoutSeconds: 1"#, [:])
        }, says: ["auth.masterKeyCommand (", "did not finish within 1 s", "killed"]),
        Failure(name: "command prints garbage", make: { s in
            (#"masterKeyCommand: ["\#(try s.script("vault", "echo 'Error: token expired, here is the env: x'"))"]"#, [:])
        }, says: ["auth.masterKeyCommand (", "printed 41 bytes that are not a master key", "its output is not shown"]),
        Failure(name: "command prints too much", make: { s in
            (#"masterKeyCommand: ["\#(try s.script("vault", "while :; do cat \(s.files.keyPath); done"))"]"#, [:])
        }, says: ["auth.masterKeyCommand (", "printed more than 4096 bytes", "killed"]),
        Failure(name: "command killed", make: { s in
            (#"masterKeyCommand: ["\#(try s.script("vault", "cat \(s.files.keyPath); kill -9 $$"))"]"#, [:])
        }, says: ["auth.masterKeyCommand (", "was killed by signal 9"]),
        Failure(name: "credential is a symbolic link", make: { s in
            let d = try s.credentials("real")
            try FileManager.default.createSymbolicLink(atPath: d + "/drawbridge-master-key", withDestinationPath: d + "/real")
            return ("", ["CREDENTIALS_DIRECTORY": d])
        }, says: ["/drawbridge-master-key: cannot read the master key: it is a symbolic link"]),
        Failure(name: "credential readable by others", make: { s in
            let d = try s.credentials()
            chmod(d + "/drawbridge-master-key", 0o444)
            return ("", ["CREDENTIALS_DIRECTORY": d])
        }, says: ["credential is accessible by others (mode 444)"]),
        Failure(name: "credential holds no key", make: { s in
            ("", ["CREDENTIALS_DIRECTORY": try s.credentials(text: "hunter2\n")])
        }, says: ["/drawbridge-master-key: master key has the wrong length: 7 characters"]),
        Failure(name: "file and variable", make: { s in
            (#"masterKeyFile: "\#(s.files.keyPath)""#, ["DRAWBRIDGE_MASTER_KEY": s.hex])
        }, says: ["more than one source: auth.masterKeyFile and $DRAWBRIDGE_MASTER_KEY", "keep exactly one"]),
        Failure(name: "credential and variable", make: { s in
            ("", ["CREDENTIALS_DIRECTORY": try s.credentials(), "DRAWBRIDGE_MASTER_KEY": s.hex])
        }, says: ["more than one source: the systemd credential drawbridge-master-key", "and $DRAWBRIDGE_MASTER_KEY"]),
        Failure(name: "command and credential", make: { s in
            (#"masterKeyCommand: ["/bin/cat", "\#(s.files.keyPath)"]"#, ["CREDENTIALS_DIRECTORY": try s.credentials()])
        }, says: ["more than one source: auth.masterKeyCommand and the systemd credential drawbridge-master-key"]),
        Failure(name: "file and command in the configuration", make: { s in
            (#"masterKeyFile: "\#(s.files.keyPath)", masterKeyCommand: ["/bin/cat", "\#(s.files.keyPath)"]"#, [:])
        }, says: ["auth.masterKeyCommand: a second master key source: masterKeyFile is set too"]),
        Failure(name: "no source at all", make: { _ in ("", [:]) },
                says: ["master key: none configured", "masterKeyCredential", "masterKeyCommand", "DRAWBRIDGE_MASTER_KEY"]),
    ]

    @Test(arguments: failures)
    func failuresAreClearStartUpErrors(_ f: Failure) throws {
        let s = try Setup()
        let (source, environment) = try f.make(s)
        let (status, output) = try s.failedStart(source, environment: environment)
        #expect(status == 1, "\(f.name): \(output)")
        for text in f.says { #expect(output.contains(text), "\(f.name): missing \"\(text)\" in \(output)") }
        #expect(!output.contains(s.hex) && !output.contains(s.base64), "\(f.name): the key was printed: \(output)")
        #expect(!output.contains("token expired"), "\(f.name): the command's output was printed: \(output)")
    }
}
