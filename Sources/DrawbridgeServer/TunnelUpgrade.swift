import DrawbridgeCrypto
import DrawbridgeHTTP

/// Whether an upstream's `101 Switching Protocols` answers the client's upgrade request, so that
/// the gateway may stop judging requests on the connection and relay bytes both ways. Pure: the
/// two heads in, a yes or no out. Runs once per 101, never on the request path.
///
/// After a tunnel opens, whatever the client sends goes to the upstream unread. An upstream that
/// says `101` without switching (a bare 101, a wrong protocol, an accept value it did not compute)
/// still speaks HTTP, and the client's next `GET /admin` with its own `X-Drawbridge-User` would
/// reach it unjudged (request smuggling through a fake upgrade). So the 101 must name the protocol
/// the request asked for (the gateway tunnels only WebSocket) and prove it read this request's key.
enum TunnelUpgrade {
    /// RFC 6455 §1.3: the GUID appended to the key.
    private static let guid = Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)

    /// `request`: the upgrade request as the client sent it (its Sec-WebSocket-Key went upstream unchanged).
    static func accepted(_ request: RequestHead, _ response: inout ResponseHead) -> Bool {
        guard request.isWebSocketUpgrade, response.status == 101,
              let key = only("sec-websocket-key", request.fields, request.bytes) else { return false }
        // RFC 6455 §4.1 (the client's checks): exactly `Upgrade: websocket`, and the accept value for the key.
        guard let upgrade = only("upgrade", response.fields, response.bytes),
              response.bytes.withUnsafeBytes({ ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: $0[upgrade]), "websocket") }),
              let accept = only("sec-websocket-accept", response.fields, response.bytes)
        else { return false }
        return response.bytes[accept].elementsEqual(expectedAccept(key: Array(request.bytes[key])))
    }

    /// base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2, step 5.4).
    static func expectedAccept(key: [UInt8]) -> [UInt8] {
        // Base64URL without padding, turned into the standard alphabet with its one '=' (20 bytes -> 28 characters).
        var out = Array(Base64URL.encode(SHA1.hash(key + guid)).utf8).map { $0 == 0x2D ? 0x2B : $0 == 0x5F ? 0x2F : $0 }
        while out.count % 4 != 0 { out.append(0x3D) }
        return out
    }

    /// The value, trimmed, of the one field named `name`; nil when there is none or more than one.
    private static func only(_ name: StaticString, _ fields: [HeaderField], _ bytes: [UInt8]) -> Range<Int>? {
        var found: Range<Int>?
        for f in fields where bytes.withUnsafeBytes({ ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: $0[f.name]), name) }) {
            if found != nil { return nil }
            var v = f.value
            while let c = v.first, bytes[c] == 0x20 || bytes[c] == 0x09 { v = v.dropFirst() }
            while let c = v.last, bytes[c] == 0x20 || bytes[c] == 0x09 { v = v.dropLast() }
            found = v
        }
        return found
    }
}
