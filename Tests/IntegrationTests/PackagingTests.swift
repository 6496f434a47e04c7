import Foundation
import Glibc
import Testing

/// packaging/install staged into a temporary DESTDIR: the tree, owners and modes it makes, that it
/// never overwrites a configuration, that the unit passes `systemd-analyze verify`, and that the
/// configuration skeleton is a valid configuration once a certificate and a session key exist.
@Suite(.serialized) struct PackagingTests {
    static var install: String { Binaries.packageRoot.appendingPathComponent("packaging/install").path }

    /// A fresh DESTDIR (mode 0755, as / is) with the package installed for `user`.
    static func staged(user: String) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("db-pkg-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        chmod(d, 0o755)
        let r = try run(install, ["--destdir", d, "--prefix", "/usr/local", "--binary", Binaries.drawbridge, "--user", user])
        guard r.status == 0 else { throw TestFailure("install failed (\(r.status)): \(r.err)") }
        return d
    }

    /// "mode owner:group" of a path, as find -printf shows them.
    static func entry(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let user = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(st.st_uid)
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(st.st_gid)
        return String(format: "%04o ", st.st_mode & 0o7777) + user + ":" + group
    }

    @Test func installStagesTheTreeWithOwnersAndModes() throws {
        // "nobody" stands in for the service user (a test must not create users): its group
        // shows where the configuration is group-readable and the state the user's own.
        let user = getpwnam("nobody") != nil ? "nobody" : "root"
        let group = String(cString: getgrgid(getpwnam(user).pointee.pw_gid).pointee.gr_name)
        let asRoot = getuid() == 0
        let owned = { (o: String) in asRoot ? o : "\(String(cString: getpwuid(getuid()).pointee.pw_name)):\(String(cString: getgrgid(getgid()).pointee.gr_name))" }
        let d = try Self.staged(user: user)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let want: [(String, String)] = [
            ("/usr/local/bin/drawbridge", "0755 " + owned("root:root")),
            ("/usr/local/share/drawbridge/drawbridge.json5", "0644 " + owned("root:root")),
            ("/etc/systemd/system/drawbridge.service", "0644 " + owned("root:root")),
            ("/etc/drawbridge", "0750 " + owned("root:\(group)")),
            ("/etc/drawbridge/drawbridge.json5", "0640 " + owned("root:\(group)")),
            ("/etc/drawbridge/tls", "0750 " + owned("root:\(group)")),
            ("/var/lib/drawbridge", "0700 " + owned("\(user):\(group)")),
            ("/etc/credstore.encrypted", "0700 " + owned("root:root")),
        ]
        for (path, expected) in want {
            #expect(Self.entry(d + path) == expected, "\(path)")
        }
        // Nothing else: these are the only files installed.
        let files = (FileManager.default.enumerator(atPath: d)?.allObjects as? [String] ?? [])
            .filter { var st = stat(); return lstat(d + "/" + $0, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR }
        #expect(Set(files.map { "/" + $0 }) == ["/usr/local/bin/drawbridge", "/usr/local/share/drawbridge/drawbridge.json5",
                                                "/etc/systemd/system/drawbridge.service", "/etc/drawbridge/drawbridge.json5"])
        let binary = try Data(contentsOf: URL(fileURLWithPath: d + "/usr/local/bin/drawbridge"))
        #expect(binary == (try Data(contentsOf: URL(fileURLWithPath: Binaries.drawbridge))))
        let unit = try String(contentsOfFile: d + "/etc/systemd/system/drawbridge.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/drawbridge serve --config /etc/drawbridge"))
        #expect(!unit.contains("@BINDIR@"))
        #expect(unit.contains("\nUser=\(user)\n") && unit.contains("\nGroup=\(group)\n"))
    }

    @Test func aSecondInstallKeepsTheConfigurationAndState() throws {
        let d = try Self.staged(user: "root")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let config = d + "/etc/drawbridge/drawbridge.json5"
        try "// the operator's own\n{}\n".write(toFile: config, atomically: false, encoding: .utf8)
        chmod(config, 0o600)
        try "{}".write(toFile: d + "/var/lib/drawbridge/users.json", atomically: false, encoding: .utf8)
        let r = try run(Self.install, ["--destdir", d, "--binary", Binaries.drawbridge, "--user", "root"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("kept the existing \(config)"))
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "// the operator's own\n{}\n")
        #expect(Self.entry(config)?.hasPrefix("0600 ") == true)
        #expect(try String(contentsOfFile: d + "/var/lib/drawbridge/users.json", encoding: .utf8) == "{}")
        // Bad arguments are refused with a message, and install nothing.
        let bad = try run(Self.install, ["--destdir", "relative/dir", "--binary", Binaries.drawbridge])
        #expect(bad.status == 2 && bad.err.contains("--destdir must be an absolute path"))
        let missing = try run(Self.install, ["--destdir", d, "--binary", d + "/nope"])
        #expect(missing.status == 1 && missing.err.contains("is not an executable file"))
    }

    /// The unit as installed, with its ExecStart pointing at the staged binary (verify checks that
    /// the program exists).
    @Test func theUnitPassesSystemdAnalyzeVerify() throws {
        let d = try Self.staged(user: "root")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            throw TestFailure("systemd-analyze is missing: scripts/test installs it (Debian package systemd)")
        }
        let unit = try String(contentsOfFile: d + "/etc/systemd/system/drawbridge.service", encoding: .utf8)
        let dir = d + "/verify"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/", with: "ExecStart=\(d)/usr/local/bin/")
            .write(toFile: dir + "/drawbridge.service", atomically: true, encoding: .utf8)
        let r = try run(analyze, ["verify", dir + "/drawbridge.service"])
        #expect(r.status == 0 && r.err.isEmpty && r.out.isEmpty, "systemd-analyze verify: \(r.out)\(r.err)")
        // The exposure docs/OPERATIONS.md reports; a setting lost from the unit would raise it.
        let s = try run(analyze, ["security", "--offline=true", dir + "/drawbridge.service"])
        let line = s.out.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? s.out + s.err
        #expect(line.contains("OK"), "\(line)")
    }

    /// The skeleton with its absolute paths moved into the staged tree, a certificate and a
    /// session key: check-config accepts it.
    @Test func theConfigurationSkeletonIsValid() throws {
        let d = try Self.staged(user: "root")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let config = d + "/etc/drawbridge/drawbridge.json5"
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "\"/etc/drawbridge/", with: "\"\(d)/etc/drawbridge/")
            .replacingOccurrences(of: "\"/var/lib/drawbridge/", with: "\"\(d)/var/lib/drawbridge/")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o640)
        let tls = d + "/etc/drawbridge/tls"
        try run("/bin/bash", [Binaries.packageRoot.appendingPathComponent("scripts/dev-cert").path, tls])
        try FileManager.default.moveItem(atPath: tls + "/dev.crt", toPath: tls + "/fullchain.pem")
        try FileManager.default.moveItem(atPath: tls + "/dev.key", toPath: tls + "/privkey.pem")
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        func cli(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try run("/usr/bin/env", ["DRAWBRIDGE_MASTER_KEY=\(key)", Binaries.drawbridge] + args + ["--config", d + "/etc/drawbridge"])
        }
        let set = try cli(["secret", "set", "session-key-1", "--random"])
        #expect(set.status == 0, "\(set.err)")
        let check = try cli(["check-config"])
        #expect(check.status == 0, "check-config: \(check.out)\(check.err)")
    }
}
