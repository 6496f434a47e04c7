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
///   session token and the sign-in state are the gateway's, not the app's);
/// - no upstream sets one: its `Set-Cookie` of the namespace is removed from the response
///   (an app, even a public one, must not plant or swap the session of the gateway's users).
public struct GatewayCookies {
    /// Value of the session cookie, if the request carries it (offsets into the head's bytes).
    public var session: Range<Int>?
    /// A gateway cookie name appears more than once (counting all Cookie fields).
    var duplicated = false
    /// The request carries some cookie of the gateway's namespace (the forwarded Cookie is rewritten).
    public var present = false
    /// Bit i: field i (of the first 64) is a Cookie field holding only gateway cookies (dropped whole,
    /// without parsing it again when the request is forwarded).
    public var onlyGatewayCookies: UInt64 = 0

    /// The sign-in flow's cookies (the login endpoints set them).
    public static let csrfCookie = "__Host-drawbridge-csrf"
    public static let mfaCookie = "__Host-drawbridge-mfa"
    public static let oidcCookie = "__Host-drawbridge-oidc"
    /// The names the gateway sets, as `__Host-drawbridge` + suffix; index 0 is the session cookie.
    static let names = [AuthRuntime.sessionCookie, csrfCookie, mfaCookie, oidcCookie]
    /// The namespace as the gateway writes it (`__Host-drawbridge`) and case-folded.
    private static let namespace: StaticString = "__Host-drawbridge"

    /// Every Cookie field of a head (`raw`: its bytes), once.
    static func find(_ raw: UnsafeRawBufferPointer, _ fields: [HeaderField]) -> GatewayCookies {
        var found = GatewayCookies()
        var seen: UInt32 = 0
        for (index, f) in fields.enumerated() where f.kind == .other && f.name.count == 6
            && ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[f.name]), "cookie") {
            var pairs = CookiePairs(raw, f.value)
            var others = false
            defer { if !others && index < 64 { found.onlyGatewayCookies |= 1 << UInt64(index) } }
            while let p = pairs.next() {
                guard let c = classify(raw, p.name) else { others = true; continue }
                found.present = true
                // The same name in another case is one cookie to a case-insensitive reader: a duplicate too.
                guard c.known >= 0 else { continue } // another name of the namespace: only stripped
                if seen & (1 << UInt32(c.known)) != 0 { found.duplicated = true }
                seen |= 1 << UInt32(c.known)
                if c.known == 0 && c.exact { found.session = p.value }
            }
        }
        return found
    }

    /// Whether the cookie `raw[name]` is in the gateway's namespace, in any case.
    @inline(__always)
    public static func isGatewayCookie(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        guard name.count >= 17, raw[name.lowerBound] == UInt8(ascii: "_"), let base = raw.baseAddress else { return false }
        // "__host-drawbridge" compared as two words and a byte, letters folded with | 0x20: exact on
        // field-value bytes (the only other bytes | 0x20 maps onto '_' and '-' are DEL and CR).
        let p = base + name.lowerBound
        let fold: UInt64 = 0x2020_2020_2020_2020
        guard p.loadUnaligned(as: UInt64.self) | fold == Self.word0, p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) | fold == Self.word1,
              p.load(fromByteOffset: 16, as: UInt8.self) | 0x20 == UInt8(ascii: "e") else { return false }
        return name.count == 17 || p.load(fromByteOffset: 17, as: UInt8.self) == UInt8(ascii: "-")
    }

    /// "__host-d" and "rawbridg", little-endian, each byte | 0x20 (literals: no lazy initialisation).
    private static let word0: UInt64 = 0x642D_7473_6F68_7F7F
    private static let word1: UInt64 = 0x6764_6972_6277_6172

    /// For a gateway cookie: which of `names` it is in any case (-1: another name of the
    /// namespace), and whether it is spelled exactly so. nil: not the gateway's.
    static func classify(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> (known: Int, exact: Bool)? {
        guard isGatewayCookie(raw, name) else { return nil }
        let n = namespace.utf8CodeUnitCount
        var exact = true
        for k in 0..<n where raw[name.lowerBound + k] != namespace.utf8Start[k] { exact = false; break }
        let suffix = UnsafeRawBufferPointer(rebasing: raw[(name.lowerBound + n)..<name.upperBound])
        let known: Int
        switch suffix.count {
        case 0: known = 0
        case 4 where ASCII.equalsCaseInsensitive(suffix, "-mfa"): known = 2
        case 5 where ASCII.equalsCaseInsensitive(suffix, "-csrf"): known = 1
        case 5 where ASCII.equalsCaseInsensitive(suffix, "-oidc"): known = 3
        default: return (-1, false)
        }
        for b in suffix where (b &- 0x41) < 26 { exact = false } // the suffixes are lower case
        return (known, exact)
    }

    /// The session cookie's `Set-Cookie` value, with the attributes it is always issued with: at
    /// sign-in, on sliding renewal (the same `Max-Age`: the session's absolute end) and, emptied
    /// with `Max-Age=0`, at sign-out.
    public static func sessionSetCookie(_ token: String, maxAge: UInt64) -> String {
        setCookie(AuthRuntime.sessionCookie, token, sameSite: "Lax", maxAge: maxAge)
    }

    /// The one writer of the gateway's `Set-Cookie` values: every cookie of its namespace is
    /// host-only on `/`, Secure and HttpOnly; `maxAge` nil: until the browser closes; 0: removed.
    public static func setCookie(_ name: String, _ value: String, sameSite: StaticString, maxAge: UInt64?) -> String {
        "\(name)=\(value); Path=/; Secure; HttpOnly; SameSite=\(sameSite)" + (maxAge.map { "; Max-Age=\($0)" } ?? "")
    }

    /// Whether an upstream's `Set-Cookie` value `raw[value]` sets a cookie of the gateway's
    /// namespace (its first pair, read with the one cookie parser; a pair without `=` is a nameless
    /// cookie whose value a browser may also take as its name).
    public static func isGatewayCookie(setCookie raw: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool {
        var pairs = CookiePairs(raw, value)
        guard let first = pairs.next() else { return false }
        return isGatewayCookie(raw, first.name.isEmpty ? first.value : first.name)
    }

    /// Index in `names` of a gateway cookie spelled exactly, or -1.
    public static func exactIndex(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int {
        guard let c = classify(raw, name), c.exact else { return -1 }
        return c.known
    }
}
