import Foundation
import Testing

/// Fields an upstream must be able to believe: whatever spelling a client uses for a field the
/// gateway sets or strips, and whatever override field it adds, the upstream (whoami's echo of
/// the head it received) never sees the client's value. A real gateway, a signed-in session,
/// real TLS; one table per class.
@Suite(.serialized) struct HeaderSpoofingTests {
    static let marker = "spoofed-by-client"

    final class World {
        let files = IdentityFiles()
        let upstream: Upstream
        let gw: GatewayFixture
        let cookie: String

        /// `extraRoutes`: more routes after the protected "/" (with an upstream credential).
        init(extra: String = "", extraRoutes: String = "") throws {
            upstream = try Upstream(logRequests: true)
            files.users = [TestUser(id: "u_alice", email: "alice@acme.test")]
            files.secrets["vendor-token"] = Array("vendor-secret".utf8)
            let files = self.files
            gw = try GatewayFixture(upstreams: [upstream], routesJSON: """
                [ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } },
                    upstreamCredential: { header: "X-Api-Token", secret: "vendor-token" } } \(extraRoutes) ]
                """, extra: files.configSections() + #"stripRequestHeaders: ["X-Employee-Id"], "# + extra,
                prepare: { try files.write(to: $0) })
            let c = SignInClient(gw)
            let r = try c.signIn(email: "alice@acme.test", password: "correct horse battery staple")
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in: \(r.status)") }
            cookie = "Cookie: __Host-drawbridge=\(v)\r\n"
        }

        /// GET `path` with the session and `fields`; the upstream's echo.
        func echo(_ fields: String, path: String = "/x") throws -> (Response, Echo?) {
            let r = try gw.request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(cookie)\(fields)Connection: close\r\n\r\n")
            return (r, r.status == 200 ? try Echo.from(r) : nil)
        }
    }

    static let shared: World = try! World()

    struct Case: CustomTestStringConvertible, Sendable {
        let field: String
        var testDescription: String { field }
    }

    /// Fields the gateway sets or strips, spelled as WSGI/CGI/PHP/Rack read them (case folded,
    /// `_` as `-`), so that one would sit next to (or instead of) the gateway's own.
    static let normalisedNames: [Case] = [
        "X_Drawbridge_User", "x_drawbridge_org", "X_DRAWBRIDGE_ROLES", "X-Drawbridge_Email", "X_Drawbridge-Assertion",
        "X_Drawbridge_Auth_Mode", "X_Forwarded_For", "x_forwarded_proto", "X_Forwarded_Host", "X_Forwarded_Port", "X_Real_IP",
        "X_Request_Id", "X_Forwarded_User", "X_Remote_User", "Remote_User", "REMOTE_USER", "X_Auth_Request_Email", "X_User",
        "X_Api_Token", "x_api_token", "X_Employee_Id", "X-EMPLOYEE-ID", "Content_Length", "Transfer_Encoding", "Keep_Alive",
        "Proxy_Connection", "Proxy_Authorization", "X_HTTP_Method_Override",
    ].map(Case.init)

    /// Fields frameworks use to override the routed path, method, host or scheme.
    static let overrides: [Case] = [
        "X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Prefix",
        "X-Forwarded-Server", "X-Host", "X-Original-Host", "X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Forwarded-Protocol",
        "X-Url-Scheme", "Front-End-Https", "X-HTTP-Method", "X-Method-Override", "X-HTTP-Method-Override",
        "x-original-url", "X_Original_URL", "X_Rewrite_Url", "X_Forwarded_Prefix", "X_HTTP_Method",
    ].map(Case.init)

    /// The client's value never reaches the upstream, under any name; the gateway's fields are
    /// there exactly once with the gateway's values.
    @Test(arguments: normalisedNames + overrides)
    func clientValueNeverReachesTheUpstream(_ c: Case) throws {
        let w = Self.shared
        let value = c.field.lowercased().contains("length") ? "100" : Self.marker
        let (r, echo) = try w.echo("\(c.field): \(value)\r\n")
        #expect(r.status == 200, "\(r.status) \(r.text)")
        let e = try #require(echo)
        #expect(e.method == "GET")
        let leaked = e.headers.filter { $0[1].contains(Self.marker) || ($0[0].lowercased() == c.field.lowercased() && value == "100") }
        #expect(leaked.isEmpty, "reached the upstream: \(leaked)")
        #expect(e.all("X-Drawbridge-User") == ["u_alice"])
        #expect(e.all("X-Forwarded-For") == ["127.0.0.1"])
        #expect(e.all("X-Forwarded-Proto") == ["https"])
        #expect(e.all("X-Forwarded-Host") == ["localhost"])
        #expect(e.all("X-Forwarded-Port") == ["\(w.gw.httpsPort)"])
        #expect(e.all("X-Api-Token") == ["vendor-secret"])
        #expect(e.all("Host") == ["localhost"])
    }

    /// nginx `underscores_in_headers off`, Envoy `DROP_HEADER`: any name with `_` is dropped by default.
    @Test func underscoreNamesAreDroppedByDefault() throws {
        let (_, echo) = try Self.shared.echo("X_Custom_Thing: 1\r\nX-Custom-Kept: 2\r\n")
        let e = try #require(echo)
        #expect(e.header("X_Custom_Thing") == nil)
        #expect(e.header("X-Custom-Kept") == "2")
    }

    /// A route lists the override fields its upstream really needs; those (and only those) pass.
    @Test func aRouteForwardsOnlyTheOverridesItLists() throws {
        let w = try World(extraRoutes: #", { pathPrefix: "/prefixed/", upstream: "app", access: { methods: { "*": "app:use" } }, forwardOverrideHeaders: ["X-Forwarded-Prefix"] }"#)
        let (_, echo) = try w.echo("X-Forwarded-Prefix: /app\r\nX-Original-URL: /admin\r\n", path: "/prefixed/x")
        let e = try #require(echo)
        #expect(e.all("X-Forwarded-Prefix") == ["/app"])
        #expect(e.header("X-Original-URL") == nil)
    }

    /// underscoreHeaders "forward": other names with `_` pass, names that read as protected ones never.
    @Test func forwardingUnderscoresStillRemovesProtectedSpellings() throws {
        let w = try World(extra: #"underscoreHeaders: "forward","#)
        let (_, echo) = try w.echo("X_Custom_Thing: 1\r\nX_Drawbridge_User: \(Self.marker)\r\nX_Forwarded_For: \(Self.marker)\r\nX_Original_URL: \(Self.marker)\r\n")
        let e = try #require(echo)
        #expect(e.header("X_Custom_Thing") == "1")
        #expect(e.headers.allSatisfy { !$0[1].contains(Self.marker) }, "\(e.headers)")
    }

    /// underscoreHeaders "reject": the request is refused and never forwarded.
    @Test func rejectingUnderscores() throws {
        let w = try World(extra: #"underscoreHeaders: "reject","#)
        let (r, _) = try w.echo("X_Custom_Thing: 1\r\n")
        #expect(r.status == 400)
        #expect(w.upstream.requestCount == 0)
    }
}
