import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeHTTP

/// The server's side of a route: its upstream target and OAuth 2.0 client, held as the decision
/// module's handles.
extension CompiledRoute {
    /// The upstream target this route names (its `upstreamHandle` is always one: `compile` makes it).
    @inline(__always) var upstream: UpstreamTarget { unsafeDowncast(upstreamHandle, to: UpstreamTarget.self) }

    /// The OAuth 2.0 client whose token this route sends (its `tokenClientHandle`, made by `compile`).
    @inline(__always) var tokenClient: UpstreamTokenClient? {
        tokenClientHandle.map { unsafeDowncast($0, to: UpstreamTokenClient.self) }
    }

    /// Compiles every route of `config` (see the decision module's `compile`) with the server's
    /// upstream targets and OAuth 2.0 clients: those the previous snapshot had (`tokenClients`) are
    /// reused when unchanged, so their token carries over.
    static func compile(_ config: GatewayConfig, upstreams: [UpstreamTarget], byName: [String: Int],
                        secrets: [String: [UInt8]], tokenClients: [UpstreamTokenClient] = []) throws -> [CompiledRoute] {
        var clients = tokenClients
        return try compile(config, upstreams: upstreams, byName: byName, secrets: secrets) { o, path in
            let client = try UpstreamTokenClient.make(o, path: path, secrets: secrets, reuse: clients)
            if !clients.contains(where: { $0 === client }) { clients.append(client) }
            return client
        }
    }
}
