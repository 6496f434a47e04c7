import Foundation
import Testing

/// `Expect: 100-continue` on the gateway's own endpoints: a client that will read the body is told
/// to send it (`100 Continue`) instead of waiting out its own timer; one the endpoint refuses
/// without reading it gets the final status straight away (issue 19, item 8).
@Suite(.serialized) struct GatewayExpectTests {
    static let body = "csrf=x&email=alice%40acme.test&password=nope"
    static let cases: [(name: String, head: String, first: String)] = [
        ("password sign-in form", "POST /.drawbridge/login/password HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n", "HTTP/1.1 100 "),
        ("sign-out form", "POST /.drawbridge/logout HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n", "HTTP/1.1 100 "),
        ("body too large for a form", "POST /.drawbridge/login/password HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20000\r\nExpect: 100-continue\r\n\r\n",
         "HTTP/1.1 413 "),
        ("chunked body", "POST /.drawbridge/login/password HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
         "HTTP/1.1 411 "),
    ]

    @Test(arguments: 0..<cases.count)
    func gatewayEndpointsAnswerExpectContinue(_ i: Int) throws {
        let (name, head, first) = Self.cases[i]
        let files = IdentityFiles()
        files.users.append(TestUser(id: "u-alice", email: "alice@acme.test"))
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up], extra: files.configSections(), prepare: { try files.write(to: $0) })
        let c = try gw.client()
        try c.send(head)
        // Before any body byte: the interim answer, or the refusal.
        let start = String(decoding: try c.readExactly(first.utf8.count), as: UTF8.self)
        #expect(start == first, "\(name)")
        guard first.contains(" 100 ") else { return }
        #expect(String(decoding: try c.readExactly("Continue\r\n\r\n".utf8.count), as: UTF8.self) == "Continue\r\n\r\n", "\(name)")
        try c.send(Self.body)
        let r = try c.readResponse()
        #expect(r.status != 408 && r.status < 500, "\(name): \(r.status)")
    }
}
