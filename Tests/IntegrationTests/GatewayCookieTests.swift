import Foundation
import Testing

/// The gateway owns the cookies of its namespace (`__Host-drawbridge`, `__Host-drawbridge-*`) in
/// both directions: an upstream neither reads them nor sets them, and the session cookie the
/// gateway renews keeps the attributes it was issued with (issue 19, item 4).
@Suite(.serialized) struct GatewayCookieTests {
    /// An upstream's Set-Cookie fields, and which of them reach the client.
    static let responseCases: [(name: String, setCookie: String, reaches: Bool)] = [
        ("session cookie planted", "__Host-drawbridge=forged; Path=/; Secure; HttpOnly", false),
        ("sign-in state, other case", "__host-DRAWBRIDGE-csrf=x; Path=/; Secure", false),
        ("second factor, spaces around =", "  __Host-drawbridge-mfa = x; Path=/", false),
        ("another name of the namespace", "__Host-drawbridge-anything=1; Path=/; Secure", false),
        ("nameless, the namespace as value", "__Host-drawbridge; Path=/; Secure", false),
        ("the app's own cookie", "app=1; Path=/", true),
        ("a name that only starts alike", "__Host-drawbridgeX=1; Path=/; Secure", true),
    ]

    static func world(_ upstream: ScriptedUpstream, routes: String = #"[ { pathPrefix: "/", upstream: "app", public: true } ]"#,
                      environment: [String: String?] = [:]) throws -> (GatewayFixture, IdentityFiles) {
        let files = IdentityFiles()
        files.users.append(TestUser(id: "u-alice", email: "alice@acme.test"))
        let gw = try GatewayFixture(upstreams: [], upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(upstream.port)\"] } }", routesJSON: routes,
                                    extra: files.configSections(), environment: environment, prepare: { try files.write(to: $0) })
        return (gw, files)
    }

    @Test(arguments: 0..<responseCases.count)
    func anUpstreamCannotSetTheGatewaysCookies(_ i: Int) throws {
        let (name, setCookie, reaches) = Self.responseCases[i]
        let up = try ScriptedUpstream(name: "app")
        defer { up.stop() }
        up.setScript { _, _ in .raw("HTTP/1.1 200 OK\r\nSet-Cookie: \(setCookie)\r\nSet-Cookie: kept=1\r\nContent-Length: 2\r\n\r\nok") }
        let (gw, _) = try Self.world(up)
        let r = try gw.get("/page")
        #expect(r.status == 200 && r.text == "ok", "\(name)")
        let cookies = r.headers("Set-Cookie")
        #expect(cookies.contains("kept=1"), "\(name)")
        #expect(cookies.contains { $0.trimmingCharacters(in: .whitespaces) == setCookie.trimmingCharacters(in: .whitespaces) } == reaches, "\(name): \(cookies)")
        let audit = (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? ""
        #expect(audit.contains("upstream_cookie_removed") == !reaches, "\(name)")
    }

    /// Cookie fields of a request, and what of them the upstream receives.
    static let requestCases: [(name: String, cookie: String, forwarded: String?)] = [
        ("sign-in state during a step-up", "__Host-drawbridge-csrf=c; app=1; __Host-drawbridge-mfa=m", "app=1"),
        ("only gateway cookies", "__Host-drawbridge-csrf=c; __Host-drawbridge-oidc=o", nil),
        ("other case", "__HOST-drawbridge-MFA=m; app=2", "app=2"),
    ]

    @Test(arguments: 0..<requestCases.count)
    func anUpstreamNeverReceivesTheGatewaysCookies(_ i: Int) throws {
        let (name, cookie, forwarded) = Self.requestCases[i]
        let up = try ScriptedUpstream(name: "app")
        defer { up.stop() }
        let (gw, _) = try Self.world(up)
        #expect(try gw.get("/page", headers: "Cookie: \(cookie)\r\n").status == 200, "\(name)")
        let head = try #require(up.receivedHeads.last).lowercased()
        #expect(!head.contains("drawbridge-"), "\(name): \(head)")
        if let forwarded { #expect(head.contains("cookie: \(forwarded)\r\n"), "\(name): \(head)") } else { #expect(!head.contains("cookie:"), "\(name)") }
    }

    /// A session renewed on an upstream's response keeps Max-Age and the other attributes it was
    /// issued with, and that response is never stored by a shared cache.
    @Test func aRenewedSessionCookieKeepsItsAttributesAndIsPrivate() throws {
        guard FakeClock.available else { throw TestFailure("faketime is not installed (scripts/ensure-deps faketime)") }
        let clock = try FakeClock(offset: "+0")
        let up = try ScriptedUpstream(name: "app")
        defer { up.stop() }
        up.setScript { _, _ in .raw("HTTP/1.1 200 OK\r\nCache-Control: public, max-age=600\r\nContent-Length: 2\r\n\r\nok") }
        let (gw, _) = try Self.world(up, routes: #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#,
                                     environment: clock.environment)
        let browser = SignInClient(gw)
        let signIn = try browser.signIn(email: "alice@acme.test", password: "correct horse battery staple")
        #expect(signIn.status == 303)
        let issued = try #require(signIn.headers("Set-Cookie").first { $0.hasPrefix("__Host-drawbridge=") })
        #expect(signIn.header("Cache-Control") == "no-store") // the gateway's own pages that set cookies
        // Past half the idle window (30 min by default): the next response renews the cookie.
        try clock.set("+20m")
        var renewed: Response?
        for _ in 0..<40 where renewed == nil { // the clock library re-reads its offset every second
            let r = try browser.get("/page")
            if r.headers("Set-Cookie").contains(where: { $0.hasPrefix("__Host-drawbridge=") }) { renewed = r } else { usleep(250_000) }
        }
        let r = try #require(renewed)
        let cookie = try #require(r.headers("Set-Cookie").first { $0.hasPrefix("__Host-drawbridge=") })
        #expect(Self.attributes(cookie).subtracting(["max-age"]) == Self.attributes(issued).subtracting(["max-age"]))
        #expect(Self.attributes(cookie).contains("max-age"), "\(cookie)")
        let cacheControl = r.headers("Cache-Control").joined(separator: ", ").lowercased()
        #expect(cacheControl.contains("private") && !cacheControl.contains("public"), "\(cacheControl)")
    }

    /// Attribute names of a Set-Cookie value (lower case), with the values of those that are not times.
    static func attributes(_ setCookie: String) -> Set<String> {
        Set(setCookie.split(separator: ";").dropFirst().map { a in
            let t = a.trimmingCharacters(in: .whitespaces).lowercased()
            return t.hasPrefix("max-age=") ? "max-age" : t
        })
    }
}
