import Foundation
import Testing
@testable import DrawbridgeConfig

@Suite struct ValidConfigTests {
    @Test func minimalConfigTakesAllDefaults() throws {
        let fixture = Fixture()
        let config = try fixture.parse(minimalConfig())
        #expect(config.workers == 0)
        #expect(config.resolvedWorkers >= 1)
        #expect(config.httpsListen == [ListenAddress(host: "0.0.0.0", port: 8443)])
        #expect(config.httpRedirectListen.isEmpty)
        #expect(config.redirectPort == nil)
        #expect(config.resolvedRedirectPort == 8443)
        #expect(config.tls.certificates.count == 1)
        #expect(config.tls.certificates[0].isDefault)
        #expect(config.tls.certificates[0].certFile == fixture.directory + "/certs/a.crt")
        #expect(config.tls.certificates[0].keyFile == fixture.directory + "/certs/a.key")
        #expect(config.tls.certificates[0].serverNames.isEmpty)
        #expect(config.tls.sessionTickets)
        #expect(config.tls.ticketKeyRotationSeconds == 3600)
        #expect(config.hsts == HSTSConfig())
        #expect(config.hsts.headerValue == "max-age=31536000; includeSubDomains; preload")
        #expect(config.limits == LimitsConfig())
        #expect(config.limits.maxRequestLineBytes == 8192)
        #expect(config.limits.maxHeaderBytes == 32768)
        #expect(config.limits.maxHeaderCount == 100)
        #expect(config.limits.maxChunkLineBytes == 1024)
        #expect(config.limits.maxTrailerBytes == 8192)
        #expect(config.limits.maxRequestBodyBytes == 0)
        #expect(config.limits.maxConnectionsPerWorker == 10000)
        #expect(config.timeouts == TimeoutsConfig())
        #expect(config.timeouts.clientHeaderSeconds == 10)
        #expect(config.timeouts.upstreamConnectSeconds == 5)
        #expect(config.timeouts.drainSeconds == 30)
        #expect(config.timeouts.tunnelLifetimeSeconds == 86400)
        let whoami = try #require(config.upstreams["whoami"])
        #expect(whoami == UpstreamConfig(name: "whoami", servers: [UpstreamServer(host: "127.0.0.1", port: 9000)]))
        #expect(whoami.balance == .roundRobin)
        #expect(whoami.maxIdleConnections == 32)
        #expect(whoami.idleTimeoutSeconds == 60)
        #expect(config.routes == [RouteConfig(host: nil, pathPrefix: "/", upstream: "whoami", isPublic: true)])
        #expect(config.accessLog == .stdout)
        #expect(config.routeTable.match(host: "anything", path: "/x") == 0)
    }

    @Test func fullConfig() throws {
        let fixture = Fixture()
        let text = """
        {
          workers: 4,
          listen: { https: ["0.0.0.0:8443", "[::]:8443"], httpRedirect: ":8080", redirectPort: 443 },
          tls: {
            certificates: [
              { cert: "certs/a.crt", key: "certs/a.key", serverNames: ["Example.com", "*.example.com"] },
              { cert: "\(fixture.directory)/certs/b.crt", key: "certs/b.key", serverNames: "other.org", default: true },
            ],
            sessionTickets: false, ticketKeyRotationSeconds: 600,
          },
          hsts: { maxAgeSeconds: 300, includeSubDomains: false, preload: false },
          limits: { maxRequestLineBytes: 4096, maxRequestBodyBytes: 10000000000, maxConnectionsPerWorker: 5 },
          timeouts: { clientHeaderSeconds: 0.5, drainSeconds: 2, tunnelLifetimeSeconds: 172800 },
          upstreams: {
            api: { servers: ["[::1]:9001", "Backend.Internal:9002"], tls: true, caFile: "ca.pem", serverName: "api.internal",
                   balance: "least_connections", maxIdleConnections: 0, idleTimeoutSeconds: 1.5 },
            whoami: { servers: ["127.0.0.1:9000"] },
          },
          routes: [
            { host: "API.example.com", pathPrefix: "/v1", upstream: "api", public: true },
            { host: "*", upstream: "whoami", public: true },
          ],
          accessLog: "access.log",
        }
        """
        let config = try fixture.parse(text)
        #expect(config.workers == 4 && config.resolvedWorkers == 4)
        #expect(config.httpsListen.map(\.description) == ["0.0.0.0:8443", "[::]:8443"])
        #expect(config.httpRedirectListen == [ListenAddress(host: "0.0.0.0", port: 8080)])
        #expect(config.redirectPort == 443)
        #expect(config.tls.certificates.map(\.isDefault) == [false, true])
        #expect(config.tls.certificates[0].serverNames == ["example.com", "*.example.com"])
        #expect(config.tls.certificates[1].certFile == fixture.directory + "/certs/b.crt")
        #expect(config.tls.defaultCertificate?.serverNames == ["other.org"])
        #expect(!config.tls.sessionTickets && config.tls.ticketKeyRotationSeconds == 600)
        #expect(config.hsts.headerValue == "max-age=300")
        #expect(config.limits.maxRequestLineBytes == 4096)
        #expect(config.limits.maxRequestBodyBytes == 10_000_000_000)
        #expect(config.limits.maxHeaderBytes == 32768)
        #expect(config.timeouts.clientHeaderSeconds == 0.5 && config.timeouts.drainSeconds == 2)
        #expect(config.timeouts.tunnelLifetimeSeconds == 172800) // up to 7 days, unlike the other timeouts
        #expect(config.timeouts.clientIdleSeconds == 60)
        let api = try #require(config.upstreams["api"])
        #expect(api.servers == [UpstreamServer(host: "::1", port: 9001), UpstreamServer(host: "backend.internal", port: 9002)])
        #expect(api.servers.map(\.description) == ["[::1]:9001", "backend.internal:9002"])
        #expect(api.tls && api.caFile == fixture.directory + "/ca.pem" && api.serverName == "api.internal")
        #expect(api.balance == .leastConnections && api.maxIdleConnections == 0 && api.idleTimeoutSeconds == 1.5)
        #expect(config.routes == [RouteConfig(host: "api.example.com", pathPrefix: "/v1", upstream: "api", isPublic: true),
                                  RouteConfig(host: nil, pathPrefix: "/", upstream: "whoami", isPublic: true)])
        #expect(config.accessLog == .file(fixture.directory + "/access.log"))
    }

    @Test(arguments: [
        ("stdout", LogTarget.stdout), ("stderr", .stderr), ("off", .off), ("/tmp/drawbridge-access.log", .file("/tmp/drawbridge-access.log")),
    ])
    func accessLogTargets(value: String, expected: LogTarget) throws {
        let config = try Fixture().parse(minimalConfig(extra: "accessLog: \"\(value)\","))
        #expect(config.accessLog == expected)
    }

    @Test func relativeBaseDirectoryGivesAbsolutePaths() throws {
        let fixture = Fixture()
        let cwd = FileManager.default.currentDirectoryPath
        // Express the fixture relative to the working directory via "..".
        let depth = cwd.split(separator: "/").count
        let relative = String(repeating: "../", count: depth) + fixture.directory.dropFirst()
        let config = try ConfigLoader.parse(json5: minimalConfig(), file: "x.json5", baseDirectory: relative)
        #expect(config.tls.certificates[0].certFile == fixture.directory + "/certs/a.crt")
    }

    @Test func loadReadsDrawbridgeJson5FromDirectory() throws {
        let fixture = Fixture()
        try minimalConfig().write(toFile: fixture.directory + "/drawbridge.json5", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(directory: fixture.directory)
        #expect(config.upstreams.keys.sorted() == ["whoami"])
    }

    @Test func loadMissingFileNamesTheFile() throws {
        let fixture = Fixture()
        let error = #expect(throws: ConfigErrors.self) { try ConfigLoader.load(directory: fixture.directory) }
        #expect(error?.description == "\(fixture.directory)/drawbridge.json5: file not found")
    }

    /// The shipped conf/drawbridge.json5 must parse once its certificate files exist.
    @Test func headerAndPathSwitches() throws {
        let config = try Fixture().parse(minimalConfig(
            upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], caseInsensitivePaths: true }, b: { servers: ["127.0.0.1:9001"] } },"#,
            routes: #"routes: [ { pathPrefix: "/Admin/", upstream: "whoami", public: true, forwardOverrideHeaders: ["X-Forwarded-Prefix", "x-original-url"] }, { host: "[0::1]", upstream: "b", public: true } ],"#,
            extra: #"underscoreHeaders: "forward", paths: { allowEncodedWhitespace: true },"#))
        #expect(config.underscoreHeaders == .forward)
        #expect(config.pathPolicy.allowEncodedWhitespace)
        #expect(config.upstreams["whoami"]?.caseInsensitivePaths == true && config.upstreams["b"]?.caseInsensitivePaths == false)
        #expect(config.routes[0].forwardOverrideHeaders == ["X-Forwarded-Prefix", "x-original-url"])
        #expect(config.routes[1].host == "[::1]")                      // route hosts in the requests' normal form
        #expect(config.routeTable.lookup(host: "x", path: "/ADMIN") == .addSlash(0))   // case-folded for this upstream
        #expect(config.routeTable.match(host: "[::1]:8443", path: "/") == 1)
        #expect(try Fixture().parse(minimalConfig()).underscoreHeaders == .drop)
    }

    @Test func shippedDefaultConfigParses() throws {
        let confDirectory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("conf").path
        let text = try String(contentsOfFile: confDirectory + "/drawbridge.json5", encoding: .utf8)
        let fixture = Fixture()
        // Place the config one level below the fixture so that ../certs/dev.* resolve into it.
        let base = fixture.directory + "/conf"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        for name in ["dev.crt", "dev.key"] {
            _ = FileManager.default.createFile(atPath: fixture.directory + "/certs/" + name, contents: Data("x".utf8))
        }
        let config = try ConfigLoader.parse(json5: text, file: "conf/drawbridge.json5", baseDirectory: base)
        #expect(config.httpsListen == [ListenAddress(host: "0.0.0.0", port: 8443)])
        #expect(config.httpRedirectListen == [ListenAddress(host: "0.0.0.0", port: 8080)])
        #expect(config.tls.certificates[0].certFile == fixture.directory + "/certs/dev.crt")
        #expect(config.upstreams["whoami"]?.servers == [UpstreamServer(host: "127.0.0.1", port: 9000)])
        // Shipped protected: the default route needs a session or API key with a role that grants app:read / app:write.
        #expect(config.routes.map(\.isPublic) == [false])
        #expect(config.routes[0].access?.methods == ["GET": "app:read", "HEAD": "app:read", "*": "app:write"])
        #expect(config.roles.map(\.name) == ["admin", "editor", "viewer"])
        #expect(config.accessLog == .stdout)
        // As written (made absolute, not normalised): a symbolic link must reach open(O_NOFOLLOW).
        #expect(config.auth?.masterKeyFile == base + "/../.state/master.key")
        #expect(config.auth?.usersFile == base + "/users.json")
        #expect(config.auth?.modes == [.password, .apiKey])
        #expect(config.organizations.map(\.id) == ["example"])
    }
}

@Suite struct JSON5FeatureTests {
    @Test(arguments: [
        // comments
        """
        // line comment
        { /* block
             comment */ "listen": { "https": "0.0.0.0:8443" }, // trailing comment
          "tls": { "certificates": [ { "cert": "certs/a.crt", "key": "certs/a.key" } ] },
          "upstreams": { "whoami": { "servers": ["127.0.0.1:9000"] } },
          "routes": [ { "upstream": "whoami", "public": true } ] }
        """,
        // trailing commas everywhere, unquoted keys, single quotes
        """
        { listen: { https: ['0.0.0.0:8443',], },
          tls: { certificates: [ { cert: 'certs/a.crt', key: 'certs/a.key', }, ], },
          upstreams: { whoami: { servers: ['127.0.0.1:9000',], }, },
          routes: [ { upstream: 'whoami', public: true, }, ], }
        """,
        // hex numbers and + sign
        minimalConfig(extra: "workers: 0x2, limits: { maxHeaderCount: +50 },"),
    ])
    func acceptsJSON5(text: String) throws {
        let config = try Fixture().parse(text)
        #expect(config.routes.count == 1)
    }

    @Test func hexAndSignedNumbersDecode() throws {
        let config = try Fixture().parse(minimalConfig(extra: "workers: 0x2, limits: { maxHeaderCount: +50 },"))
        #expect(config.workers == 2)
        #expect(config.limits.maxHeaderCount == 50)
    }
}

@Suite struct ConfigErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var text: String
        var path: String
        var reason: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown top-level key", text: minimalConfig(extra: "wrokers: 2,"),
             path: "wrokers", reason: "unknown key (did you mean workers?)"),
        Case(name: "unknown nested key with suggestion",
             text: minimalConfig(extra: "timeouts: { clientHeaderSecond: 5 },"),
             path: "timeouts.clientHeaderSecond", reason: "unknown key (did you mean clientHeaderSeconds?)"),
        Case(name: "unknown key in a route", text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true, prefix: "/x" } ],"#),
             path: "routes[0].prefix", reason: "unknown key"),
        Case(name: "unknown key in an upstream",
             text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], timeout: 3 } },"#),
             path: "upstreams.whoami.timeout", reason: "unknown key"),
        Case(name: "wrong type: string for integer", text: minimalConfig(extra: #"workers: "4","#),
             path: "workers", reason: "expected an integer, got a string (\"4\")"),
        Case(name: "wrong type: fraction for integer", text: minimalConfig(extra: "limits: { maxHeaderCount: 1.5 },"),
             path: "limits.maxHeaderCount", reason: "expected an integer"),
        Case(name: "wrong type: number for boolean", text: minimalConfig(extra: "hsts: { preload: 1 },"),
             path: "hsts.preload", reason: "expected a boolean"),
        Case(name: "wrong type: section not an object", text: minimalConfig(extra: "limits: [],"),
             path: "limits", reason: "expected an object, got an array"),
        Case(name: "wrong type: timeout as string", text: minimalConfig(extra: #"timeouts: { drainSeconds: "30s" },"#),
             path: "timeouts.drainSeconds", reason: "expected a number of seconds"),
        Case(name: "out of range: request line", text: minimalConfig(extra: "limits: { maxRequestLineBytes: 100 },"),
             path: "limits.maxRequestLineBytes", reason: "out of range: 100 (allowed: 256...1048576)"),
        Case(name: "out of range: tunnel lifetime over 7 days", text: minimalConfig(extra: "timeouts: { tunnelLifetimeSeconds: 604801 },"),
             path: "timeouts.tunnelLifetimeSeconds", reason: "out of range: 604801.0 (must be > 0 and <= 604800 seconds)"),
        Case(name: "out of range: zero timeout", text: minimalConfig(extra: "timeouts: { clientIdleSeconds: 0 },"),
             path: "timeouts.clientIdleSeconds", reason: "out of range"),
        Case(name: "out of range: negative body limit", text: minimalConfig(extra: "limits: { maxRequestBodyBytes: -1 },"),
             path: "limits.maxRequestBodyBytes", reason: "out of range: -1 (allowed: >= 0)"),
        Case(name: "out of range: ticket rotation", text: minimalConfig(tls: #"tls: { certificates: [ { cert: "certs/a.crt", key: "certs/a.key" } ], ticketKeyRotationSeconds: 10 },"#),
             path: "tls.ticketKeyRotationSeconds", reason: "out of range: 10 (allowed: 60...604800)"),
        Case(name: "missing required section", text: minimalConfig(listen: ""),
             path: "listen", reason: "missing required key"),
        Case(name: "missing required nested", text: minimalConfig(listen: "listen: { httpRedirect: \":8080\" },"),
             path: "listen.https", reason: "missing required key"),
        Case(name: "missing cert key", text: minimalConfig(tls: #"tls: { certificates: [ { cert: "certs/a.crt" } ] },"#),
             path: "tls.certificates[0].key", reason: "missing required key"),
        Case(name: "missing upstream servers", text: minimalConfig(upstreams: "upstreams: { whoami: {} },"),
             path: "upstreams.whoami.servers", reason: "missing required key"),
        Case(name: "missing file", text: minimalConfig(tls: #"tls: { certificates: [ { cert: "certs/nope.crt", key: "certs/a.key" } ] },"#),
             path: "tls.certificates[0].cert", reason: "file not found: "),
        Case(name: "unknown upstream in a route",
             text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"] }, api: { servers: ["127.0.0.1:9001"] } },"#,
                                 routes: #"routes: [ { upstream: "whoami", public: true }, { pathPrefix: "/a", upstream: "api", public: true }, { pathPrefix: "/b", upstream: "billing", public: true } ],"#),
             path: "routes[2].upstream", reason: #"unknown upstream "billing" (defined: api, whoami)"#),
        Case(name: "two default certificates",
             text: minimalConfig(tls: #"tls: { certificates: [ { cert: "certs/a.crt", key: "certs/a.key", default: true }, { cert: "certs/b.crt", key: "certs/b.key", default: true } ] },"#),
             path: "tls.certificates[1].default", reason: "more than one default certificate (tls.certificates[0] is already the default)"),
        Case(name: "bad listen address: no port", text: minimalConfig(listen: #"listen: { https: "0.0.0.0" },"#),
             path: "listen.https", reason: "bad listen address: missing \":port\""),
        Case(name: "bad listen address: port range", text: minimalConfig(listen: #"listen: { https: ["0.0.0.0:8443", "0.0.0.0:70000"] },"#),
             path: "listen.https[1]", reason: "invalid port \"70000\""),
        Case(name: "bad listen address: unbracketed IPv6", text: minimalConfig(listen: #"listen: { https: "::1:8443" },"#),
             path: "listen.https", reason: "IPv6 addresses must be written in brackets"),
        Case(name: "bad listen address: host name", text: minimalConfig(listen: #"listen: { https: "localhost:8443" },"#),
             path: "listen.https", reason: "listen host must be an IPv4 literal"),
        Case(name: "duplicate listen address", text: minimalConfig(listen: #"listen: { https: ":8443", httpRedirect: "0.0.0.0:8443" },"#),
             path: "listen.httpRedirect", reason: "address 0.0.0.0:8443 is already used by listen.https"),
        Case(name: "preload without includeSubDomains", text: minimalConfig(extra: "hsts: { includeSubDomains: false },"),
             path: "hsts.preload", reason: "preload requires includeSubDomains: true"),
        Case(name: "preload with short max-age", text: minimalConfig(extra: "hsts: { maxAgeSeconds: 86400 },"),
             path: "hsts.preload", reason: "preload requires maxAgeSeconds >= 31536000"),
        Case(name: "duplicate routes",
             text: minimalConfig(routes: #"routes: [ { host: "a.example.com", pathPrefix: "/x", upstream: "whoami", public: true }, { host: "A.example.com", pathPrefix: "/x", upstream: "whoami", public: true } ],"#),
             path: "routes[1]", reason: "duplicate route: same host (a.example.com) and pathPrefix (/x) as routes[0]"),
        Case(name: "duplicate any-host routes", text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true }, { host: "*", pathPrefix: "/", upstream: "whoami", public: true } ],"#),
             path: "routes[1]", reason: "duplicate route"),
        Case(name: "path prefix without slash", text: minimalConfig(routes: #"routes: [ { pathPrefix: "api", upstream: "whoami", public: true } ],"#),
             path: "routes[0].pathPrefix", reason: "must start with \"/\""),
        Case(name: "route host with port", text: minimalConfig(routes: #"routes: [ { host: "a.example.com:443", upstream: "whoami", public: true } ],"#),
             path: "routes[0].host", reason: "must not contain a port"),
        Case(name: "bad upstream name", text: minimalConfig(upstreams: #"upstreams: { "who ami": { servers: ["127.0.0.1:9000"] } },"#),
             path: "upstreams.who ami", reason: "invalid upstream name"),
        Case(name: "bad balance", text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], balance: "random" } },"#),
             path: "upstreams.whoami.balance", reason: "unknown strategy \"random\""),
        Case(name: "caFile without tls", text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], caFile: "ca.pem" } },"#),
             path: "upstreams.whoami.caFile", reason: "only allowed with tls: true"),
        Case(name: "bad upstream server", text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1"] } },"#),
             path: "upstreams.whoami.servers[0]", reason: "bad upstream server address: missing \":port\""),
        Case(name: "empty upstream servers", text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: [] } },"#),
             path: "upstreams.whoami.servers", reason: "must contain at least one server"),
        Case(name: "duplicate JSON key", text: minimalConfig(extra: "workers: 1, workers: 2,"),
             path: "workers", reason: "duplicate key (line 6)"),
        Case(name: "access log directory missing", text: minimalConfig(extra: #"accessLog: "nodir/access.log","#),
             path: "accessLog", reason: "directory does not exist"),
        Case(name: "unknown underscoreHeaders", text: minimalConfig(extra: #"underscoreHeaders: "allow","#),
             path: "underscoreHeaders", reason: #"unknown value "allow" (allowed: "drop", "forward", "reject")"#),
        Case(name: "identity field as a forwarded override",
             text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true, forwardOverrideHeaders: ["X-Forwarded-User"] } ],"#),
             path: "routes[0].forwardOverrideHeaders[0]", reason: #""X-Forwarded-User" is not an override field a route can forward"#),
        Case(name: "gateway-set field as a forwarded override",
             text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true, forwardOverrideHeaders: ["X-Forwarded-Host"] } ],"#),
             path: "routes[0].forwardOverrideHeaders[0]", reason: "is not an override field"),
        Case(name: "underscore spelling of an override",
             text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true, forwardOverrideHeaders: ["X_Original_URL"] } ],"#),
             path: "routes[0].forwardOverrideHeaders[0]", reason: "is not an override field"),
        Case(name: "routes equal when case-folded to a case-insensitive upstream",
             text: minimalConfig(upstreams: #"upstreams: { whoami: { servers: ["127.0.0.1:9000"], caseInsensitivePaths: true } },"#,
                                 routes: #"routes: [ { pathPrefix: "/admin", upstream: "whoami", public: true }, { pathPrefix: "/Admin", upstream: "whoami", public: true } ],"#),
             path: "routes[1]", reason: "equals that of routes[0] when case is ignored"),
        Case(name: "numeric route host not a dotted quad",
             text: minimalConfig(routes: #"routes: [ { host: "127.1", upstream: "whoami", public: true } ],"#),
             path: "routes[0].host", reason: "a numeric host must be a dotted-quad IPv4 address"),
        Case(name: "encoded white space switch not a boolean", text: minimalConfig(extra: #"paths: { allowEncodedWhitespace: "yes" },"#),
             path: "paths.allowEncodedWhitespace", reason: "expected a boolean"),
    ]

    @Test(arguments: cases)
    func reportsFilePathAndReason(_ c: Case) {
        let issues = Fixture().issues(c.text)
        #expect(!issues.isEmpty, "expected an error")
        let matching = issues.filter { $0.path == c.path && $0.message.contains(c.reason) }
        #expect(matching.count == 1, "issues were: \(issues.map(\.description))")
        if let issue = matching.first {
            #expect(issue.file == Fixture.file)
            #expect(issue.description.hasPrefix("\(Fixture.file): \(c.path): "))
        }
    }

    struct SyntaxCase: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        var reason: String
        var testDescription: String { name }
    }

    static let syntaxCases: [SyntaxCase] = [
        SyntaxCase(name: "missing comma", text: "{\n  workers: 1\n  listen: {}\n}", line: 3,
                   reason: "at column 3: expected ',' or '}' after the value of \"workers\", found 'listen'"),
        SyntaxCase(name: "unquoted string value", text: "{\n\n  accessLog: stdout,\n}", line: 3, reason: "unquoted string \"stdout\""),
        SyntaxCase(name: "unterminated string", text: "{\n  a: 'x,\n}", line: 2, reason: "line break inside a string"),
        SyntaxCase(name: "unterminated comment", text: "{ /* \n\n", line: 1, reason: "unterminated /* comment"),
        SyntaxCase(name: "missing colon", text: "{\n a 1 }", line: 2, reason: "expected ':' after key \"a\""),
        SyntaxCase(name: "unclosed object", text: "{\n a: [1, 2],\n", line: 3, reason: "unexpected end of file"),
        SyntaxCase(name: "garbage after document", text: "{}\n}", line: 2, reason: "after the end of the document"),
        SyntaxCase(name: "leading zero", text: "{ a: 007 }", line: 1, reason: "leading zeros"),
        SyntaxCase(name: "empty", text: "  // nothing\n", line: 2, reason: "the document is empty"),
    ]

    @Test(arguments: syntaxCases)
    func syntaxErrorsNameTheLine(_ c: SyntaxCase) {
        let issues = Fixture().issues(c.text)
        #expect(issues.count == 1, "issues were: \(issues.map(\.description))")
        let issue = issues.first
        #expect(issue?.file == Fixture.file)
        #expect(issue?.path == "line \(c.line)")
        #expect(issue?.message.hasPrefix("JSON5 syntax error") == true)
        #expect(issue?.message.contains(c.reason) == true, "was: \(issue?.description ?? "-")")
        #expect(issue?.description.hasPrefix("\(Fixture.file): line \(c.line): JSON5 syntax error at column ") == true)
    }

    @Test func topLevelMustBeAnObject() {
        let issues = Fixture().issues("[1, 2]")
        #expect(issues.map(\.description) == ["\(Fixture.file): expected an object, got an array"])
    }

    @Test func allSemanticErrorsAreCollectedInOnePass() {
        let text = minimalConfig(
            listen: #"listen: { https: "0.0.0.0:0" },"#,
            routes: #"routes: [ { upstream: "nope", public: true } ],"#,
            extra: "workers: -1, limits: { maxHeaderCount: 0 }, timeouts: { drainSecond: 1 }, hsts: { includeSubDomains: false },")
        let issues = Fixture().issues(text)
        #expect(Set(issues.map(\.path)) == ["listen.https", "routes[0].upstream", "workers", "limits.maxHeaderCount",
                                            "timeouts.drainSecond", "hsts.preload"])
        let errors = ConfigErrors(issues: issues)
        #expect(errors.description.split(separator: "\n").count == issues.count)
        #expect(errors.description.split(separator: "\n").allSatisfy { $0.hasPrefix("\(Fixture.file): ") })
    }
}

@Suite struct AddressParsingTests {
    @Test(arguments: [
        ("0.0.0.0:8443", "0.0.0.0", 8443), ("[::]:8443", "::", 8443), ("127.0.0.1:1", "127.0.0.1", 1),
        (":8443", "0.0.0.0", 8443), ("[::1]:65535", "::1", 65535),
    ] as [(String, String, UInt16)])
    func validListenAddresses(text: String, host: String, port: UInt16) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address.description == (text.hasPrefix(":") ? "0.0.0.0\(text)" : text))
    }

    @Test(arguments: ["", "8443", "0.0.0.0:", "0.0.0.0:0", "0.0.0.0:65536", "0.0.0.0:-1", "0.0.0.0:84a3",
                      "[::1]8443", "[::1:8443", "[zz]:1", "::1:8443", "999.0.0.1:80", "example.com:443"])
    func invalidListenAddresses(text: String) {
        #expect(throws: AddressError.self) { try ListenAddress(parsing: text) }
    }

    @Test(arguments: ["127.0.0.1:9000", "[::1]:9000", "backend.internal:9000", "whoami:80", "my_svc-1:8080"])
    func validUpstreamServers(text: String) throws {
        let server = try UpstreamServer(parsing: text)
        #expect(server.description == text)
    }

    @Test(arguments: [":9000", "host", "bad host:80", "-x.example:80", "a..b:80", "host:0"])
    func invalidUpstreamServers(text: String) {
        #expect(throws: AddressError.self) { try UpstreamServer(parsing: text) }
    }
}
