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
    /// Open-addressing table of the prefixes of groups larger than `linearLimit`, keyed by
    /// (group, prefix bytes): prefix index or -1. Count is a power of two (0 when unused).
    private let prefixSlots: [Int32]
    /// Per prefix: its hash (case-sensitive FNV-1a of the bytes); per group: whether it is hashed.
    private let prefixHashes: [UInt32]
    private let hashedGroups: [Bool]
    /// Groups with at most this many prefixes are scanned; larger ones are looked up per segment
    /// boundary of the path (a handful of probes instead of one comparison per route).
    static let linearLimit = 8

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

        // Hash index for the large groups (equal prefixes were dropped above, so keys are unique).
        var hashes: [UInt32] = []
        for p in prefixes {
            let bytes = Array(storage[Int(p.bytes.start)..<Int(p.bytes.start + p.bytes.count)])
            hashes.append(bytes.withUnsafeBytes { RouteTable.pathHash($0, 0, $0.count) })
        }
        let hashed = groups.map { Int($0.prefixCount) > RouteTable.linearLimit }
        let indexed = zip(groups, hashed).filter(\.1).reduce(0) { $0 + Int($1.0.prefixCount) }
        var prefixCapacity = indexed == 0 ? 0 : 1
        while prefixCapacity != 0 && prefixCapacity < indexed * 2 { prefixCapacity <<= 1 }
        var prefixSlots = [Int32](repeating: -1, count: prefixCapacity)
        for (g, group) in groups.enumerated() where hashed[g] {
            for i in Int(group.prefixStart)..<Int(group.prefixStart + group.prefixCount) {
                var slot = RouteTable.slot(hashes[i], group: g, mask: prefixCapacity - 1)
                while prefixSlots[slot] >= 0 { slot = (slot + 1) & (prefixCapacity - 1) }
                prefixSlots[slot] = Int32(i)
            }
        }
        self.prefixSlots = prefixSlots
        self.prefixHashes = hashes
        self.hashedGroups = hashed

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
                        if let route = matchPrefix(in: Int(g), path: path, length: pathLength) { return route }
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
                    if let route = matchPrefix(in: Int(g), path: path, length: pathLength) { return route }
                }
            }
        }
        if anyHostGroup >= 0 {
            return matchPrefix(in: Int(anyHostGroup), path: path, length: pathLength)
        }
        return nil
    }

    private func matchPrefix(in g: Int, path: UnsafeRawBufferPointer, length: Int) -> Int? {
        hashedGroups[g] ? matchPrefixHashed(in: g, path: path, length: length)
            : matchPrefixLinear(in: groups[g], path: path, length: length)
    }

    /// The same answer as the linear scan: a prefix can only match at a segment boundary of the
    /// path (it ends just before a '/', just after one, or at the end of the path), so those
    /// lengths are looked up, shortest first, and the last (longest) found wins.
    private func matchPrefixHashed(in g: Int, path: UnsafeRawBufferPointer, length: Int) -> Int? {
        let mask = prefixSlots.count - 1
        let first = Int(groups[g].prefixStart), end = first + Int(groups[g].prefixCount)
        /// The route whose prefix (of group g) is exactly the first `count` bytes of the path
        /// (`path` nil: the prefix "/" for an empty path).
        @inline(__always) func lookup(_ count: Int, _ h: UInt32, _ path: UnsafeRawBufferPointer?) -> Int32? {
            var slot = RouteTable.slot(h, group: g, mask: mask)
            while true {
                let i = Int(prefixSlots[slot])
                if i < 0 { return nil }
                let p = prefixes[i]
                if i >= first && i < end && prefixHashes[i] == h && Int(p.bytes.count) == count {
                    let start = Int(p.bytes.start)
                    var j = 0
                    if let path { while j < count && path[j] == storage[start + j] { j += 1 } } else { j = storage[start] == 0x2F ? 1 : 0 }
                    if j == count { return p.route }
                }
                slot = (slot + 1) & mask
            }
        }
        // An empty path is treated as "/".
        if length == 0 { return lookup(1, RouteTable.slashHash, nil).map(Int.init) }
        var found: Int32 = -1
        var h = RouteTable.fnvOffset
        var k = 0
        while k < length {
            let b = path[k]
            // A prefix without the trailing '/' (the path goes on with '/'), then one ending in '/'.
            if b == 0x2F && k > 0, let r = lookup(k, h, path) { found = r }
            h = (h ^ UInt32(b)) &* RouteTable.fnvPrime
            if b == 0x2F, let r = lookup(k + 1, h, path) { found = r }
            k += 1
        }
        if path[length - 1] != 0x2F, let r = lookup(length, h, path) { found = r } // the whole path
        return found >= 0 ? Int(found) : nil
    }

    private static let slashHash: UInt32 = (fnvOffset ^ 0x2F) &* fnvPrime
    private static let fnvOffset: UInt32 = 2_166_136_261
    private static let fnvPrime: UInt32 = 16_777_619

    /// Case-sensitive FNV-1a (paths are matched as written).
    private static func pathHash(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt32 {
        var h = fnvOffset
        var i = start
        while i < end { h = (h ^ UInt32(bytes[i])) &* fnvPrime; i += 1 }
        return h
    }

    @inline(__always)
    private static func slot(_ h: UInt32, group: Int, mask: Int) -> Int {
        Int((h ^ (UInt32(truncatingIfNeeded: group) &* 0x9E37_79B9)) &* 0x85EB_CA6B >> 7) & mask
    }

    /// The reference rule (tests compare the hashed lookup with it).
    func matchLinear(host: String, path: String) -> Int? {
        let pathBytes = Array(path.utf8)
        let length = pathBytes.firstIndex { $0 == 0x3F || $0 == 0x23 } ?? pathBytes.count
        guard anyHostGroup >= 0, host.isEmpty else { return nil }
        return pathBytes.withUnsafeBytes { matchPrefixLinear(in: groups[Int(anyHostGroup)], path: $0, length: length) }
    }

    private func matchPrefixLinear(in group: Group, path: UnsafeRawBufferPointer, length: Int) -> Int? {
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
