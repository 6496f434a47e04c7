/// What the gateway accepts as a request method: one rule, used by the request parser and by the
/// access decision (which may also be asked about a method that did not come through the parser).
public enum RequestMethod {
    /// Longest accepted method.
    public static let maxBytes = 32

    /// Why `method` is refused, or nil when it is accepted.
    ///
    /// - Not a token (RFC 9110 §9.1, §5.6.2), or longer than `maxBytes`: 400.
    /// - Lower-case letters: 400, as nginx answers ("client sent invalid method"). Methods are
    ///   case-sensitive tokens, but frameworks (Werkzeug, Django) upper-case them: `delete`
    ///   would be judged as an unknown method here and run as DELETE behind the gateway.
    /// - `CONNECT`: 400 (no tunnels).
    /// - `TRACE`, `TRACK`: 501 (the gateway supports them for no resource): an upstream echoing the
    ///   request would reflect the identity assertion and the route's upstream credential to the client.
    @inlinable
    public static func refusal(_ method: UnsafeRawBufferPointer) -> HTTPError? {
        // Fast path (inlined where it is called): upper-case letters only, and not of the length
        // of TRACE, TRACK or CONNECT: GET, POST, HEAD, PUT, DELETE, PATCH, PROPFIND, ...
        let n = method.count
        var i = 0
        while i < n && (method[i] &- 0x41) < 26 { i += 1 }
        if i == n && n > 0 && n <= maxBytes && n != 5 && n != 7 { return nil }
        return fullRefusal(method)
    }

    /// `refusal`, every case.
    @usableFromInline
    static func fullRefusal(_ method: UnsafeRawBufferPointer) -> HTTPError? {
        let n = method.count
        guard n > 0 else { return .badRequest("invalid method") }
        var lowerCase = false
        var i = 0
        while i < n {
            let b = method[i]
            guard ASCII.isTchar(b) else { return .badRequest("invalid method") }
            if (b &- 0x61) < 26 { lowerCase = true }
            i += 1
        }
        guard n <= maxBytes else { return .badRequest("method too long") }
        // one spelling per method: the method decided must be the method the upstream runs
        if lowerCase { return .badRequest("method with lower-case letters") }
        switch n {
        case 5:
            // TRACE/TRACK echo the request: the assertion and the upstream credential would reach the client
            if ASCII.equals(method, 0..<5, "TRACE") || ASCII.equals(method, 0..<5, "TRACK") {
                return .notImplemented("TRACE and TRACK refused")
            }
        case 7:
            // CONNECT turns the gateway into an open tunnel: not offered
            if ASCII.equals(method, 0..<7, "CONNECT") { return .badRequest("CONNECT not supported") }
        default:
            break
        }
        return nil
    }

    /// Idempotent methods (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, PUT, DELETE (TRACE is refused).
    /// Only these may be sent again after a connection failed once they were sent; an unknown
    /// method is not idempotent (nginx never resends POST, PATCH or LOCK).
    public static func isIdempotent(_ method: UnsafeRawBufferPointer) -> Bool {
        switch method.count {
        case 3: return ASCII.equals(method, 0..<3, "GET") || ASCII.equals(method, 0..<3, "PUT")
        case 4: return ASCII.equals(method, 0..<4, "HEAD")
        case 6: return ASCII.equals(method, 0..<6, "DELETE")
        case 7: return ASCII.equals(method, 0..<7, "OPTIONS")
        default: return false
        }
    }
}
