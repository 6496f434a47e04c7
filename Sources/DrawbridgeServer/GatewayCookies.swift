import DrawbridgeHTTP

/// The gateway's own cookies in a request (`__Host-drawbridge` and `__Host-drawbridge-*`),
/// found once per request with the one cookie parser (`CookiePairs`). Pure: no socket, no clock.
///
/// Rules, the same for every route and for the sign-in endpoints:
/// - a gateway cookie name sent twice is refused with 400: which copy counts would depend on the
///   parser (a cookie tossed in from a sibling domain next to the real one);
/// - the gateway reads a value only under its exact name (cookie names are case-sensitive,
///   RFC 6265 §5.3);
/// - no cookie in the gateway's namespace, in any case, is ever forwarded to an upstream (the
///   session token and the sign-in state are the gateway's, not the app's).
struct GatewayCookies {
    /// Value of the session cookie, if the request carries it (offsets into the head's bytes).
    var session: Range<Int>?
    /// A gateway cookie name appears more than once (counting all Cookie fields).
    var duplicated = false
    /// The request carries some cookie of the gateway's namespace (the forwarded Cookie is rewritten).
    var present = false

    /// The names the gateway sets; index 0 is the session cookie.
    static let names: [[UInt8]] = [AuthRuntime.sessionCookie, LoginEndpoints.csrfCookie, LoginEndpoints.mfaCookie,
                                   LoginEndpoints.oidcCookie].map { Array($0.utf8) }
    /// The namespace, case-folded.
    private static let namespace: StaticString = "__host-drawbridge"

    /// Every Cookie field of the head, once.
    static func find(in head: RequestHead) -> GatewayCookies {
        var found = GatewayCookies()
        var seen: UInt32 = 0
        head.bytes.withUnsafeBytes { raw in
            for f in head.fields where f.kind == .other && f.name.count == 6
                && ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[f.name]), "cookie") {
                var pairs = CookiePairs(raw, f.value)
                while let p = pairs.next() {
                    guard isGatewayCookie(raw, p.name) else { continue }
                    found.present = true
                    // The same name in another case is one cookie to a case-insensitive reader: a duplicate too.
                    let known = foldedIndex(raw, p.name)
                    guard known >= 0 else { continue } // another name of the namespace: only stripped
                    if seen & (1 << UInt32(known)) != 0 { found.duplicated = true }
                    seen |= 1 << UInt32(known)
                    if exactIndex(raw, p.name) == 0 { found.session = p.value }
                }
            }
        }
        return found
    }

    /// Whether the cookie `raw[name]` is in the gateway's namespace, in any case.
    @inline(__always)
    static func isGatewayCookie(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        let n = namespace.utf8CodeUnitCount
        guard name.count >= n, raw[name.lowerBound] == UInt8(ascii: "_"),
              ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[name.lowerBound..<name.lowerBound + n]), namespace)
        else { return false }
        return name.count == n || raw[name.lowerBound + n] == UInt8(ascii: "-")
    }

    /// Index in `names` of a gateway cookie spelled exactly, or -1.
    static func exactIndex(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int {
        for (i, known) in names.enumerated() where known.count == name.count {
            var same = true
            for k in 0..<known.count where raw[name.lowerBound + k] != known[k] { same = false; break }
            if same { return i }
        }
        return -1
    }

    /// Index in `names` of a gateway cookie in any case, or -1.
    private static func foldedIndex(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int {
        for (i, known) in names.enumerated() where known.count == name.count {
            var same = true
            for k in 0..<known.count where ASCII.lower(raw[name.lowerBound + k]) != ASCII.lower(known[k]) { same = false; break }
            if same { return i }
        }
        return -1
    }
}
