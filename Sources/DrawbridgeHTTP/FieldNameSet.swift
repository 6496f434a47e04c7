/// A set of header field names compared the way upstream frameworks compare them: ASCII
/// case-folded, with `_` read as `-`. WSGI, CGI, PHP, Rack and many Java containers turn
/// `X_Drawbridge_User`, `x-drawbridge-user` and `X-DRAWBRIDGE-USER` into one variable
/// (`HTTP_X_DRAWBRIDGE_USER`), so a name protected in one spelling is protected in all of them.
///
/// Built once per configuration (off the request path), immutable; `contains` runs for every
/// request field, allocates nothing and touches no reference count: one table load and bit test
/// reject most names, and only names of a protected length whose first byte can match are
/// compared byte by byte.
public final class FieldNameSet: @unchecked Sendable {
    /// Longest name a set holds (configured names are limited to 64 bytes).
    public static let maxNameLength = 64

    // One immutable allocation, read without reference counting on the request path:
    // [firstBytes: UInt64 × 65][lengthIndex: Int32 × 66][starts: Int32 × count][names: UInt8 …]
    private let table: UnsafeMutableRawPointer
    private let startsOffset: Int
    private let namesOffset: Int
    /// A normalised prefix every longer name of which is in the set (the gateway's namespace), or empty.
    private let prefix: (bytes: UnsafeMutableRawPointer, count: Int)

    /// `names` and `prefix` in any spelling; names longer than `maxNameLength` are ignored.
    public init(_ names: [String], prefix: String = "") {
        var byLength = [[[UInt8]]](repeating: [], count: Self.maxNameLength + 1)
        for name in names {
            let n = Array(name.utf8).map(Self.normalize)
            guard !n.isEmpty, n.count <= Self.maxNameLength, !byLength[n.count].contains(n) else { continue }
            byLength[n.count].append(n)
        }
        var storage: [UInt8] = [], starts: [Int32] = [], lengthIndex: [Int32] = []
        var firstBytes = [UInt64](repeating: 0, count: Self.maxNameLength + 1)
        for (length, group) in byLength.enumerated() {
            lengthIndex.append(Int32(starts.count))
            for n in group {
                starts.append(Int32(storage.count))
                storage.append(contentsOf: n)
                firstBytes[length] |= 1 << UInt64(n[0] & 63)
            }
        }
        lengthIndex.append(Int32(starts.count))
        let startsOffset = 8 * firstBytes.count + 4 * lengthIndex.count
        let namesOffset = startsOffset + 4 * starts.count
        let table = UnsafeMutableRawPointer.allocate(byteCount: namesOffset + storage.count + 1, alignment: 8)
        firstBytes.withUnsafeBytes { table.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        lengthIndex.withUnsafeBytes { (table + 8 * firstBytes.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        starts.withUnsafeBytes { if $0.count > 0 { (table + startsOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        storage.withUnsafeBytes { if $0.count > 0 { (table + namesOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        let p = Array(prefix.utf8).map(Self.normalize)
        let pb = UnsafeMutableRawPointer.allocate(byteCount: max(p.count, 1), alignment: 1)
        p.withUnsafeBytes { if $0.count > 0 { pb.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        self.table = table
        self.startsOffset = startsOffset
        self.namesOffset = namesOffset
        self.prefix = (pb, p.count)
    }

    deinit {
        table.deallocate()
        prefix.bytes.deallocate()
    }

    /// `b` as upstream frameworks read it in a field name: lowercase, `_` as `-`.
    @inline(__always) public static func normalize(_ b: UInt8) -> UInt8 {
        b == 0x5F ? 0x2D : ASCII.lower(b)
    }

    /// Whether `name` (as sent) is in the set or in its namespace, in any case or `_`/`-` spelling.
    @inline(__always)
    public func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        let n = name.count
        guard n > 0 else { return false }
        let first = Self.normalize(name[0])
        if n <= Self.maxNameLength && table.load(fromByteOffset: 8 * n, as: UInt64.self) & (1 << UInt64(first & 63)) != 0
            && containsExactly(name) { return true }
        return prefix.count > 0 && n > prefix.count && first == prefix.bytes.load(as: UInt8.self) && hasPrefix(name)
    }

    private func containsExactly(_ name: UnsafeRawBufferPointer) -> Bool {
        let n = name.count
        let lengthIndex = table + 8 * (Self.maxNameLength + 1)
        var e = Int(lengthIndex.load(fromByteOffset: 4 * n, as: Int32.self))
        let end = Int(lengthIndex.load(fromByteOffset: 4 * (n + 1), as: Int32.self))
        while e < end {
            let start = namesOffset + Int((table + startsOffset).load(fromByteOffset: 4 * e, as: Int32.self))
            var j = 0
            while j < n && Self.normalize(name[j]) == table.load(fromByteOffset: start + j, as: UInt8.self) { j += 1 }
            if j == n { return true }
            e += 1
        }
        return false
    }

    private func hasPrefix(_ name: UnsafeRawBufferPointer) -> Bool {
        var j = 1
        while j < prefix.count {
            if Self.normalize(name[j]) != prefix.bytes.load(fromByteOffset: j, as: UInt8.self) { return false }
            j += 1
        }
        return true
    }
}

/// The request fields the gateway sets or strips, by what they are, in their usual spelling.
/// `FieldNameSet` adds every case and `_` spelling.
public enum GatewayFieldNames {
    /// The gateway's own namespace: identity fields and the signed assertion it sets after checking a credential.
    public static let namespace = "X-Drawbridge-"

    /// Hop and request-id fields the gateway replaces with what it saw itself (it is the edge).
    public static let forwarding = ["Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                                    "X-Forwarded-Port", "X-Real-IP", "X-Request-Id"]

    /// The fields the gateway sets from what it verified (`X-Forwarded-*` of the connection).
    public static let setFromVerified = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port"]

    /// Identity fields that upstream apps and auth proxies (oauth2-proxy, Apache, Pomerium) commonly trust.
    public static let identity = ["X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
                                  "X-Forwarded-Access-Token", "X-Remote-User", "Remote-User", "X-Auth-Request-User",
                                  "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username",
                                  "X-Auth-Request-Access-Token", "X-User", "X-Email"]

    /// Fields frameworks use to override the routed path, method, host or scheme: a request
    /// authorised as GET /public must not be run as DELETE or routed to /admin by the app.
    /// Stripped by default; a route may forward some of them (`forwardOverrideHeaders`).
    public static let overrides = [
        // path: IIS URL Rewrite, Symfony, Laravel, Zend (X-Original-URL, X-Rewrite-URL); Traefik, Spring, ASP.NET (X-Forwarded-*)
        "X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Prefix",
        // host: Symfony, Rails, Django, ASP.NET
        "X-Host", "X-Original-Host", "X-Forwarded-Server",
        // scheme: Rack, Rails, Werkzeug, IIS
        "X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Forwarded-Protocol", "X-Url-Scheme", "Front-End-Https",
        // method: Express method-override, Spring HiddenHttpMethodFilter variants, Google APIs, Rails, Symfony
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
    ]

    /// Framing and hop-by-hop fields the gateway re-states or removes; listed for their `_`
    /// spellings (`Content_Length` is one variable with Content-Length in CGI-style upstreams).
    public static let framing = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
                                 "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Expect"]

    /// Everything above: the names no client may set for an upstream, in any spelling.
    public static var all: [String] { forwarding + identity + overrides + framing }
}
