import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeHTTP

/// What happens to each client request field on its way to the upstream. Pure: the connection
/// asks per field and writes what it is told.
enum ForwardedField {
    /// Passed on as sent.
    case forward
    /// Never passed on.
    case drop
    /// A Cookie field carrying gateway cookies: passed on without them (`appendCookie`).
    case cookieWithoutGatewayCookies
    /// The Host field: replaced by the routing host in normal form (written first by the caller).
    case host

    /// The rule for one field (`raw`: the head's bytes).
    @inline(__always)
    /// `protected`: the route's `protectedFields`.
    /// `cookies`: what `GatewayCookies.find` found; `index`: the field's position in the head.
    static func verdict(_ f: HeaderField, index: Int, _ raw: UnsafeRawBufferPointer, protected: FieldNameSet,
                        underscores: UnderscoreHeaders, cookies: GatewayCookies) -> ForwardedField {
        switch f.kind {
        case .other:
            // X_Forwarded_For: nginx and Envoy drop names with '_' by default (CGI merges them with '-')
            if f.nameHasUnderscore && underscores != .forward { return .drop }
            let name = UnsafeRawBufferPointer(rebasing: raw[f.name])
            // identity the client claims for itself, an override of path, method, host or scheme,
            // a hop field the gateway sets, or the route's upstream credential: in any case and '_' spelling
            if protected.contains(name) { return .drop }
            if f.name.count == 6 && cookies.present && ASCII.equalsCaseInsensitive(name, "cookie") {
                // only gateway cookies in it: nothing to forward; else the others, without them
                return index < 64 && cookies.onlyGatewayCookies & (1 << UInt64(index)) != 0 ? .drop : .cookieWithoutGatewayCookies
            }
            // a Drawbridge API key is the gateway's credential, not the upstream's
            if f.name.count == 13 && Authenticator.bearerToken(raw, f.value) != nil && ASCII.equalsCaseInsensitive(name, "authorization") {
                return .drop
            }
            return .forward
        case .host:
            return .host
        // Hop-by-hop and Connection-named fields end here; the gateway states framing itself.
        case .contentLength, .transferEncoding, .connection, .hopByHop, .expect, .namedInConnection:
            return .drop
        // Client-sent forwarding and request-id fields are spoofable: replaced, never passed on.
        case .forwarded, .requestId:
            return .drop
        }
    }

    /// Writes `name: value` of a Cookie field without the pairs of the gateway's namespace (any
    /// case); writes nothing when no pair remains. The caller has reserved the field's length.
    static func appendCookie(_ ob: IOBuffer, _ raw: UnsafeRawBufferPointer, _ f: HeaderField) {
        var first = true
        var pairs = CookiePairs(raw, f.value)
        while let p = pairs.next() {
            // the session token and sign-in state are the gateway's: never shown to an upstream
            if GatewayCookies.isGatewayCookie(raw, p.name) { continue }
            if first { ob.append(UnsafeRawBufferPointer(rebasing: raw[f.name])); ob.append(": "); first = false } else { ob.append("; ") }
            ob.append(UnsafeRawBufferPointer(rebasing: raw[p.whole]))
        }
        if !first { ob.append("\r\n") }
    }

    /// `Host: name[:port]` in normal form (`portText`: the port's digits, empty without a port).
    static func appendHost(_ ob: IOBuffer, name: UnsafeRawBufferPointer, portText: [UInt8]) {
        ob.append("Host: ")
        ob.append(name)
        if !portText.isEmpty { ob.append(byte: UInt8(ascii: ":")); portText.withUnsafeBytes { ob.append($0) } }
        ob.append("\r\n")
    }
}
