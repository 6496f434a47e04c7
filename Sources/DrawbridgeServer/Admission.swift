import DrawbridgeConfig
import DrawbridgeHTTP

/// The decision step between "head parsed" and "upstream chosen". Today: route matching.
/// Identity (sessions, API keys, per-org auth modes) and policy (RBAC) plug in here, before any
/// upstream is contacted.
enum Admission {
    case forward(upstream: Int)
    case respond(Int)

    static func decide(head: RequestHead, snapshot: Snapshot) -> Admission {
        let host = head.host ?? 0..<0 // HTTP/1.0 may omit Host: only any-host routes match
        let route: Int? = head.bytes.withUnsafeBytes { raw in
            let target = raw[head.target]
            let hostBytes = UnsafeRawBufferPointer(rebasing: raw[host])
            if target.count == 1 && target.first == UInt8(ascii: "*") { // OPTIONS *: the host's root route answers
                let root: StaticString = "/"
                return snapshot.config.routeTable.match(host: hostBytes, path: UnsafeRawBufferPointer(start: root.utf8Start, count: 1))
            }
            let pathEnd = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
            return snapshot.config.routeTable.match(host: hostBytes,
                                                    path: UnsafeRawBufferPointer(rebasing: raw[target.startIndex..<pathEnd]))
        }
        guard let route else { return .respond(404) } // no route: nothing is forwarded by default
        return .forward(upstream: snapshot.routeUpstream[route])
    }
}
