import DrawbridgeHTTP
import Foundation
import DrawbridgeProxy
import Testing
@testable import DrawbridgeDecision
@testable import DrawbridgeServer

/// The pieces the connection glue uses, without sockets: body relaying under the exchange's
/// rules, and the one writer of the gateway's own responses.
@Suite struct GlueWithoutSocketsTests {
    static let timeouts = ExchangeTimeouts(header: 10, body: 20, idle: 30, send: 40, connect: 5, response: 60)

    static func buffer(_ text: String) -> IOBuffer {
        let b = IOBuffer(capacity: 4096)
        b.append(text)
        return b
    }

    static func text(_ b: IOBuffer) -> String { String(decoding: b.readableBytes, as: UTF8.self) }

    static func forwarding(_ framing: BodyFraming) -> ClientExchange {
        var x = ClientExchange(timeouts: timeouts, now: 1)
        x.handshakeDone(now: 1)
        x.requestHead(RequestSummary(framing: framing), now: 2)
        _ = x.forwarding(upstreamReady: true, now: 2)
        return x
    }

    @Test func requestBodyStopsAtItsLengthAndLeavesThePipelinedRest() {
        var x = Self.forwarding(.contentLength(5))
        var decoder = ChunkedDecoder()
        let ib = Self.buffer("helloGET / HTTP/1.1\r\n"), ob = IOBuffer(capacity: 4096)
        #expect(BodyRelay.request(&x, from: ib, to: ob, peerEOF: false, decoder: &decoder, limit: 0, now: 3) == .moved)
        #expect(Self.text(ob) == "hello" && Self.text(ib) == "GET / HTTP/1.1\r\n" && x.request.body == .done)
    }

    @Test func chunkedRequestBodyIsRechunkedAndLimited() {
        var x = Self.forwarding(.chunked)
        var decoder = ChunkedDecoder()
        let ob = IOBuffer(capacity: 4096)
        #expect(BodyRelay.request(&x, from: Self.buffer("3;ext=1\r\nabc\r\n0\r\n\r\n"), to: ob, peerEOF: false, decoder: &decoder, limit: 0, now: 3) == .moved)
        #expect(Self.text(ob) == "3\r\nabc\r\n0\r\n\r\n" && x.request.body == .done)
        var y = Self.forwarding(.chunked)
        var d2 = ChunkedDecoder()
        #expect(BodyRelay.request(&y, from: Self.buffer("5\r\nabcde\r\n"), to: IOBuffer(capacity: 4096), peerEOF: false, decoder: &d2, limit: 4, now: 3) == .respond(413))
        var z = Self.forwarding(.chunked)
        var d3 = ChunkedDecoder()
        #expect(BodyRelay.request(&z, from: Self.buffer("zz\r\n"), to: IOBuffer(capacity: 4096), peerEOF: false, decoder: &d3, limit: 0, now: 3) == .respond(400))
    }

    @Test func clientGoneMidBodyAborts() {
        var x = Self.forwarding(.contentLength(10))
        var decoder = ChunkedDecoder()
        #expect(BodyRelay.request(&x, from: IOBuffer(capacity: 64), to: IOBuffer(capacity: 64), peerEOF: true, decoder: &decoder, limit: 0, now: 3) == .abort)
    }

    @Test func responseBodies() {
        // Content-Length: complete at its length; truncated by the upstream's close: abort.
        var x = Self.forwarding(.none)
        var decoder = ChunkedDecoder()
        _ = x.responseHead(status: 200, framing: .contentLength(4), now: 3)
        let ob = IOBuffer(capacity: 4096)
        #expect(BodyRelay.response(&x, from: Self.buffer("ab"), upstreamEOF: false, to: ob, decoder: &decoder) == .moved)
        #expect(BodyRelay.response(&x, from: IOBuffer(capacity: 64), upstreamEOF: true, to: ob, decoder: &decoder) == .abort)
        #expect(BodyRelay.response(&x, from: Self.buffer("cdXX"), upstreamEOF: false, to: ob, decoder: &decoder) == .complete)
        #expect(Self.text(ob) == "abcd" && x.request.bytesSent == 4)
        // Close-delimited: rechunked for an HTTP/1.1 client, ended by the upstream's close.
        var y = Self.forwarding(.none)
        _ = y.responseHead(status: 200, framing: .untilClose, now: 3)
        let out = IOBuffer(capacity: 4096)
        #expect(BodyRelay.response(&y, from: Self.buffer("hey"), upstreamEOF: false, to: out, decoder: &decoder) == .moved)
        #expect(BodyRelay.response(&y, from: IOBuffer(capacity: 64), upstreamEOF: true, to: out, decoder: &decoder) == .complete)
        #expect(Self.text(out) == "3\r\nhey\r\n0\r\n\r\n")
    }

    struct ResponseCase: Sendable, CustomTestStringConvertible {
        let status: Int, json: Bool, contentType: String
        var testDescription: String { "\(status) \(json ? "json" : "html")" }
    }

    static let statuses = [400, 404, 408, 413, 414, 431, 500, 502, 503, 504]

    @Test(arguments: statuses) func everyErrorIsNegotiatedAndCarriesHSTSAndTheRequestId(_ status: Int) {
        for json in [false, true] {
            let ob = IOBuffer(capacity: 4096)
            let hsts = Array("Strict-Transport-Security: max-age=1\r\n".utf8), id = Array(String(repeating: "a", count: 32).utf8)
            #expect(GatewayResponse.write(GatewayResponse.error(status, json: json), to: ob, headOnly: false, hsts: hsts, requestId: id, close: true))
            let text = Self.text(ob)
            #expect(text.hasPrefix("HTTP/1.1 \(status) "))
            #expect(text.contains(json ? "Content-Type: application/json\r\n" : "Content-Type: text/html; charset=utf-8\r\n"))
            #expect(text.contains("Strict-Transport-Security: max-age=1\r\n") && text.contains("X-Request-Id: \(String(repeating: "a", count: 32))\r\n"))
            #expect(text.contains("Connection: close\r\n"))
            #expect(text.contains("Cache-Control: no-store\r\n"))
            let body = text.components(separatedBy: "\r\n\r\n").last ?? ""
            #expect(text.contains("Content-Length: \(body.utf8.count)\r\n"))
            // The id in the body too: in the JSON document, and on the page.
            if json {
                let doc = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                #expect(doc?["request_id"] as? String == String(repeating: "a", count: 32))
                #expect(doc?["status"] as? Int == status && (doc?["error"] as? String)?.isEmpty == false)
            } else {
                #expect(body.contains("<code id=\"request-id\">\(String(repeating: "a", count: 32))</code>"))
                #expect(body.hasPrefix("<!doctype html>") && body.contains("\(status) "))
            }
        }
    }

    @Test func theForbiddenPageNamesTheAccountEscapedAndOffersSignOutAndSwitching() {
        let request = LocalRequest(method: "GET", path: "/x", query: [:], host: "localhost", cookies: [:], isAPIClient: false, origin: nil,
                                   contentType: "", form: [:], clientAddress: "127.0.0.1", requestId: "")
        let r = Forbidden.page(stepUp: false, signedInAs: "<b>x</b>@y.z", request: request, returnTo: "sealed\"rd")
        let page = String(decoding: r.body, as: UTF8.self)
        #expect(r.status == 403 && r.requestIdAt != nil)
        #expect(page.contains("&lt;b&gt;x&lt;/b&gt;@y.z") && !page.contains("<b>x"))
        #expect(page.components(separatedBy: "<form method=\"post\" action=\"/.drawbridge/logout\">").count == 3)
        #expect(page.contains("name=\"rd\" value=\"sealed&quot;rd\"") && page.contains("id=\"switch-account\"") && page.contains("id=\"logout\""))
        // No CSRF cookie yet: the page sets the one its forms carry.
        let cookie = r.headers.first { $0.0 == "Set-Cookie" }?.1 ?? ""
        let token = String(cookie.dropFirst("__Host-drawbridge-csrf=".count).prefix(43))
        #expect(cookie.hasPrefix("__Host-drawbridge-csrf=") && page.contains("name=\"csrf\" value=\"\(token)\""))
    }

    /// The slot the writer fills is found only where a template put it: an escaped value cannot spell it.
    @Test func theRequestIdSlotCannotBeForgedByAValue() {
        let forged = LocalResponse.html(200, LoginPages.identifier(csrf: "x", returnTo: LoginPages.requestIdSlot, email: "a\(LoginPages.requestIdSlot)@b.c"))
        #expect(forged.requestIdAt == nil)
        let page = LocalResponse.html(403, LoginPages.message("T", "text \(LoginPages.requestIdSlot)"))
        #expect(page.requestIdAt != nil && !String(decoding: page.body, as: UTF8.self).contains(LoginPages.requestIdSlot))
        #expect(String(decoding: page.body, as: UTF8.self).contains("text &lt;!--request-id--&gt;"))
    }

    /// The plain-HTTP listener has no request id: its refusals are the same page without one.
    @Test func plainListenerRefusalsCarryNoIdSlot() {
        let text = String(decoding: GatewayResponse.plain(400), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && text.contains("Connection: close\r\n"))
        #expect(!text.contains("Request ID") && !text.contains("Strict-Transport-Security"))
        let body = text.components(separatedBy: "\r\n\r\n").last ?? ""
        #expect(text.contains("Content-Length: \(body.utf8.count)\r\n"))
    }

    @Test func headResponsesStateTheirLengthWithoutABody() {
        let ob = IOBuffer(capacity: 4096)
        let r = GatewayResponse.error(404, json: true)
        #expect(GatewayResponse.write(r, to: ob, headOnly: true, hsts: [], requestId: Array(String(repeating: "b", count: 32).utf8), close: false))
        let text = Self.text(ob)
        #expect(text.hasSuffix("\r\n\r\n") && text.contains("Content-Length: \(r.body.count + 32)\r\n") && !text.contains("Connection: close"))
    }

    @Test func identityResponsesAreNotCached() {
        #expect(Unauthenticated.json.headers.contains { $0 == ("Cache-Control", "no-store") })
        let request = LocalRequest(method: "GET", path: "/x", query: [:], host: "localhost", cookies: [:], isAPIClient: false, origin: nil,
                                   contentType: "", form: [:], clientAddress: "127.0.0.1", requestId: "")
        #expect(Forbidden.page(stepUp: false, signedInAs: "a@b.c", request: request, returnTo: "rd").headers.contains { $0 == ("Cache-Control", "no-store") })
        #expect(Forbidden.json(stepUp: false).headers.contains { $0 == ("Cache-Control", "no-store") })
    }

    /// RFC 6455 §1.3's example key and accept value, and the 101s that do not answer it.
    @Test func a101AnswersTheUpgradeOnlyWithTheRightAcceptValue() {
        #expect(String(decoding: TunnelUpgrade.expectedAccept(key: Array("dGhlIHNhbXBsZSBub25jZQ==".utf8)), as: UTF8.self) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        var parser = RequestHeadParser(limits: HTTPLimits())
        var request = RequestHead()
        let raw = Array("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".utf8)
        guard case .complete = raw.withUnsafeBytes({ parser.parse($0, into: &request) }) else { Issue.record("request"); return }
        let cases: [(String, Bool)] = [
            ("Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", true),
            ("Upgrade: WebSocket\r\nSec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ", true),
            ("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", false),
            ("Upgrade: websocket", false),
            ("Upgrade: h2c\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", false),
            ("Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo", false),
            ("Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", false),
        ]
        for (fields, accepted) in cases {
            var rp = ResponseHeadParser(limits: HTTPLimits())
            var response = ResponseHead()
            let bytes = Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\(fields)\r\n\r\n".utf8)
            guard case .complete = bytes.withUnsafeBytes({ rp.parse($0, requestWasHEAD: false, into: &response) }) else { Issue.record("\(fields)"); continue }
            #expect(TunnelUpgrade.accepted(request, &response) == accepted, "\(fields)")
        }
    }
}
