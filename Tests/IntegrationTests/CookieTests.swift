import Foundation
import Testing

/// One cookie parser, one rule, everywhere: a gateway cookie sent twice (a copy tossed in from a
/// sibling domain next to the real one) is refused with 400 on protected and public routes, on
/// unknown paths and on the sign-in endpoints; no gateway cookie ever reaches an upstream.
@Suite(.serialized) struct CookieTests {
    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        let session: String

        init() throws {
            upstream = try Upstream(logRequests: true)
            files.users = [TestUser(id: "u_alice", email: "alice@acme.test")]
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: """
                [ { pathPrefix: "/app/", upstream: "app", access: { methods: { "*": "app:use" } } },
                  { pathPrefix: "/public/", upstream: "app", public: true } ]
                """, extra: files.configSections(), prepare: { try files.write(to: $0) })
            let c = SignInClient(gw)
            let r = try c.signIn(email: "alice@acme.test", password: "correct horse battery staple")
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in: \(r.status)") }
            session = v
        }

        var seen: Int { upstream.requestCount }
    }

    static let shared: World = try! World()

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        var testDescription: String { name }
    }

    /// `S` stands for the valid session token.
    static let duplicated: [Case] = {
        let twice = "Cookie: __Host-drawbridge=S; __Host-drawbridge=S\r\n"
        let twoFields = "Cookie: a=1; __Host-drawbridge=S\r\nCookie: __Host-drawbridge=S\r\n"
        let otherCase = "Cookie: __Host-drawbridge=S; __HOST-drawbridge=forged\r\n"
        func get(_ path: String, _ cookies: String) -> String { "GET \(path) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\(cookies)Connection: close\r\n\r\n" }
        return [
            .init(name: "protected route", request: get("/app/x", twice)),
            .init(name: "protected route, two Cookie fields", request: get("/app/x", twoFields)),
            .init(name: "protected route, another case", request: get("/app/x", otherCase)),
            .init(name: "public route", request: get("/public/x", twice)),
            .init(name: "unknown path", request: get("/nowhere", twice)),
            .init(name: "who-am-I", request: get("/.drawbridge/whoami", twice)),
            .init(name: "sign-in page", request: get("/.drawbridge/login", twice)),
            .init(name: "sign-out", request: "POST /.drawbridge/logout HTTP/1.1\r\nHost: localhost\r\n\(twice)Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncsrf=x"),
            .init(name: "CSRF cookie twice on a sign-in form", request: "POST /.drawbridge/login HTTP/1.1\r\nHost: localhost\r\nCookie: __Host-drawbridge-csrf=a; __Host-drawbridge-csrf=b\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncsrf=a"),
        ]
    }()

    @Test(arguments: duplicated)
    func aDuplicatedGatewayCookieIsRefusedEverywhere(_ c: Case) throws {
        let w = Self.shared
        let before = w.seen
        let r = try w.gw.request(c.request.replacingOccurrences(of: "=S", with: "=\(w.session)"))
        #expect(r.status == 400, "\(r.status) \(r.text)")
        #expect(w.seen == before, "reached the upstream")
    }

    /// The same session once works; the upstream sees the other cookies, none of the gateway's.
    @Test func noGatewayCookieReachesTheUpstream() throws {
        let w = Self.shared
        let cookies = "Cookie: theme=dark; __Host-drawbridge=\(w.session); __Host-drawbridge-csrf=c; __host-drawbridge-mfa=m; lang=en\r\n"
        for path in ["/app/x", "/public/x"] {
            let r = try w.gw.request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(cookies)Connection: close\r\n\r\n")
            #expect(r.status == 200)
            #expect(try Echo.from(r).all("Cookie") == ["theme=dark; lang=en"], "\(path)")
        }
        let onlyOurs = try w.gw.request("GET /app/x HTTP/1.1\r\nHost: localhost\r\nCookie: __Host-drawbridge=\(w.session)\r\nConnection: close\r\n\r\n")
        #expect(try Echo.from(onlyOurs).all("Cookie").isEmpty)
    }
}
