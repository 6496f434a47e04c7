import DrawbridgeDecision
import DrawbridgeHTTP

/// Writes the request head the upstream receives, from the request view and the verdict's plan:
/// the routing host as Host; hop-by-hop, spoofable and override fields removed (`ForwardedField`,
/// the route's `protectedFields`); framing re-stated; X-Forwarded-*, X-Request-Id, the identity
/// fields, the route's upstream credential and the assertion added. One per connection (it keeps
/// the routing port's digits between requests).
struct UpstreamRequestHead {
    /// The digits of the routing port (formatted once while the port does not change).
    private var portText: [UInt8] = []
    private var portTextOf = HostName.noPort

    /// Room the head needs in the upstream's buffer (the host is written twice).
    static func size(_ request: RequestView, _ plan: ForwardPlan, credential: [UInt8]?, assertion: [UInt8]?) -> Int {
        request.head.headLength + 2 * request.routing.nameLength + 512 + IdentityFields.size(plan.identity) + (assertion?.count ?? 0) + 40
            + (credential?.count ?? 0)
    }

    /// The caller reserved `size` bytes. `credential`: the route's upstream credential field as
    /// read for this request (a static secret, or the current OAuth 2.0 token).
    mutating func write(_ ob: IOBuffer, _ request: RequestView, _ plan: ForwardPlan, credential: [UInt8]?, assertion: [UInt8]?,
                        snapshot: Snapshot, clientIP: [UInt8], requestId: [UInt8], pseudonyms: inout PseudonymCache) {
        request.head.bytes.withUnsafeBytes { raw in
            ob.append(UnsafeRawBufferPointer(rebasing: raw[request.head.method]))
            ob.append(byte: 32)
            request.target.withUnsafeBytes { ob.append($0) } // exactly the path that was judged
            ob.append(" HTTP/1.1\r\n")
            // the host that was routed and judged, also for HTTP/1.0 without Host (an HTTP/1.1 request always has one)
            if request.routing.port != portTextOf {
                portText.removeAll(keepingCapacity: true)
                if request.routing.port != HostName.noPort { ASCII.appendDecimal(UInt64(request.routing.port), to: &portText) }
                portTextOf = request.routing.port
            }
            request.routing.withName(raw) { ForwardedField.appendHost(ob, name: $0, portText: portText) }
            let underscores = snapshot.underscoreHeaders, protected = plan.route.protectedFields
            for (index, f) in request.head.fields.enumerated() {
                switch ForwardedField.verdict(f, index: index, raw, protected: protected, underscores: underscores, cookies: request.cookies) {
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
            switch request.head.framing {
            case .contentLength(let n): ob.append("Content-Length: "); ob.appendDecimal(n); ob.append("\r\n")
            case .chunked: ob.append("Transfer-Encoding: chunked\r\n")
            case .none: break
            }
            if request.head.isWebSocketUpgrade { ob.append("Connection: upgrade\r\nUpgrade: websocket\r\n") }
            ob.append("X-Forwarded-For: ")
            clientIP.withUnsafeBytes { ob.append($0) }
            ob.append("\r\nX-Forwarded-Host: ")
            request.routing.withName(raw) { ob.append($0) }
            ob.append("\r\n")
            snapshot.forwardedProtoAndPort.withUnsafeBytes { ob.append($0) }
            ob.append("X-Request-Id: ")
            requestId.withUnsafeBytes { ob.append($0) }
            ob.append("\r\n")
            if let identity = plan.identity { IdentityFields.append(identity, route: plan.route, pseudonyms: &pseudonyms, to: ob) }
            if let c = credential { c.withUnsafeBytes { ob.append($0) } }
            if let assertion {
                ob.append("X-Drawbridge-Assertion: ")
                assertion.withUnsafeBytes { ob.append($0) }
                ob.append("\r\n")
            }
            ob.append("\r\n")
        }
    }
}

/// The response head the client receives from an upstream's: hop-by-hop fields removed, framing
/// re-stated (chunked for a chunked or close-delimited body over HTTP/1.1), cookies of the
/// gateway's namespace removed, the gateway's HSTS, the request id, a renewed session cookie
/// (`Cache-Control: private, no-store` then), and the connection's fate.
enum ClientResponseHead {
    /// `inout`: the connection's head is read in place, not copied.
    static func size(_ r: inout ResponseHead, hsts: [UInt8], renewedSession: String?) -> Int {
        r.headLength + hsts.count + 256 + (renewedSession.map { $0.utf8.count + 128 } ?? 0)
    }

    /// The caller reserved `size` bytes. `chunkToClient`, `keepAlive`: the exchange's decision.
    /// `renewedSession`: the Set-Cookie value of a renewed session cookie. Returns whether the
    /// upstream tried to set a cookie of the gateway's namespace (removed; the caller logs it).
    @discardableResult
    static func write(_ ob: IOBuffer, _ r: inout ResponseHead, chunkToClient: Bool, keepAlive: Bool, http10: Bool, hsts: [UInt8],
                      requestId: [UInt8], renewedSession: String?) -> Bool {
        var gatewayCookieRemoved = false
        r.bytes.withUnsafeBytes { raw in
            ob.append("HTTP/1.1 ")
            ob.appendDecimal(UInt64(r.status))
            ob.append(byte: 32)
            ob.append(UnsafeRawBufferPointer(rebasing: raw[r.reasonPhrase]))
            ob.append("\r\n")
            for f in r.fields {
                let name = UnsafeRawBufferPointer(rebasing: raw[f.name])
                switch f.kind {
                case .connection, .hopByHop, .namedInConnection, .transferEncoding, .requestId:
                    continue
                case .contentLength:
                    if r.framing != .none { continue } // a response to HEAD keeps the upstream's length
                    // 204 and 304 never carry a length to the client (no body: a client framing by it would desync)
                    if r.status == 204 || r.status == 304 { continue }
                default:
                    // The gateway's HSTS policy replaces an upstream's, so there is exactly one.
                    if ASCII.equalsCaseInsensitive(name, "strict-transport-security") { continue }
                    // The gateway's cookies are its own: an app must not plant or swap a user's session.
                    if name.count == 10 && ASCII.equalsCaseInsensitive(name, "set-cookie") && GatewayCookies.isGatewayCookie(setCookie: raw, f.value) {
                        gatewayCookieRemoved = true
                        continue
                    }
                    // A response carrying the gateway's Set-Cookie is never stored by a shared cache (below).
                    if renewedSession != nil && name.count == 13 && ASCII.equalsCaseInsensitive(name, "cache-control") { continue }
                }
                ob.append(name)
                ob.append(": ")
                ob.append(UnsafeRawBufferPointer(rebasing: raw[f.value]))
                ob.append("\r\n")
            }
        }
        if case .contentLength(let n) = r.framing {
            ob.append("Content-Length: "); ob.appendDecimal(n); ob.append("\r\n")
        }
        if chunkToClient { ob.append("Transfer-Encoding: chunked\r\n") } // the gateway's own framing (no other coding comes from upstreams: BodyFraming.declared)
        hsts.withUnsafeBytes { ob.append($0) }
        ob.append("X-Request-Id: "); requestId.withUnsafeBytes { ob.append($0) }; ob.append("\r\n")
        if let renewed = renewedSession {
            ob.append("Set-Cookie: ")
            ob.append(renewed)
            // A shared cache must not hand one user's session cookie to another (RFC 9111 §5.2.2.7);
            // no-store, the strictest, so whatever the upstream said is never weakened.
            ob.append("\r\nCache-Control: private, no-store\r\n")
        }
        if r.status == 101 {
            ob.append("Connection: upgrade\r\nUpgrade: websocket\r\n")
        } else if !keepAlive {
            ob.append("Connection: close\r\n")
        } else if http10 {
            ob.append("Connection: keep-alive\r\n")
        }
        ob.append("\r\n")
        return gatewayCookieRemoved
    }
}
