import CLinux
import COpenSSL
import DrawbridgeHTTP
import DrawbridgeIdentity
import DrawbridgePolicy
import Glibc

/// One client TLS connection and, while a request is in flight, the upstream connection serving
/// it. A state machine driven by epoll events on either socket: `drive()` runs steps until none
/// makes progress, then sets the epoll interest of both sockets from what each step waits for.
final class ClientConnection {
    unowned(unsafe) let worker: Worker // workers outlive their connections
    var transport: Transport
    let peer: SocketAddress
    private var peerIP: [UInt8] = []
    private var registered: UInt32 = CLinux_EPOLLIN
    var inBuf: IOBuffer?
    var outBuf: IOBuffer?

    enum Phase { case handshake, head, local, proxy, tunnel, closing }
    private(set) var phase = Phase.handshake
    private var handshakeWantsWrite = false
    /// The server name the client asked for in the TLS handshake, normalised (`RoutingHost`).
    private var serverName = RoutingHost.ServerName()
    private var readBlocked = false
    private var peerEOF = false
    private var lingering = false
    private(set) var closed = false
    var deadline: UInt64
    private var drainRequested = false

    // The request in flight.
    private var snapshot: Snapshot
    private var head = RequestHead()
    private var parser: RequestHeadParser
    private var headStarted: UInt64 = 0
    /// The normalised request target: what routing judges and exactly what the upstream receives.
    private var target: [UInt8] = []
    private var pathLength = 0
    private var upstream: UpstreamConnection?
    /// The routing host of the request (`HostName` normal form) and the port its Host named.
    private var routing = RoutingHost()
    /// The digits of `routingPort` (kept while the port does not change: formatted once per connection).
    private var routingPortText: [UInt8] = []
    private var routingPortTextOf = HostName.noPort
    /// The gateway's cookies in the request (found once, in `startRequest`).
    private var cookies = GatewayCookies()
    enum BodyState: Equatable { case none, length(UInt64), chunked, done }
    private var reqBody = BodyState.none
    private var reqDecoder: ChunkedDecoder
    private var chunkedBodyBytes: UInt64 = 0
    private var respHead = ResponseHead()
    private var respParser: ResponseHeadParser
    enum ResponseState: Equatable { case awaitingHead, length(UInt64), chunked, untilClose, done }
    private var resp = ResponseState.done
    private var respDecoder: ChunkedDecoder
    /// The client gets chunked framing for a chunked or close-delimited upstream body (HTTP/1.1).
    private var chunkToClient = false
    private var responseStarted = false
    private var keepAlive = true
    private var retried = false
    /// Who the request is from (protected routes), for the identity fields sent upstream.
    private var identity: RequestIdentity?
    /// The signed assertion for the upstream (reused across requests of a session while fresh).
    private var assertion: [UInt8]?
    /// The route the request was decided on (its upstream, credential, audience, protected fields).
    private var route: CompiledRoute?
    /// A renewed session cookie value to send with the response (sliding idle window).
    private var renewedSession: String?
    /// Local endpoint in progress: body bytes still expected, and the job serial it waits for.
    private var localBodyLength = 0
    private var localSerial: UInt64 = 0
    private var localWaiting = false

    // For timeouts and the access log.
    private var requestId: (UInt64, UInt64) = (0, 0)
    private var status = 0
    private var bytesSent: UInt64 = 0
    private var requestStart: UInt64 = 0
    private var upstreamStart: UInt64 = 0
    private var upstreamHeadAt: UInt64 = 0
    private var lastClientRead: UInt64 = 0
    private var lastProgress: UInt64 = 0
    private var bodyDoneAt: UInt64 = 0
    private var logged = false
    /// "host:port" of the upstream server that served the request, for the access log.
    private var upstreamLabel: [UInt8] = []

    init(worker: Worker, fd: Int32, ssl: OpaquePointer, peer: SocketAddress) {
        self.worker = worker
        transport = Transport(fd: fd, ssl: ssl)
        self.peer = peer
        snapshot = worker.snapshot
        parser = RequestHeadParser(limits: snapshot.httpLimits)
        respParser = ResponseHeadParser(limits: snapshot.httpLimits)
        reqDecoder = ChunkedDecoder(limits: snapshot.httpLimits)
        respDecoder = ChunkedDecoder(limits: snapshot.httpLimits)
        deadline = worker.now + snapshot.headerTimeoutNs
    }

    // MARK: Events

    func handle(events: UInt32) {
        if events & (CLinux_EPOLLIN | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 {
            readBlocked = false
            readEventUnwanted = true // updateInterest clears it if reading is wanted after all
        }
        drive()
    }

    /// EPOLLIN stays registered while we don't read (saving two epoll_ctl calls per request) until
    /// an event shows that it fires for nothing; then it is removed.
    private var readEventUnwanted = false

    func upstreamEvent(_ events: UInt32) {
        guard let u = upstream else { return }
        if u.state != .ready {
            if !u.advanceSetup() { upstreamFailed(connectFailed: true) }
        }
        drive()
    }

    private func drive() {
        while !closed {
            let progress: Bool
            switch phase {
            case .handshake: progress = stepHandshake()
            case .head: progress = stepHead()
            case .local: progress = stepLocal()
            case .proxy: progress = stepProxy()
            case .tunnel: progress = stepTunnel()
            case .closing: progress = stepClosing()
            }
            if !progress { break }
        }
        if !closed { updateInterest() }
    }

    // MARK: Steps

    private func stepHandshake() -> Bool {
        switch transport.handshake() {
        case .done:
            worker.metrics.handshake(transport.ssl, ok: true) // metrics:
            phase = .head
            deadline = worker.now + snapshot.idleTimeoutNs
            if let ssl = transport.ssl { serverName = RoutingHost.ServerName(COpenSSL_servername(ssl)) } // one host normalisation for SNI and Host
            return true
        case .wantRead: handshakeWantsWrite = false; return false
        case .wantWrite: handshakeWantsWrite = true; return false
        case .failed: worker.metrics.handshake(transport.ssl, ok: false); close(); return false // metrics:
        }
    }

    private func stepHead() -> Bool {
        if flushClient() { return true }
        if let b = inBuf, !b.isEmpty {
            if headStarted == 0 {
                headStarted = worker.now
                deadline = worker.now + snapshot.headerTimeoutNs // slowloris: the whole head within this
            }
            switch parser.parse(b.readableBytes, into: &head) {
            case .complete:
                startRequest()
                return true
            case .error(let e):
                beginRequestRecord()
                respondError(e.status, close: true)
                return true
            case .needMore:
                if b.free == 0 { beginRequestRecord(); respondError(431, close: true); return true }
            }
        }
        if peerEOF || (drainRequested && (inBuf?.isEmpty ?? true) && (outBuf?.isEmpty ?? true)) {
            if (outBuf?.isEmpty ?? true) { close() }
            return false
        }
        return readClient()
    }

    private func stepProxy() -> Bool {
        guard let u = upstream else { return false }
        var progress = false
        if u.state == .ready {
            guard let n = u.flush() else { upstreamFailed(connectFailed: false); return true }
            if n > 0 { progress = true; lastProgress = worker.now }
            if resp != .done && !u.readBlocked && !u.eof, let ub = u.inBuf, ub.reserve(1) {
                switch u.transport.read(into: ub.writableBytes) {
                case .bytes(let n): ub.writeIndex += n; progress = true; lastProgress = worker.now
                case .wouldBlock: u.readBlocked = true
                case .eof: u.eof = true; progress = true
                case .failed:
                    upstreamFailed(connectFailed: false)
                    return true
                }
            }
            // Head and as much body as is here go out together: one TLS record, one write.
            while phase == .proxy && upstream != nil && pumpResponse() { progress = true }
        }
        if phase == .proxy, upstream != nil, reqBody != .none, reqBody != .done {
            if readClient() { progress = true }
            if phase == .proxy && pumpRequestBody() { progress = true }
        }
        if !closed && flushClient() { progress = true }
        return progress
    }

    private func stepTunnel() -> Bool {
        guard let u = upstream, let ib = inBuf, let ob = outBuf, let uin = u.inBuf, let uout = u.outBuf else { close(); return false }
        var progress = false
        if flushClient() { progress = true }
        guard let _ = u.flush() else { close(); return false }
        if readClient() { progress = true }
        if !ib.isEmpty && uout.reserve(1) {
            let n = min(ib.readable, uout.writable)
            uout.append(UnsafeRawBufferPointer(rebasing: ib.readableBytes.prefix(n)))
            ib.consume(n); progress = true
        }
        if !u.readBlocked && !u.eof && uin.reserve(1) {
            switch u.transport.read(into: uin.writableBytes) {
            case .bytes(let n): uin.writeIndex += n; progress = true
            case .wouldBlock: u.readBlocked = true
            case .eof, .failed: u.eof = true; progress = true
            }
        }
        if !uin.isEmpty && ob.reserve(1) {
            let n = min(uin.readable, ob.writable)
            ob.append(UnsafeRawBufferPointer(rebasing: uin.readableBytes.prefix(n)))
            uin.consume(n); bytesSent += UInt64(n); progress = true
        }
        if progress { lastProgress = worker.now }
        // Either side gone: deliver what the other still has pending, then close both.
        if (peerEOF && ib.isEmpty && uout.isEmpty) || (u.eof && uin.isEmpty) {
            _ = u.flush()
            u.pool.abandon(u)
            upstream = nil
            logRequest()
            phase = .closing
            return true
        }
        return progress
    }

    private func stepClosing() -> Bool {
        if !lingering {
            if flushClient() { return true }
            if let b = outBuf, !b.isEmpty { return false }
            // Lingering close: stop writing, then read and discard what the client still sends,
            // so that our response is not destroyed by a reset (the client may not have read it).
            lingering = true
            deadline = min(deadline, worker.now + 2_000_000_000)
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
    private func readClient() -> Bool {
        if readBlocked || peerEOF { return false }
        if inBuf == nil { inBuf = worker.buffers.take() }
        let b = inBuf!
        guard b.reserve(1) else { return false }
        switch transport.read(into: b.writableBytes) {
        case .bytes(let n):
            b.writeIndex += n
            readEventUnwanted = false // the event brought data: it was wanted
            lastClientRead = worker.now
            lastProgress = worker.now
            return true
        case .wouldBlock:
            readBlocked = true
            return false
        case .eof:
            peerEOF = true
            return true
        case .failed:
            close()
            return false
        }
    }

    /// Writes pending output. Returns whether bytes were written.
    private func flushClient() -> Bool {
        guard let b = outBuf, !b.isEmpty else { return false }
        var wrote = false
        while !b.isEmpty {
            switch transport.write(b.readableBytes) {
            case .bytes(let n):
                b.consume(n); wrote = true
            case .wouldBlock:
                if wrote { lastProgress = worker.now }
                return wrote
            case .eof, .failed:
                close()
                return false
            }
        }
        lastProgress = worker.now
        return wrote
    }

    private func ensureOut() -> IOBuffer {
        if let b = outBuf { return b }
        let b = worker.buffers.take()
        outBuf = b
        return b
    }

    private func releaseBuffers() {
        if let b = inBuf, b.isEmpty { worker.buffers.give(b); inBuf = nil }
        if let b = outBuf, b.isEmpty { worker.buffers.give(b); outBuf = nil }
    }

    // MARK: Request start

    private func beginRequestRecord() {
        requestId = (worker.random.next(), worker.random.next())
        let hex: StaticString = "0123456789abcdef"
        requestIdHex.withUnsafeMutableBufferPointer { out in
            for i in 0..<32 {
                let v = i < 16 ? requestId.0 : requestId.1
                out[i] = hex.utf8Start[Int((v >> UInt64(60 - (i % 16) * 4)) & 0xF)]
            }
        }
        requestStart = headStarted == 0 ? worker.now : headStarted
        status = 0
        bytesSent = 0
        logged = false
        upstreamStart = 0
        upstreamHeadAt = 0
    }

    private func startRequest() {
        trimmed = false
        inBuf!.consume(head.headLength)
        beginRequestRecord()
        headStarted = 0
        snapshot = worker.snapshot
        target.removeAll(keepingCapacity: true)
        keepAlive = head.keepAlive && !drainRequested
        retried = false
        responseStarted = false
        identity = nil
        assertion = nil
        renewedSession = nil
        route = nil
        switch head.framing {
        case .none: reqBody = .none
        case .contentLength(let n): reqBody = n == 0 ? .done : .length(n)
        case .chunked: reqBody = .chunked; reqDecoder.reset(); chunkedBodyBytes = 0
        }

        // The host the request is routed, judged and forwarded as (Host, absolute-form, SNI: one rule).
        let refusal: Int? = head.bytes.withUnsafeBytes { raw in
            if let status = routing.resolve(raw, host: head.host, hostParsed: head.hostParsed, absolute: head.absoluteAuthority, sni: serverName) { return status }
            // A gateway cookie sent twice: which copy counts would depend on the parser (cookie tossing).
            cookies = GatewayCookies.find(raw, head.fields)
            if cookies.duplicated { return 400 }
            // underscoreHeaders "reject": X_Forwarded_For and friends are refused outright (Envoy REJECT_REQUEST).
            if snapshot.underscoreHeaders == .reject && head.fields.contains(where: { $0.nameHasUnderscore }) { return 400 }
            return nil
        }
        if let refusal { respondError(refusal, close: true); return }
        let maxBody = snapshot.config.limits.maxRequestBodyBytes
        if maxBody > 0, case .contentLength(let n) = head.framing, n > UInt64(maxBody) {
            respondError(413, close: true); return
        }
        // Chunk framing already received is checked before any upstream is contacted, so a
        // malformed body that arrives with its head never reaches one.
        if reqBody == .chunked, let b = inBuf, !b.isEmpty {
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
        // Judge the path as the upstream will see it: decoded, dot segments resolved, once.
        let normalized = head.bytes.withUnsafeBytes { raw in
            PathNormalizer.normalize(UnsafeRawBufferPointer(rebasing: raw[head.target]), policy: snapshot.pathPolicy, into: &target)
        }
        switch normalized {
        case .success(let n): pathLength = n
        case .failure: target.removeAll(keepingCapacity: true); respondError(400, close: true); return
        }
        if isReservedPath() { startLocal(); return }
        let match = head.bytes.withUnsafeBytes { raw in
            routing.withName(raw) { h in
                target.withUnsafeBytes { p in
                    // OPTIONS * is answered by the host's root route.
                    let isAsterisk = pathLength == 1 && p[0] == UInt8(ascii: "*")
                    return snapshot.config.routeTable.lookup(host: h, path: UnsafeRawBufferPointer(rebasing: p[0..<(isAsterisk ? 0 : pathLength)]))
                }
            }
        }
        switch match {
        case .none:
            respondError(404, close: reqBody != .none && reqBody != .done) // no route: nothing is forwarded by default
        case .addSlash:
            redirectToSlash() // "/admin" of a "/admin/" route: decided by that route, never by a shorter one
        case .route(let index):
            let route = snapshot.routes[index]
            self.route = route // metrics: set before the decision, so refusals count on their route
            if !route.isPublic {
                // Deny by default: a protected route is forwarded only with a credential that checks out now.
                guard let auth = snapshot.auth else { respondError(404, close: true); return }
                let now = unixNow()
                switch Authenticator.authenticate(head: head, sessionCookie: cookies.session, auth: auth, revocations: worker.revocations, now: now) {
                case .user(let i, let renewal): identity = .user(i); renewedSession = renewal
                case .apiKey(let k): identity = .apiKey(k)
                case .missing: worker.metrics.decision(.missingCredential); respondUnauthenticated(); return // metrics:
                case .rejected(let reason, let kind, let subject):
                    worker.metrics.rejected(kind: kind) // metrics:
                    auditRejected(reason: reason, kind: kind, subject: subject)
                    respondUnauthenticated(); return
                }
                // Authorised on the path exactly as the upstream will receive it.
                guard authorize(route: route, now: now) else { return }
            }
            connectUpstream(excluding: -1)
        }
    }

    /// 301 (GET, HEAD) or 308 (other methods keep their body) to the path with its slash, query kept.
    private func redirectToSlash() {
        var location = String(decoding: target[0..<pathLength], as: UTF8.self) + "/"
        location += String(decoding: target[pathLength...], as: UTF8.self)
        respondLocal(.redirect(location, status: isMethod("get") || isMethod("head") ? 301 : 308))
    }

    /// The routing host as an https origin's authority (`name`, or `name:port` unless 443).
    private var routingAuthority: String {
        let name = head.bytes.withUnsafeBytes { raw in routing.withName(raw) { String(decoding: $0, as: UTF8.self) } }
        return routing.port == HostName.noPort || routing.port == 443 ? name : "\(name):\(routing.port)"
    }

    private func connectUpstream(excluding: Int) {
        guard let route else { respondError(502, close: true); return }
        let credential: [UInt8]? // read once: the same bytes are measured and written
        switch worker.upstreamTokens.credential(for: route, now: worker.now) {
        case .line(let line): credential = line
        case .unavailable(let retryAfter): respondLocal(UpstreamTokenUnavailable.response(retryAfter: retryAfter)); return
        }
        // The pool of the very upstream the route named when the request was decided (never whatever has its index now).
        let pool = worker.pool(for: route.upstream)
        let server = pool.pickServer(excluding: excluding)
        guard server >= 0 else { respondError(503, close: reqBody != .none && reqBody != .done); return } // health: no healthy server
        switch pool.acquire(server: server, owner: self) {
        case .failed:
            if !retried && pool.target.addresses.count > 1 {
                retried = true
                connectUpstream(excluding: server)
                return
            }
            respondError(502, close: reqBody != .none && reqBody != .done)
        case .connection(let u):
            upstream = u
            upstreamLabel = u.pool.target.labels[u.serverIndex]
            if u.inBuf == nil { u.inBuf = worker.buffers.take() }
            if u.outBuf == nil { u.outBuf = worker.buffers.take() }
            u.inBuf!.clear()
            // The rewritten head repeats Host (X-Forwarded-Host) and adds the gateway's fields:
            // refuse a head that would not fit rather than write past the buffer.
            let need = head.headLength + 2 * routing.nameLength + 512 + IdentityFields.size(identity) + (assertion?.count ?? 0) + 40
                + (credential?.count ?? 0)
            guard u.outBuf!.reserve(need) else {
                upstream = nil
                u.pool.abandon(u)
                respondError(431, close: true)
                return
            }
            writeUpstreamHead(u.outBuf!, route: route, credential: credential)
            if head.expectContinue && reqBody != .none && reqBody != .done && !retried {
                let ob = ensureOut()
                if ob.reserve(32) { ob.append("HTTP/1.1 100 Continue\r\n\r\n") } // we decided to forward: ask for the body
            }
            resp = .awaitingHead
            respHead.reset()
            respParser.reset() // a retry must not inherit a half-scanned head of a failed connection
            phase = .proxy
            upstreamStart = worker.now
            lastProgress = worker.now
            bodyDoneAt = reqBody == .done || reqBody == .none ? worker.now : 0
            if u.state == .handshaking { _ = u.advanceSetup() }
        }
    }

    /// The request head for the upstream: the routing host as Host, hop-by-hop, spoofable and
    /// override fields removed (`ForwardedField`), framing re-stated, X-Forwarded-* and X-Request-Id
    /// set by the gateway. The caller has reserved room for the head, the host twice and 512 bytes
    /// of added fields.
    private func writeUpstreamHead(_ ob: IOBuffer, route: CompiledRoute, credential: [UInt8]?) {
        head.bytes.withUnsafeBytes { raw in
            ob.append(UnsafeRawBufferPointer(rebasing: raw[head.method]))
            ob.append(byte: 32)
            target.withUnsafeBytes { ob.append($0) } // exactly the path that was judged
            ob.append(" HTTP/1.1\r\n")
            // the host that was routed and judged, also for HTTP/1.0 without Host (an HTTP/1.1 request always has one)
            if routing.port != routingPortTextOf {
                routingPortText.removeAll(keepingCapacity: true)
                if routing.port != HostName.noPort { ASCII.appendDecimal(UInt64(routing.port), to: &routingPortText) }
                routingPortTextOf = routing.port
            }
            routing.withName(raw) { ForwardedField.appendHost(ob, name: $0, portText: routingPortText) }
            let underscores = snapshot.underscoreHeaders, protected = route.protectedFields
            for (index, f) in head.fields.enumerated() {
                switch ForwardedField.verdict(f, index: index, raw, protected: protected, underscores: underscores, cookies: cookies) {
                case .forward:
                    ob.append(UnsafeRawBufferPointer(rebasing: raw[f.name]))
                    ob.append(": ")
                    ob.append(UnsafeRawBufferPointer(rebasing: raw[f.value]))
                    ob.append("\r\n")
                case .cookieWithoutGatewayCookies:
                    ForwardedField.appendCookie(ob, raw, f)
                case .drop, .host:
                    break
                }
            }
            switch head.framing {
            case .contentLength(let n): ob.append("Content-Length: "); ob.appendDecimal(n); ob.append("\r\n")
            case .chunked: ob.append("Transfer-Encoding: chunked\r\n")
            case .none: break
            }
            if head.isWebSocketUpgrade { ob.append("Connection: upgrade\r\nUpgrade: websocket\r\n") }
            ob.append("X-Forwarded-For: ")
            if peerIP.isEmpty { peer.ipBytes(into: &peerIP) }
            peerIP.withUnsafeBytes { ob.append($0) }
            ob.append("\r\nX-Forwarded-Host: ")
            routing.withName(raw) { ob.append($0) }
            ob.append("\r\n")
            snapshot.forwardedProtoAndPort.withUnsafeBytes { ob.append($0) }
            ob.append("X-Request-Id: ")
            appendRequestId(ob)
            ob.append("\r\n")
            if let identity { IdentityFields.append(identity, route: route, pseudonyms: &worker.pseudonyms, to: ob) }
            if let c = credential { c.withUnsafeBytes { ob.append($0) } }
            if let assertion {
                ob.append("X-Drawbridge-Assertion: ")
                assertion.withUnsafeBytes { ob.append($0) }
                ob.append("\r\n")
            }
            ob.append("\r\n")
        }
    }

    /// The request id as 32 hex digits, formatted once per request and written up to three times.
    private var requestIdHex = [UInt8](repeating: 0, count: 32)

    private func appendRequestId(_ ob: IOBuffer) {
        requestIdHex.withUnsafeBytes { ob.append($0) }
    }

    // MARK: Bodies

    private func pumpRequestBody() -> Bool {
        guard let u = upstream, let ob = u.outBuf, let ib = inBuf else { return false }
        switch reqBody {
        case .length(let remaining):
            if ib.isEmpty {
                if peerEOF { abortBoth() } // client went away mid-body
                return false
            }
            let n = BodyCopy.copy(from: ib, to: ob, limit: remaining)
            if n == 0 { return false }
            let left = remaining - UInt64(n)
            reqBody = left == 0 ? .done : .length(left)
            if left == 0 { bodyDoneAt = worker.now }
            return true
        case .chunked:
            let (end, consumed, data) = BodyCopy.dechunk(&reqDecoder, from: ib, to: ob, rechunk: true)
            chunkedBodyBytes += UInt64(data)
            let maxBody = snapshot.config.limits.maxRequestBodyBytes
            if maxBody > 0 && chunkedBodyBytes > UInt64(maxBody) { // the limit holds for chunked bodies too
                if responseStarted { abortBoth() } else { respondError(413, close: true) }
                return true
            }
            switch end {
            case .end:
                reqBody = .done
                bodyDoneAt = worker.now
                return true
            case .error:
                if responseStarted { abortBoth() } else { respondError(400, close: true) }
                return true
            case .more:
                if ib.isEmpty && peerEOF { abortBoth(); return true }
                return consumed > 0
            }
        case .none, .done:
            return false
        }
    }

    private func pumpResponse() -> Bool {
        guard let u = upstream, let ub = u.inBuf else { return false }
        switch resp {
        case .awaitingHead:
            if ub.isEmpty {
                if u.eof { upstreamFailed(connectFailed: false); return true }
                return false
            }
            switch respParser.parse(ub.readableBytes, requestWasHEAD: head.isHEAD, into: &respHead) {
            case .needMore:
                if u.eof { upstreamFailed(connectFailed: false); return true }
                return false
            case .error:
                // A malformed or smuggling response head never reaches the client.
                u.pool.abandon(u); upstream = nil
                respondError(502, close: true)
                return true
            case .complete:
                if respHead.status >= 100 && respHead.status < 200 && respHead.status != 101 {
                    ub.consume(respHead.headLength) // interim responses: the gateway answered 100-continue itself
                    respHead.reset()
                    return true
                }
                if respHead.status == 101 && !head.isWebSocketUpgrade {
                    u.pool.abandon(u); upstream = nil
                    respondError(502, close: true)
                    return true
                }
                let ob = ensureOut()
                guard ob.reserve(respHead.headLength + snapshot.hstsLine.count + 256 + (renewedSession.map { $0.utf8.count + 128 } ?? 0)) else { return false }
                writeResponseHead(ob)
                ub.consume(respHead.headLength)
                responseStarted = true
                upstreamHeadAt = worker.now
                status = respHead.status
                u.pool.target.health.observed(status: status, server: u.serverIndex, now: worker.now) // health: 5xx counts as a failure
                if status == 101 {
                    if inBuf == nil { inBuf = worker.buffers.take() }
                    phase = .tunnel
                    return true
                }
                switch respHead.framing {
                case .none: resp = .done
                case .contentLength(let n): resp = n == 0 ? .done : .length(n)
                case .chunked: resp = .chunked; respDecoder.reset()
                case .untilClose: resp = .untilClose
                }
                if resp == .done { finishResponse() }
                return true
            }
        case .length(let remaining):
            if ub.isEmpty {
                if u.eof { abortBoth() } // truncated upstream body: the client must see the connection end
                return false
            }
            let n = BodyCopy.copy(from: ub, to: ensureOut(), limit: remaining)
            if n == 0 { return false }
            bytesSent += UInt64(n)
            let left = remaining - UInt64(n)
            resp = left == 0 ? .done : .length(left)
            if left == 0 { finishResponse() }
            return true
        case .chunked:
            let (end, consumed, data) = BodyCopy.dechunk(&respDecoder, from: ub, to: ensureOut(), rechunk: chunkToClient)
            bytesSent += UInt64(data)
            switch end {
            case .end:
                finishResponse()
                return true
            case .error:
                abortBoth()
                return true
            case .more:
                if ub.isEmpty && u.eof { abortBoth(); return true }
                return consumed > 0
            }
        case .untilClose:
            let ob = ensureOut()
            if !ub.isEmpty {
                let room = ob.free - 24
                if room <= 0 { return false }
                let n = min(ub.readable, room)
                _ = ob.reserve(n + 24)
                if chunkToClient { ob.appendHex(n); ob.append("\r\n") }
                ob.append(UnsafeRawBufferPointer(rebasing: ub.readableBytes.prefix(n)))
                if chunkToClient { ob.append("\r\n") }
                ub.consume(n)
                bytesSent += UInt64(n)
                return true
            }
            if u.eof {
                if chunkToClient { guard ob.reserve(5) else { return false }; ob.append("0\r\n\r\n") }
                resp = .done
                finishResponse()
                return true
            }
            return false
        case .done:
            return false
        }
    }

    /// The response head for the client: hop-by-hop fields removed, framing re-stated, HSTS set.
    private func writeResponseHead(_ ob: IOBuffer) {
        if reqBody != .done && reqBody != .none { keepAlive = false } // the request body's end is unknown yet
        chunkToClient = false
        let isUpgrade = respHead.status == 101
        switch respHead.framing {
        case .chunked, .untilClose:
            if head.version == .http11 { chunkToClient = true } else { keepAlive = false }
        default: break
        }
        respHead.bytes.withUnsafeBytes { raw in
            ob.append("HTTP/1.1 ")
            ob.appendDecimal(UInt64(respHead.status))
            ob.append(byte: 32)
            ob.append(UnsafeRawBufferPointer(rebasing: raw[respHead.reasonPhrase]))
            ob.append("\r\n")
            for f in respHead.fields {
                let name = UnsafeRawBufferPointer(rebasing: raw[f.name])
                switch f.kind {
                case .connection, .hopByHop, .namedInConnection, .transferEncoding, .requestId:
                    continue
                case .contentLength:
                    if respHead.framing != .none { continue } // HEAD and 304 keep the upstream's length
                default:
                    // The gateway's HSTS policy replaces an upstream's, so there is exactly one.
                    if ASCII.equalsCaseInsensitive(name, "strict-transport-security") { continue }
                }
                ob.append(name)
                ob.append(": ")
                ob.append(UnsafeRawBufferPointer(rebasing: raw[f.value]))
                ob.append("\r\n")
            }
        }
        if case .contentLength(let n) = respHead.framing {
            ob.append("Content-Length: "); ob.appendDecimal(n); ob.append("\r\n")
        }
        if chunkToClient {
            // Other codings (gzip, …) stay announced: only the chunked framing is the gateway's.
            if respHead.hasOtherTransferCodings, let te = respHead.fieldValue(named: "transfer-encoding") {
                ob.append("Transfer-Encoding: ")
                respHead.bytes.withUnsafeBytes { ob.append(UnsafeRawBufferPointer(rebasing: $0[te])) }
                ob.append(respHead.framing == .chunked ? "\r\n" : ", chunked\r\n")
            } else {
                ob.append("Transfer-Encoding: chunked\r\n")
            }
        }
        snapshot.hstsLine.withUnsafeBytes { ob.append($0) }
        ob.append("X-Request-Id: "); appendRequestId(ob); ob.append("\r\n")
        if let renewed = renewedSession { appendSessionCookie(ob, renewed) }
        if isUpgrade {
            ob.append("Connection: upgrade\r\nUpgrade: websocket\r\n")
        } else if !keepAlive {
            ob.append("Connection: close\r\n")
        } else if head.version == .http10 {
            ob.append("Connection: keep-alive\r\n")
        }
        ob.append("\r\n")
    }

    // MARK: Request end

    private func finishResponse() {
        resp = .done
        logRequest()
        if let u = upstream {
            upstream = nil
            if respHead.keepAlive && reqBody == .done || respHead.keepAlive && reqBody == .none {
                if !u.eof { u.pool.release(u) } else { u.pool.abandon(u) }
            } else {
                u.pool.abandon(u)
            }
        }
        endExchange(closing: !keepAlive || (reqBody != .done && reqBody != .none))
    }

    /// After a response: close once it is sent, or wait for the next request on this connection.
    private func endExchange(closing: Bool) {
        if closing {
            phase = .closing
            deadline = worker.now + snapshot.sendTimeoutNs
        } else {
            phase = .head
            deadline = worker.now + snapshot.idleTimeoutNs
            headStarted = 0
            // The next request is usually not there yet: let epoll say when it is, rather than
            // pay a read that fails. Bytes OpenSSL already holds, or a pipelined request already
            // in inBuf, are handled at once.
            readBlocked = !transport.hasBufferedInput
        }
    }

    /// A response the gateway writes itself (errors, 404). Carries HSTS like every TLS response.
    private func respondError(_ code: Int, close: Bool) {
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        status = code
        let ob = ensureOut()
        let body = GatewayResponses.body(code)
        guard ob.reserve(snapshot.hstsLine.count + body.count + 256) else { self.close(); return }
        ob.append("HTTP/1.1 ")
        ob.appendDecimal(UInt64(code))
        ob.append(byte: 32)
        ob.append(GatewayResponses.reason(code))
        ob.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        ob.appendDecimal(UInt64(body.count))
        ob.append("\r\n")
        snapshot.hstsLine.withUnsafeBytes { ob.append($0) }
        ob.append("X-Request-Id: "); appendRequestId(ob); ob.append("\r\n")
        let closing = close || !keepAlive
        if closing { ob.append("Connection: close\r\n") }
        ob.append("\r\n")
        ob.append(body)
        bytesSent = UInt64(body.count)
        resp = .done
        logRequest()
        endExchange(closing: closing)
    }

    private func upstreamFailed(connectFailed: Bool) {
        guard let u = upstream else { return }
        upstream = nil
        if responseStarted { u.pool.abandon(u); abortBoth(); return }
        if connectFailed { u.pool.markFailed(u.serverIndex) }
        let bodyless = head.framing == .none
        let wasReused = u.reused
        let server = u.serverIndex
        u.pool.abandon(u)
        // A stale keep-alive connection, or a server refusing: one retry for a request without body.
        if bodyless && !retried && (wasReused || connectFailed) {
            retried = true
            connectUpstream(excluding: wasReused ? -1 : server)
            return
        }
        respondError(502, close: reqBody != .none && reqBody != .done)
    }

    private func abortBoth() {
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        logRequest()
        close()
    }

    private func logRequest() {
        if !logged { worker.metrics.requestDone(route: route, identity: identity, head: head, status: status, durationNs: worker.now - requestStart, upstreamNs: upstreamHeadAt > 0 && upstreamStart > 0 ? upstreamHeadAt - upstreamStart : nil) } // metrics:
        if logged || !worker.accessLog.enabled { logged = true; return }
        logged = true
        if peerIP.isEmpty { peer.ipBytes(into: &peerIP) }
        let label: [UInt8]? = upstreamStart == 0 ? nil : upstreamLabel
        // The judged path when there is one (never the query), else the raw target's path.
        let useNormalized = !target.isEmpty
        let rawPathEnd = head.bytes[head.target].firstIndex(of: UInt8(ascii: "?")) ?? head.target.upperBound
        head.bytes.withUnsafeBytes { raw in
            target.withUnsafeBytes { norm in
                peerIP.withUnsafeBytes { ip in
                    requestIdHex.withUnsafeBytes { rid in
                        worker.accessLog.log(AccessLog.Entry(
                            requestId: rid, client: ip,
                            method: UnsafeRawBufferPointer(rebasing: raw[head.method]),
                            path: useNormalized ? UnsafeRawBufferPointer(rebasing: norm[0..<pathLength])
                                                : UnsafeRawBufferPointer(rebasing: raw[head.target.lowerBound..<rawPathEnd]),
                            status: status, bytes: bytesSent, durationNs: worker.now - requestStart,
                            upstream: label, upstreamNs: upstreamHeadAt > 0 ? upstreamHeadAt - upstreamStart : nil))
                    }
                }
            }
        }
    }

    // MARK: Identity: refusals and the gateway's own endpoints

    /// A browser is sent to sign in and comes back here afterwards; an API client (JSON accepted,
    /// an Authorization field, or a method a redirect would turn into GET) gets 401 with JSON.
    private func respondUnauthenticated() {
        if isAPIRequest() || snapshot.auth == nil {
            respondLocal(Unauthenticated.json)
            return
        }
        redirectAndBack(to: "/.drawbridge/login", now: unixNow())
    }

    /// 302 to one of the gateway's pages, carrying this request's target as the sealed return address.
    private func redirectAndBack(to page: String, now: UInt64) {
        let host = routingAuthority
        let rawTarget = String(decoding: head.bytes[head.target], as: UTF8.self)
        let rd = ReturnAddress.seal(host: host, pathAndQuery: rawTarget, ring: snapshot.auth!.ring, now: now)
        respondLocal(.redirect("\(page)?rd=\(Forms.percentEncode(rd))", status: 302))
    }

    /// The policy's decision for an authenticated request; false when it answered the client.
    private func authorize(route: CompiledRoute, now: UInt64) -> Bool {
        let credential: Credential
        switch identity {
        case .user(let i)?: credential = .session(i.identity)
        case .apiKey(let k)?: credential = .apiKey(k)
        case nil: credential = .none
        }
        let decision = head.bytes.withUnsafeBytes { h in
            target.withUnsafeBytes { t in
                snapshot.policy.decide(route: route.policyRule, method: UnsafeRawBufferPointer(rebasing: h[head.method]),
                                       path: UnsafeRawBufferPointer(rebasing: t[0..<pathLength]),
                                       query: UnsafeRawBufferPointer(rebasing: t[pathLength...]), credential: credential, now: now)
            }
        }
        switch decision {
        case .allow(let grant):
            worker.metrics.decision(grant.viaOwnerOverride ? .ownerOverride : .allowed) // metrics:
            if grant.sensitive || grant.viaOwnerOverride { auditDecision("access_allowed", route: route, rule: grant.permission ?? "", reason: grant.viaOwnerOverride ? "owner override" : "allowed") }
            if let identity, let signer = worker.assertions.signer(for: snapshot) {
                assertion = signer.assertion(for: identity, audienceNumber: route.audienceNumber, audience: grant.audience, now: now,
                                             pseudonyms: route.pseudonymizer)
            }
            return true
        case .deny(let d):
            worker.metrics.denied(d.reason) // metrics:
            auditDecision("access_denied", route: route, rule: ruleText(route), reason: d.reason.description)
            if d.status == 401 { respondUnauthenticated(); return false }
            if d.stepUp && !isAPIRequest() {
                // A session without a second factor is sent to the TOTP step, then back here.
                redirectAndBack(to: "/.drawbridge/login/stepup", now: now)
                return false
            }
            respondLocal(Forbidden.response(stepUp: d.stepUp, html: !isAPIRequest()), close: reqBody != .none && reqBody != .done)
            return false
        }
    }

    /// The rule that judged a denied request, for the audit log (off the allowed path).
    private func ruleText(_ route: CompiledRoute) -> String {
        guard let access = route.config.access else { return "no access rule" }
        let method = String(decoding: head.bytes[head.method], as: UTF8.self)
        var text = "\(method) needs " + (access.methods[method] ?? access.methods["*"] ?? "(method not allowed)")
        if let bind = access.bind { text += " on \(bind.text)" }
        if access.mfa { text += " with MFA" }
        return text
    }

    private func auditDecision(_ event: String, route: CompiledRoute, rule: String, reason: String) {
        let audit = worker.services.audit
        guard audit.enabled else { return }
        var user: String?, org: String?, key: String?
        switch identity {
        case .user(let i)?: user = i.userId; org = i.orgId
        case .apiKey(let k)?: key = k.keyId; org = k.orgId
        case nil: break
        }
        audit.record(event, [("user", user), ("api_key", key), ("org", org),
                             ("method", String(decoding: head.bytes[head.method], as: UTF8.self)),
                             ("path", String(decoding: target[0..<pathLength], as: UTF8.self)),
                             ("route", route.label), ("rule", rule.isEmpty ? nil : rule), ("reason", reason)]
                     + requestFields())
    }

    /// The client address and request id every audit record of a request ends with.
    private func requestFields() -> [(String, String?)] {
        if peerIP.isEmpty { peer.ipBytes(into: &peerIP) }
        return [("client", String(decoding: peerIP, as: UTF8.self)), ("request_id", String(decoding: requestIdHex, as: UTF8.self))]
    }

    /// JSON accepted, an Authorization field, or a method a redirect would turn into GET.
    private func isAPIRequest() -> Bool {
        head.fieldValue(named: "authorization") != nil || !(isMethod("get") || isMethod("head"))
            || (head.fieldValue(named: "accept").map { r in
                String(decoding: head.bytes[r], as: UTF8.self).lowercased().contains("application/json") } ?? false)
    }

    private func isMethod(_ m: StaticString) -> Bool {
        head.bytes.withUnsafeBytes { ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: $0[head.method]), m) }
    }

    private func auditRejected(reason: String, kind: String, subject: String) {
        let audit = worker.services.audit
        guard audit.enabled else { return }
        audit.record("credential_rejected", [("kind", kind), ("subject", subject.isEmpty ? nil : subject), ("reason", reason)] + requestFields())
    }

    private func appendSessionCookie(_ ob: IOBuffer, _ value: String) {
        ob.append("Set-Cookie: ")
        ob.append(AuthRuntime.sessionCookie)
        ob.append("=")
        ob.append(value)
        ob.append("; Path=/; Secure; HttpOnly; SameSite=Lax\r\n")
    }

    /// `/.drawbridge/` (and the bare `/.drawbridge`) belongs to the gateway whatever the routes say.
    private func isReservedPath() -> Bool {
        let p: StaticString = "/.drawbridge/"
        let n = p.utf8CodeUnitCount
        guard pathLength >= n - 1, pathLength == n - 1 || target[n - 1] == UInt8(ascii: "/") else { return false }
        for i in 0..<(n - 1) where target[i] != p.utf8Start[i] { return false }
        return true
    }

    private func startLocal() {
        guard snapshot.auth != nil else { respondError(404, close: reqBody != .none && reqBody != .done); return }
        switch head.framing {
        case .none: localBodyLength = 0
        case .contentLength(let n):
            // Sign-in forms are small; anything bigger is not one of ours.
            guard n <= 16384 else { respondError(413, close: true); return }
            localBodyLength = Int(n)
        case .chunked:
            respondLocal(LocalResponse(status: 411, headers: [("Content-Type", "text/plain; charset=utf-8")],
                                       body: Array("411 Length Required\n".utf8)), close: true)
            return
        }
        phase = .local
        localWaiting = false
        deadline = worker.now + snapshot.bodyTimeoutNs
    }

    private func stepLocal() -> Bool {
        if localWaiting { return flushClient() }
        if localBodyLength > 0 && (inBuf?.readable ?? 0) < localBodyLength {
            if peerEOF { close(); return false }
            return readClient()
        }
        var body: [UInt8] = []
        if localBodyLength > 0, let b = inBuf {
            body = Array(b.readableBytes.prefix(localBodyLength))
            b.consume(localBodyLength)
        }
        reqBody = .done
        guard let auth = snapshot.auth else { respondError(404, close: true); return true }
        let request = localRequest(body: body)
        let session = Authenticator.authenticate(head: head, sessionCookie: cookies.session, auth: auth, revocations: worker.revocations, now: request.now)
        let endpoints = LoginEndpoints(auth: auth, services: worker.services, request: request.value, session: session, now: request.now,
                                       jwks: snapshot.jwks)
        switch endpoints.handle() {
        case .now(let response):
            respondLocal(response)
        case .later(let kind, let work):
            localSerial &+= 1
            let completion = (box: LocalCompletionTarget(self), serial: localSerial, mailbox: worker.mailbox)
            // Bounded pools: a full queue is answered at once (503), never queued without limit.
            let queued = worker.services.submit(kind) {
                let response = work()
                completion.mailbox.postCompletion(LocalCompletion(connection: completion.box.connection, serial: completion.serial, response: response))
            }
            guard queued else { respondLocal(LocalReply.busy); return true }
            localWaiting = true
            deadline = worker.now + 30_000_000_000
        }
        return true
    }

    /// Called on this connection's worker thread when a job finished.
    func completeLocal(serial: UInt64, response: LocalResponse) {
        guard !closed, phase == .local, localWaiting, serial == localSerial else { return }
        localWaiting = false
        respondLocal(response)
        drive()
    }

    private func localRequest(body: [UInt8]) -> (value: LocalRequest, now: UInt64) {
        func field(_ name: StaticString) -> String? { head.fieldValue(named: name).map { String(decoding: head.bytes[$0], as: UTF8.self) } }
        // The gateway's own cookies, read with the one cookie parser (duplicates were refused in startRequest).
        var cookies: [String: String] = [:]
        head.bytes.withUnsafeBytes { raw in
            for f in head.fields where f.kind == .other && ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[f.name]), "cookie") {
                var pairs = CookiePairs(raw, f.value)
                while let p = pairs.next() {
                    guard GatewayCookies.exactIndex(raw, p.name) >= 0 else { continue }
                    cookies[String(decoding: raw[p.name], as: UTF8.self)] = String(decoding: raw[p.value], as: UTF8.self)
                }
            }
        }
        let rawTarget = head.bytes[head.target]
        let query = rawTarget.firstIndex(of: UInt8(ascii: "?")).map { Forms.parse(rawTarget[($0 + 1)...]) } ?? [:]
        let contentType = field("content-type") ?? ""
        let isForm = contentType.lowercased().hasPrefix("application/x-www-form-urlencoded")
        if peerIP.isEmpty { peer.ipBytes(into: &peerIP) }
        let r = LocalRequest(method: String(decoding: head.bytes[head.method], as: UTF8.self),
                             path: String(decoding: target[0..<pathLength], as: UTF8.self), query: query,
                             host: routingAuthority,
                             cookies: cookies, accept: field("accept") ?? "", origin: field("origin"), contentType: contentType,
                             form: isForm ? Forms.parse(body) : [:], clientAddress: String(decoding: peerIP, as: UTF8.self),
                             requestId: String(decoding: requestIdHex, as: UTF8.self))
        return (r, unixNow())
    }

    /// Writes a response the gateway made itself (sign-in pages, 401s, redirects).
    private func respondLocal(_ r: LocalResponse, close: Bool = false) {
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        status = r.status
        var headerBytes = 0
        for (k, v) in r.headers { headerBytes += k.utf8.count + v.utf8.count + 4 }
        let ob = ensureOut()
        guard ob.reserve(snapshot.hstsLine.count + headerBytes + r.body.count + 256) else { self.close(); return }
        ob.append("HTTP/1.1 ")
        ob.appendDecimal(UInt64(r.status))
        ob.append(byte: 32)
        ob.append(LocalResponseReason.text(r.status))
        ob.append("\r\n")
        for (k, v) in r.headers { ob.append(k); ob.append(": "); ob.append(v); ob.append("\r\n") }
        ob.append("Content-Length: ")
        ob.appendDecimal(UInt64(r.body.count))
        ob.append("\r\n")
        snapshot.hstsLine.withUnsafeBytes { ob.append($0) }
        ob.append("X-Request-Id: "); appendRequestId(ob); ob.append("\r\n")
        let closing = close || !keepAlive || (reqBody != .none && reqBody != .done)
        if closing { ob.append("Connection: close\r\n") }
        ob.append("\r\n")
        if !head.isHEAD { ob.append(r.body) }
        bytesSent = UInt64(r.body.count)
        resp = .done
        logRequest()
        endExchange(closing: closing)
    }

    // MARK: Timeouts, drain, close

    func timedOut() {
        switch phase {
        case .handshake, .closing, .tunnel:
            close()
        case .local:
            // A body that never came, or a job that never finished.
            respondError(localWaiting ? 504 : 408, close: true)
            localWaiting = false
            drive()
        case .head:
            if headStarted == 0 && (inBuf?.isEmpty ?? true) { close(); return } // idle keep-alive
            beginRequestRecord()
            respondError(408, close: true)
            drive()
        case .proxy:
            if let u = upstream, u.state != .ready { u.pool.markFailed(u.serverIndex) }
            if responseStarted { abortBoth(); return }
            // A client too slow sending its body gets 408; an upstream too slow answering, 504.
            let clientStalled = reqBody != .done && reqBody != .none && worker.now - lastClientRead >= snapshot.bodyTimeoutNs
            respondError(clientStalled ? 408 : 504, close: true)
            drive()
        }
    }

    /// Called by the sweep: a keep-alive connection idle for a second gives back the storage of
    /// its last request and response heads (busy connections keep it, so requests don't allocate).
    func trimIfIdle(now: UInt64) {
        guard phase == .head, headStarted == 0, !trimmed, now &- lastProgress > 1_000_000_000,
              inBuf == nil, outBuf == nil else { return }
        head = RequestHead()
        respHead = ResponseHead()
        target = []
        upstreamLabel = []
        trimmed = true
    }
    private var trimmed = false

    func beginDrain() {
        drainRequested = true
        keepAlive = false
        if phase == .handshake || (phase == .head && headStarted == 0 && (inBuf?.isEmpty ?? true) && (outBuf?.isEmpty ?? true)) {
            close()
        }
    }

    func close() {
        if closed { return }
        closed = true
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        worker.unregister(fd: transport.fd)
        transport.close(graceful: false)
        if let b = inBuf { worker.buffers.give(b); inBuf = nil }
        if let b = outBuf { worker.buffers.give(b); outBuf = nil }
        worker.clientClosed()
    }

    // MARK: Interest

    private func updateInterest() {
        var ev: UInt32 = 0
        switch phase {
        case .handshake:
            ev = handshakeWantsWrite ? CLinux_EPOLLOUT : CLinux_EPOLLIN
        case .head:
            if !peerEOF && (inBuf.map { $0.free > 0 } ?? true) { ev |= CLinux_EPOLLIN }
        case .local:
            if !localWaiting && !peerEOF && (inBuf.map { $0.free > 0 } ?? true) { ev |= CLinux_EPOLLIN }
        case .proxy:
            if reqBody != .none && reqBody != .done && !peerEOF && (inBuf.map { $0.free > 0 } ?? true) { ev |= CLinux_EPOLLIN }
        case .tunnel:
            if !peerEOF && (inBuf.map { $0.free > 0 } ?? true) { ev |= CLinux_EPOLLIN }
        case .closing:
            if lingering { ev |= CLinux_EPOLLIN }
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

        if phase == .head && headStarted == 0 { releaseBuffers() } // idle: hold no buffers

        if let u = upstream {
            var wantRead = false
            if phase == .proxy, resp != .done, let ub = u.inBuf, ub.free > 0, !u.eof { wantRead = true }
            if phase == .tunnel, let ub = u.inBuf, ub.free > 0, !u.eof { wantRead = true }
            u.setInterest(u.wantedEvents(wantRead: wantRead))
        }

        if phase == .proxy {
            if let u = upstream, u.state != .ready {
                deadline = upstreamStart + snapshot.connectTimeoutNs
            } else if !responseStarted {
                var d = max(lastProgress, bodyDoneAt) + snapshot.responseTimeoutNs
                if reqBody != .done && reqBody != .none { d = min(d, lastClientRead + snapshot.bodyTimeoutNs) }
                deadline = d
            } else {
                deadline = lastProgress + max(snapshot.responseTimeoutNs, snapshot.sendTimeoutNs)
            }
        } else if phase == .tunnel {
            deadline = lastProgress + max(snapshot.idleTimeoutNs, snapshot.responseTimeoutNs)
        }
    }
}
