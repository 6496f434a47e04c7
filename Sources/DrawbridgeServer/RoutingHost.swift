import DrawbridgeHTTP
import Glibc

/// The host a request is routed, judged and forwarded as, from its head and the connection's
/// TLS server name. Pure (no socket): one rule, one normalisation (`HostName`).
///
/// - The absolute-form authority, else the Host field, else (HTTP/1.0 without Host) the TLS
///   server name names the host; with none of them the request is refused (400): it could only
///   match any-host routes, skipping the routes (and MFA) of the host the connection was opened for.
/// - An absolute-form authority and a Host field must name the same host and port (400).
/// - With SNI, the host must be the SNI name (421 Misdirected Request: domain fronting).
enum RoutingHost {
    enum Outcome: Equatable {
        /// `name` holds the host in normal form; the port as sent, or `HostName.noPort`.
        case host(port: Int)
        case refuse(status: Int)
    }

    /// The connection's TLS server name, normalised once after the handshake.
    struct ServerName {
        /// Normal form; empty when the client sent no SNI.
        var name: [UInt8] = []
        /// The client sent a server name that is not a valid host: no request can match it.
        var invalid = false

        /// From the C string OpenSSL returns (nil: no SNI).
        init(_ cName: UnsafePointer<CChar>?) {
            guard let cName else { return }
            let raw = UnsafeRawBufferPointer(start: cName, count: strlen(cName))
            // a server name carries no port (RFC 6066 §3)
            if raw.isEmpty || HostName.normalize(raw, into: &name) != HostName.noPort {
                name = []
                invalid = true
            }
        }

        init() {}
    }

    /// Resolves the routing host of `head` into `name` (capacity kept); `scratch` is working space.
    static func resolve(_ head: RequestHead, sni: ServerName, into name: inout [UInt8], scratch: inout [UInt8]) -> Outcome {
        let port: Int
        let given = head.absoluteAuthority ?? head.host
        if let given {
            guard let p = head.bytes.withUnsafeBytes({ HostName.normalize(UnsafeRawBufferPointer(rebasing: $0[given]), into: &name) }) else {
                return .refuse(status: 400) // "127.1", "a..b": a host other parsers read as another one
            }
            port = p
            if head.absoluteAuthority != nil, let host = head.host {
                // Absolute-form whose authority differs from Host: routing would judge one host and reach another.
                let hostPort = head.bytes.withUnsafeBytes { HostName.normalize(UnsafeRawBufferPointer(rebasing: $0[host]), into: &scratch) }
                guard hostPort == port, scratch == name else { return .refuse(status: 400) }
            }
        } else if !sni.name.isEmpty {
            // HTTP/1.0 without Host: the verified TLS name is the host (its routes, its MFA).
            name.removeAll(keepingCapacity: true)
            name.append(contentsOf: sni.name)
            port = HostName.noPort
        } else {
            name.removeAll(keepingCapacity: true)
            return .refuse(status: sni.invalid ? 421 : 400) // nothing names the host
        }
        // Host must name the host the TLS session was opened for: a request for another host on
        // this connection would be routed (and judged) as that host (domain fronting).
        if sni.invalid || (!sni.name.isEmpty && sni.name != name) { return .refuse(status: 421) }
        return .host(port: port)
    }
}
