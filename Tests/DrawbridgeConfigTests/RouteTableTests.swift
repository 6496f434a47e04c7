import DrawbridgeHTTP
import Testing
@testable import DrawbridgeConfig

@Suite struct RouteTableTests {
    static let routes: [RouteConfig] = [
        RouteConfig(host: nil, pathPrefix: "/", upstream: "any-root"),                      // 0
        RouteConfig(host: nil, pathPrefix: "/api", upstream: "any-api"),                    // 1
        RouteConfig(host: "*.example.com", pathPrefix: "/", upstream: "wild-root"),         // 2
        RouteConfig(host: "api.example.com", pathPrefix: "/v1/", upstream: "exact-v1"),     // 3
        RouteConfig(host: "api.example.com", pathPrefix: "/v1/admin", upstream: "exact-admin"), // 4
        RouteConfig(host: "*.deep.example.com", pathPrefix: "/", upstream: "wild-deep"),    // 5
        RouteConfig(host: "Static.Example.com", pathPrefix: "/assets", upstream: "static"), // 6
        RouteConfig(host: "*", pathPrefix: "/api/v2", upstream: "any-api-v2"),              // 7
        RouteConfig(host: "[::1]", pathPrefix: "/", upstream: "v6"),                        // 8
    ]
    static let table = RouteTable(routes: routes)

    @Test(arguments: [
        // any host, longest prefix, segment boundary
        ("other.org", "/", 0),
        ("other.org", "/index.html", 0),
        ("other.org", "/api", 1),
        ("other.org", "/api/", 1),
        ("other.org", "/api/x", 1),
        ("other.org", "/apix", 0),
        ("other.org", "/api/v2", 7),
        ("other.org", "/api/v2/items", 7),
        ("other.org", "/api/v20", 1),
        // exact beats wildcard beats any; fall through when the exact host has no matching prefix
        ("api.example.com", "/v1/users", 3),
        ("api.example.com", "/v1/", 3),
        ("api.example.com", "/v1", 3),          // the bare form of "/v1/" is that route's (a redirect), never the wildcard's
        ("api.example.com", "/v1/admin/x", 4),
        ("api.example.com", "/v1/administrator", 3),
        ("api.example.com", "/other", 2),
        ("www.example.com", "/api", 2),         // wildcard beats any-host even with a longer any-host prefix
        ("example.com", "/", 0),                // wildcard needs at least one label
        ("a.b.example.com", "/", 2),
        ("x.deep.example.com", "/", 5),         // longer wildcard suffix wins
        ("deep.example.com", "/", 2),
        ("static.example.com", "/assets/app.js", 6),
        ("static.example.com", "/", 2),
        // Host header details
        ("API.Example.COM", "/v1/x", 3),        // case-insensitive
        ("api.example.com:8443", "/v1/x", 3),   // port ignored
        ("api.example.com.", "/v1/x", 3),       // trailing dot ignored
        ("[::1]:8443", "/", 8),
        ("[0:0::0001]", "/", 8),                 // one IPv6 address, one spelling
        ("127.1", "/", nil),                     // an IPv4 shorthand other parsers read as 127.0.0.1: refused
        ("a..example.com", "/", nil),
        ("", "/api", 1),                         // no host: any-host routes only
        // query and fragment ignored
        ("api.example.com", "/v1/admin?x=/y", 4),
        ("other.org", "/api?x", 1),
        ("other.org", "/apix?/api", 0),
        ("other.org", "?x", 0),                  // empty path counts as "/"
    ] as [(String, String, Int?)])
    func matches(host: String, path: String, expected: Int?) {
        #expect(Self.table.match(host: host, path: path) == expected)
    }

    @Test(arguments: [
        ("api.example.com", "/v1/x"), ("other.org", "/"), ("other.org", "*"), ("x.example.com", "/api"),
    ])
    func noMatchGivesNil(host: String, path: String) {
        let table = RouteTable(routes: [
            RouteConfig(host: "api.example.com", pathPrefix: "/v2", upstream: "a"),
            RouteConfig(host: "*.example.com", pathPrefix: "/static/", upstream: "b"),
            RouteConfig(host: nil, pathPrefix: "/health", upstream: "c"),
        ])
        #expect(table.match(host: host, path: path) == nil)
    }

    @Test func emptyTableMatchesNothing() {
        #expect(RouteTable(routes: []).match(host: "a", path: "/") == nil)
    }

    @Test func manyExactHostsUseTheHashTable() {
        let routes = (0..<200).map { RouteConfig(host: "host\($0).example.net", pathPrefix: "/", upstream: "u") }
        let table = RouteTable(routes: routes)
        for i in stride(from: 0, to: 200, by: 7) {
            #expect(table.match(host: "HOST\(i).example.net:443", path: "/x") == i)
        }
        #expect(table.match(host: "host200.example.net", path: "/") == nil)
    }

    @Test func rawBufferEntryPoint() {
        let host: [UInt8] = Array("api.example.com".utf8)
        let path: [UInt8] = Array("/v1/admin/panel".utf8)
        let result = host.withUnsafeBytes { h in path.withUnsafeBytes { p in Self.table.lookup(host: h, path: p) } }
        #expect(result == .route(4))
    }

    /// A "/…/" prefix owns its bare path in its own host group: with a "/" route beside it, "/admin"
    /// never reaches the "/" route (the gateway redirects to "/admin/").
    @Test(arguments: [
        ("x.org", "/admin", RouteTable.Match.addSlash(1)),
        ("x.org", "/admin/", .route(1)),
        ("x.org", "/admin/x", .route(1)),
        ("x.org", "/adminx", .route(0)),
        ("x.org", "/docs", .route(2)),            // a route for the bare path itself wins
        ("x.org", "/docs/", .route(3)),
        ("x.org", "/a/b", .addSlash(4)),
        ("x.org", "/a", .route(0)),
        ("h.example", "/admin", .addSlash(5)),    // the host's own "/admin/" route, not the any-host one
        ("h.example", "/other", .route(0)),       // falls through: the host has nothing for it
        ("x.org", "/ADMIN", .route(0)),           // case-sensitive upstream: another path
        ("x.org", "/CI", .addSlash(6)),           // case-insensitive upstream: /ci/ owns /CI
        ("x.org", "/Ci/x", .route(6)),
    ])
    func slashFormAndCase(host: String, path: String, expected: RouteTable.Match) {
        let routes = [
            RouteConfig(pathPrefix: "/", upstream: "root"),
            RouteConfig(pathPrefix: "/admin/", upstream: "admin"),
            RouteConfig(pathPrefix: "/docs", upstream: "docs"),
            RouteConfig(pathPrefix: "/docs/", upstream: "docs2"),
            RouteConfig(pathPrefix: "/a/b/", upstream: "ab"),
            RouteConfig(host: "h.example", pathPrefix: "/admin/", upstream: "hadmin"),
            RouteConfig(pathPrefix: "/ci/", upstream: "ci"),
        ]
        let folded = routes.map { $0.upstream == "ci" }
        #expect(RouteTable(routes: routes, caseInsensitive: folded).lookup(host: host, path: path) == expected)
        // The same answers from a group large enough to be looked up by hash.
        let padded = routes + (0..<12).map { RouteConfig(pathPrefix: "/pad\($0)/", upstream: "pad") }
        #expect(RouteTable(routes: padded, caseInsensitive: folded).lookup(host: host, path: path) == expected)
    }
}

/// Large route groups are looked up by hash at the path's segment boundaries; that must give
/// exactly the documented rule's answer, written here as plainly as possible, for every host and
/// path: random tables (seeded, so a failure can be replayed) with exact, wildcard and any-host
/// groups, some larger than the linear limit, some routes case-insensitive.
@Suite struct HashedRouteLookupTests {
    /// SplitMix64: a generator whose output depends only on the seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        init(seed: Int) { state = UInt64(bitPattern: Int64(seed)) &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let segments = ["a", "b", "ab", "api", "v1", "A", "Ab", "x.y", "%2F", ""]
    static let routeHosts: [String?] = [nil, nil, "a.example", "a.example", "*.example", "*.b.example", "[::1]"]
    static let queryHosts = ["a.example", "A.EXAMPLE:443", "x.b.example", "b.example.", "c.example", "other.org", "[0::1]", ""]

    static func randomPath(_ g: inout SeededGenerator, depth: Int) -> String {
        var p = ""
        for _ in 0..<Int.random(in: 1...depth, using: &g) { p += "/" + segments.randomElement(using: &g)! }
        if Bool.random(using: &g) { p += "/" }
        return p
    }

    /// The rule of docs/CONFIGURATION.md, route by route, without the table's indexes.
    static func reference(_ routes: [RouteConfig], _ folded: [Bool], host: String, path: String) -> RouteTable.Match {
        var h = ""
        if !host.isEmpty {
            guard let n = HostName.normalize(host) else { return .none }
            h = n.name
        }
        var p = String(path.prefix { $0 != "?" && $0 != "#" })
        if p.isEmpty { p = "/" }
        func same(_ a: Substring, _ b: Substring, _ fold: Bool) -> Bool { fold ? a.lowercased() == b.lowercased() : a == b }
        func matches(_ i: Int) -> Bool {
            let prefix = Substring(routes[i].pathPrefix)
            guard p.count >= prefix.count, same(p.prefix(prefix.count), prefix, folded[i]) else { return false }
            return p.count == prefix.count || prefix.hasSuffix("/") || p.dropFirst(prefix.count).hasPrefix("/")
        }
        var groups: [[Int]] = []
        let exact = routes.indices.filter { routes[$0].host != nil && !routes[$0].host!.hasPrefix("*.") && routes[$0].host == h }
        groups.append(exact)
        let suffixes = Set(routes.compactMap { $0.host }.filter { $0.hasPrefix("*.") }.map { String($0.dropFirst()) })
        for suffix in suffixes.sorted(by: { $0.count > $1.count }) where !h.isEmpty && h.count > suffix.count && h.hasSuffix(suffix) {
            groups.append(routes.indices.filter { routes[$0].host == "*" + suffix })
        }
        groups.append(routes.indices.filter { routes[$0].host == nil })
        for group in groups {
            let best = group.filter(matches).max { routes[$0].pathPrefix.count < routes[$1].pathPrefix.count }
            if let best, routes[best].pathPrefix.count == p.count { return .route(best) }
            if !p.hasSuffix("/"), let slash = group.first(where: { same(Substring(routes[$0].pathPrefix), Substring(p + "/"), folded[$0]) }) {
                return .addSlash(slash)
            }
            if let best { return .route(best) }
        }
        return .none
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func hashedLookupEqualsTheReferenceRule(seed: Int) {
        var g = SeededGenerator(seed: seed)
        var routes: [RouteConfig] = [], folded: [Bool] = []
        var keys = Set<String>(), foldedKeys: [String: Bool] = [:]
        let count = Int.random(in: 9...300, using: &g)
        while routes.count < count {
            let host = Self.routeHosts.randomElement(using: &g)!
            let prefix = Bool.random(using: &g) && routes.count % 7 == 0 ? "/" : Self.randomPath(&g, depth: 4)
            let fold = Int.random(in: 0..<4, using: &g) == 0
            // As the configuration loader insists: no two routes one prefix, case-folded when either folds.
            let key = "\(host ?? "*") \(prefix)", foldedKey = "\(host ?? "*") \(prefix.lowercased())"
            if keys.contains(key) { continue }
            if let other = foldedKeys[foldedKey], other || fold { continue }
            keys.insert(key)
            foldedKeys[foldedKey] = (foldedKeys[foldedKey] ?? false) || fold
            routes.append(RouteConfig(host: host, pathPrefix: prefix, upstream: "u"))
            folded.append(fold)
        }
        let table = RouteTable(routes: routes, caseInsensitive: folded)
        for _ in 0..<3000 {
            var path = Self.randomPath(&g, depth: 6)
            switch Int.random(in: 0..<6, using: &g) {
            case 0: path += "?q=/a/b"
            case 1: path = ""
            case 2: path = String(path.dropLast())
            default: break
            }
            let host = Self.queryHosts.randomElement(using: &g)!
            #expect(table.lookup(host: host, path: path) == Self.reference(routes, folded, host: host, path: path), "seed \(seed): \(host) \(path)")
        }
    }
}

/// `namesHost`: the hosts routes name (for the plain-HTTP listener), by routing's own matching.
@Suite struct RouteTableNamesHostTests {
    @Test(arguments: [
        ("api.example.com", true), ("static.example.com", true), ("www.example.com", true), // exact, wildcard
        ("a.b.example.com", true), ("x.deep.example.com", true), ("[::1]", true),
        ("example.com", false),   // a wildcard needs a label before its suffix
        ("other.org", false),     // only any-host routes would take it: no route names it
        ("", false),
    ])
    func namesHost(_ host: String, _ named: Bool) {
        let bytes = Array(host.utf8)
        #expect(bytes.withUnsafeBytes { RouteTableTests.table.namesHost($0) } == named)
    }
}
