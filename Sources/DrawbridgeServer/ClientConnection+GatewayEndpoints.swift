import DrawbridgeDecision
import DrawbridgeHTTP
import DrawbridgeProxy

/// The gateway's own answers on a client connection: sign-in redirects, and requests to
/// `/.drawbridge/` (their body read whole, their handler run now or as a job on a bounded pool).
extension ClientConnection {
    /// A browser is sent to sign in and comes back here afterwards; an API client (JSON accepted,
    /// an Authorization field, or a method a redirect would turn into GET) gets 401 with JSON.
    func respondUnauthenticated(now: UInt64) {
        if request.isAPIClient || snapshot.auth == nil { respond(Unauthenticated.json); return }
        redirectAndBack(to: "/.drawbridge/login", now: now)
    }

    /// 302 to one of the gateway's pages, carrying this request's target as the sealed return address.
    func redirectAndBack(to page: String, now: UInt64) {
        respond(.redirect("\(page)?rd=\(Forms.percentEncode(sealedReturnAddress(now: now)))", status: 302))
    }

    /// This request's target, sealed to come back to after signing in.
    private func sealedReturnAddress(now: UInt64) -> String {
        let rawTarget = String(decoding: request.head.bytes[request.head.target], as: UTF8.self)
        return ReturnAddress.seal(host: request.routingAuthority, pathAndQuery: rawTarget, ring: snapshot.auth!.ring, now: now)
    }

    /// 403: JSON for an API client; for a browser the page that says who is signed in, with the
    /// request id, sign-out and "sign in as someone else" coming back here.
    func respondForbidden(_ r: Verdict.Refusal, now: UInt64) {
        guard !request.isAPIClient, snapshot.auth != nil else { respond(Forbidden.json(stepUp: r.denial.stepUp)); return }
        let who: String
        switch r.identity {
        case .user(let session): who = session.email
        case .apiKey(let key): who = "API key \(key.keyId)"
        }
        let local = LocalRequest(request, body: [], clientAddress: clientAddress, requestId: requestId.text)
        respond(Forbidden.page(stepUp: r.denial.stepUp, signedInAs: who, request: local, returnTo: sealedReturnAddress(now: now)))
    }

    func startLocal() {
        guard snapshot.auth != nil else { respondError(404, close: false); return }
        switch request.head.framing {
        case .none: localBodyLength = 0
        case .contentLength(let n):
            // Sign-in forms are small; anything bigger is not one of ours.
            guard n <= 16384 else { respondError(413, close: true); return }
            localBodyLength = Int(n)
        case .chunked: respondError(411, close: true); return
        }
        // Expect: 100-continue: the client waits for it before sending the body (RFC 9110 §10.1.1);
        // a refusal above answered the final status instead, and the body is never read.
        if exchange.gatewayEndpointStarted(now: worker.now) { sendContinue() }
    }

    func stepLocal() -> Bool {
        if exchange.awaitsJob { return flushClient() }
        if flushClient() { return true } // a 100 Continue
        if localBodyLength > 0 && (inBuf?.readable ?? 0) < localBodyLength {
            if peerEOF { close(); return false }
            return readClient()
        }
        var body: [UInt8] = []
        if localBodyLength > 0, let b = inBuf {
            body = Array(b.readableBytes.prefix(localBodyLength))
            b.consume(localBodyLength)
        }
        exchange.gatewayBodyRead()
        guard let auth = snapshot.auth else { respondError(404, close: true); return true }
        let now = unixNow()
        let local = LocalRequest(request, body: body, clientAddress: clientAddress, requestId: requestId.text)
        let session = Authenticator.authenticate(request, auth: auth, revocations: worker.revocations, now: now)
        let endpoints = LoginEndpoints(auth: auth, services: worker.services, request: local, session: session, now: now, jwks: snapshot.jwks)
        switch endpoints.handle() {
        case .now(let response):
            respond(response)
        case .later(let kind, let work):
            localSerial &+= 1
            let completion = (box: LocalCompletionTarget(self), serial: localSerial, mailbox: worker.mailbox)
            // Bounded pools: a full queue is answered at once (503), never queued without limit.
            let queued = worker.services.submit(kind) {
                let response = work()
                completion.mailbox.postCompletion(LocalCompletion(connection: completion.box.connection, serial: completion.serial, response: response))
            }
            guard queued else { respond(LocalReply.busy); return true }
            exchange.gatewayJobQueued(now: worker.now)
        }
        return true
    }

    /// Called on this connection's worker thread when a job finished.
    func completeLocal(serial: UInt64, response: LocalResponse) {
        guard !closed, exchange.awaitsJob, serial == localSerial else { return }
        respond(response)
        drive()
    }
}

/// Carries a connection into a job closure; only its worker's thread touches it again.
final class LocalCompletionTarget: @unchecked Sendable {
    let connection: ClientConnection
    init(_ c: ClientConnection) { connection = c }
}
