#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsing and validation of host:port strings, IP literals and DNS names.
enum AddressParsing {
    /// Splits `host:port` / `[v6]:port`. The returned host has no brackets. Throws `AddressError`.
    static func splitHostPort(_ text: String, allowEmptyHost: Bool) throws -> (String, UInt16) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw AddressError("missing \"]\" after IPv6 address in \"\(text)\"")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else {
                throw AddressError("missing \":port\" in \"\(text)\"")
            }
            portText = rest.dropFirst()
            guard isIPv6Literal(String(host)) else {
                throw AddressError("\"\(host)\" is not a valid IPv6 address")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw AddressError("missing \":port\" in \"\(text)\" (expected host:port)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw AddressError("IPv6 addresses must be written in brackets, e.g. \"[::1]:8443\", got \"\(text)\"")
            }
        }
        if host.isEmpty && !allowEmptyHost {
            throw AddressError("missing host in \"\(text)\"")
        }
        guard let port = parsePort(portText) else {
            throw AddressError("invalid port \"\(portText)\" in \"\(text)\" (expected 1...65535)")
        }
        return (String(host), port)
    }

    static func parsePort(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(text), (1...65535).contains(value) else { return nil }
        return UInt16(value)
    }

    static func isIPv4Literal(_ text: String) -> Bool {
        var addr = in_addr()
        return text.withCString { inet_pton(AF_INET, $0, &addr) } == 1
    }

    static func isIPv6Literal(_ text: String) -> Bool {
        var addr = in6_addr()
        return text.withCString { inet_pton(AF_INET6, $0, &addr) } == 1
    }

    /// A DNS name: dot-separated labels of letters, digits, '-' and '_', each 1...63 long,
    /// not starting or ending with '-'; at most 253 bytes; one trailing dot is not allowed.
    static func isHostName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63,
                  label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return false }
            for b in label {
                let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
                if !ok { return false }
            }
        }
        return true
    }

    /// An exact host name, a `*.example.com` wildcard, or a bracketed IPv6 literal (route hosts only).
    static func isHostPattern(_ text: String, allowBracketedIPv6: Bool) -> Bool {
        if text.hasPrefix("*.") {
            return isHostName(String(text.dropFirst(2)))
        }
        if allowBracketedIPv6, text.hasPrefix("["), text.hasSuffix("]"), text.count > 2 {
            return isIPv6Literal(String(text.dropFirst().dropLast()))
        }
        return isHostName(text)
    }
}
