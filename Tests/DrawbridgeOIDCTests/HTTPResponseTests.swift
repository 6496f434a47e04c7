@testable import DrawbridgeOIDC
import Testing

/// The response reader fed from memory, in pieces of `step` bytes.
func readResponse(_ text: String, step: Int = 7) throws(OIDCError) -> HTTPSClient.Response {
    let bytes = Array(text.utf8)
    var pos = 0
    return try HTTPSClient.readResponse(requestWasHEAD: false, context: "test") { () throws(OIDCError) -> [UInt8]? in
        guard pos < bytes.count else { return nil }
        let n = min(step, bytes.count - pos)
        defer { pos += n }
        return Array(bytes[pos..<pos + n])
    }
}

@Suite struct HTTPResponseTests {
    @Test(arguments: [1, 5, 4096])
    func framings(step: Int) throws {
        let cl = try readResponse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-A: b\r\n\r\n{\"a\":1}", step: step)
        #expect(cl.status == 200)
        #expect(cl.body == Array("{\"a\":1}".utf8))
        #expect(cl.header("x-a") == "b")

        let chunked = try readResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n", step: step)
        #expect(chunked.body == Array("{\"a\":1}".utf8))

        let close = try readResponse("HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", step: step)
        #expect(close.body == Array("{\"a\":1}".utf8))

        let interim = try readResponse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}", step: step)
        #expect(interim.status == 400)
        #expect(interim.body == Array("{}".utf8))
    }

    @Test(arguments: [
        "",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{}",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "<html>hello</html>\r\n\r\n",
    ])
    func refused(_ text: String) {
        #expect(throws: OIDCError.self) { try readResponse(text) }
    }

    @Test func interimResponsesAreBounded() throws {
        let early = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        #expect(try readResponse(String(repeating: early, count: 16) + final, step: 4096).status == 200)
        #expect(throws: OIDCError.invalidResponse(context: "test", reason: "more than 16 interim responses")) {
            try readResponse(String(repeating: early, count: 17) + final, step: 4096)
        }
    }

    @Test func bodyCap() {
        let big = String(repeating: "a", count: HTTPSClient.maxBody + 1)
        #expect(throws: OIDCError.invalidResponse(context: "test", reason: "response body too large")) {
            try readResponse("HTTP/1.1 200 OK\r\n\r\n" + big, step: 65536)
        }
        let chunk = String(HTTPSClient.maxBody + 1, radix: 16)
        #expect(throws: OIDCError.invalidResponse(context: "test", reason: "response body too large")) {
            try readResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\r\n" + big + "\r\n0\r\n\r\n", step: 65536)
        }
    }
}
