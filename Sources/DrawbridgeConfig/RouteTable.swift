/// Routes compiled for allocation-free matching on the request hot path.
///
/// Matching rule: the candidate host groups are tried from most to least specific — the exact host,
/// then wildcard hosts (`*.example.com`, longest suffix first), then the any-host routes — and within
/// the first group that has a matching path prefix, the longest matching prefix wins.
/// A group whose prefixes do not match the path falls through to the next, less specific group.
public struct RouteTable: Sendable {
    /// The routes this table was built from; `match` returns indices into this array.
    public let routes: [RouteConfig]

    private struct Span: Sendable {
        var start: Int32
        var count: Int32
    }

    private struct Prefix: Sendable {
        var bytes: Span
        var route: Int32
    }

    private struct Group: Sendable {
        /// Lowercased exact host, or the wildcard suffix including its leading dot (".example.com").
        var key: Span
        /// Range in `prefixes`, sorted longest first.
        var prefixStart: Int32
        var prefixCount: Int32
    }

    /// All lowercased host keys and path prefixes, back to back.
    private let storage: [UInt8]
    private let prefixes: [Prefix]
    private let groups: [Group]
    /// Open-addressing hash table of exact-host groups: group index or -1. Count is a power of two.
    private let exactSlots: [Int32]
    /// Wildcard group indices, longest suffix first.
    private let wildcardGroups: [Int32]
    /// Group of the any-host routes, or -1.
    private let anyHostGroup: Int32

    /// Builds the table. `routes` should be validated (no duplicate host + prefix); if there are
    /// duplicates anyway, the first one wins.
    public init(routes: [RouteConfig]) {
        self.routes = routes

        enum HostKind: Hashable { case exact(String), wildcard(String), any }
        var order: [HostKind] = []
        var members: [HostKind: [Int]] = [:]
        for (index, route) in routes.enumerated() {
            let kind: HostKind
            if let host = route.host?.lowercased(), host != "*" {
                kind = host.hasPrefix("*.") ? .wildcard(String(host.dropFirst(1))) : .exact(host)
            } else {
                kind = .any
            }
            if members[kind] == nil { order.append(kind) }
            members[kind, default: []].append(index)
        }

        var storage: [UInt8] = []
        func store(_ bytes: [UInt8]) -> Span {
            let span = Span(start: Int32(storage.count), count: Int32(bytes.count))
            storage.append(contentsOf: bytes)
            return span
        }
        var prefixes: [Prefix] = []
        var groups: [Group] = []
        var exactGroups: [(hash: UInt32, group: Int32)] = []
        var wildcards: [(length: Int, group: Int32)] = []
        var anyHostGroup: Int32 = -1

        for kind in order {
            let keyBytes: [UInt8]
            switch kind {
            case .exact(let host), .wildcard(let host): keyBytes = Array(host.utf8)
            case .any: keyBytes = []
            }
            // Longest prefix first; for equal prefixes the earlier route stays first.
            var seen = Set<String>()
            let sorted = members[kind]!
                .filter { seen.insert(routes[$0].pathPrefix).inserted }
                .enumerated()
                .sorted { a, b in
                    let la = routes[a.element].pathPrefix.utf8.count, lb = routes[b.element].pathPrefix.utf8.count
                    return la != lb ? la > lb : a.offset < b.offset
                }
                .map(\.element)
            let groupIndex = Int32(groups.count)
            let prefixStart = Int32(prefixes.count)
            for routeIndex in sorted {
                prefixes.append(Prefix(bytes: store(Array(routes[routeIndex].pathPrefix.utf8)), route: Int32(routeIndex)))
            }
            groups.append(Group(key: store(keyBytes), prefixStart: prefixStart, prefixCount: Int32(sorted.count)))
            switch kind {
            case .exact: exactGroups.append((RouteTable.hash(lowercased: keyBytes), groupIndex))
            case .wildcard: wildcards.append((keyBytes.count, groupIndex))
            case .any: anyHostGroup = groupIndex
            }
        }

        var capacity = 1
        while capacity < exactGroups.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: exactGroups.isEmpty ? 0 : capacity)
        for entry in exactGroups {
            var slot = Int(entry.hash) & (capacity - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = entry.group
        }

        self.storage = storage
        self.prefixes = prefixes
        self.groups = groups
        self.exactSlots = slots
        self.wildcardGroups = wildcards.enumerated()
            .sorted { $0.element.length != $1.element.length ? $0.element.length > $1.element.length : $0.offset < $1.offset }
            .map(\.element.group)
        self.anyHostGroup = anyHostGroup
    }

    // MARK: - Matching (hot path: no allocation, no String, no Foundation)

    /// Most specific match: exact host beats wildcard host beats any-host; then the longest path prefix.
    /// `host` is the Host header value as bytes (a ":port" suffix is ignored; compared ASCII case-insensitively;
    /// one trailing dot is ignored). `path` is the request target's path; anything from '?' or '#' on is ignored.
    /// A prefix matches on a segment boundary: "/api" matches "/api", "/api/", "/api/x", but not "/apix";
    /// "/" matches every path; a prefix ending in "/" matches paths that start with it.
    /// Returns the index into `routes`, or nil.
    public func match(host: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Int? {
        // Path length up to '?' or '#'.
        var pathLength = 0
        while pathLength < path.count {
            let b = path[pathLength]
            if b == 0x3F || b == 0x23 { break }  // '?' '#'
            pathLength += 1
        }

        // Host: trim optional white space, cut the port, drop one trailing dot.
        var hostStart = 0
        var hostEnd = host.count
        while hostStart < hostEnd && (host[hostStart] == 0x20 || host[hostStart] == 0x09) { hostStart += 1 }
        while hostEnd > hostStart && (host[hostEnd - 1] == 0x20 || host[hostEnd - 1] == 0x09) { hostEnd -= 1 }
        if hostStart < hostEnd && host[hostStart] == 0x5B {  // '[' IPv6 literal: keep through ']'
            var i = hostStart
            while i < hostEnd && host[i] != 0x5D { i += 1 }
            hostEnd = i < hostEnd ? i + 1 : hostEnd
        } else {
            var i = hostStart
            while i < hostEnd && host[i] != 0x3A { i += 1 }  // ':'
            hostEnd = i
        }
        if hostEnd > hostStart && host[hostEnd - 1] == 0x2E { hostEnd -= 1 }  // trailing '.'

        if hostEnd > hostStart {
            if !exactSlots.isEmpty {
                let mask = exactSlots.count - 1
                var slot = Int(RouteTable.hash(host, hostStart, hostEnd)) & mask
                while true {
                    let g = exactSlots[slot]
                    if g < 0 { break }
                    let group = groups[Int(g)]
                    if Int(group.key.count) == hostEnd - hostStart
                        && equalsLowercased(host, hostStart, group.key) {
                        if let route = matchPrefix(in: group, path: path, length: pathLength) { return route }
                        break
                    }
                    slot = (slot + 1) & mask
                }
            }
            for g in wildcardGroups {
                let group = groups[Int(g)]
                let suffixLength = Int(group.key.count)
                if hostEnd - hostStart > suffixLength
                    && equalsLowercased(host, hostEnd - suffixLength, group.key) {
                    if let route = matchPrefix(in: group, path: path, length: pathLength) { return route }
                }
            }
        }
        if anyHostGroup >= 0 {
            return matchPrefix(in: groups[Int(anyHostGroup)], path: path, length: pathLength)
        }
        return nil
    }

    private func matchPrefix(in group: Group, path: UnsafeRawBufferPointer, length: Int) -> Int? {
        var i = Int(group.prefixStart)
        let end = i + Int(group.prefixCount)
        while i < end {
            let prefix = prefixes[i]
            let count = Int(prefix.bytes.count)
            let start = Int(prefix.bytes.start)
            if length == 0 {
                // An empty path is treated as "/".
                if count == 1 { return Int(prefix.route) }
            } else if count <= length {
                var equal = true
                var j = 0
                while j < count {
                    if path[j] != storage[start + j] { equal = false; break }
                    j += 1
                }
                if equal && (count == length || storage[start + count - 1] == 0x2F || path[count] == 0x2F) {
                    return Int(prefix.route)
                }
            }
            i += 1
        }
        return nil
    }

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 {
        (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
    }

    /// Compares `bytes[from ..< from + key.count]`, lowercased, with the stored (lowercase) key.
    private func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ key: Span) -> Bool {
        let start = Int(key.start)
        var j = 0
        while j < Int(key.count) {
            if RouteTable.lower(bytes[from + j]) != storage[start + j] { return false }
            j += 1
        }
        return true
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        var i = start
        while i < end {
            h = (h ^ UInt32(lower(bytes[i]))) &* 16_777_619
            i += 1
        }
        return h
    }

    private static func hash(lowercased bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { hash($0, 0, $0.count) }
    }

    // MARK: - Convenience (not for the hot path)

    /// `match(host:path:)` for Strings; allocates. For tests and tools.
    public func match(host: String, path: String) -> Int? {
        let hostBytes = Array(host.utf8), pathBytes = Array(path.utf8)
        return hostBytes.withUnsafeBytes { h in pathBytes.withUnsafeBytes { p in match(host: h, path: p) } }
    }
}
