import DrawbridgeHTTP
import Glibc

/// The host a request is routed, judged and forwarded as, from its head and the connection's
/// TLS server name. Pure (no socket): one rule, one normalisation (`HostName`). Reused per
/// connection: resolving allocates nothing once the copy buffer has grown.
///
/// - The absolute-form authority, else the Host field, else (HTTP/1.0 without Host) the TLS
///   server name names the host; with none of them the request is refused (400): it could only
///   match any-host routes, skipping the routes (and MFA) of the host the connection was opened for.
/// - An absolute-form authority and a Host field must name the same host and port (400).
/// - With SNI, the host must be the SNI name (421 Misdirected Request: domain fronting).
public struct RoutingHost {
    /// The name when it had to be rewritten to normal form, or came from SNI; unused (and empty)
    /// when `range` is set.
    @usableFromInline var copy: [UInt8] = []
    /// Where the name is in the head's bytes when it already was in normal form (most requests:
    /// then it is neither copied nor rewritten).
    @usableFromInline var range: Range<Int>?
    /// The port the host named, or `HostName.noPort`.
    public private(set) var port = HostName.noPort

    public init() {}

    /// The connection's TLS server name, normalised once after the handshake.
    public struct ServerName {
        /// Normal form; empty when the client sent no SNI.
        var name: [UInt8] = []
        /// The client sent a server name that is not a valid host: no request can match it.
        var invalid = false

        /// From the C string OpenSSL returns (nil: no SNI).
        public init(_ cName: UnsafePointer<CChar>?) {
            guard let cName else { return }
            let raw = UnsafeRawBufferPointer(start: cName, count: strlen(cName))
            // a server name carries no port (RFC 6066 §3)
            if raw.isEmpty || HostName.normalize(raw, into: &name) != HostName.noPort {
                name = []
                invalid = true
            }
        }

        public init() {}
    }

    /// Resolves the routing host of a request head (`raw`: its bytes; `host`, `absolute`: the
    /// Host value and the absolute-form authority in them). nil, or the status that refuses it.
    /// `hostParsed`: the parser's `HostName.parse` of the Host value.
    public mutating func resolve(_ raw: UnsafeRawBufferPointer, host: Range<Int>?, hostParsed: HostName.Parsed?, absolute: Range<Int>?,
                          sni: ServerName) -> Int? {
        range = nil
        if let given = absolute ?? host {
            let text = UnsafeRawBufferPointer(rebasing: raw[given])
            // "127.1", "a..b", "user@host": a host other parsers read as another one
            guard let parsed = absolute == nil ? hostParsed : HostName.parse(text) else { return 400 }
            port = parsed.port
            if parsed.isNormal {
                range = given.lowerBound..<given.lowerBound + parsed.nameEnd
            } else {
                _ = HostName.normalize(text, into: &copy)
            }
            if absolute != nil, let host {
                // Absolute-form whose authority differs from Host: routing would judge one host and reach another.
                var other: [UInt8] = [] // rare: absolute-form is for proxies
                let otherPort = HostName.normalize(UnsafeRawBufferPointer(rebasing: raw[host]), into: &other)
                guard otherPort == port, withName(raw, { Self.same($0, other) }) else { return 400 }
            }
        } else if !sni.name.isEmpty {
            // HTTP/1.0 without Host: the verified TLS name is the host (its routes, its MFA).
            copy.removeAll(keepingCapacity: true)
            copy.append(contentsOf: sni.name)
            port = HostName.noPort
        } else {
            return sni.invalid ? 421 : 400 // nothing names the host
        }
        // Host must name the host the TLS session was opened for: a request for another host on
        // this connection would be routed (and judged) as that host (domain fronting).
        if sni.invalid || (!sni.name.isEmpty && !withName(raw, { Self.same($0, sni.name) })) { return 421 }
        return nil
    }

    /// Calls `body` with the name in normal form (`raw`: the bytes of the head it was resolved from).
    @inline(__always)
    public func withName<R>(_ raw: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let range { return body(UnsafeRawBufferPointer(rebasing: raw[range])) }
        return copy.withUnsafeBytes(body)
    }

    /// Bytes of the name.
    @inlinable public var nameLength: Int { range?.count ?? copy.count }

    @inline(__always)
    private static func same(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        a.count == b.count && b.withUnsafeBytes { memcmp(a.baseAddress!, $0.baseAddress!, a.count) == 0 }
    }
}
