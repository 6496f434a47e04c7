import Foundation
import Testing

/// A tunnel is a hole in the gateway: once open, the client's bytes reach the upstream unjudged.
/// It opens only on a 101 that really answers the request's upgrade, and it stays open only while
/// its request would still be forwarded to the same place (issue 19, item 5).
@Suite(.serialized) struct TunnelTests {
    /// RFC 6455 §1.3's example: this key's accept value.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    static func upgrade(_ extra: String = "") -> String {
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(extra)"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
    }
    static let switching = "HTTP/1.1 101 Switching Protocols\r\n"
    /// What a client sends once it believes the tunnel is open: a request the gateway never judged.
    static let smuggled = "GET /admin HTTP/1.1\r\nHost: localhost\r\nX-Drawbridge-User: admin\r\n\r\n"

    static let upgradeCases: [(name: String, request: String, response: String, status: Int)] = [
        ("bare 101", upgrade(), switching + "\r\n", 502),
        ("no Sec-WebSocket-Accept", upgrade(), switching + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 502),
        ("no Upgrade", upgrade(), switching + "Connection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n", 502),
        ("another protocol", upgrade(), switching + "Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n", 502),
        ("wrong accept", upgrade(), switching + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 502),
        ("two accepts", upgrade(), switching + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\nSec-WebSocket-Accept: x\r\n\r\n", 502),
        ("unsolicited 101", "GET /ws HTTP/1.1\r\nHost: localhost\r\n\r\n",
         switching + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n", 502),
        ("valid (the tunnel opens)", upgrade(), switching + "Upgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n", 101),
    ]

    @Test(arguments: 0..<upgradeCases.count)
    func a101OpensATunnelOnlyWhenItAnswersTheUpgrade(_ i: Int) throws {
        let (name, request, response, status) = Self.upgradeCases[i]
        let up = try ScriptedUpstream(name: "app")
        defer { up.stop() }
        up.setScript { n, _ in n == 0 ? .raw(response) : .answer }
        let gw = try GatewayFixture(upstreams: [], upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(up.port)\"] } }")
        let c = try gw.client()
        try c.send(request)
        let r = try c.readResponse()
        #expect(r.status == status, "\(name)")
        guard status == 502 else { return }
        // Refused: the connection closes, and what the client sends next reaches no upstream.
        try? c.send(Self.smuggled)
        _ = c.readToEnd()
        #expect(!c.timedOut, "\(name): the connection stays open after the refusal")
        #expect(up.receivedHeads.count == 1, "\(name)")
        #expect(!up.receivedHeads.contains { $0.lowercased().contains("x-drawbridge-user: admin") }, "\(name): smuggled request reached the upstream")
    }

    // MARK: An open tunnel is judged again

    static let protected = #"[ { pathPrefix: "/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#
    static let acmeWithoutAPIKeys = #"{ acme: { name: "Acme", emailDomains: ["acme.test"], disabledModes: ["api_key"] }, beta: { name: "Beta" } }"#

    enum Change { case none, reloadUnchanged, revokeKey, disableUser, removeRoute, otherUpstream, orgDisablesAPIKeys, signOut, lifetime }
    static let lifeCases: [(name: String, change: Change, session: Bool, endsTunnel: Bool)] = [
        ("API key revoked, reload", .revokeKey, false, true),
        ("user disabled, reload", .disableUser, true, true),
        ("session signed out", .signOut, true, true),
        ("org switches API keys off, reload", .orgDisablesAPIKeys, false, true),
        ("route removed by a reload", .removeRoute, false, true),
        ("route sent to another upstream by a reload", .otherUpstream, false, true),
        ("tunnel lifetime reached", .lifetime, false, true),
        ("reload that changes nothing", .reloadUnchanged, false, false),
    ]

    @Test(arguments: 0..<lifeCases.count)
    func anOpenTunnelEndsWhenItsRequestWouldNoLongerBeForwarded(_ i: Int) throws {
        let (name, change, session, ends) = Self.lifeCases[i]
        let files = IdentityFiles()
        files.users.append(TestUser(id: "u-alice", email: "alice@acme.test"))
        let apiKey = files.addAPIKey(org: "acme", roles: ["member"])
        let app = try Upstream(), other = try Upstream(name: "other")
        let upstreams = "{ app: { servers: [\"127.0.0.1:\(app.port)\"] }, other: { servers: [\"127.0.0.1:\(other.port)\"] } }"
        let lifetime = change == .lifetime ? "timeouts: { tunnelLifetimeSeconds: 1 }," : ""
        let gw = try GatewayFixture(upstreams: [app, other], upstreamsJSON: upstreams, routesJSON: Self.protected,
                                    extra: files.configSections() + lifetime, prepare: { try files.write(to: $0) })
        let browser = SignInClient(gw)
        var credential = "Authorization: Bearer \(apiKey)\r\n"
        if session {
            #expect(try browser.signIn(email: "alice@acme.test", password: "correct horse battery staple").status == 303)
            credential = browser.cookieHeader
        }
        let c = try gw.client()
        try c.send(Self.upgrade(credential))
        #expect(try c.readResponse().status == 101, "\(name)")
        try Self.echo(c, "before")

        func reload(routes: String = Self.protected, orgs: String? = nil) throws {
            try files.write(to: gw.dir)
            try gw.write(upstreamsJSON: upstreams, routesJSON: routes, extra: files.configSections(orgs: orgs) + lifetime)
            try gw.reload(expect: "reloaded")
        }
        switch change {
        case .none, .lifetime: break
        case .reloadUnchanged: try reload()
        case .revokeKey: files.apiKeys[0].record.revoked = true; try reload()
        case .disableUser: files.users[0].status = "disabled"; try reload()
        case .removeRoute: try reload(routes: #"[ { pathPrefix: "/other/", upstream: "app", access: { methods: { "*": "app:use" } } } ]"#)
        case .otherUpstream: try reload(routes: #"[ { pathPrefix: "/", upstream: "other", access: { methods: { "*": "app:use" } } } ]"#)
        case .orgDisablesAPIKeys: try reload(orgs: Self.acmeWithoutAPIKeys)
        case .signOut:
            try browser.get("/.drawbridge/logout")
            #expect(try browser.post("/.drawbridge/logout", form: [("csrf", browser.csrf)]).status < 400, "\(name)")
        }
        if ends {
            _ = c.readToEnd() // until the gateway closes the tunnel (or the client's read timeout: a failure)
            #expect(!c.timedOut, "\(name): the tunnel is still open")
            let audit = (try? String(contentsOfFile: gw.dir + "/audit.log", encoding: .utf8)) ?? ""
            if change != .lifetime { #expect(audit.contains("tunnel_closed"), "\(name)") }
        } else {
            usleep(600_000) // past the sweeps that judged the tunnel again (a negative check: no threshold)
            try Self.echo(c, "after")
        }
    }

    /// One masked text frame through the tunnel and its echo (whoami echoes WebSocket frames).
    static func echo(_ c: RawClient, _ message: String) throws {
        let payload = Array(message.utf8)
        let mask: [UInt8] = [1, 2, 3, 4]
        try c.send([0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        let echo = try c.readExactly(2 + payload.count)
        #expect(echo[0] == 0x81 && Array(echo[2...]) == payload)
    }
}
