/// What a header field is, so the proxy can filter without string compares.
public enum FieldKind: UInt8, Sendable {
    case other, host, contentLength, transferEncoding, connection,
         /// keep-alive, proxy-connection, te, trailer, upgrade, proxy-authenticate, proxy-authorization
         hopByHop,
         expect,
         /// forwarded, x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-forwarded-port, x-real-ip
         forwarded,
         /// x-request-id
         requestId,
         /// Any field whose name is listed in this message's Connection header (set after parsing all
         /// fields; Host, Content-Length and Transfer-Encoding keep their kind because they are framing).
         namedInConnection

    /// Classifies a field name, ASCII case-insensitively.
    static func classify(_ name: UnsafeRawBufferPointer) -> FieldKind {
        @inline(__always) func eq(_ s: StaticString) -> Bool { ASCII.equalsCaseInsensitive(name, s) }
        switch name.count {
        case 2: return eq("te") ? .hopByHop : .other
        case 4: return eq("host") ? .host : .other
        case 6: return eq("expect") ? .expect : .other
        case 7: return eq("upgrade") || eq("trailer") ? .hopByHop : .other
        case 9:
            if eq("forwarded") || eq("x-real-ip") { return .forwarded }
            return .other
        case 10:
            if eq("connection") { return .connection }
            return eq("keep-alive") ? .hopByHop : .other
        case 12: return eq("x-request-id") ? .requestId : .other
        case 14: return eq("content-length") ? .contentLength : .other
        case 15: return eq("x-forwarded-for") ? .forwarded : .other
        case 16:
            if eq("proxy-connection") { return .hopByHop }
            return eq("x-forwarded-host") || eq("x-forwarded-port") ? .forwarded : .other
        case 17:
            if eq("transfer-encoding") { return .transferEncoding }
            return eq("x-forwarded-proto") ? .forwarded : .other
        case 18: return eq("proxy-authenticate") ? .hopByHop : .other
        case 19: return eq("proxy-authorization") ? .hopByHop : .other
        default: return .other
        }
    }
}
