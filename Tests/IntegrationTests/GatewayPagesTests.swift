import Foundation
import Testing

/// Every status the gateway answers itself, over real TLS from a raw client: a page for a browser,
/// JSON for an API client, each with the request id (header and body), HSTS and no-store; a
/// request whose head did not parse gets the page (its Accept cannot be trusted) and never sees
/// its own bytes again. The browser side of the same pages: BrowserPagesTests.
@Suite(.serialized) struct GatewayPagesTests {
    static let password = "correct horse battery staple"

    /// alice (acme, admin), bob (beta, member), cat (closed: passwords off). Routes: /admin
    /// (admins), /app (members), /slow/ (public, whoami's delayed answer), /refusing (nothing
    /// listens, passive health off: 502), /down (two servers where nothing listens, both marked down by
    /// the first request's connect and retry: 503).
    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        static let orgs = #"""
            { acme: { name: "Acme", emailDomains: ["acme.test"] }, beta: { name: "Beta", emailDomains: ["beta.test"] },
              closed: { name: "Closed Corp", emailDomains: ["closed.test"], disabledModes: ["password"] } }
            """#

        /// `timeouts`: the `timeouts` section (short ones only where a test waits for a 408 or 504:
        /// a loaded machine must not turn an ordinary request into one).
        init(timeouts: String = "") throws {
            self.timeouts = timeouts
            upstream = try Upstream(logRequests: true)
            files.users = [
                TestUser(id: "u_alice", email: "alice@acme.test", roles: ["admin"]),
                TestUser(id: "u_bob", email: "bob@beta.test", org: "beta"),
                TestUser(id: "u_cat", email: "cat@closed.test", org: "closed"),
            ]
            let files = self.files
            ups = """
                { app: { servers: ["127.0.0.1:\(upstream.port)"] },
                  refusing: { servers: ["127.0.0.1:\(freePort())"], maxFails: 0 },
                  down: { servers: ["127.0.0.1:\(freePort())", "127.0.0.1:\(freePort())"], failTimeoutSeconds: 600 } }
                """
            routes = #"""
                [ { pathPrefix: "/admin", upstream: "app", access: { methods: { "*": "admin:all" } } },
                  { pathPrefix: "/app", upstream: "app", access: { methods: { "*": "app:use" } } },
                  { pathPrefix: "/slow/", upstream: "app", public: true },
                  { pathPrefix: "/refusing", upstream: "refusing", public: true },
                  { pathPrefix: "/down", upstream: "down", public: true } ]
                """#
            gw = try GatewayFixture(upstreams: [upstream], upstreamsJSON: ups, routesJSON: routes, extra: Self.extra(files, orgs: Self.orgs, timeouts: timeouts),
                                    prepare: { try files.write(to: $0) })
        }

        let ups: String
        let routes: String
        let timeouts: String

        static func extra(_ files: IdentityFiles, orgs: String, timeouts: String) -> String {
            files.configSections(orgs: orgs) + timeouts
        }

        /// The same configuration with other organisations, reloaded.
        func reload(orgs: String) throws {
            try gw.write(upstreamsJSON: ups, routesJSON: routes, extra: Self.extra(files, orgs: orgs, timeouts: timeouts))
            try gw.reload(expect: "reloaded")
        }

        var audit: String { (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? "" }
    }

    enum Negotiation: Sendable { case byAccept, alwaysPage, alwaysJSON }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let status: Int
        /// The request with `ACCEPT` where its Accept field goes.
        let raw: String
        var negotiation = Negotiation.byAccept
        var testDescription: String { "\(status) \(name)" }
    }

    /// A marker of attacker input: it must never come back in a body.
    static let evil = "<script>alert(1)</script>"

    static func get(_ target: String, _ extra: String = "") -> String {
        "GET \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\n\(extra)Connection: close\r\n\r\n"
    }

    static let cases: [Case] = [
        Case(name: "malformed field line", status: 400,
             raw: "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\nBad \(evil) line\r\n\r\n", negotiation: .alwaysPage),
        Case(name: "gateway cookie sent twice", status: 400, raw: get("/app", "Cookie: __Host-drawbridge=a; __Host-drawbridge=\(evil)\r\n")),
        Case(name: "no route", status: 404, raw: get("/nowhere?q=\(evil.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")),
        Case(name: "no such gateway endpoint", status: 404, raw: get("/.drawbridge/nothing")),
        Case(name: "method not allowed on a gateway endpoint", status: 405,
             raw: "DELETE /.drawbridge/login HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\nConnection: close\r\n\r\n", negotiation: .alwaysJSON),
        Case(name: "request body that never comes", status: 408, raw: get("/.drawbridge/login", "Content-Length: 10\r\n") + "ab"),
        Case(name: "head that never ends", status: 408, raw: "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\nX-Slow: \(evil)", negotiation: .alwaysPage),
        Case(name: "sign-in form too large", status: 413, raw: get("/.drawbridge/login", "Content-Length: 20000\r\n")),
        Case(name: "request line too long", status: 414,
             raw: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\n\r\n", negotiation: .alwaysPage),
        Case(name: "header block too large", status: 431,
             raw: "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: ACCEPT\r\n" + (0..<40).map { "X-\($0): \(evil)" + String(repeating: "b", count: 1000) + "\r\n" }.joined() + "\r\n",
             negotiation: .alwaysPage),
        Case(name: "upstream refuses", status: 502, raw: get("/refusing")),
        Case(name: "no healthy server", status: 503, raw: get("/down")),
        Case(name: "upstream too slow", status: 504, raw: get("/slow/3000")),
    ]

    /// The checks common to every gateway-made error; `json`: which kind is expected.
    static func checkError(_ r: Response, status: Int, json: Bool, _ what: String) throws {
        #expect(r.status == status, "\(what): \(r.status) \(r.text.prefix(300))")
        let id = r.header("x-request-id") ?? ""
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "\(what): request id \(id)")
        #expect(r.header("strict-transport-security") != nil, "\(what)")
        #expect(r.header("cache-control") == "no-store", "\(what)")
        #expect(r.header("x-content-type-options") == "nosniff", "\(what)")
        #expect(!r.text.contains(evil) && !r.text.contains("alert(1)"), "\(what): attacker input echoed")
        if json {
            #expect(r.header("content-type") == "application/json", "\(what)")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], "\(what): \(r.text)")
            #expect(doc["request_id"] as? String == id, "\(what)")
            #expect(doc["status"] as? Int == status, "\(what)")
            #expect((doc["error"] as? String)?.isEmpty == false, "\(what)")
        } else {
            #expect(r.header("content-type") == "text/html; charset=utf-8", "\(what)")
            #expect(r.text.hasPrefix("<!doctype html>") && r.text.contains("<code id=\"request-id\">\(id)</code>"), "\(what): \(r.text)")
            #expect(r.header("content-security-policy")?.contains("default-src 'none'") == true, "\(what)")
        }
    }

    @Test func everyGatewayMadeStatusIsAPageOrJSONWithTheRequestId() throws {
        let w = try World(timeouts: "timeouts: { clientHeaderSeconds: 1, clientBodySeconds: 1, upstreamResponseSeconds: 1 },")
        // /down's servers are marked down by the first request (connect, retry: 502); from then on: 503.
        #expect(try w.gw.get("/down").status == 502)
        for c in Self.cases {
            for accept in ["text/html,application/xhtml+xml,*/*;q=0.8", "application/json"] {
                let json = c.negotiation == .alwaysJSON || (c.negotiation == .byAccept && accept == "application/json")
                let r = try w.gw.request(c.raw.replacingOccurrences(of: "ACCEPT", with: accept))
                try Self.checkError(r, status: c.status, json: json, "\(c.name), Accept \(accept)")
            }
        }
        // HEAD: the length of the page with its id, no body.
        let head = try w.gw.request("HEAD /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let page = try w.gw.get("/nowhere")
        #expect(head.status == 404 && head.body.isEmpty && head.header("content-length") == page.header("content-length"))
        #expect(w.upstream.requestCount == 2) // only the two /slow/ requests reached it
    }

    /// The email comes back on the password form, escaped wherever it is written (text, attribute).
    @Test func aWrongPasswordKeepsTheEmailEscaped() throws {
        let w = try World()
        let email = "x\"><b id=injected>y</b>'@acme.test"
        let r = try SignInClient(w.gw).signIn(email: email, password: "wrong")
        #expect(r.status == 401)
        #expect(!r.text.contains("<b id=injected>") && !r.text.contains("x\">"))
        #expect(r.text.contains("<p class=\"muted\" id=\"account\">x&quot;&gt;&lt;b id=injected&gt;y&lt;/b&gt;&#39;@acme.test</p>"))
        #expect(r.text.contains("name=\"email\" value=\"x&quot;&gt;&lt;b id=injected&gt;y&lt;/b&gt;&#39;@acme.test\""))
        #expect(r.text.contains("id=\"password\" name=\"password\" type=\"password\"") && !r.text.contains("value=\"wrong\""))
    }

    /// 401 and 403 from the policy: JSON with the request id for an API client; the 403 page for a
    /// browser names who is signed in (escaped) and offers sign-out and "sign in as someone else".
    @Test func unauthenticatedAndForbiddenCarryTheRequestId() throws {
        let w = try World()
        try Self.checkError(try w.gw.get("/app", headers: "Accept: application/json\r\n"), status: 401, json: true, "401")
        let bob = SignInClient(w.gw)
        #expect(try bob.signIn(email: "bob@beta.test", password: Self.password).status == 303)
        try Self.checkError(try bob.get("/admin", headers: "Accept: application/json\r\n"), status: 403, json: true, "403 json")
        let page = try bob.get("/admin/settings?tab=1", headers: "Accept: text/html\r\n")
        try Self.checkError(page, status: 403, json: false, "403 page")
        #expect(page.text.contains("Signed in as <strong id=\"signed-in-as\">bob@beta.test</strong>"))
        #expect(page.text.contains("action=\"/.drawbridge/logout\"") && page.text.contains("name=\"csrf\" value=\"\(bob.csrf)\""))
        // "Sign in as someone else": signed out, then the sign-in page carrying the refused page's address.
        let rd = try #require(page.text.components(separatedBy: "name=\"rd\" value=\"").dropFirst().first?.split(separator: "\"").first)
        let switched = try bob.post("/.drawbridge/logout", form: [("csrf", bob.csrf), ("rd", String(rd))])
        #expect(switched.status == 303)
        #expect(switched.header("location") == "/.drawbridge/login?rd=\(String(rd).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!)")
        #expect(bob.cookies["__Host-drawbridge"] == nil)
        #expect(try bob.get("/app", headers: "Accept: application/json\r\n").status == 401)
        #expect(w.audit.contains("\"event\":\"logout\""))
        // alice signs in through it and lands on the page bob was refused.
        let alice = try bob.post("/.drawbridge/login/password", form: [("csrf", bob.csrf), ("rd", String(rd)), ("email", "alice@acme.test"),
                                                                       ("password", Self.password)])
        #expect(alice.status == 303 && alice.header("location") == "/admin/settings?tab=1")
    }
}
