import DrawbridgeHTTP
import Testing
@testable import DrawbridgeServer

/// The framing fields of the head the client receives (issue 19, item 1): the gateway states its
/// own framing; 204 and 304 carry no length, a response to HEAD keeps its own.
@Suite struct ClientResponseHeadTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let upstream: String
        var head = false
        var chunkToClient = false
        let contentLength: String?
        var chunked = false
        var testDescription: String { upstream.debugDescription }
    }

    static let cases: [Case] = [
        .init(upstream: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", contentLength: nil),
        .init(upstream: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", contentLength: nil),
        .init(upstream: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\nETag: \"x\"\r\n\r\n", contentLength: nil),
        .init(upstream: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", contentLength: nil),
        .init(upstream: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true, contentLength: "5"),
        .init(upstream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head: true, contentLength: nil),
        .init(upstream: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n", contentLength: "2"),
        .init(upstream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunkToClient: true, contentLength: nil, chunked: true),
    ]

    @Test(arguments: cases) func framingFields(_ c: Case) {
        var parser = ResponseHeadParser()
        var head = ResponseHead()
        let input = Array(c.upstream.utf8)
        #expect(input.withUnsafeBytes { parser.parse($0, requestWasHEAD: c.head, into: &head) } == .complete)
        let ob = IOBuffer(capacity: 4096)
        ClientResponseHead.write(ob, &head, chunkToClient: c.chunkToClient, keepAlive: true, http10: false, hsts: [], requestId: [],
                                 renewedSession: nil)
        let lines = String(decoding: ob.readableBytes, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.filter { $0.lowercased().hasPrefix("content-length:") } == (c.contentLength.map { ["Content-Length: \($0)"] } ?? []))
        #expect(lines.filter { $0.lowercased().hasPrefix("transfer-encoding:") } == (c.chunked ? ["Transfer-Encoding: chunked"] : []))
    }
}
