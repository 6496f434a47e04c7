import DrawbridgeHTTP
import DrawbridgeProxy
import Testing

/// The exchange state machine without sockets: events in, actions out, one deadline.
@Suite struct ClientExchangeTests {
    static let s: UInt64 = 1_000_000_000
    static let timeouts = ExchangeTimeouts(header: 10 * s, body: 20 * s, idle: 30 * s, send: 40 * s, connect: 5 * s, response: 60 * s)

    /// A connection past its handshake at t = 100 s.
    static func open() -> ClientExchange {
        var x = ClientExchange(timeouts: timeouts, now: 99 * s)
        x.handshakeDone(now: 100 * s)
        return x
    }

    static let get = RequestSummary(framing: .none)
    static func post(_ n: UInt64, expect: Bool = false) -> RequestSummary { RequestSummary(framing: .contentLength(n), expectContinue: expect) }

    @Test func pipelinedRequestsEachGetAFreshState() {
        var x = Self.open()
        x.headBytesPending(now: 101 * Self.s)
        x.requestHead(Self.post(5), now: 101 * Self.s)
        #expect(x.request.started == 101 * Self.s && x.request.body == .length(remaining: 5))
        #expect(x.forwarding(upstreamReady: true, now: 101 * Self.s) == false)
        x.requestBodyForwarded(5, now: 102 * Self.s)
        #expect(x.request.body == .done)
        #expect(x.responseHead(status: 200, framing: .contentLength(2), upstreamKeepAlive: true, now: 103 * Self.s) == .forwardHead)
        #expect(x.responseBodyForwarded(2) == true)
        #expect(x.responseComplete(upstreamClean: true, now: 103 * Self.s) == .releaseUpstream)
        #expect(x.phase == .awaitingHead && x.isIdle)
        // The second request was already buffered: nothing of the first is left in its state.
        x.headBytesPending(now: 104 * Self.s)
        x.requestHead(Self.get, now: 104 * Self.s)
        #expect(x.request.status == 0 && x.request.bytesSent == 0 && !x.request.responseStarted && x.request.body == .none)
        #expect(x.request.keepAlive)
    }

    @Test func expectContinueIsAnsweredOnlyWhenForwarding() {
        var x = Self.open()
        x.requestHead(Self.post(10, expect: true), now: 101 * Self.s)
        #expect(x.forwarding(upstreamReady: false, now: 101 * Self.s) == true) // decided to forward: ask for the body
        // A retry does not ask twice.
        #expect(x.upstreamFailed(connectFailed: true, reused: false) == .respond502) // has a body: never retried
        var y = Self.open()
        y.requestHead(RequestSummary(framing: .none, expectContinue: true), now: 101 * Self.s)
        #expect(y.forwarding(upstreamReady: true, now: 101 * Self.s) == false) // nothing to ask for
        // The gateway's own endpoints: asked for once the endpoint will read the body.
        var z = Self.open()
        z.requestHead(Self.post(10, expect: true), now: 101 * Self.s)
        #expect(z.gatewayEndpointStarted(now: 101 * Self.s) == true)
        var w = Self.open()
        w.requestHead(RequestSummary(framing: .none, expectContinue: true), now: 101 * Self.s)
        #expect(w.gatewayEndpointStarted(now: 101 * Self.s) == false)
    }

    @Test func webSocketUpgradeBecomesATunnel() {
        var x = Self.open()
        x.requestHead(RequestSummary(framing: .none, webSocketUpgrade: true), now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(x.responseHead(status: 101, framing: .none, now: 102 * Self.s) == .startTunnel)
        #expect(x.phase == .tunnel)
        #expect(x.deadline == 102 * Self.s + 60 * Self.s)
        x.tunnelEnded(now: 110 * Self.s)
        #expect(x.phase == .closing)
        // 101 to a request that asked for no upgrade never reaches the client.
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(y.responseHead(status: 101, framing: .none, now: 102 * Self.s) == .refuse)
        #expect(y.responseHead(status: 100, framing: .none, now: 102 * Self.s) == .skipInterim)
    }

    @Test func earlyResponseBeforeTheRequestBodyEndedCloses() {
        var x = Self.open()
        x.requestHead(Self.post(1000), now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        x.requestBodyForwarded(10, now: 101 * Self.s)
        #expect(x.responseHead(status: 413, framing: .contentLength(0), upstreamKeepAlive: true, now: 102 * Self.s) == .forwardHeadAndFinish)
        #expect(!x.request.keepAlive) // the request body's end is unknown
        #expect(x.responseComplete(upstreamClean: true, now: 102 * Self.s) == .abandonUpstream)
        #expect(x.phase == .closing)
    }

    @Test func upstreamCloseMidBody() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(x.responseHead(status: 200, framing: .contentLength(100), now: 102 * Self.s) == .forwardHead)
        #expect(x.responseBodyForwarded(40) == false)
        // A response that had begun can only be cut: the client must see the connection end.
        #expect(x.upstreamFailed(connectFailed: false, reused: true) == .abort)
        // Close-delimited bodies end with the upstream's close and are rechunked for HTTP/1.1.
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(y.responseHead(status: 200, framing: .untilClose, now: 102 * Self.s) == .forwardHead)
        #expect(y.request.chunkToClient && y.request.keepAlive)
        #expect(y.responseComplete(upstreamClean: false, now: 103 * Self.s) == .abandonUpstream)
        #expect(y.phase == .awaitingHead)
    }

    @Test func staleUpstreamRetriedOnceForABodilessRequest() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(x.upstreamFailed(connectFailed: false, reused: true) == .retry(sameServer: true))
        _ = x.forwarding(upstreamReady: false, now: 101 * Self.s)
        #expect(x.upstreamFailed(connectFailed: true, reused: false) == .respond502) // once only
        // A fresh connection failing without a response is not stale: 502 without a retry.
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(y.upstreamFailed(connectFailed: false, reused: false) == .respond502)
        // A refused connect goes to another server once.
        var z = Self.open()
        z.requestHead(Self.get, now: 101 * Self.s)
        #expect(z.connectRefused(servers: 2) == .retryAnotherServer)
        #expect(z.connectRefused(servers: 2) == .respond502)
        var one = Self.open()
        one.requestHead(Self.get, now: 101 * Self.s)
        #expect(one.connectRefused(servers: 1) == .respond502)
    }

    @Test func clientCloseDuringUpstreamConnect() {
        var x = Self.open()
        x.requestHead(Self.post(10), now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: false, now: 101 * Self.s)
        #expect(x.deadline == 101 * Self.s + 5 * Self.s) // the connect timeout
        #expect(x.peerClosed() == .abort) // mid-body: the request can never complete
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: false, now: 101 * Self.s)
        #expect(y.peerClosed() == .proceed) // the response is still attempted
    }

    @Test func chunkedBodyLimitAndMalformedFraming() {
        var x = Self.open()
        x.requestHead(RequestSummary(framing: .chunked), now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(x.requestChunkData(60, limit: 100) == .proceed)
        #expect(x.requestChunkData(50, limit: 100) == .respond(413))
        #expect(x.requestBodyMalformed() == .respond(400))
        _ = x.responseHead(status: 200, framing: .chunked, now: 102 * Self.s)
        #expect(x.requestChunkData(50, limit: 100) == .abort) // a response had begun
        #expect(x.requestBodyMalformed() == .abort)
    }

    @Test func gatewayResponsesShareOneCloseRule() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        #expect(!x.closesAfterResponse(close: false))
        x.responded(status: 404, bodyBytes: 10, close: false, now: 101 * Self.s)
        #expect(x.phase == .awaitingHead && x.request.status == 404)
        x.requestHead(Self.post(10), now: 102 * Self.s)
        #expect(x.closesAfterResponse(close: false)) // the unread body's end is unknown
        x.responded(status: 404, bodyBytes: 10, close: false, now: 102 * Self.s)
        #expect(x.phase == .closing)
        var y = Self.open()
        y.requestHead(RequestSummary(framing: .none, keepAlive: false), now: 101 * Self.s)
        #expect(y.closesAfterResponse(close: false))
    }

    @Test func drainClosesIdleConnectionsAndFinishesBusyOnes() {
        var x = Self.open()
        #expect(x.beginDrain(inputPending: false, outputPending: false) == .closeNow)
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(y.beginDrain(inputPending: false, outputPending: false) == .finishExchange)
        #expect(!y.request.keepAlive)
        var z = ClientExchange(timeouts: Self.timeouts, now: 0)
        #expect(z.beginDrain(inputPending: false, outputPending: false) == .closeNow) // mid-handshake
    }

    @Test func connectedUpstreamSwitchesFromTheConnectToTheResponseTimeout() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: false, now: 101 * Self.s)
        #expect(x.deadline == 106 * Self.s)
        x.upstreamReady()
        #expect(x.deadline == 161 * Self.s)
        x.progressed(now: 150 * Self.s)
        #expect(x.deadline == 210 * Self.s) // bytes moving push it on
    }

    @Test func oneAccessLogLinePerRequestAndClosedIsFinal() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        #expect(x.takeLogTurn() == true)
        #expect(x.takeLogTurn() == false)
        x.requestHead(Self.get, now: 102 * Self.s)
        #expect(x.takeLogTurn() == true) // a new request, a new line
        x.closed()
        #expect(x.phase == .closed && x.deadline == .max && x.timerFired(now: .max, inputPending: false) == .close)
    }

    /// Issue 19, item 2: when the upstream connection of a complete response goes back to the pool.
    struct ReuseCase: Sendable, CustomTestStringConvertible {
        let name: String
        var head = false
        let status: Int
        let framing: ResponseFraming
        var keepAlive = true
        var bodyAnnounced = false
        var clean = true
        let reused: Bool
        var testDescription: String { name }
    }

    static let reuseCases: [ReuseCase] = [
        .init(name: "200 with Content-Length", status: 200, framing: .contentLength(2), reused: true),
        .init(name: "chunked", status: 200, framing: .chunked, reused: true),
        .init(name: "204 without framing fields", status: 204, framing: .none, reused: true),
        .init(name: "HEAD answered with Content-Length 0", head: true, status: 200, framing: .none, reused: true),
        .init(name: "HEAD answered with a length: its body may still come", head: true, status: 200, framing: .none, bodyAnnounced: true, reused: false),
        .init(name: "HEAD answered chunked", head: true, status: 200, framing: .none, bodyAnnounced: true, reused: false),
        .init(name: "204 with Content-Length 5", status: 204, framing: .none, bodyAnnounced: true, reused: false),
        .init(name: "304 with Transfer-Encoding", status: 304, framing: .none, bodyAnnounced: true, reused: false),
        .init(name: "close-delimited", status: 200, framing: .untilClose, keepAlive: false, reused: false),
        .init(name: "close-delimited even if the head said keep-alive", status: 200, framing: .untilClose, reused: false),
        .init(name: "Connection: close", status: 200, framing: .contentLength(2), keepAlive: false, reused: false),
        .init(name: "bytes left unread, or the upstream closed", status: 200, framing: .contentLength(2), clean: false, reused: false),
    ]

    @Test(arguments: reuseCases) func upstreamReuse(_ c: ReuseCase) {
        var x = Self.open()
        x.requestHead(RequestSummary(framing: .none, isHEAD: c.head), now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        _ = x.responseHead(status: c.status, framing: c.framing, upstreamKeepAlive: c.keepAlive, bodyAnnounced: c.bodyAnnounced, now: 102 * Self.s)
        #expect(x.responseComplete(upstreamClean: c.clean, now: 103 * Self.s) == (c.reused ? .releaseUpstream : .abandonUpstream))
        #expect(x.phase == .awaitingHead) // the client connection is kept either way
    }

    /// Issue 19, item 3: one retry, only when the request cannot have run twice.
    struct RetryCase: Sendable, CustomTestStringConvertible {
        let name: String
        var summary = RequestSummary(framing: .none)
        var connectFailed = false
        var reused = true
        var answeredBytes = false
        let outcome: ClientExchange.UpstreamFailure
        var testDescription: String { name }
    }

    static let retryCases: [RetryCase] = [
        .init(name: "GET on a stale pooled connection", outcome: .retry(sameServer: true)),
        .init(name: "DELETE on a stale pooled connection", outcome: .retry(sameServer: true)),
        .init(name: "POST on a stale pooled connection", summary: RequestSummary(framing: .none, idempotent: false), outcome: .respond502),
        .init(name: "PATCH (not idempotent) on a stale pooled connection", summary: RequestSummary(framing: .none, idempotent: false), outcome: .respond502),
        .init(name: "POST whose connect failed (nothing was sent)", summary: RequestSummary(framing: .none, idempotent: false), connectFailed: true, reused: false,
              outcome: .retry(sameServer: false)),
        .init(name: "GET after part of a response head arrived", answeredBytes: true, outcome: .respond502),
        .init(name: "GET on a fresh connection that closed", reused: false, outcome: .respond502),
        .init(name: "PUT with a body (streamed, not kept)", summary: RequestSummary(framing: .contentLength(3)), outcome: .respond502),
    ]

    @Test(arguments: retryCases) func upstreamRetry(_ c: RetryCase) {
        var x = Self.open()
        x.requestHead(c.summary, now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: !c.connectFailed, now: 101 * Self.s)
        if c.answeredBytes { x.upstreamBytesRead(now: 102 * Self.s) }
        #expect(x.upstreamFailed(connectFailed: c.connectFailed, reused: c.reused) == c.outcome)
    }

    /// Issue 19, item 6: interim responses neither move the response deadline nor come without end.
    @Test func interimResponsesAreBoundedAndKeepTheDeadline() {
        var x = Self.open()
        x.requestHead(Self.get, now: 101 * Self.s)
        _ = x.forwarding(upstreamReady: true, now: 101 * Self.s)
        #expect(x.deadline == 161 * Self.s)
        for i in 1...ClientExchange.maxInterimResponses {
            x.upstreamBytesRead(now: (101 + UInt64(i)) * Self.s)
            #expect(x.responseHead(status: 103, framing: .none, now: (101 + UInt64(i)) * Self.s) == .skipInterim)
        }
        #expect(x.deadline == 161 * Self.s) // unchanged by 16 interim responses
        #expect(x.timerFired(now: 161 * Self.s, inputPending: false) == .respond(504, upstreamFailed: false))
        #expect(x.responseHead(status: 102, framing: .none, now: 130 * Self.s) == .refuse) // the 17th
        // The final head starts the body: from then on bytes read move the deadline.
        var y = Self.open()
        y.requestHead(Self.get, now: 101 * Self.s)
        _ = y.forwarding(upstreamReady: true, now: 101 * Self.s)
        y.upstreamBytesRead(now: 110 * Self.s)
        #expect(y.responseHead(status: 100, framing: .none, now: 110 * Self.s) == .skipInterim)
        #expect(y.responseHead(status: 200, framing: .contentLength(9), now: 120 * Self.s) == .forwardHead)
        y.upstreamBytesRead(now: 150 * Self.s)
        #expect(y.deadline == 210 * Self.s)
        #expect(y.upstreamFailed(connectFailed: false, reused: true) == .abort)
    }

    /// Every timeout: the state it applies in, the deadline it sets, and what firing does.
    struct TimeoutCase: Sendable, CustomTestStringConvertible {
        let name: String
        let setup: @Sendable (inout ClientExchange) -> Void
        let deadline: UInt64
        let inputPending: Bool
        let action: ClientExchange.TimeoutAction
        var testDescription: String { name }
    }

    static let timeoutCases: [TimeoutCase] = [
        .init(name: "handshake", setup: { _ in }, deadline: 99 * s + 10 * s, inputPending: false, action: .close),
        .init(name: "keep-alive idle", setup: { $0.handshakeDone(now: 100 * s) }, deadline: 130 * s, inputPending: false, action: .close),
        .init(name: "idle, then an unfinished head (slowloris)", setup: { $0.handshakeDone(now: 100 * s); $0.headBytesPending(now: 105 * s) },
              deadline: 115 * s, inputPending: true, action: .respond(408, upstreamFailed: false)),
        .init(name: "gateway endpoint body", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(post(10), now: 101 * s); $0.gatewayEndpointStarted(now: 101 * s) },
              deadline: 121 * s, inputPending: false, action: .respond(408, upstreamFailed: false)),
        .init(name: "gateway endpoint job", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(get, now: 101 * s); $0.gatewayEndpointStarted(now: 101 * s); $0.gatewayJobQueued(now: 102 * s) },
              deadline: 132 * s, inputPending: false, action: .respond(504, upstreamFailed: false)),
        .init(name: "upstream connect", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(get, now: 101 * s); _ = $0.forwarding(upstreamReady: false, now: 101 * s) },
              deadline: 106 * s, inputPending: false, action: .respond(504, upstreamFailed: true)),
        .init(name: "upstream response", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(get, now: 101 * s); _ = $0.forwarding(upstreamReady: true, now: 101 * s) },
              deadline: 161 * s, inputPending: false, action: .respond(504, upstreamFailed: false)),
        .init(name: "client body stalled", setup: { $0.handshakeDone(now: 100 * s); $0.clientRead(now: 101 * s); $0.requestHead(post(10), now: 101 * s); _ = $0.forwarding(upstreamReady: true, now: 101 * s) },
              deadline: 121 * s, inputPending: false, action: .respond(408, upstreamFailed: false)),
        .init(name: "response body stalled", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(get, now: 101 * s); _ = $0.forwarding(upstreamReady: true, now: 101 * s)
                  _ = $0.responseHead(status: 200, framing: .contentLength(5), now: 102 * s) },
              deadline: 101 * s + 60 * s, inputPending: false, action: .abort),
        .init(name: "tunnel idle", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(RequestSummary(framing: .none, webSocketUpgrade: true), now: 101 * s)
                  _ = $0.forwarding(upstreamReady: true, now: 101 * s); _ = $0.responseHead(status: 101, framing: .none, now: 102 * s) },
              deadline: 162 * s, inputPending: false, action: .abort),
        .init(name: "tunnel lifetime (however busy)", setup: { $0.timeouts.tunnel = 30 * s; $0.handshakeDone(now: 100 * s)
                  $0.requestHead(RequestSummary(framing: .none, webSocketUpgrade: true), now: 101 * s)
                  _ = $0.forwarding(upstreamReady: true, now: 101 * s); _ = $0.responseHead(status: 101, framing: .none, now: 102 * s)
                  $0.progressed(now: 131 * s) },
              deadline: 132 * s, inputPending: false, action: .abort),
        .init(name: "sending the last response", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(RequestSummary(framing: .none, keepAlive: false), now: 101 * s)
                  $0.responded(status: 404, bodyBytes: 0, close: false, now: 101 * s) },
              deadline: 141 * s, inputPending: false, action: .close),
        .init(name: "lingering close", setup: { $0.handshakeDone(now: 100 * s); $0.requestHead(get, now: 101 * s); $0.responded(status: 400, bodyBytes: 0, close: true, now: 101 * s)
                  $0.startLinger(now: 102 * s) },
              deadline: 104 * s, inputPending: false, action: .close),
    ]

    @Test(arguments: timeoutCases) func timeout(_ c: TimeoutCase) {
        var x = ClientExchange(timeouts: Self.timeouts, now: 99 * Self.s)
        c.setup(&x)
        #expect(x.deadline == c.deadline)
        #expect(x.timerFired(now: x.deadline, inputPending: c.inputPending) == c.action)
    }
}
