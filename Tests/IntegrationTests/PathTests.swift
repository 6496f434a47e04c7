import Foundation
import Testing

/// Routing judges the normalised path, and the upstream receives exactly that path.
@Suite(.serialized) struct PathTests {
    static let shared: (Upstream, Upstream, GatewayFixture) = {
        let pub = try! Upstream(name: "public", logRequests: true)
        let admin = try! Upstream(name: "admin", logRequests: true)
        let gw = try! GatewayFixture(upstreams: [pub, admin],
            upstreamsJSON: "{ pub: { servers: [\"127.0.0.1:\(pub.port)\"] }, admin: { servers: [\"127.0.0.1:\(admin.port)\"] } }",
            routesJSON: "[ { pathPrefix: \"/public\", upstream: \"pub\", public: true }, { pathPrefix: \"/admin\", upstream: \"admin\", public: true } ]")
        return (pub, admin, gw)
    }()

    struct Forwarded: Sendable, CustomTestStringConvertible {
        let target: String, upstream: String, seen: String
        var testDescription: String { target }
    }
    static let forwarded: [Forwarded] = [
        .init(target: "/public/../admin/x", upstream: "admin", seen: "/admin/x"),
        .init(target: "/public/%2e%2e/admin", upstream: "admin", seen: "/admin"),
        .init(target: "/public/.%2E/admin", upstream: "admin", seen: "/admin"),
        .init(target: "/%61dmin", upstream: "admin", seen: "/admin"),
        .init(target: "//public//x/./y", upstream: "public", seen: "/public/x/y"),
        .init(target: "/public/a?q=/../admin", upstream: "public", seen: "/public/a?q=/../admin"),
    ]

    @Test(arguments: forwarded)
    func upstreamSeesTheJudgedPath(_ c: Forwarded) throws {
        let (_, _, gw) = Self.shared
        let r = try gw.get(c.target)
        #expect(r.status == 200)
        let e = try Echo.from(r)
        #expect(e.name == c.upstream)
        #expect(e.target == c.seen)
    }

    static let rejected = ["/public/..%2fadmin", "/admin%2f..", "/public/%2F", "/admin;x", "/public/..;/admin", "/a\\b",
                           "/..", "/public/../../admin", "/%C0%AE%C0%AE/admin", "/public/%00", "/public/%zz"]

    @Test(arguments: rejected)
    func rejectedBeforeAnyUpstream(_ target: String) throws {
        let (pub, admin, gw) = Self.shared
        let before = (pub.requestCount, admin.requestCount)
        let r = try gw.get(target)
        #expect(r.status == 400)
        #expect(pub.requestCount == before.0 && admin.requestCount == before.1)
    }

    @Test func caseIsKept() throws {
        let (_, _, gw) = Self.shared
        #expect(try gw.get("/ADMIN").status == 404) // routes match case-sensitively, as written
    }
}
