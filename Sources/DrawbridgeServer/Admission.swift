import DrawbridgeConfig
import DrawbridgeHTTP

/// The decision step between "head parsed" and "upstream chosen": route matching. The caller then
/// checks the credential when the route is protected (see `Authenticator`); policy (RBAC) plugs in
/// here, before any upstream is contacted.
enum Admission {
    case forward(upstream: Int, route: Int)
    case respond(Int)

    /// `path` holds the normalised target; its first `pathLength` bytes are the path (no query).
    static func decide(head: RequestHead, path: [UInt8], pathLength: Int, snapshot: Snapshot) -> Admission {
        let host = head.host ?? 0..<0 // HTTP/1.0 may omit Host: only any-host routes match
        let route: Int? = head.bytes.withUnsafeBytes { raw in
            path.withUnsafeBytes { p in
                // OPTIONS * is answered by the host's root route.
                let isAsterisk = pathLength == 1 && p[0] == UInt8(ascii: "*")
                let root: StaticString = "/"
                return snapshot.config.routeTable.match(
                    host: UnsafeRawBufferPointer(rebasing: raw[host]),
                    path: isAsterisk ? UnsafeRawBufferPointer(start: root.utf8Start, count: 1) : UnsafeRawBufferPointer(rebasing: p[0..<pathLength]))
            }
        }
        guard let route else { return .respond(404) } // no route: nothing is forwarded by default
        return .forward(upstream: snapshot.routeUpstream[route], route: route)
    }
}
