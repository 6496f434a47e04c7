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
        ("api.example.com", "/v1", 2),          // "/v1/" needs the slash; falls through to the wildcard
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
        ("", "/api", 1),                         // no host: any-host routes only
        // query and fragment ignored
        ("api.example.com", "/v1/admin?x=/y", 4),
        ("other.org", "/api?x", 1),
        ("other.org", "/apix?/api", 0),
        ("other.org", "?x", 0),                  // empty path counts as "/"
    ] as [(String, String, Int)])
    func matches(host: String, path: String, expected: Int) {
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
        let path: [UInt8] = Array("/v1/admin/panel?q=1".utf8)
        let result = host.withUnsafeBytes { h in path.withUnsafeBytes { p in Self.table.match(host: h, path: p) } }
        #expect(result == 4)
    }
}

/// Large route groups are looked up by hash at the path's segment boundaries; that must give
/// exactly the linear longest-prefix scan's answer for every path.
@Suite struct HashedRouteLookupTests {
    static let segments = ["a", "b", "ab", "api", "v1", "A", "x.y", "%2F", ""]

    static func randomPath(_ g: inout SystemRandomNumberGenerator, depth: Int) -> String {
        var p = ""
        for _ in 0..<Int.random(in: 1...depth, using: &g) { p += "/" + segments.randomElement(using: &g)! }
        if Bool.random(using: &g) { p += "/" }
        return p
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func hashedLookupEqualsTheLinearScan(seed: Int) {
        var g = SystemRandomNumberGenerator()
        var prefixes = Set<String>()
        let count = Int.random(in: 9...300, using: &g)
        while prefixes.count < count { prefixes.insert(Self.randomPath(&g, depth: 4)) }
        if Bool.random(using: &g) { prefixes.insert("/") }
        let table = RouteTable(routes: prefixes.sorted().map { RouteConfig(pathPrefix: $0, upstream: "u", isPublic: true) })
        for _ in 0..<3000 {
            var path = Self.randomPath(&g, depth: 6)
            switch Int.random(in: 0..<6, using: &g) {
            case 0: path += "?q=/a/b"
            case 1: path = ""
            case 2: path = String(path.dropLast())
            default: break
            }
            #expect(table.match(host: "", path: path) == table.matchLinear(host: "", path: path), "\(path)")
        }
    }
}
