import DrawbridgeConfig
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
    static func verdict(_ f: HeaderField, _ raw: UnsafeRawBufferPointer, route: CompiledRoute,
                        underscores: UnderscoreHeaders, gatewayCookies: Bool) -> ForwardedField {
        switch f.kind {
        case .other:
            // X_Forwarded_For: nginx and Envoy drop names with '_' by default (CGI merges them with '-')
            if f.nameHasUnderscore && underscores != .forward { return .drop }
            let name = UnsafeRawBufferPointer(rebasing: raw[f.name])
            // identity the client claims for itself, an override of path, method, host or scheme,
            // a hop field the gateway sets, or the route's upstream credential: in any case and '_' spelling
            if route.protectedFields.contains(name) { return .drop }
            if f.name.count == 6 && gatewayCookies && ASCII.equalsCaseInsensitive(name, "cookie") { return .cookieWithoutGatewayCookies }
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

    /// `Host: name[:port]` in normal form.
    static func appendHost(_ ob: IOBuffer, name: [UInt8], port: Int) {
        ob.append("Host: ")
        name.withUnsafeBytes { ob.append($0) }
        if port != HostName.noPort { ob.append(byte: UInt8(ascii: ":")); ob.appendDecimal(UInt64(port)) }
        ob.append("\r\n")
    }
}
