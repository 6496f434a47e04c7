import DrawbridgeHTTP

/// Routes compiled for allocation-free matching on the request hot path.
///
/// Matching rule: the candidate host groups are tried from most to least specific — the exact host,
/// then wildcard hosts (`*.example.com`, longest suffix first), then the any-host routes — and within
/// the first group that decides the path, the longest matching prefix wins.
/// A group whose prefixes do not match the path falls through to the next, less specific group.
///
/// A prefix ending in `/` also owns the path without that slash: with a route `/admin/`, the path
/// `/admin` is that route's (`Match.addSlash`: the gateway redirects to `/admin/`, as nginx does),
/// unless the group has a route for `/admin` itself. So the bare path can never fall through to a
/// less protected route (`/`) and reach an app that serves its admin index there.
///
/// A route whose upstream declares `caseInsensitivePaths` matches its prefix ASCII case-folded
/// (`/ADMIN` and `/Admin` are its `/admin`): such an upstream serves them all as one resource.
///
/// Immutable, and a class so that reaching it through a snapshot costs one reference, not a copy
/// of every table.
public final class RouteTable: Sendable {
    /// The routes this table was built from; matches are indices into this array.
    public let routes: [RouteConfig]

    /// What decides a path.
    public enum Match: Equatable, Sendable {
        /// The route at this index.
        case route(Int)
        /// The path is the route's prefix without its trailing `/`: answer with a redirect to the slash form.
        case addSlash(Int)
        /// No route: 404.
        case none

        /// The index of the route that decides, or nil.
        public var route: Int? {
            switch self {
            case .route(let r), .addSlash(let r): return r
            case .none: return nil
            }
        }
    }

    private struct Span: Sendable {
        var start: Int32
        var count: Int32
    }

    private struct Prefix: Sendable {
        var bytes: Span
        var route: Int32
        /// Compared ASCII case-folded (its bytes are stored lowercased).
        var folded: Bool
    }

    private struct Group: Sendable {
        /// Lowercased exact host, or the wildcard suffix including its leading dot (".example.com").
        var key: Span
        /// Range in `prefixes`, sorted longest first.
        var prefixStart: Int32
        var prefixCount: Int32
        /// Some prefixes are compared as written / case-folded.
        var hasExact: Bool
        var hasFolded: Bool
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
    /// Per prefix: its hash (FNV-1a of the stored bytes, so case-folded for folded prefixes);
    /// per group: whether it is hashed.
    private let prefixHashes: [UInt32]
    private let hashedGroups: [Bool]
    /// Groups with at most this many prefixes are scanned; larger ones are looked up per segment
    /// boundary of the path (a handful of probes instead of one comparison per route).
    static let linearLimit = 8

    /// Builds the table. `routes` should be validated (no duplicate host + prefix); if there are
    /// duplicates anyway, the first one wins. `caseInsensitive[i]`: route i matches case-folded
    /// (missing entries: false).
    public init(routes: [RouteConfig], caseInsensitive: [Bool] = []) {
        self.routes = routes
        func folds(_ i: Int) -> Bool { i < caseInsensitive.count && caseInsensitive[i] }

        enum HostKind: Hashable { case exact(String), wildcard(String), any }
        var order: [HostKind] = []
        var members: [HostKind: [Int]] = [:]
        for (index, route) in routes.enumerated() {
            let kind: HostKind
            if let host = route.host?.lowercased(), host != "*" {
                kind = host.hasPrefix("*.") ? .wildcard(String(host.dropFirst(1))) : .exact(HostName.normalize(host)?.name ?? host)
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
        func key(_ i: Int) -> String { folds(i) ? routes[i].pathPrefix.lowercased() : routes[i].pathPrefix }
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
                .filter { seen.insert((folds($0) ? "i" : "s") + key($0)).inserted }
                .enumerated()
                .sorted { a, b in
                    let la = routes[a.element].pathPrefix.utf8.count, lb = routes[b.element].pathPrefix.utf8.count
                    return la != lb ? la > lb : a.offset < b.offset
                }
                .map(\.element)
            let groupIndex = Int32(groups.count)
            let prefixStart = Int32(prefixes.count)
            for routeIndex in sorted {
                prefixes.append(Prefix(bytes: store(Array(key(routeIndex).utf8)), route: Int32(routeIndex), folded: folds(routeIndex)))
            }
            groups.append(Group(key: store(keyBytes), prefixStart: prefixStart, prefixCount: Int32(sorted.count),
                                hasExact: sorted.contains { !folds($0) }, hasFolded: sorted.contains { folds($0) }))
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

    /// The route that decides `path` on `host`.
    /// - Parameters:
    ///   - host: the routing host in `HostName` normal form (lowercase, no port, no trailing dot);
    ///     empty: only the any-host routes are candidates.
    ///   - path: the normalised path (`PathNormalizer`), without the query; empty counts as "/".
    /// A prefix matches on a segment boundary: "/api" matches "/api", "/api/", "/api/x", but not
    /// "/apix"; "/" matches every path; a prefix ending in "/" matches paths that start with it, and
    /// owns the path equal to it without the slash (`addSlash`).
    public func lookup(host: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Match {
        if host.count > 0 {
            let exact = exactGroup(host)
            if exact >= 0 {
                let m = matchPrefix(in: exact, path: path)
                if m != .none { return m }
            }
            for g in wildcardGroups where wildcardMatches(Int(g), host) {
                let m = matchPrefix(in: Int(g), path: path)
                if m != .none { return m }
            }
        }
        if anyHostGroup >= 0 {
            return matchPrefix(in: Int(anyHostGroup), path: path)
        }
        return .none
    }

    /// Whether a route names `host` (`HostName` normal form): an exact route host, or a wildcard
    /// one the host falls under, as `lookup` matches them. Any-host routes name no host.
    public func namesHost(_ host: UnsafeRawBufferPointer) -> Bool {
        guard host.count > 0 else { return false }
        return exactGroup(host) >= 0 || wildcardGroups.contains { wildcardMatches(Int($0), host) }
    }

    /// The exact-host group of `host`, or -1.
    @inline(__always)
    private func exactGroup(_ host: UnsafeRawBufferPointer) -> Int {
        guard !exactSlots.isEmpty else { return -1 }
        let hostLength = host.count
        let mask = exactSlots.count - 1
        var slot = Int(RouteTable.hash(host, 0, hostLength)) & mask
        while true {
            let g = exactSlots[slot]
            if g < 0 { return -1 }
            let group = groups[Int(g)]
            if Int(group.key.count) == hostLength && equalsStored(host, 0, group.key) { return Int(g) }
            slot = (slot + 1) & mask
        }
    }

    /// `host` ends with wildcard group `g`'s suffix (".example.com") and has a label before it.
    @inline(__always)
    private func wildcardMatches(_ g: Int, _ host: UnsafeRawBufferPointer) -> Bool {
        let key = groups[g].key
        let suffixLength = Int(key.count)
        return host.count > suffixLength && equalsStored(host, host.count - suffixLength, key)
    }

    private func matchPrefix(in g: Int, path: UnsafeRawBufferPointer) -> Match {
        if path.isEmpty {
            let root: StaticString = "/"
            return matchPrefix(in: g, path: UnsafeRawBufferPointer(start: root.utf8Start, count: 1))
        }
        return hashedGroups[g] ? matchPrefixHashed(in: g, path: path) : matchPrefixLinear(in: groups[g], path: path)
    }

    /// Prefix `p` equals the first `count` bytes of the path, with one '/' appended to the path
    /// when `count` is one more than its length.
    @inline(__always)
    private func prefixEquals(_ p: Prefix, _ path: UnsafeRawBufferPointer, _ count: Int) -> Bool {
        guard Int(p.bytes.count) == count else { return false }
        let start = Int(p.bytes.start)
        let compared = min(count, path.count)
        var j = 0
        if p.folded {
            while j < compared && ASCII.lower(path[j]) == storage[start + j] { j += 1 }
        } else {
            while j < compared && path[j] == storage[start + j] { j += 1 }
        }
        if j == count { return true }
        return j == path.count && count == path.count + 1 && storage[start + j] == 0x2F
    }

    private func matchPrefixLinear(in group: Group, path: UnsafeRawBufferPointer) -> Match {
        let length = path.count
        let bare = path[length - 1] != 0x2F // "/admin" may be the bare form of a "/admin/" prefix
        var slashRoute: Int32 = -1
        var i = Int(group.prefixStart)
        let end = i + Int(group.prefixCount)
        while i < end {
            let prefix = prefixes[i]
            let count = Int(prefix.bytes.count)
            if count == length + 1 {
                if bare && slashRoute < 0 && prefixEquals(prefix, path, count) { slashRoute = prefix.route }
            } else if count <= length && prefixEquals(prefix, path, count)
                        && (count == length || storage[Int(prefix.bytes.start) + count - 1] == 0x2F || path[count] == 0x2F) {
                // A shorter route must not take the bare form of a longer "/…/" prefix of this group.
                if slashRoute >= 0 && count < length { return .addSlash(Int(slashRoute)) }
                return .route(Int(prefix.route))
            }
            i += 1
        }
        return slashRoute >= 0 ? .addSlash(Int(slashRoute)) : .none
    }

    /// The same answer as the linear scan: a prefix can only match at a segment boundary of the
    /// path (it ends just before a '/', just after one, or at the end of the path), so those
    /// lengths are looked up, shortest first, and the last (longest) found wins; then the bare
    /// path's slash form.
    private func matchPrefixHashed(in g: Int, path: UnsafeRawBufferPointer) -> Match {
        let group = groups[g]
        let mask = prefixSlots.count - 1
        let first = Int(group.prefixStart), end = first + Int(group.prefixCount)
        /// The prefix of group g that is exactly the first `count` bytes of the path (plus '/').
        @inline(__always) func lookup(_ count: Int, _ h: UInt32, folded: Bool) -> Int32 {
            var slot = RouteTable.slot(h, group: g, mask: mask)
            while true {
                let i = Int(prefixSlots[slot])
                if i < 0 { return -1 }
                let p = prefixes[i]
                if i >= first && i < end && prefixHashes[i] == h && p.folded == folded && prefixEquals(p, path, count) { return p.route }
                slot = (slot + 1) & mask
            }
        }
        @inline(__always) func probe(_ count: Int, _ h: UInt32, _ hf: UInt32) -> Int32 {
            if group.hasExact { let r = lookup(count, h, folded: false); if r >= 0 { return r } }
            if group.hasFolded { return lookup(count, hf, folded: true) }
            return -1
        }
        let length = path.count
        var found: Int32 = -1
        var h = RouteTable.fnvOffset, hf = RouteTable.fnvOffset
        var k = 0
        while k < length {
            let b = path[k]
            // A prefix without the trailing '/' (the path goes on with '/'), then one ending in '/'.
            if b == 0x2F && k > 0 { let r = probe(k, h, hf); if r >= 0 { found = r } }
            h = (h ^ UInt32(b)) &* RouteTable.fnvPrime
            if group.hasFolded { hf = (hf ^ UInt32(ASCII.lower(b))) &* RouteTable.fnvPrime }
            if b == 0x2F { let r = probe(k + 1, h, hf); if r >= 0 { found = r } }
            k += 1
        }
        if path[length - 1] != 0x2F {
            let r = probe(length, h, hf) // the whole path
            if r >= 0 { return .route(Int(r)) }
            // The bare form of a "/…/" prefix belongs to that prefix's route.
            let slash = probe(length + 1, (h ^ 0x2F) &* RouteTable.fnvPrime, (hf ^ 0x2F) &* RouteTable.fnvPrime)
            if slash >= 0 { return .addSlash(Int(slash)) }
        }
        return found >= 0 ? .route(Int(found)) : .none
    }

    private static let fnvOffset: UInt32 = 2_166_136_261
    private static let fnvPrime: UInt32 = 16_777_619

    /// FNV-1a of the bytes as they are (folded prefixes are stored lowercased).
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

    /// Compares `bytes[from ..< from + key.count]` (already lowercase) with the stored key.
    private func equalsStored(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ key: Span) -> Bool {
        let start = Int(key.start)
        var j = 0
        while j < Int(key.count) {
            if bytes[from + j] != storage[start + j] { return false }
            j += 1
        }
        return true
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        var i = start
        while i < end {
            h = (h ^ UInt32(bytes[i])) &* 16_777_619
            i += 1
        }
        return h
    }

    private static func hash(lowercased bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { hash($0, 0, $0.count) }
    }

    // MARK: - Convenience (not for the hot path)

    /// `lookup` for a Host as sent (normalised here: case, port and trailing dot ignored; an
    /// invalid host matches nothing) and a target (the query and fragment are ignored). Allocates;
    /// for tests and tools.
    public func lookup(host: String, path: String) -> Match {
        var name: [UInt8] = []
        if !host.isEmpty {
            var hostBytes = Array(host.utf8)
            guard hostBytes.withUnsafeMutableBytes({ HostName.normalize(UnsafeRawBufferPointer($0), into: &name) }) != nil else { return .none }
        }
        let pathBytes = Array(path.utf8.prefix { $0 != 0x3F && $0 != 0x23 })
        return name.withUnsafeBytes { h in pathBytes.withUnsafeBytes { p in lookup(host: h, path: p) } }
    }

    /// The index of the route that decides (`lookup(host:path:).route`).
    public func match(host: String, path: String) -> Int? {
        lookup(host: host, path: path).route
    }
}
