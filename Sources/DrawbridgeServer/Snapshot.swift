import COpenSSL
import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeHTTP
import DrawbridgePolicy
import DrawbridgeProxy
import DrawbridgeStore

/// One upstream service of one snapshot as the workers use it: resolved addresses, TLS client
/// context, limits. A reference: a route holds the very target it names (see `CompiledRoute`), so a
/// request decided under a snapshot can only reach that snapshot's servers, whatever reloads do.
/// The route holds it as its `UpstreamHandle` (index and name: all the decision knows of it).
final class UpstreamTarget: UpstreamHandle, @unchecked Sendable {
    let addresses: [SocketAddress]      // one per configured server
    let labels: [[UInt8]]               // "host:port" per server, for the access log
    let tlsContext: OpaquePointer?      // nil: plain
    let serverName: [String]            // SNI and verified host name, per server
    let balance: BalanceStrategy
    let maxIdleConnections: Int
    let idleTimeoutNs: UInt64
    /// Which servers take requests (passive and active health, shared by the workers).
    let health: UpstreamHealth
    /// The upstream's slot in the workers' counters (`MetricsRegistry`).
    let metricsSlot: Int

    init(index: Int, name: String, addresses: [SocketAddress], labels: [[UInt8]], tlsContext: OpaquePointer?,
         serverName: [String], balance: BalanceStrategy, maxIdleConnections: Int, idleTimeoutNs: UInt64,
         health: UpstreamHealthConfig = UpstreamHealthConfig()) {
        self.health = UpstreamHealth.of(upstream: name, servers: labels.map { String(decoding: $0, as: UTF8.self) }, config: health)
        metricsSlot = MetricsRegistry.shared.upstreamSlot(name)
        self.addresses = addresses
        self.labels = labels
        self.tlsContext = tlsContext
        self.serverName = serverName
        self.balance = balance
        self.maxIdleConnections = maxIdleConnections
        self.idleTimeoutNs = idleTimeoutNs
        super.init(index: index, name: name)
    }
}

/// An immutable, validated configuration with everything the request path needs precomputed.
/// Reload builds a new one off the loops; each request keeps the snapshot it started with.
final class Snapshot {
    let config: GatewayConfig
    let generation: Int
    let tls: TLSContexts
    let upstreams: [UpstreamTarget]
    /// The routes in configuration order (`config.routeTable` matches indices into it), each with
    /// its upstream, its credential, its assertion audience and the fields it never forwards.
    let routes: [CompiledRoute]
    /// What `decide` reads: the route table, the routes, identity and the policy.
    let decision: DecisionTable
    /// The checks a parsed head passes before it is decided on.
    let admission: AdmissionRules
    /// The OAuth 2.0 clients the routes use (each once), for the token fetcher.
    let tokenClients: [UpstreamTokenClient]
    /// "Strict-Transport-Security: ...\r\n", added to every response over TLS.
    let hstsLine: [UInt8]
    let httpLimits: HTTPLimits
    /// How request paths are normalised before routing (strict: encoded slash, backslash and
    /// path parameters rejected; repeated slashes merged).
    let pathPolicy: PathPolicy
    /// What happens to client fields whose name contains `_`.
    let underscoreHeaders: UnderscoreHeaders
    /// "X-Forwarded-Proto: https\r\nX-Forwarded-Port: <public port>\r\n", added to every forwarded request.
    let forwardedProtoAndPort: [UInt8]
    let bufferSize: Int
    /// Every client and upstream timeout of an exchange (the machine derives its one deadline from them).
    let timeouts: ExchangeTimeouts
    /// Identity for this snapshot; nil when the configuration has no auth section (all routes public).
    let auth: AuthRuntime?
    /// Who may use each route (compiled RBAC); one pure decision per protected request.
    let policy: PolicySnapshot
    /// The identity assertion keys (the highest id signs) and their JWKS document.
    let assertionKeys: [AssertionKey]
    let jwks: String
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
            ups.append(UpstreamTarget(index: ups.count, name: name, addresses: addrs, labels: labels,
                                      tlsContext: tls.upstreamClients[name], serverName: names,
                                      balance: u.balance, maxIdleConnections: u.maxIdleConnections,
                                      idleTimeoutNs: Snapshot.ns(u.idleTimeoutSeconds), health: u.health))
        }
        upstreams = ups
        hstsLine = Array("Strict-Transport-Security: \(config.hsts.headerValue)\r\n".utf8)
        let l = config.limits
        httpLimits = l.http
        // A whole head must fit in one buffer, with room for the headers the gateway adds.
        bufferSize = max(16384, l.maxHeaderBytes + 8192)
        let t = config.timeouts
        var timeouts = ExchangeTimeouts(header: Snapshot.ns(t.clientHeaderSeconds), body: Snapshot.ns(t.clientBodySeconds),
                                        idle: Snapshot.ns(t.clientIdleSeconds), send: Snapshot.ns(t.clientSendSeconds),
                                        connect: Snapshot.ns(t.upstreamConnectSeconds), response: Snapshot.ns(t.upstreamResponseSeconds))
        timeouts.tunnel = Snapshot.ns(t.tunnelLifetimeSeconds)
        self.timeouts = timeouts
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
        underscoreHeaders = config.underscoreHeaders
        forwardedProtoAndPort = Array("X-Forwarded-Proto: https\r\nX-Forwarded-Port: \(config.resolvedRedirectPort)\r\n".utf8)
        policy = PolicySnapshot(config: config, users: identityData?.users ?? [])
        routes = try CompiledRoute.compile(config, upstreams: ups, byName: index, secrets: secrets,
                                           tokenClients: previous?.tokenClients ?? [])
        for r in routes { r.metricsSlot = MetricsRegistry.shared.routeSlot(r.label) }
        var clients: [UpstreamTokenClient] = []
        for c in routes.compactMap(\.tokenClient) where !clients.contains(where: { $0 === c }) { clients.append(c) }
        tokenClients = clients
        admission = AdmissionRules(pathPolicy: config.pathPolicy, underscoreHeaders: config.underscoreHeaders,
                                   maxRequestBodyBytes: config.limits.maxRequestBodyBytes)
        decision = DecisionTable(routeTable: config.routeTable, routes: routes, auth: auth, policy: policy)
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
