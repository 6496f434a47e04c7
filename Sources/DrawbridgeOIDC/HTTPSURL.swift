#if canImport(Glibc)
import Glibc
#endif

/// Why a URL was refused (short text for logs; never the URL itself).
struct URLRefusal: Error, ExpressibleByStringLiteral {
    let reason: String
    init(stringLiteral value: String) { reason = value }
}

/// An `https://host[:port][/path][?query]` URL, strictly parsed: printable ASCII only, no
/// userinfo, no fragment, host a DNS name or an IP literal (IPv6 in brackets).
struct HTTPSURL: Equatable, Sendable {
    /// Lower-cased DNS name, or the IP literal without brackets.
    let host: String
    let port: UInt16
    /// Origin-form request target: path (at least "/") plus "?query" if any.
    let target: String
    let isIPLiteral: Bool

    /// Value of the Host header (brackets for IPv6, port only when not 443).
    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 443 ? h : "\(h):\(port)"
    }

    /// The URL parsed, or the reason it is refused.
    static func parse(_ s: String) -> Result<HTTPSURL, URLRefusal> {
        let bytes = Array(s.utf8)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return .failure("control, space or non-ASCII character") }
        let scheme = Array("https://".utf8)
        guard bytes.count > scheme.count,
              zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 || ($0 == $1) }) else { return .failure("not an https URL") }
        let rest = bytes[scheme.count...]
        guard !rest.contains(UInt8(ascii: "#")) else { return .failure("fragment not allowed") }
        let authorityEnd = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        var target = String(decoding: rest[authorityEnd...], as: UTF8.self)
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        guard !authority.contains(UInt8(ascii: "@")) else { return .failure("userinfo not allowed") }
        guard !authority.isEmpty else { return .failure("no host") }

        var hostPart: ArraySlice<UInt8>
        var portPart: ArraySlice<UInt8>? = nil
        var ip = false
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return .failure("unterminated IPv6 literal") }
            hostPart = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { return .failure("junk after IPv6 literal") }
                portPart = after.dropFirst()
            }
            guard isIP(String(decoding: hostPart, as: UTF8.self), family: AF_INET6) else { return .failure("bad IPv6 literal") }
            ip = true
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                hostPart = authority[authority.startIndex..<colon]
                portPart = authority[(colon + 1)...]
            } else {
                hostPart = authority
            }
            guard !hostPart.isEmpty, hostPart.allSatisfy({ isHostByte($0) }) else { return .failure("bad host") }
            ip = isIP(String(decoding: hostPart, as: UTF8.self), family: AF_INET)
        }
        var port: UInt16 = 443
        if let p = portPart {
            guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let v = Int(String(decoding: p, as: UTF8.self)), v >= 1, v <= 65535 else { return .failure("bad port") }
            port = UInt16(v)
        }
        let host = String(decoding: hostPart, as: UTF8.self).lowercased()
        return .success(HTTPSURL(host: host, port: port, target: target, isIPLiteral: ip))
    }

    private static func isHostByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)
            || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
    }

    private static func isIP(_ s: String, family: Int32) -> Bool {
        var buf = [UInt8](repeating: 0, count: 16)
        return inet_pton(family, s, &buf) == 1
    }
}

/// Percent-encoding of everything but the RFC 3986 unreserved characters. Valid both in a URL
/// query and in application/x-www-form-urlencoded bodies (a space becomes %20, which form
/// decoders read as a space too).
enum PercentEncoding {
    static func encode(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(c)
            default:
                out += [UInt8(ascii: "%"), hex[Int(c >> 4)], hex[Int(c & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `k1=v1&k2=v2`, every name and value encoded.
    static func form(_ pairs: [(String, String)]) -> String {
        pairs.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }
}

/// Standard base64 with padding (RFC 4648 §4), for HTTP Basic credentials.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let a = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(a[Int(v >> 18 & 63)])
            out.append(a[Int(v >> 12 & 63)])
            out.append(i + 1 < bytes.count ? a[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? a[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
