import Foundation
import Testing
@testable import DrawbridgeConfig

private let authOK = """
    auth: {
      masterKeyFile: "/var/lib/drawbridge/master.key",
      modes: ["password", "api_key", "oidc:google"],
      session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 },
      oidc: { google: { issuer: "https://accounts.google.com", clientId: "abc", clientSecret: "oidc-google", hostedDomain: "Acme.test" } },
      loginLimits: { perAddress: 10, perAccountFailures: 3 },
      auditLog: "off",
      returnHosts: ["App.acme.test"],
    },
    """

@Suite struct AuthConfigTests {
    @Test func fullAuthSectionAndOrganisations() throws {
        let fixture = Fixture()
        let config = try fixture.parse(minimalConfig(routes: #"routes: [ { upstream: "whoami" } ],"#, extra: authOK + """
            organizations: {
              acme: { name: "Acme", emailDomains: ["ACME.test"], modes: ["oidc:google"], mfaRequired: true, idleTimeoutSeconds: 120 },
              beta: { disabledModes: ["password"] },
              gamma: {},
            },
            """))
        let auth = try #require(config.auth)
        #expect(auth.modes == [.password, .apiKey, .oidc("google")])
        #expect(auth.idleTimeoutSeconds == 600 && auth.absoluteTimeoutSeconds == 3600)
        #expect(auth.usersFile == fixture.directory + "/users.json")
        #expect(auth.oidc["google"]?.hostedDomain == "acme.test")
        #expect(auth.oidc["google"]?.displayName == "Google")
        #expect(auth.loginLimits.perAddress == 10 && auth.loginLimits.perAccountFailures == 3)
        #expect(auth.auditLog == .off)
        #expect(auth.returnHosts == ["app.acme.test"])
        #expect(config.organizations == [
            OrganizationConfig(id: "acme", name: "Acme", emailDomains: ["acme.test"], modes: .only([.oidc("google")]),
                               mfaRequired: true, idleTimeoutSeconds: 120),
            OrganizationConfig(id: "beta", name: "beta", modes: .disable([.password])),
            OrganizationConfig(id: "gamma", name: "gamma"),
        ])
        #expect(config.routes[0].isPublic == false)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String, extra: String, path: String, reason: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown mode", extra: #"auth: { masterKeyFile: "/k", modes: ["pasword"] },"#,
             path: "auth.modes[0]", reason: "unknown auth mode \"pasword\""),
        Case(name: "oidc mode without provider", extra: #"auth: { masterKeyFile: "/k", modes: ["oidc:google"] },"#,
             path: "auth.modes[0]", reason: "no OIDC provider \"google\""),
        Case(name: "mode twice", extra: #"auth: { masterKeyFile: "/k", modes: ["password", "password"] },"#,
             path: "auth.modes[1]", reason: "listed twice"),
        Case(name: "no modes", extra: #"auth: { masterKeyFile: "/k", modes: [] },"#,
             path: "auth.modes", reason: "at least one mode"),
        Case(name: "master key inside conf", extra: #"auth: { masterKeyFile: "keys/master.key" },"#,
             path: "auth.masterKeyFile", reason: "outside the configuration directory"),
        Case(name: "idle above absolute", extra: #"auth: { masterKeyFile: "/k", session: { idleTimeoutSeconds: 7200, absoluteTimeoutSeconds: 3600 } },"#,
             path: "auth.session.idleTimeoutSeconds", reason: "must not exceed"),
        Case(name: "issuer not https", extra: #"auth: { masterKeyFile: "/k", oidc: { g: { issuer: "http://x.test", clientId: "a", clientSecret: "s" } } },"#,
             path: "auth.oidc.g.issuer", reason: "https URL"),
        Case(name: "issuer trailing slash", extra: #"auth: { masterKeyFile: "/k", oidc: { g: { issuer: "https://x.test/", clientId: "a", clientSecret: "s" } } },"#,
             path: "auth.oidc.g.issuer", reason: "without trailing slash"),
        Case(name: "provider without client id", extra: #"auth: { masterKeyFile: "/k", oidc: { g: { issuer: "https://x.test", clientSecret: "s" } } },"#,
             path: "auth.oidc.g.clientId", reason: "missing required key"),
        Case(name: "org mode not global", extra: #"auth: { masterKeyFile: "/k", modes: ["password"] }, organizations: { a: { modes: ["api_key"] } },"#,
             path: "organizations.a.modes", reason: "can only narrow"),
        Case(name: "org modes and disabledModes", extra: #"auth: { masterKeyFile: "/k", modes: ["password", "api_key"] }, organizations: { a: { modes: ["password"], disabledModes: ["api_key"] } },"#,
             path: "organizations.a", reason: "not both"),
        Case(name: "domain in two orgs", extra: #"auth: { masterKeyFile: "/k" }, organizations: { a: { emailDomains: ["x.test"] }, b: { emailDomains: ["X.test"] } },"#,
             path: "organizations.b.emailDomains[0]", reason: "already belongs to organisation a"),
        Case(name: "orgs without auth", extra: #"organizations: { a: {} },"#,
             path: "organizations", reason: "need an auth section"),
        Case(name: "unknown auth key", extra: #"auth: { masterKeyFile: "/k", mode: ["password"] },"#,
             path: "auth.mode", reason: "did you mean modes"),
        Case(name: "bad return host", extra: #"auth: { masterKeyFile: "/k", returnHosts: ["*.x.test"] },"#,
             path: "auth.returnHosts[0]", reason: "exact DNS name"),
        Case(name: "max lockout below lockout", extra: #"auth: { masterKeyFile: "/k", loginLimits: { lockoutSeconds: 600, maxLockoutSeconds: 60 } },"#,
             path: "auth.loginLimits.maxLockoutSeconds", reason: "must be >= lockoutSeconds"),
        // Where the master key comes from (docs/KEYS.md): one source, each well-formed.
        Case(name: "file and command", extra: #"auth: { masterKeyFile: "/k", masterKeyCommand: ["/bin/cat", "/k"] },"#,
             path: "auth.masterKeyCommand", reason: "a second master key source: masterKeyFile is set too"),
        Case(name: "file and credential", extra: #"auth: { masterKeyFile: "/k", masterKeyCredential: "drawbridge-master-key" },"#,
             path: "auth.masterKeyCredential", reason: "a second master key source: masterKeyFile is set too"),
        Case(name: "credential and command", extra: #"auth: { masterKeyCredential: "k", masterKeyCommand: ["/bin/cat"] },"#,
             path: "auth.masterKeyCommand", reason: "a second master key source: masterKeyCredential is set too"),
        Case(name: "credential name with a slash", extra: #"auth: { masterKeyCredential: "../master.key" },"#,
             path: "auth.masterKeyCredential", reason: "invalid credential name"),
        Case(name: "credential name dot-dot", extra: #"auth: { masterKeyCredential: ".." },"#,
             path: "auth.masterKeyCredential", reason: "invalid credential name"),
        Case(name: "empty credential name", extra: #"auth: { masterKeyCredential: "" },"#,
             path: "auth.masterKeyCredential", reason: "invalid credential name"),
        Case(name: "command as one string", extra: #"auth: { masterKeyCommand: "/usr/bin/vault kv get -field=key secret/db" },"#,
             path: "auth.masterKeyCommand", reason: "expected an array of strings (the program and its arguments, run without a shell)"),
        Case(name: "command empty", extra: #"auth: { masterKeyCommand: [] },"#,
             path: "auth.masterKeyCommand", reason: "must name a program"),
        Case(name: "command on $PATH", extra: #"auth: { masterKeyCommand: ["vault", "kv", "get"] },"#,
             path: "auth.masterKeyCommand[0]", reason: "must be an absolute path"),
        Case(name: "command missing", extra: #"auth: { masterKeyCommand: ["/nonexistent/vault"] },"#,
             path: "auth.masterKeyCommand[0]", reason: "file not found: /nonexistent/vault"),
        Case(name: "command not executable", extra: #"auth: { masterKeyCommand: ["/etc/passwd"] },"#,
             path: "auth.masterKeyCommand[0]", reason: "not an executable file"),
        Case(name: "command argument not a string", extra: #"auth: { masterKeyCommand: ["/bin/cat", 3] },"#,
             path: "auth.masterKeyCommand[1]", reason: "expected a string"),
        Case(name: "timeout without command", extra: #"auth: { masterKeyFile: "/k", masterKeyCommandTimeoutSeconds: 5 },"#,
             path: "auth.masterKeyCommandTimeoutSeconds", reason: "only allowed with masterKeyCommand"),
        Case(name: "timeout too long", extra: #"auth: { masterKeyCommand: ["/bin/cat"], masterKeyCommandTimeoutSeconds: 601 },"#,
             path: "auth.masterKeyCommandTimeoutSeconds", reason: "out of range"),
    ]

    @Test func masterKeySources() throws {
        let fixture = Fixture()
        func source(_ auth: String) throws -> MasterKeySource? {
            try fixture.parse(minimalConfig(extra: "auth: { \(auth) },")).auth?.masterKeySource
        }
        #expect(try source(#"masterKeyFile: "/k""#) == .file("/k"))
        #expect(try source(#"masterKeyCredential: "drawbridge-master-key""#) == .credential("drawbridge-master-key"))
        #expect(try source(#"masterKeyCommand: ["/bin/cat", "/k"]"#) == .command(["/bin/cat", "/k"], timeoutSeconds: 30))
        #expect(try source(#"masterKeyCommand: ["/bin/cat"], masterKeyCommandTimeoutSeconds: 2.5"#) == .command(["/bin/cat"], timeoutSeconds: 2.5))
        #expect(try source(#"modes: ["password"]"#) == nil)
    }

    @Test(arguments: cases)
    func rejected(_ c: Case) {
        let issues = Fixture().issues(minimalConfig(extra: c.extra))
        #expect(issues.contains { $0.path == c.path && $0.message.contains(c.reason) }, "\(issues)")
    }

    @Test func protectedRouteNeedsAuth() {
        let issues = Fixture().issues(minimalConfig(routes: #"routes: [ { upstream: "whoami" } ],"#))
        #expect(issues.contains { $0.path == "routes[0]" && $0.message.contains("mark the route public: true") }, "\(issues)")
    }
}
