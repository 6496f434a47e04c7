import COpenSSL
import DrawbridgeConfig
import DrawbridgeHTTP
import DrawbridgePolicy
import DrawbridgeStore

/// One upstream service as the workers use it: resolved addresses, TLS client context, limits.
struct UpstreamTarget {
    let name: String
    let addresses: [SocketAddress]      // one per configured server
    let labels: [[UInt8]]               // "host:port" per server, for the access log
    let tlsContext: OpaquePointer?      // nil: plain
    let serverName: [String]            // SNI and verified host name, per server
    let balance: BalanceStrategy
    let maxIdleConnections: Int
    let idleTimeoutNs: UInt64
}

/// An immutable, validated configuration with everything the request path needs precomputed.
/// Reload builds a new one off the loops; each request keeps the snapshot it started with.
final class Snapshot {
    let config: GatewayConfig
    let generation: Int
    let tls: TLSContexts
    let upstreams: [UpstreamTarget]
    /// Route index → upstream index.
    let routeUpstream: [Int]
    /// "Strict-Transport-Security: ...\r\n", added to every response over TLS.
    let hstsLine: [UInt8]
    let httpLimits: HTTPLimits
    /// How request paths are normalised before routing (strict: encoded slash, backslash and
    /// path parameters rejected; repeated slashes merged).
    let pathPolicy: PathPolicy
    /// Further client fields never passed upstream (`stripRequestHeaders`), lowercased.
    let stripNames: [[UInt8]]
    /// Per route: the upstream credential field ("Name: prefix+secret\r\n") and its lowercased
    /// name (a client field of that name is dropped). Decrypted in memory only, never logged.
    let routeCredentials: [(name: [UInt8], line: [UInt8])?]
    let bufferSize: Int
    let headerTimeoutNs: UInt64, bodyTimeoutNs: UInt64, idleTimeoutNs: UInt64, sendTimeoutNs: UInt64
    let connectTimeoutNs: UInt64, responseTimeoutNs: UInt64
    /// Identity for this snapshot; nil when the configuration has no auth section (all routes public).
    let auth: AuthRuntime?
    /// Who may use each route (compiled RBAC); one pure decision per protected request.
    let policy: PolicySnapshot
    /// The identity assertion keys (the highest id signs) and their JWKS document.
    let assertionKeys: [AssertionKey]
    let jwks: String
    /// Per route: the number of its assertion audience (routes with the same audience share one
    /// signed assertion per session).
    let routeAudience: [Int]
    /// Things that load but are probably mistakes (a role in users.json that no configuration
    /// role defines grants nothing): logged at start and reload, never fatal.
    let warnings: [String]

    /// `previous`: the snapshot this one replaces (its identity state carries over).
    init(config: GatewayConfig, generation: Int, previous: Snapshot? = nil) throws {
        self.config = config
        self.generation = generation
        tls = try TLSContexts(config: config)
        var ups: [UpstreamTarget] = []
        var index: [String: Int] = [:]
        for name in config.upstreams.keys.sorted() {
            let u = config.upstreams[name]!
            var addrs: [SocketAddress] = []
            var labels: [[UInt8]] = []
            var names: [String] = []
            for (i, s) in u.servers.enumerated() {
                guard let a = SocketAddress.resolve(host: s.host, port: s.port).first else {
                    throw TLSSetupError(description: "upstreams.\(name).servers[\(i)]: cannot resolve \(s.host)")
                }
                addrs.append(a)
                labels.append(Array("\(s.host):\(s.port)".utf8))
                names.append(u.serverName ?? s.host)
            }
            index[name] = ups.count
            ups.append(UpstreamTarget(name: name, addresses: addrs, labels: labels,
                                      tlsContext: tls.upstreamClients[name], serverName: names,
                                      balance: u.balance, maxIdleConnections: u.maxIdleConnections,
                                      idleTimeoutNs: Snapshot.ns(u.idleTimeoutSeconds)))
        }
        upstreams = ups
        routeUpstream = config.routes.map { index[$0.upstream] ?? 0 }
        hstsLine = Array("Strict-Transport-Security: \(config.hsts.headerValue)\r\n".utf8)
        let l = config.limits
        httpLimits = l.http
        // A whole head must fit in one buffer, with room for the headers the gateway adds.
        bufferSize = max(16384, l.maxHeaderBytes + 8192)
        let t = config.timeouts
        headerTimeoutNs = Snapshot.ns(t.clientHeaderSeconds)
        bodyTimeoutNs = Snapshot.ns(t.clientBodySeconds)
        idleTimeoutNs = Snapshot.ns(t.clientIdleSeconds)
        sendTimeoutNs = Snapshot.ns(t.clientSendSeconds)
        connectTimeoutNs = Snapshot.ns(t.upstreamConnectSeconds)
        responseTimeoutNs = Snapshot.ns(t.upstreamResponseSeconds)
        var secrets: [String: [UInt8]] = [:]
        var identityData: IdentityData?
        if let a = config.auth {
            // Users, keys and secrets are read with the rest: a bad file rejects the whole reload.
            let data: IdentityData
            do { data = try IdentityStore.load(a) } catch { throw AuthSetupError(description: "\(error)") }
            let spelling = Snapshot.spellingCollisions(config: config, data: data)
            guard spelling.isEmpty else { throw AuthSetupError(description: spelling.joined(separator: "\n")) }
            identityData = data
            auth = try AuthRuntime(config: config, data: data, previous: previous?.auth?.cutoffs, now: unixNow())
            assertionKeys = data.assertionKeys
            secrets = data.secrets
            warnings = Snapshot.undefinedNames(config: config, data: data)
        } else {
            auth = nil
            assertionKeys = []
            warnings = []
        }
        jwks = AssertionSigner.jwks(assertionKeys)
        pathPolicy = config.pathPolicy
        stripNames = config.stripRequestHeaders.map { Array($0.utf8) }
        routeCredentials = try config.routes.enumerated().map { (i, r) in
            guard let c = r.upstreamCredential else { return nil }
            let path = "routes[\(i)].upstreamCredential.secret"
            guard let secret = secrets[c.secret] else {
                throw AuthSetupError(description: "\(path): no secret named \"\(c.secret)\" (drawbridge secret set \(c.secret))")
            }
            // The value becomes a header field: bytes that could end or split it are refused.
            guard !secret.isEmpty, secret.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }) else {
                throw AuthSetupError(description: "\(path): secret \"\(c.secret)\" is not usable in a header field (visible ASCII only)")
            }
            return (Array(c.header.lowercased().utf8), Array("\(c.header): \(c.prefix)".utf8) + secret + Array("\r\n".utf8))
        }
        policy = PolicySnapshot(config: config, users: identityData?.users ?? [])
        var audiences: [String: Int] = [:]
        routeAudience = config.routes.map { r in
            let a = r.access?.audience ?? r.upstream
            if let n = audiences[a] { return n }
            audiences[a] = audiences.count
            return audiences.count - 1
        }
    }

    /// Roles and groups the identity files name but the configuration does not define.
    static func undefinedNames(config: GatewayConfig, data: IdentityData) -> [String] {
        let roles = Set(config.roles.map(\.name)), groups = Set(config.groups.map(\.name))
        var found: [String] = []
        for u in data.users {
            for m in u.memberships {
                for r in m.roles where !roles.contains(r) { found.append("user \(u.email) (org \(m.orgId)): role \"\(r)\" is not defined in roles") }
                for g in m.groups where !groups.contains(g) { found.append("user \(u.email) (org \(m.orgId)): group \"\(g)\" is not defined in groups") }
            }
        }
        for k in data.apiKeys where !k.revoked {
            for r in k.roles where !roles.contains(r) { found.append("api key \(k.keyId): role \"\(r)\" is not defined in roles") }
        }
        guard found.count > 10 else { return found }
        return Array(found.prefix(10)) + ["… and \(found.count - 10) more undefined role or group names"]
    }

    static func ns(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1_000_000_000) }
}
