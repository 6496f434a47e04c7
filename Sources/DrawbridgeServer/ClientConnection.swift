import CLinux
import COpenSSL
import DrawbridgeDecision
import DrawbridgeHTTP
import DrawbridgeProxy
import Glibc

/// The I/O glue of one client TLS connection and, while a request is in flight, the upstream
/// connection serving it: reads, writes, TLS, epoll interest. What happens next is decided
/// elsewhere: the exchange state machine (`ClientExchange`: phases, the request's state, the one
/// deadline) and `decide` (route, credential, policy, rewrite plan). `drive()` runs steps until
/// none makes progress, then sets the epoll interest of both sockets.
final class ClientConnection {
    unowned(unsafe) let worker: Worker // workers outlive their connections
    var transport: Transport
    let peer: SocketAddress
    /// The client's address as text, formatted on first use (access log, forwarded fields, error log).
    var peerIP: [UInt8] { if peerIPText.isEmpty { peer.ipBytes(into: &peerIPText) }; return peerIPText }
    private var peerIPText: [UInt8] = []
    var registered: UInt32 = CLinux_EPOLLIN
    /// EPOLLIN stays registered while we don't read (saving two epoll_ctl calls per request) until
    /// an event shows that it fires for nothing; then it is removed.
    var readEventUnwanted = false
    /// Taken from the worker's pool while the exchange is active, given back when idle.
    var inBuf: IOBuffer?
    var outBuf: IOBuffer?
    var handshakeWantsWrite = false
    /// The server name the client asked for in the TLS handshake, normalised (`RoutingHost`).
    var serverName = RoutingHost.ServerName()
    var readBlocked = false
    var peerEOF = false
    private(set) var closed = false
    var exchange: ClientExchange
    var deadline: UInt64 { exchange.deadline }

    // The request in flight.
    var snapshot: Snapshot
    let request = RequestView()
    /// `request.head` is this request's (false after a head that did not parse).
    var headValid = false
    var parser: RequestHeadParser
    var plan: ForwardPlan?
    /// The route and identity the request's verdict named (nil before one, and for none), so a
    /// refusal counts on its route too. // metrics:
    var verdictRoute: CompiledRoute?
    var verdictIdentity: RequestIdentity?
    /// The signed assertion for the upstream (reused across requests of a session while fresh).
    var assertion: [UInt8]?
    var upstream: UpstreamConnection?
    var upstreamHead = UpstreamRequestHead()
    var reqDecoder: ChunkedDecoder
    var respHead = ResponseHead()
    var respParser: ResponseHeadParser
    var respDecoder: ChunkedDecoder
    var requestId = RequestId()
    /// "host:port" of the upstream server that served the request, for the access log.
    var upstreamLabel: [UInt8] = []
    /// Gateway endpoint in progress: body bytes expected, and the job serial it waits for.
    var localBodyLength = 0
    var localSerial: UInt64 = 0
    var trimmed = false
    /// When an open tunnel was last judged, and under which snapshot and sign-out list (`rejudgeTunnel`).
    var tunnelJudged: (snapshot: Int, revocations: UInt64, at: UInt64) = (0, 0, 0)

    init(worker: Worker, fd: Int32, ssl: OpaquePointer, peer: SocketAddress) {
        self.worker = worker
        transport = Transport(fd: fd, ssl: ssl)
        self.peer = peer
        snapshot = worker.snapshot
        parser = RequestHeadParser(limits: snapshot.httpLimits)
        respParser = ResponseHeadParser(limits: snapshot.httpLimits)
        reqDecoder = ChunkedDecoder(limits: snapshot.httpLimits)
        respDecoder = ChunkedDecoder(limits: snapshot.httpLimits)
        exchange = ClientExchange(timeouts: snapshot.timeouts, now: worker.now)
    }

    // MARK: Events

    func handle(events: UInt32) {
        if events & (CLinux_EPOLLIN | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 {
            readBlocked = false
            readEventUnwanted = true // updateInterest clears it if reading is wanted after all
        }
        drive()
    }

    func upstreamEvent(_ events: UInt32) {
        guard let u = upstream else { return }
        if u.state != .ready {
            if !u.advanceSetup() { upstreamFailed(connectFailed: true) } else if u.state == .ready { exchange.upstreamReady() }
        }
        drive()
    }

    func drive() {
        while !closed {
            let progress: Bool
            switch exchange.phase {
            case .handshake: progress = stepHandshake()
            case .awaitingHead: progress = stepHead()
            case .gatewayEndpoint, .waitingForJob: progress = stepLocal()
            case .forwarding: progress = stepForward()
            case .tunnel: progress = stepTunnel()
            case .closing, .lingering: progress = stepClosing()
            case .closed: progress = false
            }
            if !progress { break }
        }
        if !closed { updateInterest() }
    }

    // MARK: Steps

    func stepHandshake() -> Bool {
        switch transport.handshake() {
        case .done:
            worker.metrics.handshake(transport.ssl, ok: true) // metrics:
            exchange.handshakeDone(now: worker.now)
            if let ssl = transport.ssl { serverName = RoutingHost.ServerName(COpenSSL_servername(ssl)) } // one host normalisation for SNI and Host
            return true
        case .wantRead: handshakeWantsWrite = false; return false
        case .wantWrite: handshakeWantsWrite = true; return false
        case .failed: worker.metrics.handshake(transport.ssl, ok: false); logHandshakeFailure(); close(); return false // metrics:
        }
    }

    func stepHead() -> Bool {
        if flushClient() { return true }
        if let b = inBuf, !b.isEmpty {
            exchange.headBytesPending(now: worker.now)
            switch parser.parse(b.readableBytes, into: &request.head) {
            case .complete: startRequest(); return true
            case .error(let e): refuseHead(e.status); return true
            case .needMore: if b.free == 0 { refuseHead(431); return true }
            }
        }
        if peerEOF || (exchange.draining && (inBuf?.isEmpty ?? true) && (outBuf?.isEmpty ?? true)) {
            if outBuf?.isEmpty ?? true { close() }
            return false
        }
        return readClient()
    }

    func stepClosing() -> Bool {
        if exchange.phase == .closing {
            if flushClient() { return true }
            if let b = outBuf, !b.isEmpty { return false }
            // Lingering close: stop writing, then read and discard what the client still sends,
            // so that our response is not destroyed by a reset (the client may not have read it).
            exchange.startLinger(now: worker.now)
            if let ssl = transport.ssl { _ = SSL_shutdown(ssl); ERR_clear_error() }
            shutdown(transport.fd, Int32(SHUT_WR))
            releaseBuffers()
        }
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        while true {
            let n = withUnsafeMutableBytes(of: &scratch) { Glibc.read(transport.fd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && (CLinux_errno() == EAGAIN || CLinux_errno() == EINTR) { return false }
            close()
            return false
        }
    }

    // MARK: Client I/O

    /// Reads from the client into inBuf if there is room. Returns whether anything changed.
    func readClient() -> Bool {
        if readBlocked || peerEOF { return false }
        if inBuf == nil { inBuf = worker.buffers.take() }
        let b = inBuf!
        guard b.reserve(1) else { return false }
        switch transport.read(into: b.writableBytes) {
        case .bytes(let n):
            b.writeIndex += n
            readEventUnwanted = false // the event brought data: it was wanted
            exchange.clientRead(now: worker.now)
            return true
        case .wouldBlock: readBlocked = true; return false
        case .eof: peerEOF = true; return true
        case .failed: close(); return false
        }
    }

    /// Writes pending output. Returns whether bytes were written.
    func flushClient() -> Bool {
        guard let b = outBuf, !b.isEmpty else { return false }
        var wrote = false
        while !b.isEmpty {
            switch transport.write(b.readableBytes) {
            case .bytes(let n): b.consume(n); wrote = true
            case .wouldBlock:
                if wrote { exchange.progressed(now: worker.now) }
                return wrote
            case .eof, .failed: close(); return false
            }
        }
        exchange.progressed(now: worker.now)
        return wrote
    }

    func ensureOut() -> IOBuffer {
        if let b = outBuf { return b }
        let b = worker.buffers.take()
        outBuf = b
        return b
    }

    /// `100 Continue` for a client that sent `Expect: 100-continue` (the exchange said to ask for the body).
    func sendContinue() { let ob = ensureOut(); if ob.reserve(32) { ob.append("HTTP/1.1 100 Continue\r\n\r\n") } }

    /// Idle or lingering: the buffers go back to the worker's pool (an idle connection holds none).
    func releaseBuffers() {
        if let b = inBuf, b.isEmpty { worker.buffers.give(b); inBuf = nil }
        if let b = outBuf, b.isEmpty { worker.buffers.give(b); outBuf = nil }
    }

    // MARK: Request start: admission, decision

    func startRequest() {
        trimmed = false
        headValid = true
        inBuf!.consume(request.head.headLength)
        snapshot = worker.snapshot
        exchange.timeouts = snapshot.timeouts
        exchange.requestHead(RequestSummary(framing: request.head.framing, keepAlive: request.head.keepAlive,
                                            expectContinue: request.head.expectContinue, isHEAD: request.head.isHEAD,
                                            http10: request.head.version == .http10, webSocketUpgrade: request.head.isWebSocketUpgrade,
                                            idempotent: request.head.isIdempotent),
                             now: worker.now)
        requestId.renew(&worker.random)
        plan = nil
        verdictRoute = nil
        verdictIdentity = nil
        assertion = nil
        if request.head.framing == .chunked { reqDecoder.reset() }
        if let refusal = request.admit(sni: serverName, rules: snapshot.admission) { respondError(refusal, close: true); return }
        // Chunk framing already received is checked before any upstream is contacted, so a
        // malformed body that arrives with its head never reaches one.
        if request.head.framing == .chunked, let b = inBuf, !b.isEmpty {
            var probe = reqDecoder
            var off = 0
            let input = b.readableBytes
            scan: while off < input.count {
                switch probe.next(input, offset: &off) {
                case .error: respondError(400, close: true); return
                case .end, .needMore: break scan
                case .data: continue
                }
            }
        }
        if let refusal = request.normalizeTarget(snapshot.pathPolicy) { respondError(refusal, close: true); return }
        let verdict = decide(request, snapshot.decision, credentials: worker.revocations, now: worker.wallClock)
        if verdict.isAudited && worker.services.audit.enabled { worker.services.audit.record(verdict, request, client: clientAddress, requestId: requestId.text) }
        if worker.metrics.enabled { // metrics: nothing is copied or counted when the admin listener is off
            worker.metrics.decided(verdict) // metrics: allowed, owner override, missing/rejected credential, denied with its reason
            verdictRoute = verdict.route // metrics: set before the verdict is executed, so refusals count on their route
            verdictIdentity = verdict.identity
        }
        switch consume verdict { // executed once: its plan moves, not copied
        case .forward(let p):
            // (the identity is bound only when an assertion is signed: no copy of it otherwise)
            if p.identity != nil, let signer = worker.assertions.signer(for: snapshot), let identity = p.identity {
                assertion = signer.assertion(for: identity, audienceNumber: p.route.audienceNumber, audience: p.route.audience, now: worker.wallClock,
                                             pseudonyms: p.route.pseudonymizer)
            }
            plan = p
            connectUpstream(excluding: -1)
        case .gatewayEndpoint: startLocal()
        case .addSlash(let status):
            // The path with its slash, query kept.
            let location = String(decoding: request.target[0..<request.pathLength], as: UTF8.self) + "/"
                + String(decoding: request.target[request.pathLength...], as: UTF8.self)
            respond(.redirect(location, status: status))
        case .notFound(let alwaysClose): respondError(404, close: alwaysClose)
        case .unauthenticated: respondUnauthenticated(now: worker.wallClock)
        case .denied(let r):
            if r.denial.status == 401 { respondUnauthenticated(now: worker.wallClock); return }
            if r.denial.stepUp && !request.isAPIClient {
                // A session without a second factor is sent to the TOTP step, then back here.
                redirectAndBack(to: "/.drawbridge/login/stepup", now: worker.wallClock)
                return
            }
            respondForbidden(r, now: worker.wallClock)
        }
    }

    /// A head that did not parse, did not fit, or did not come in time.
    func refuseHead(_ status: Int) {
        headValid = false
        verdictRoute = nil
        verdictIdentity = nil
        exchange.unparsedHead(now: worker.now)
        requestId.renew(&worker.random)
        respondError(status, close: true)
    }

    // MARK: Request end

    /// Waiting for the next request: it is usually not there yet, so let epoll say when it is
    /// rather than pay a read that fails. Bytes OpenSSL already holds, or a pipelined request
    /// already in inBuf, are handled at once.
    func exchangeEnded() {
        if exchange.phase == .awaitingHead { readBlocked = !transport.hasBufferedInput }
    }

    func respondError(_ status: Int, close: Bool) {
        respond(GatewayResponse.error(status, json: headValid && request.isAPIClient), close: close)
    }

    /// Every response the gateway makes itself: one writer (`GatewayResponse`), one close rule.
    func respond(_ r: LocalResponse, close: Bool = false) {
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        guard GatewayResponse.write(r, to: ensureOut(), headOnly: headValid && request.head.isHEAD, hsts: snapshot.hstsLine,
                                    requestId: requestId.hex, close: exchange.closesAfterResponse(close: close)) else { self.close(); return }
        exchange.responded(status: r.status, bodyBytes: GatewayResponse.bodyLength(r, requestId: requestId.hex), close: close, now: worker.now)
        logRequest()
        exchangeEnded()
    }

    // MARK: Timeouts, drain, close

    func timedOut() {
        switch exchange.timerFired(now: worker.now, inputPending: !(inBuf?.isEmpty ?? true)) {
        case .close: close()
        case .abort: abortBoth()
        case .respond(let status, let upstreamFailed):
            if status == 504, let u = upstream { u.pool.logTimeout(u, connecting: upstreamFailed) }
            if upstreamFailed, let u = upstream { u.pool.markFailed(u.serverIndex) }
            if exchange.phase == .awaitingHead { refuseHead(status) } else { respondError(status, close: true) }
            drive()
        }
    }

    /// Called by the sweep: a keep-alive connection idle for a second gives back the storage of
    /// its last request and response heads (busy connections keep it, so requests don't allocate).
    func trimIfIdle(now: UInt64) {
        guard exchange.isIdle, !trimmed, now &- exchange.lastProgress > 1_000_000_000, inBuf == nil, outBuf == nil else { return }
        request.head = RequestHead()
        request.target = []
        request.routing = RoutingHost()
        headValid = false
        respHead = ResponseHead()
        upstreamLabel = []
        trimmed = true
    }

    func beginDrain() {
        let action = exchange.beginDrain(inputPending: !(inBuf?.isEmpty ?? true), outputPending: !(outBuf?.isEmpty ?? true))
        if action == .closeNow { close() }
    }

    func close() {
        if closed { return }
        closed = true
        exchange.closed()
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        worker.unregister(fd: transport.fd)
        transport.close(graceful: false)
        if let b = inBuf { worker.buffers.give(b); inBuf = nil }
        if let b = outBuf { worker.buffers.give(b); outBuf = nil }
        worker.clientClosed()
    }

    // MARK: Interest

    func updateInterest() {
        var ev: UInt32 = 0
        let roomToRead = !peerEOF && (inBuf.map { $0.free > 0 } ?? true)
        switch exchange.phase {
        case .handshake: ev = handshakeWantsWrite ? CLinux_EPOLLOUT : CLinux_EPOLLIN
        case .awaitingHead, .tunnel: if roomToRead { ev |= CLinux_EPOLLIN }
        case .gatewayEndpoint: if roomToRead { ev |= CLinux_EPOLLIN }
        case .waitingForJob: break
        case .forwarding: if exchange.request.body.isActive && roomToRead { ev |= CLinux_EPOLLIN }
        case .closing: break
        case .lingering: ev |= CLinux_EPOLLIN
        case .closed: break
        }
        if !(outBuf?.isEmpty ?? true) || transport.readNeedsWritable { ev |= CLinux_EPOLLOUT }
        if transport.writeNeedsReadable { ev |= CLinux_EPOLLIN }
        if ev & CLinux_EPOLLIN != 0 || !readEventUnwanted {
            ev |= registered & CLinux_EPOLLIN // lazy removal, see readEventUnwanted
        }
        readEventUnwanted = false
        if ev != registered {
            worker.modify(fd: transport.fd, events: ev)
            registered = ev
        }
        if exchange.isIdle { releaseBuffers() } // idle: hold no buffers
        if let u = upstream {
            var wantRead = false
            if let ub = u.inBuf, ub.free > 0, !u.eof {
                wantRead = exchange.phase == .tunnel || (exchange.phase == .forwarding && exchange.request.response != .done)
            }
            u.setInterest(u.wantedEvents(wantRead: wantRead))
        }
    }
}
