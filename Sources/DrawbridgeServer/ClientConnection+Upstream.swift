import CLinux
import COpenSSL
import DrawbridgeHTTP
import DrawbridgeProxy
import Glibc

/// The upstream side of the glue: connecting (with the one retry), relaying the request body
/// and the response, the tunnel after 101, and what a failure of the upstream means.
extension ClientConnection {
    func connectUpstream(excluding: Int) {
        guard let plan else { respondError(502, close: true); return }
        let credential: [UInt8]? // read once: the same bytes are measured and written
        switch worker.upstreamTokens.credential(for: plan.route, now: worker.now) {
        case .line(let line): credential = line
        case .unavailable(let retryAfter): respond(UpstreamTokenUnavailable.response(retryAfter: retryAfter, json: request.isAPIClient)); return
        }
        // The pool of the very upstream the route named when the request was decided (never whatever has its index now).
        let pool = worker.pool(for: plan.route.upstream)
        let server = pool.pickServer(excluding: excluding)
        guard server >= 0 else { pool.logNoServer(owner: self); respondError(503, close: false); return } // health: no healthy server (the exchange's close rule applies)
        switch pool.acquire(server: server, owner: self) {
        case .failed:
            switch exchange.connectRefused(servers: pool.target.addresses.count) {
            case .retryAnotherServer: connectUpstream(excluding: server)
            case .respond502: respondError(502, close: false)
            }
        case .connection(let u):
            upstream = u
            upstreamLabel = u.pool.target.labels[u.serverIndex]
            if u.inBuf == nil { u.inBuf = worker.buffers.take() }
            if u.outBuf == nil { u.outBuf = worker.buffers.take() }
            u.inBuf!.clear()
            // Refuse a head that would not fit rather than write past the buffer.
            guard u.outBuf!.reserve(UpstreamRequestHead.size(request, plan, credential: credential, assertion: assertion)) else {
                upstream = nil
                u.pool.abandon(u)
                respondError(431, close: true)
                return
            }
            upstreamHead.write(u.outBuf!, request, plan, credential: credential, assertion: assertion, snapshot: snapshot,
                               clientIP: peerIP, requestId: requestId.hex, pseudonyms: &worker.pseudonyms)
            if exchange.forwarding(upstreamReady: u.state == .ready, now: worker.now) { sendContinue() }
            respHead.reset()
            respParser.reset() // a retry must not inherit a half-scanned head of a failed connection
            if u.state == .handshaking, u.advanceSetup(), u.state == .ready { exchange.upstreamReady() }
        }
    }

    func stepForward() -> Bool {
        guard let u = upstream else { return false }
        var progress = false
        if u.state == .ready {
            guard let n = u.flush() else { upstreamFailed(connectFailed: false); return true }
            if n > 0 { progress = true; exchange.progressed(now: worker.now) }
            if exchange.request.response != .done && !u.readBlocked && !u.eof, let ub = u.inBuf, ub.reserve(1) {
                switch u.transport.read(into: ub.writableBytes) {
                case .bytes(let n): ub.writeIndex += n; progress = true; exchange.upstreamBytesRead(now: worker.now)
                case .wouldBlock: u.readBlocked = true
                case .eof: u.eof = true; progress = true
                case .failed: upstreamFailed(connectFailed: false); return true
                }
            }
            // Head and as much body as is here go out together: one TLS record, one write.
            while exchange.phase == .forwarding && upstream != nil && relayResponse() { progress = true }
        }
        if exchange.phase == .forwarding, upstream != nil, exchange.request.body.isActive {
            if readClient() { progress = true }
            if exchange.phase == .forwarding, let u = upstream, let ob = u.outBuf, let ib = inBuf,
               apply(BodyRelay.request(&exchange, from: ib, to: ob, peerEOF: peerEOF, decoder: &reqDecoder,
                                       limit: snapshot.config.limits.maxRequestBodyBytes, now: worker.now)) { progress = true }
        }
        if !closed && flushClient() { progress = true }
        return progress
    }

    /// Executes what relaying a body gave; true when something changed.
    func apply(_ outcome: BodyRelay.Outcome) -> Bool {
        switch outcome {
        case .waiting: return false
        case .moved: return true
        case .complete: finishResponse(); return true
        case .respond(let status): respondError(status, close: true); return true
        case .abort: abortBoth(); return true
        }
    }

    func relayResponse() -> Bool {
        guard let u = upstream, let ub = u.inBuf else { return false }
        switch exchange.request.response {
        case .awaitingHead:
            if ub.isEmpty {
                if u.eof { upstreamFailed(connectFailed: false); return true }
                return false
            }
            switch respParser.parse(ub.readableBytes, requestWasHEAD: request.head.isHEAD, into: &respHead) {
            case .needMore:
                if u.eof { upstreamFailed(connectFailed: false); return true }
                return false
            case .error:
                // A malformed or smuggling response head never reaches the client.
                u.pool.logInvalidResponse(server: u.serverIndex, owner: self)
                respondError(502, close: true)
                return true
            case .complete:
                // A 101 opens a tunnel only as the answer to this request's upgrade (`TunnelUpgrade`):
                // otherwise the client's next request would reach the upstream unjudged. 502, close.
                if respHead.status == 101 && request.head.isWebSocketUpgrade && !TunnelUpgrade.accepted(request.head, &respHead) {
                    respondError(502, close: true)
                    return true
                }
                let ob = ensureOut()
                guard ob.reserve(ClientResponseHead.size(&respHead, hsts: snapshot.hstsLine, renewedSession: plan?.renewedSession)) else { return false }
                switch exchange.responseHead(status: respHead.status, framing: respHead.framing, upstreamKeepAlive: respHead.keepAlive,
                                             bodyAnnounced: respHead.bodyAnnounced, now: worker.now) {
                case .skipInterim:
                    ub.consume(respHead.headLength) // interim responses: the gateway answered 100-continue itself
                    respHead.reset()
                    return true
                case .refuse:
                    respondError(502, close: true)
                    return true
                case .forwardHead, .forwardHeadAndFinish, .startTunnel:
                    u.pool.observed(status: respHead.status, server: u.serverIndex) // health: 5xx counts as a failure
                    let r = exchange.request
                    if ClientResponseHead.write(ob, &respHead, chunkToClient: r.chunkToClient, keepAlive: r.keepAlive, http10: r.summary.http10,
                                                hsts: snapshot.hstsLine, requestId: requestId.hex, renewedSession: plan?.renewedSession) {
                        upstreamSetGatewayCookie()
                    }
                    ub.consume(respHead.headLength)
                    if exchange.phase == .tunnel {
                        if inBuf == nil { inBuf = worker.buffers.take() }
                    } else if r.response == .done {
                        finishResponse()
                    }
                    return true
                }
            }
        case .length, .chunked, .untilClose:
            return apply(BodyRelay.response(&exchange, from: ub, upstreamEOF: u.eof, to: ensureOut(), decoder: &respDecoder))
        case .done:
            return false
        }
    }

    /// An upstream tried to set a cookie of the gateway's namespace (removed): the audit log says which.
    @inline(never)
    func upstreamSetGatewayCookie() {
        guard worker.services.audit.enabled else { return }
        worker.services.audit.record("upstream_cookie_removed", [("route", plan?.route.label), ("upstream", String(decoding: upstreamLabel, as: UTF8.self)),
                                                                 ("client", clientAddress), ("request_id", requestId.text)])
    }

    func finishResponse() {
        logRequest()
        let u = upstream
        upstream = nil
        switch exchange.responseComplete(upstreamClean: u?.isClean ?? false, now: worker.now) {
        case .releaseUpstream: u.map { $0.pool.release($0) }
        case .abandonUpstream: u.map { $0.pool.abandon($0) }
        }
        exchangeEnded()
    }

    func upstreamFailed(connectFailed: Bool) {
        guard let u = upstream else { return }
        upstream = nil
        if connectFailed && !exchange.request.responseStarted { u.pool.markFailed(u.serverIndex) }
        let (server, reused) = (u.serverIndex, u.reused)
        u.pool.abandon(u)
        switch exchange.upstreamFailed(connectFailed: connectFailed, reused: reused) {
        case .abort: u.pool.logBroken(server: server, owner: self, responseStarted: true); abortBoth()
        case .retry(let sameServer): connectUpstream(excluding: sameServer ? -1 : server)
        case .respond502: if !connectFailed { u.pool.logBroken(server: server, owner: self, responseStarted: false) }; respondError(502, close: false)
        }
    }

    func abortBoth() {
        if let u = upstream { u.pool.abandon(u); upstream = nil }
        logRequest()
        close()
    }

    func stepTunnel() -> Bool {
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
            uin.consume(n); _ = exchange.responseBodyForwarded(n); progress = true
        }
        if progress { exchange.progressed(now: worker.now) }
        // Either side gone: deliver what the other still has pending, then close both.
        // The tunnel's credential and route are judged again by the worker's sweep (`rejudgeTunnel`).
        if (peerEOF && ib.isEmpty && uout.isEmpty) || (u.eof && uin.isEmpty) {
            _ = u.flush()
            u.pool.abandon(u)
            upstream = nil
            logRequest()
            exchange.tunnelEnded(now: worker.now)
            return true
        }
        return progress
    }
}
