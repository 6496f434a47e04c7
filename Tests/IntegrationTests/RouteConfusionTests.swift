import Foundation
import Testing

/// A protected path cannot be reached by another spelling: the shipped configuration, once as
/// shipped and once with an admin-only `pathPrefix: "/admin/"` route in front of its `/` route,
/// two recording upstreams. Every spelling a lax upstream (Spring, Tomcat, Express, IIS) reads
/// as the admin path is refused, redirected to the admin route's own path, or decided by the
/// admin route; none reaches the `/` route's upstream.
@Suite(.serialized) struct RouteConfusionTests {
    static let password = "correct horse battery staple"

    /// The shipped `conf/drawbridge.json5`, with test ports, certificate and key files, and
    /// `adminRoute` (plus its upstream) put before the shipped route.
    final class Shipped {
        let files = IdentityFiles()
        let app: Upstream, admin: Upstream
        let gw: GatewayFixture

        init(adminRoute: Bool, caseInsensitive: Bool = false) throws {
            app = try Upstream(name: "app", logRequests: true)
            admin = try Upstream(name: "admin", logRequests: true)
            files.users = [TestUser(id: "u_viewer", email: "viewer@example.test", org: "example", roles: ["viewer"]),
                           TestUser(id: "u_root", email: "root@example.test", org: "example", roles: ["admin"])]
            let files = self.files, app = self.app, admin = self.admin
            let shipped = try String(contentsOf: Binaries.packageRoot.appendingPathComponent("conf/drawbridge.json5"), encoding: .utf8)
            gw = try GatewayFixture(upstreams: [app, admin], raw: { gw in
                var text = shipped
                func swap(_ a: String, _ b: String) throws {
                    guard text.contains(a) else { throw TestFailure("conf/drawbridge.json5 no longer contains \(a)") }
                    text = text.replacingOccurrences(of: a, with: b)
                }
                try swap("workers: 0,", "workers: 1,")
                try swap(#"https: "0.0.0.0:8443""#, #"https: "127.0.0.1:\#(gw.httpsPort)""#)
                try swap(#"httpRedirect: "0.0.0.0:8080""#, #"httpRedirect: "127.0.0.1:\#(gw.redirectPort)""#)
                try swap(#"cert: "../certs/dev.crt""#, #"cert: "\#(TestCertificate.cert)""#)
                try swap(#"key: "../certs/dev.key""#, #"key: "\#(TestCertificate.key)""#)
                try swap(#"masterKeyFile: "../.state/master.key""#, #"masterKeyFile: "\#(files.keyPath)""#)
                try swap(#"servers: ["127.0.0.1:9000"],"#, #"servers: ["127.0.0.1:\#(app.port)"], \#(caseInsensitive ? "caseInsensitivePaths: true," : "")"#)
                try swap(#"accessLog: "stdout""#, #"accessLog: "access.log""#)
                try swap(#"auditLog: "stderr""#, #"auditLog: "audit.log""#)
                if adminRoute {
                    try swap("upstreams: {", #"upstreams: { admin: { servers: ["127.0.0.1:\#(admin.port)"], \#(caseInsensitive ? "caseInsensitivePaths: true" : "") },"#)
                    try swap("routes: [", #"routes: [ { pathPrefix: "/admin/", upstream: "admin", access: { methods: { "*": "admin:all" } } },"#)
                }
                return text
            }, prepare: { try files.write(to: $0) })
        }

        func session(_ email: String) throws -> String {
            let c = SignInClient(gw)
            let r = try c.signIn(email: email, password: RouteConfusionTests.password)
            guard r.status == 303, let v = c.cookies["__Host-drawbridge"] else { throw TestFailure("sign-in of \(email): \(r.status) \(r.text)") }
            return "Cookie: __Host-drawbridge=\(v)\r\n"
        }

        func get(_ target: String, _ cookie: String, method: String = "GET") throws -> Response {
            try gw.request("\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\(cookie)Connection: close\r\n\r\n")
        }

        /// Request lines the upstreams logged.
        func seen(_ u: Upstream) -> [String] {
            usleep(100_000)
            return (u.process?.stdout ?? "").split(separator: "\n").filter { $0.hasPrefix("request: ") }.map { String($0.dropFirst(9)) }
        }
    }

    struct Spelling: CustomTestStringConvertible, Sendable {
        let target: String
        /// What the gateway answers a signed-in non-admin (all refusals or redirects).
        let statuses: Set<Int>
        var testDescription: String { target }
    }

    /// Spellings of /admin that a lax upstream serves as /admin (whoami here is case-sensitive).
    static let spellings: [Spelling] = [
        .init(target: "/admin", statuses: [301]),                 // the bare form of "/admin/"
        .init(target: "/admin?next=/x", statuses: [301]),
        .init(target: "/admin%20", statuses: [400]),              // Spring trims segments
        .init(target: "/admin%09", statuses: [400]),
        .init(target: "/admin%0a", statuses: [400]),
        .init(target: "/admin%0D/", statuses: [400]),
        .init(target: "/admin%C2%A0", statuses: [400]),           // Java/Python trim Unicode white space
        .init(target: "/admin%E3%80%80/x", statuses: [400]),
        .init(target: "/admin;x/", statuses: [400]),              // Tomcat, Jetty drop ";x"
        .init(target: "/admin;jsessionid=1", statuses: [400]),
        .init(target: "/admin%3bx/", statuses: [400]),            // Spring decodes, then drops ";x"
        .init(target: "/admin%3B", statuses: [400]),
        .init(target: "/x/../admin", statuses: [301]),
        .init(target: "//admin", statuses: [301]),
        .init(target: "/adm%69n", statuses: [301]),
        .init(target: "/admin/", statuses: [403]),                // the admin route itself: not an admin
        .init(target: "/admin/./x", statuses: [403]),
    ]

    @Test(arguments: spellings)
    func spellingsOfAPrefixWithASlashStayWithItsRoute(_ s: Spelling) throws {
        let w = try Shipped(adminRoute: true)
        let r = try w.get(s.target, try w.session("viewer@example.test"))
        #expect(s.statuses.contains(r.status), "\(r.status) \(r.text)")
        #expect(w.seen(w.app).isEmpty, "reached the / route's upstream: \(w.seen(w.app))")
        #expect(w.seen(w.admin).isEmpty)
        if r.status == 301 {
            // The redirect names the admin route's own path (query kept); following it is judged there.
            let location = try #require(r.header("location"))
            #expect(location.hasPrefix("/admin/"), "\(location)")
            #expect(try w.get(location, try w.session("viewer@example.test")).status == 403)
            #expect(try w.get(location, try w.session("root@example.test")).status == 200)
            #expect(w.seen(w.admin).count == 1 && w.seen(w.app).isEmpty)
        }
    }

    /// Other methods keep their method and body across the redirect (308, not 301).
    @Test func bareFormOfAPostIs308() throws {
        let w = try Shipped(adminRoute: true)
        let r = try w.gw.request("POST /admin?x=1 HTTP/1.1\r\nHost: localhost\r\n\(try w.session("root@example.test"))Content-Length: 2\r\nConnection: close\r\n\r\nhi")
        #expect(r.status == 308)
        #expect(r.header("location") == "/admin/?x=1")
        #expect(w.seen(w.app).isEmpty && w.seen(w.admin).isEmpty)
    }

    /// An upstream declared case-insensitive (Express, ASP.NET, IIS): every case of /admin is the
    /// admin route's, and the policy judges it there.
    @Test(arguments: ["/ADMIN/", "/Admin/x", "/%41dmin/", "/aDmIn/x?q=1", "/ADMIN", "/Admin%20"])
    func caseInsensitiveUpstreamCaseSpellings(_ target: String) throws {
        let w = try Shipped(adminRoute: true, caseInsensitive: true)
        let viewer = try w.get(target, try w.session("viewer@example.test"))
        #expect([301, 400, 403].contains(viewer.status), "\(viewer.status)")
        #expect(w.seen(w.app).isEmpty, "reached the / route's upstream: \(w.seen(w.app))")
        let root = try w.get(target, try w.session("root@example.test"))
        #expect([301, 400, 200].contains(root.status))
        if root.status == 200 { #expect(try Echo.from(root).name == "admin") }
        #expect(w.seen(w.app).isEmpty)
    }

    /// A case-sensitive upstream (the default): "/ADMIN" is another resource, decided by "/".
    @Test func caseSensitiveUpstreamKeepsCase() throws {
        let w = try Shipped(adminRoute: true)
        let r = try w.get("/ADMIN/", try w.session("viewer@example.test"))
        #expect(r.status == 200)
        #expect(try Echo.from(r).name == "app" && w.seen(w.app) == ["GET /ADMIN/ HTTP/1.1"])
    }

    /// The shipped configuration itself (one "/" route): the refused spellings are refused there
    /// too, before any upstream, whatever route would have taken them.
    @Test func shippedConfigurationRefusesTheSameSpellings() throws {
        let w = try Shipped(adminRoute: false)
        let viewer = try w.session("viewer@example.test")
        for s in Self.spellings where s.statuses == [400] {
            let r = try w.get(s.target, viewer)
            #expect(r.status == 400, "\(s.target): \(r.status)")
        }
        #expect(w.seen(w.app).isEmpty)
        #expect(try w.get("/admin", viewer).status == 200) // no "/admin/" route here: "/" decides it
    }
}
