import DrawbridgeHTTP
import Testing
@testable import DrawbridgeDecision
@testable import DrawbridgeServer

/// `PlainRedirect.answer` without sockets: the host rule, served names, OPTIONS *, the Location.
@Suite struct PlainRedirectAnswerTests {
    static func answer(_ request: String, port: UInt16 = 8443) -> String {
        var parser = RequestHeadParser(limits: HTTPLimits())
        var head = RequestHead()
        let bytes = Array(request.utf8)
        guard case .complete = bytes.withUnsafeBytes({ parser.parse($0, into: &head) }) else { return "parse error" }
        var routing = RoutingHost()
        let out = PlainRedirect.answer(head, routing: &routing, httpsPort: port) { name in
            ["localhost", "[::1]"].contains(String(decoding: name, as: UTF8.self))
        }
        let text = String(decoding: out, as: UTF8.self)
        let status = text.split(separator: " ")[1]
        let location = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Location: ") }.map { " " + $0.dropFirst(10) } ?? ""
        return status + location
    }

    @Test(arguments: [
        ("GET /a?b HTTP/1.1\r\nHost: localhost:80\r\n\r\n", "308 https://localhost:8443/a?b"),
        ("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", "421"),
        ("GET http://localhost/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", "400"),
        ("GET http://LOCALHOST./x HTTP/1.0\r\n\r\n", "308 https://localhost:8443/x"),
        ("GET / HTTP/1.0\r\n\r\n", "400"),
        ("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", "200"),
        ("GET /v6 HTTP/1.1\r\nHost: [0::1]\r\n\r\n", "308 https://[::1]:8443/v6"),
    ])
    func answer(_ request: String, _ expected: String) {
        #expect(Self.answer(request) == expected)
    }

    @Test func port443IsLeftOut() {
        #expect(Self.answer("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", port: 443) == "308 https://localhost/")
    }
}
