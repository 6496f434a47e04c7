import DrawbridgeDecision
import DrawbridgeHTTP

/// What the plain-HTTP listener answers to one request head. Pure: the head, the names the
/// gateway serves and the HTTPS port decide it (`RedirectConnection` only moves the bytes).
///
/// - The host is the one routing host rule (`RoutingHost`, with no TLS server name): the
///   absolute-form authority, else Host; both present and naming different hosts, none, or an
///   invalid one: 400.
/// - Only a name the gateway serves is redirected: one a certificate of the HTTPS listener covers
///   (`TLSContexts.presentsCertificate`) or a route names (`RouteTable.namesHost`). Any other
///   gets 421 Misdirected Request: the redirect must not send clients (or a shared cache that
///   stores it) to a host an attacker chose (open redirect, cache poisoning through Host).
/// - `OPTIONS *` asks about the server, not a resource: no URL can express it, so it gets
///   `200 OK` with no body instead of a redirect.
/// - Otherwise `308 Permanent Redirect` to `https://name[:port]/path?query` (the port of the
///   HTTPS listener, omitted when 443; the path as the client sent it). Never HSTS: RFC 6797 §7.2
///   forbids it over plain HTTP.
enum PlainRedirect {
    static func answer(_ head: RequestHead, routing: inout RoutingHost, httpsPort: UInt16,
                       serves: (UnsafeRawBufferPointer) -> Bool) -> [UInt8] {
        let status = head.bytes.withUnsafeBytes { raw -> Int? in
            if let refusal = routing.resolve(raw, host: head.host, hostParsed: head.hostParsed,
                                             absolute: head.absoluteAuthority, sni: RoutingHost.ServerName()) {
                return refusal
            }
            // a name the gateway does not serve: never a Location an attacker chose (open redirect)
            return routing.withName(raw) { serves($0) } ? nil : 421
        }
        if let status { return refusal(status) }
        let target = head.bytes[head.target]
        if target.count == 1 && target.first == 0x2A { // OPTIONS * (the parser allows `*` for OPTIONS only)
            return Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        var out: [UInt8] = []
        out.reserveCapacity(160 + routing.nameLength + target.count)
        out.append(contentsOf: "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://".utf8)
        head.bytes.withUnsafeBytes { raw in routing.withName(raw) { out.append(contentsOf: $0) } }
        if httpsPort != 443 { out.append(contentsOf: ":\(httpsPort)".utf8) }
        out.append(contentsOf: target)
        out.append(contentsOf: "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        return out
    }

    /// A refusal with its status (the gateway's one error page, `GatewayResponse`); the
    /// connection closes after it. No HSTS: not over plain HTTP (RFC 6797 §7.2).
    static func refusal(_ status: Int) -> [UInt8] {
        GatewayResponse.plain(status)
    }
}
