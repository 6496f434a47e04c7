import DrawbridgeHTTP

/// What the gateway knows of one request once its head is parsed and admitted: the head as
/// received, the normalised target, the routing host and the gateway's cookies. Protocol-neutral
/// on purpose: an HTTP/2 stream yields the same view (its pseudo-fields as the head's method and
/// target, its decoded fields as `head.fields`), so `decide` and forward-auth judge it alike.
/// One per connection, refilled in place for each request (its storage is reused: no allocation
/// per request once grown). A reference, so handing it to `decide` and the writers copies nothing.
public final class RequestView {
    /// The head as received: method, fields and the raw target are ranges into `head.bytes`.
    public var head = RequestHead()
    /// The normalised request target (path, then the query with its `?`): what routing and the
    /// policy judge and exactly what the upstream receives.
    public var target: [UInt8] = []
    /// Where the path ends in `target`.
    public var pathLength = 0
    /// The routing host (`HostName` normal form) and the port its Host named.
    public var routing = RoutingHost()
    /// The gateway's cookies in the request (the session cookie's value, duplicates).
    public var cookies = GatewayCookies()

    public init() {}

    /// The path as judged (no query).
    @inline(__always) func withPath<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        target.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<pathLength])) }
    }

    @inline(__always) func isMethod(_ m: StaticString) -> Bool {
        head.bytes.withUnsafeBytes { ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: $0[head.method]), m) }
    }

    public var methodText: String { String(decoding: head.bytes[head.method], as: UTF8.self) }
    public var pathText: String { String(decoding: target[0..<pathLength], as: UTF8.self) }

    /// An API client rather than a browser: JSON accepted, an Authorization field, or a method a
    /// redirect would turn into GET. Such a client gets JSON refusals; a browser gets pages.
    public var isAPIClient: Bool {
        head.fieldValue(named: "authorization") != nil || !(isMethod("get") || isMethod("head"))
            || (head.fieldValue(named: "accept").map { r in
                String(decoding: head.bytes[r], as: UTF8.self).lowercased().contains("application/json") } ?? false)
    }

    /// `/.drawbridge/` (and the bare `/.drawbridge`) belongs to the gateway whatever the routes say.
    var isGatewayPath: Bool {
        let p: StaticString = "/.drawbridge/"
        let n = p.utf8CodeUnitCount
        guard pathLength >= n - 1, pathLength == n - 1 || target[n - 1] == UInt8(ascii: "/") else { return false }
        for i in 0..<(n - 1) where target[i] != p.utf8Start[i] { return false }
        return true
    }

    /// The routing host as an https origin's authority (`name`, or `name:port` unless 443).
    public var routingAuthority: String {
        let name = head.bytes.withUnsafeBytes { raw in routing.withName(raw) { String(decoding: $0, as: UTF8.self) } }
        return routing.port == HostName.noPort || routing.port == 443 ? name : "\(name):\(routing.port)"
    }
}
