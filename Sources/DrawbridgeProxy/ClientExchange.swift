import DrawbridgeHTTP

/// The exchange of one client connection as a value: what phase it is in, the request in flight,
/// and the one deadline. Socket-free: the I/O glue (`ClientConnection`) feeds it events (a head
/// parsed, body bytes forwarded, the upstream's head, a failure, the timer) and executes what it
/// answers. Buffers stay in the glue; the machine sees counts and parsed heads. Modelled on
/// SwiftNIO's and Hummingbird's `StateMachine` structs that return actions.
///
/// Issue 19's rules on upstreams live here: strict framing (`responseHead`, with the parser's
/// `BodyFraming.declared`), pooled-connection reuse (`responseComplete`), idempotent-only
/// retries (`upstreamFailed`), interim responses bounded and under the response deadline.
public struct ClientExchange: Sendable {
    /// Interim (1xx) responses accepted before a final one; past it, 502 (`ResponseHead`'s bound).
    public static let maxInterimResponses = ResponseHead.maxInterimResponses

    /// Without payloads: phases compare as integers on the hot path.
    public enum Phase: Sendable, Equatable {
        case handshake
        /// Waiting for (or reading) the next request head; keep-alive idle when no byte of it came.
        case awaitingHead
        /// A request to the gateway's own endpoints: reading its body, then waiting for its job.
        case gatewayEndpoint, waitingForJob
        /// A request forwarded upstream: connecting, sending the body, relaying the response.
        case forwarding
        /// After 101 Switching Protocols: bytes relayed both ways until either side ends.
        case tunnel
        /// The last response is being sent; then the connection closes, lingering: reading and
        /// discarding what the client still sends, so our response is not destroyed by a reset.
        case closing, lingering
        case closed
    }

    public private(set) var phase = Phase.handshake
    /// The request in flight (or the last one): replaced whole per request.
    public private(set) var request: RequestState
    public var timeouts: ExchangeTimeouts
    /// When the current phase began (the idle, body, job and send timeouts run from it).
    public private(set) var phaseSince: UInt64
    /// When the first byte of the next head came; 0: none yet (the connection is idle).
    public private(set) var headStarted: UInt64 = 0
    /// When the client last sent bytes, and when bytes last moved either way.
    public private(set) var lastClientRead: UInt64 = 0
    public private(set) var lastProgress: UInt64
    private var lingerSince: UInt64 = 0
    /// Stop after the current exchange (graceful shutdown).
    public private(set) var draining = false

    public init(timeouts: ExchangeTimeouts, now: UInt64) {
        self.timeouts = timeouts
        phaseSince = now
        lastProgress = now
        request = .unparsed(started: now)
    }

    // MARK: The one deadline

    /// When the timer must fire; every timeout of the connection is derived here from the phase
    /// and its times, and nowhere else.
    public var deadline: UInt64 {
        switch phase {
        case .handshake: return phaseSince + timeouts.header
        case .awaitingHead:
            // slowloris: the whole head within the header timeout of its first byte
            return headStarted != 0 ? headStarted + timeouts.header : phaseSince + timeouts.idle
        case .gatewayEndpoint: return phaseSince + timeouts.body
        case .waitingForJob: return phaseSince + timeouts.job
        case .forwarding:
            if request.upstreamConnecting { return request.upstreamStart + timeouts.connect }
            if !request.responseStarted {
                var d = max(lastProgress, request.bodyDoneAt) + timeouts.response
                if request.body.isActive { d = min(d, lastClientRead + timeouts.body) }
                return d
            }
            return lastProgress + max(timeouts.response, timeouts.send)
        // A tunnel ends when idle, and at the latest after its lifetime (phaseSince: when it opened).
        case .tunnel: return min(lastProgress + max(timeouts.idle, timeouts.response), phaseSince + timeouts.tunnel)
        case .closing: return phaseSince + timeouts.send
        case .lingering: return min(phaseSince + timeouts.send, lingerSince + timeouts.linger)
        case .closed: return .max
        }
    }

    /// Idle between requests: no byte of a next head yet (buffers can be given back).
    public var isIdle: Bool { phase == .awaitingHead && headStarted == 0 }

    // MARK: Client events

    public mutating func handshakeDone(now: UInt64) { enter(.awaitingHead, now) }

    /// Bytes of a head are buffered (the header timeout starts with the first).
    public mutating func headBytesPending(now: UInt64) {
        if headStarted == 0 { headStarted = now }
    }

    public mutating func clientRead(now: UInt64) {
        lastClientRead = now
        lastProgress = now
    }

    /// Bytes moved (written to either side, read from the upstream's response body).
    public mutating func progressed(now: UInt64) { lastProgress = now }

    /// Bytes of the upstream's response were read. Before its final head they do not move the
    /// deadline: the response timeout holds across interim responses (slow drip of 1xx).
    public mutating func upstreamBytesRead(now: UInt64) {
        request.upstreamAnswered = true
        if request.responseStarted { lastProgress = now }
    }

    /// A complete head: the new request replaces the last one whole.
    public mutating func requestHead(_ summary: RequestSummary, now: UInt64) {
        request = RequestState(summary, keepAlive: summary.keepAlive && !draining, started: headStarted == 0 ? now : headStarted)
        headStarted = 0
    }

    /// A head that could not be parsed, or did not come in time: it is answered, then closed.
    public mutating func unparsedHead(now: UInt64) {
        request = .unparsed(started: headStarted == 0 ? now : headStarted)
    }

    public enum DrainAction: Sendable, Equatable { case closeNow, finishExchange }

    /// Graceful shutdown: an idle connection closes now, a busy one after its response.
    public mutating func beginDrain(inputPending: Bool, outputPending: Bool) -> DrainAction {
        draining = true
        request.keepAlive = false
        if phase == .handshake || (isIdle && !inputPending && !outputPending) { return .closeNow }
        return .finishExchange
    }

    // MARK: The gateway's own endpoints

    /// The endpoint will read the body (a refusal answers before this). Returns whether to answer
    /// `100 Continue` first: a client that sent `Expect: 100-continue` waits for it before the body.
    @discardableResult
    public mutating func gatewayEndpointStarted(now: UInt64) -> Bool {
        enter(.gatewayEndpoint, now)
        return request.summary.expectContinue && request.body.isActive
    }

    /// The request body was read whole (local endpoints read it before answering).
    public mutating func gatewayBodyRead() { request.body = .done }

    public mutating func gatewayJobQueued(now: UInt64) { enter(.waitingForJob, now) }

    /// Whether a finished job's answer is still wanted (the connection may have moved on).
    public var awaitsJob: Bool { phase == .waitingForJob }

    // MARK: Responses the gateway writes itself

    /// The one close rule for every response the gateway makes: close when asked, when the
    /// connection is not kept alive, or when a request body is still unread (its end is unknown).
    public func closesAfterResponse(close: Bool) -> Bool { close || !request.keepAlive || request.body.isActive }

    /// A gateway response (status `status`, `bodyBytes` of body) is written: the exchange ends.
    public mutating func responded(status: Int, bodyBytes: Int, close: Bool, now: UInt64) {
        let closing = closesAfterResponse(close: close)
        request.status = status
        request.bytesSent = UInt64(bodyBytes)
        request.response = .done
        endExchange(closing: closing, now: now)
    }

    // MARK: Forwarding

    public enum ConnectFailure: Sendable, Equatable {
        /// Connect again, to another server than the one that failed.
        case retryAnotherServer
        case respond502
    }

    /// No connection could be opened to the chosen server (`servers`: how many the upstream has).
    public mutating func connectRefused(servers: Int) -> ConnectFailure {
        if !request.retried && servers > 1 {
            request.retried = true
            return .retryAnotherServer
        }
        return .respond502
    }

    /// An upstream connection (new: `ready` false until connected and handshaken) carries the
    /// request now. Returns whether to answer `100 Continue` (we decided to forward: ask for the body).
    public mutating func forwarding(upstreamReady: Bool, now: UInt64) -> Bool {
        enter(.forwarding, now)
        request.response = .awaitingHead
        request.upstreamConnecting = !upstreamReady
        request.upstreamStart = now
        lastProgress = now
        request.bodyDoneAt = request.body.isActive ? 0 : now
        return request.summary.expectContinue && request.body.isActive && !request.retried
    }

    public mutating func upstreamReady() { request.upstreamConnecting = false }

    public enum BodyAction: Sendable, Equatable {
        case proceed
        /// Refuse with this status (nothing of a response went out yet) and close.
        case respond(Int)
        /// Cut both connections: the client must see the connection end.
        case abort
    }

    /// `n` bytes of a Content-Length body went to the upstream.
    public mutating func requestBodyForwarded(_ n: Int, now: UInt64) {
        guard case .length(let remaining) = request.body, n > 0 else { return }
        let left = remaining - UInt64(n)
        request.body = left == 0 ? .done : .length(remaining: left)
        if left == 0 { request.bodyDoneAt = now }
    }

    /// `n` data bytes of a chunked body were decoded (`limit`: the body limit, 0 none).
    public mutating func requestChunkData(_ n: Int, limit: Int64) -> BodyAction {
        guard case .chunked(let received) = request.body else { return .proceed }
        let total = received + UInt64(n)
        request.body = .chunked(received: total)
        if limit > 0 && total > UInt64(limit) { return request.responseStarted ? .abort : .respond(413) } // the limit holds for chunked bodies too
        return .proceed
    }

    public mutating func requestBodyEnded(now: UInt64) {
        request.body = .done
        request.bodyDoneAt = now
    }

    /// The client closed its side. Mid-body the request can never complete: cut both; otherwise
    /// the response is still written (the write fails if the client is gone altogether).
    public func peerClosed() -> BodyAction { phase == .forwarding && request.body.isActive ? .abort : .proceed }

    /// Bad chunk framing in the request body.
    public func requestBodyMalformed() -> BodyAction { request.responseStarted ? .abort : .respond(400) }

    public enum ResponseHeadAction: Sendable, Equatable {
        /// 1xx other than 101: dropped (the gateway answered 100-continue itself).
        case skipInterim
        /// Never reaches the client (101 to a request that asked no upgrade, one interim response
        /// too many): 502, close.
        case refuse
        /// Write the response head (framing from `request`), then relay the body.
        case forwardHead
        /// As `forwardHead`, and the exchange is complete (no body).
        case forwardHeadAndFinish
        /// Write the head, then relay bytes both ways.
        case startTunnel
    }

    /// The upstream's response head (a malformed one never gets here: the glue answers 502; its
    /// framing was judged by the parser, `BodyFraming.declared`). `upstreamKeepAlive`: the head
    /// allows reuse; `bodyAnnounced`: it announced a body that `framing` says does not follow.
    public mutating func responseHead(status: Int, framing: ResponseFraming, upstreamKeepAlive: Bool = false, bodyAnnounced: Bool = false,
                                      now: UInt64) -> ResponseHeadAction {
        if status >= 100 && status < 200 && status != 101 {
            request.interimResponses += 1
            // a bounded number of 1xx: an endless stream of them must not hold the exchange
            return request.interimResponses > Self.maxInterimResponses ? .refuse : .skipInterim
        }
        if status == 101 && !request.summary.webSocketUpgrade { return .refuse }
        // Reuse only after an unambiguous response: a body announced but not due (HEAD, 204, 304)
        // may still come, and would be read as the next request's response (another user's).
        request.upstreamReusable = upstreamKeepAlive && framing != .untilClose && !(framing == .none && bodyAnnounced)
        if request.body.isActive { request.keepAlive = false } // the request body's end is unknown yet
        request.chunkToClient = false
        switch framing {
        case .chunked, .untilClose:
            if request.summary.http10 { request.keepAlive = false } else { request.chunkToClient = true }
        default: break
        }
        request.responseStarted = true
        request.upstreamHeadAt = now
        request.status = status
        if status == 101 {
            enter(.tunnel, now)
            lastProgress = now
            return .startTunnel
        }
        switch framing {
        case .none: request.response = .done
        case .contentLength(let n): request.response = n == 0 ? .done : .length(remaining: n)
        case .chunked: request.response = .chunked
        case .untilClose: request.response = .untilClose
        }
        return request.response == .done ? .forwardHeadAndFinish : .forwardHead
    }

    /// `n` bytes of a Content-Length response body went to the client; true when it is complete.
    public mutating func responseBodyForwarded(_ n: Int) -> Bool {
        request.bytesSent += UInt64(n)
        guard case .length(let remaining) = request.response else { return false }
        let left = remaining - UInt64(n)
        request.response = left == 0 ? .done : .length(remaining: left)
        return left == 0
    }

    public enum Completion: Sendable, Equatable {
        /// Back to the pool for the next request, or closed.
        case releaseUpstream, abandonUpstream
    }

    /// The whole response went to the client. `upstreamClean`: nothing unread from the upstream
    /// connection, nothing unsent to it, and it did not close.
    public mutating func responseComplete(upstreamClean: Bool, now: UInt64) -> Completion {
        request.response = .done
        // back to the pool only when clean and its response was unambiguous and complete: another
        // user's request must never read this one's bytes
        let reuse = request.upstreamReusable && upstreamClean && !request.body.isActive
        endExchange(closing: !request.keepAlive || request.body.isActive, now: now)
        return reuse ? .releaseUpstream : .abandonUpstream
    }

    public enum UpstreamFailure: Sendable, Equatable {
        /// Retry once on a fresh connection: `sameServer` for a stale pooled one, another otherwise.
        case retry(sameServer: Bool)
        case respond502
        /// The response had begun: cut both connections.
        case abort
    }

    /// The upstream connection failed before the response was complete (`connectFailed`: it never
    /// connected; `reused`: it had carried a request before, so it may have been stale).
    public mutating func upstreamFailed(connectFailed: Bool, reused: Bool) -> UpstreamFailure {
        if request.responseStarted { return .abort }
        // One retry for a request without body (a body was streamed, not kept), and only when no
        // byte of a response came: a server that never connected got nothing; a stale pooled
        // connection may have run the request, so only an idempotent method is sent again
        // (RFC 9110 §9.2.2: a POST must not run twice; nginx never resends POST, PATCH, LOCK).
        if request.summary.framing == .none && !request.retried && !request.upstreamAnswered
            && (connectFailed || (reused && request.summary.idempotent)) {
            request.retried = true
            return .retry(sameServer: reused)
        }
        return .respond502
    }

    /// Either side of a tunnel ended and what the other had pending was delivered.
    public mutating func tunnelEnded(now: UInt64) { enter(.closing, now) }

    // MARK: Closing

    /// The last response is sent: shut down writing and read what the client still sends.
    public mutating func startLinger(now: UInt64) {
        lingerSince = now
        phase = .lingering
    }

    public mutating func closed() { phase = .closed }

    /// Whether the access-log line of the current request is still to be written (true once).
    public mutating func takeLogTurn() -> Bool {
        if request.logged { return false }
        request.logged = true
        return true
    }

    // MARK: Timer

    public enum TimeoutAction: Sendable, Equatable {
        case close
        /// Cut both connections (a response had begun).
        case abort
        /// Answer with this status and close; `upstreamFailed`: the upstream never connected (passive health).
        case respond(Int, upstreamFailed: Bool)
    }

    /// The deadline passed. `inputPending`: bytes of a next head are buffered.
    public func timerFired(now: UInt64, inputPending: Bool) -> TimeoutAction {
        switch phase {
        case .handshake, .closing, .lingering, .closed: return .close
        case .tunnel: return .abort // both connections cut (and the tunnel's access-log line written)
        case .gatewayEndpoint: return .respond(408, upstreamFailed: false) // a body that never came
        case .waitingForJob: return .respond(504, upstreamFailed: false) // a job that never finished
        case .awaitingHead:
            if headStarted == 0 && !inputPending { return .close } // idle keep-alive
            return .respond(408, upstreamFailed: false)
        case .forwarding:
            if request.responseStarted { return .abort }
            // A client too slow sending its body gets 408; an upstream too slow answering, 504.
            let clientStalled = request.body.isActive && now - lastClientRead >= timeouts.body
            return .respond(clientStalled ? 408 : 504, upstreamFailed: request.upstreamConnecting)
        }
    }

    // MARK: Private

    private mutating func enter(_ p: Phase, _ now: UInt64) {
        phase = p
        phaseSince = now
    }

    /// After a response: close once it is sent, or wait for the next request on this connection.
    private mutating func endExchange(closing: Bool, now: UInt64) {
        if closing {
            enter(.closing, now)
        } else {
            enter(.awaitingHead, now)
            headStarted = 0
        }
    }
}
