import DrawbridgeIdentity
import DrawbridgeStore
import Foundation
import Testing

/// The operator's command line: help for every command, "did you mean", user update/remove,
/// validation against the configuration, password rules, exit codes (0 done, 1 not done, 2 usage).
@Suite struct OperatorCLITests {
    /// Every command and subcommand: `help CMD`, `CMD --help` and `CMD SUB --help` print its usage, exit 0.
    static let helpTable: [(command: [String], shows: String)] = [
        (["serve"], "drawbridge [serve] [--config DIR] [--pid-file PATH]"),
        (["check-config"], "drawbridge check-config [--config DIR]"),
        (["hash-password"], "drawbridge hash-password [--pbkdf2]"),
        (["user"], "drawbridge user update EMAIL"),
        (["apikey"], "drawbridge apikey create --org ORG"),
        (["totp"], "drawbridge totp enroll EMAIL"),
        (["secret"], "drawbridge secret set NAME"),
        (["master-key"], "drawbridge master-key generate FILE"),
        (["backup"], "drawbridge backup restore ARCHIVE"),
    ] + UserCommandNames.all.map { (["user", $0], "drawbridge user ") }
      + ["create", "revoke", "list"].map { (["apikey", $0], "drawbridge apikey ") }
      + ["enroll", "remove"].map { (["totp", $0], "drawbridge totp ") }
      + ["set", "list", "remove", "reseal"].map { (["secret", $0], "drawbridge secret ") }
      + ["generate", "rotate"].map { (["master-key", $0], "drawbridge master-key ") }
      + ["create", "list", "verify", "restore", "prune"].map { (["backup", $0], "drawbridge backup ") }

    @Test(arguments: helpTable)
    func everyCommandHasHelp(_ command: [String], _ shows: String) throws {
        var forms = [command + ["--help"], command + ["-h"]]
        if command.count == 1 { forms.append(["help"] + command) }
        for args in forms {
            let r = try run(Binaries.drawbridge, args)
            #expect(r.status == 0, "drawbridge \(args.joined(separator: " ")): \(r.err)")
            #expect(r.out.contains("usage: ") && r.out.contains(shows), "drawbridge \(args.joined(separator: " ")): \(r.out)")
        }
    }

    @Test func versionHelpAndExitCodes() throws {
        for args in [["--version"], ["version"]] {
            let r = try run(Binaries.drawbridge, args)
            #expect(r.status == 0 && r.out.hasPrefix("drawbridge 0."), "\(r.out)")
        }
        for args in [["help"], ["--help"]] {
            let r = try run(Binaries.drawbridge, args)
            #expect(r.status == 0)
            #expect(r.out.contains("Exit status: 0 done; 1 could not be done") && r.out.contains("2 the command line is wrong"))
            #expect(r.out.contains("USR1 reopen log files") && r.out.contains("drawbridge user remove EMAIL"))
        }
        #expect(try run(Binaries.drawbridge, ["user"]).status == 2)   // missing subcommand
        #expect(try run(Binaries.drawbridge, ["help", "user", "add"]).status == 2)
    }

    /// A mistyped command, subcommand or option: exit 2, the closest name offered.
    static let typoTable: [(args: [String], suggests: String)] = [
        (["usr", "list"], "unknown command 'usr' (did you mean 'user'?)"),
        (["apikeys", "list"], "(did you mean 'apikey'?)"),
        (["help", "bakup"], "(did you mean 'backup'?)"),
        (["check-confg"], "(did you mean 'check-config'?)"),
        (["user", "ad", "a@acme.test"], "unknown subcommand 'ad' (did you mean 'add'?)"),
        (["user", "delete", "a@acme.test"], "unknown subcommand 'delete'"),
        (["apikey", "craete"], "(did you mean 'create'?)"),
        (["user", "add", "a@acme.test", "--orgg", "acme"], "unknown option '--orgg' (did you mean '--org'?)"),
        (["user", "update", "a@acme.test", "--move", "beta"], "(did you mean '--move-to'?)"),
        (["apikey", "create", "--rol", "x"], "(did you mean '--role'?)"),
        (["check-config", "--conf", "x"], "(did you mean '--config'?)"),
        (["serve", "--pid-fil", "x"], "(did you mean '--pid-file'?)"),
        (["hash-password", "--pbkdf"], "(did you mean '--pbkdf2'?)"),
    ]

    @Test(arguments: typoTable)
    func typosGetADidYouMean(_ args: [String], _ suggests: String) throws {
        let r = try run(Binaries.drawbridge, args)
        #expect(r.status == 2 && r.err.contains(suggests), "drawbridge \(args.joined(separator: " ")) → \(r.status): \(r.err)")
    }

    @Test func userUpdateAndRemove() throws {
        let f = try IdentityFixture()
        try f.cli(["user", "add", "alice@acme.test", "--org", "acme", "--role", "reader"])
        func alice() throws -> User? { try IdentityStore.readUsers(try f.auth).first { $0.email == "alice@acme.test" } }

        var r = try f.cli(["user", "update", "alice@acme.test", "--role", "admin", "--role", "reader", "--group", "eng", "--expires", "2031-05-06"])
        #expect(r.out.contains("updated alice@acme.test") && r.err.contains("kill -HUP"))
        var u = try #require(try alice())
        #expect(u.memberships == [Membership(orgId: "acme", roles: ["admin", "reader"], groups: ["eng"])])
        #expect(u.expiresAt == 1_935_792_000 && u.sessionEpoch == 0)   // roles apply at reload: sessions kept

        try f.cli(["user", "update", "alice@acme.test", "--move-to", "beta", "--no-groups", "--expires", "never"])
        u = try #require(try alice())
        #expect(u.memberships == [Membership(orgId: "beta", roles: ["admin", "reader"], groups: [])])
        #expect(u.expiresAt == nil && u.sessionEpoch == 1)   // sessions were for the old org: ended

        r = try f.cli(["user", "update", "alice@acme.test", "--org", "acme", "--no-roles"], expect: 1)
        #expect(r.err.contains("not a member of 'acme' (member of: beta)"))
        r = try f.cli(["user", "update", "alice@acme.test"], expect: 2)
        #expect(r.err.contains("nothing to change"))
        try f.cli(["user", "update", "alice@acme.test", "--role", "admin", "--no-roles"], expect: 2)
        try f.cli(["user", "update", "alice@acme.test", "--expires", "soon"], expect: 2)
        try f.cli(["user", "update", "nobody@acme.test", "--no-roles"], expect: 1)

        r = try f.cli(["user", "remove", "alice@acme.test"])
        #expect(r.out.contains("removed user alice@acme.test"))
        #expect(try alice() == nil)
        r = try f.cli(["user", "remove", "alice@acme.test"], expect: 1)
        #expect(r.err.contains("no user with email alice@acme.test"))
    }

    /// Names checked against the configuration (roles admin, member, reader; group eng; orgs acme, beta).
    static let validationTable: [(args: [String], status: Int32, says: String)] = [
        (["user", "add", "a@acme.test", "--org", "acme", "--role", "admn"], 2, "unknown role 'admn' (did you mean 'admin'?)"),
        (["user", "add", "a@acme.test", "--org", "acme", "--role", "ghost"], 2, "(roles): admin, member, reader"),
        (["user", "add", "a@acme.test", "--org", "acme", "--role", "reader", "--group", "engg"], 2, "unknown group 'engg' (did you mean 'eng'?)"),
        (["user", "add", "a@acme.test", "--org", "acm"], 2, "unknown organisation 'acm' (did you mean 'acme'?)"),
        (["user", "add", "a@acme.test", "--org", "ghost"], 2, "(organizations): acme, beta"),
        (["user", "add", "a@acme.test", "--org", "acme"], 0, "granted nothing"),
        (["user", "update", "a@acme.test", "--move-to", "gamma"], 2, "unknown organisation 'gamma'"),
        (["apikey", "create", "--org", "acme", "--role", "wrter"], 2, "unknown role 'wrter'"),
        (["apikey", "create", "--org", "acme"], 0, "warning: no --role: this key is granted nothing"),
    ]

    @Test(arguments: validationTable)
    func namesAreCheckedAgainstTheConfiguration(_ args: [String], _ status: Int32, _ says: String) throws {
        let f = try IdentityFixture()
        let r = try f.cli(args, expect: status)
        #expect(r.err.contains(says), "\(r.err)")
    }

    /// NIST SP 800-63B: at least 12 characters, long ones accepted, not the user's own email.
    static let passwordTable: [(password: String, status: Int32, says: String)] = [
        ("short pass!", 1, "too short: 11 characters, at least 12"),
        ("twelve chars", 0, ""),
        ("ünïcödé pässwörd", 0, ""),
        (String(repeating: "long passphrase ", count: 8), 0, ""),   // 128 characters
        (String(repeating: "x", count: 1025), 1, "too long"),
        ("alice@acme.test", 1, "contains the user's email"),
        ("my name is ALICE, ok?", 1, "contains the user's email or its name part (alice)"),
    ]

    @Test(arguments: passwordTable)
    func passwordsAreChecked(_ password: String, _ status: Int32, _ says: String) throws {
        let f = try IdentityFixture()
        var r = try f.cli(["user", "add", "alice@acme.test", "--org", "acme", "--role", "reader", "--password-stdin"], stdin: password + "\n", expect: status)
        #expect((says.isEmpty || r.err.contains(says)) && !r.err.contains(password), "\(r.err)")
        if status != 0 {
            #expect(try IdentityStore.readUsers(try f.auth).isEmpty)   // nothing written
            try f.cli(["user", "add", "alice@acme.test", "--org", "acme", "--role", "reader"])
        }
        r = try f.cli(["user", "set-password", "alice@acme.test"], stdin: password + "\n", expect: status)
        #expect(says.isEmpty || r.err.contains(says), "\(r.err)")
    }

    @Test func hashPasswordChecksLength() throws {
        let r = try run(Binaries.drawbridge, ["hash-password"], stdin: Data("too short\n".utf8))
        #expect(r.status == 1 && r.err.contains("too short"))
    }
}

/// The `user` subcommands, as the CLI lists them.
enum UserCommandNames {
    static let all = ["add", "update", "remove", "disable", "enable", "set-password", "logout-all", "link", "unlink", "list"]
}
