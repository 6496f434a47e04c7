/// The upstream a route names, as the decision sees it: which one (its position in the snapshot
/// and its name), nothing of sockets or TLS. The server's `UpstreamTarget` is this handle (a
/// subclass carrying addresses, TLS context and health), read back with one `unsafeDowncast` in
/// `CompiledRoute.upstream`: no existential, no lookup per request.
open class UpstreamHandle: @unchecked Sendable {
    /// Position in its snapshot's upstreams (where each worker keeps its pool for it).
    public let index: Int
    public let name: String

    public init(index: Int, name: String) {
        self.index = index
        self.name = name
    }
}

/// The OAuth 2.0 client whose token a route sends, as the decision sees it: its key on the
/// token board. The server's `UpstreamTokenClient` (secret, token endpoint, fetching) is this
/// handle, read back in `CompiledRoute.tokenClient`.
open class TokenClientHandle: @unchecked Sendable {
    /// The token's key on the `TokenBoard`, unique in the process.
    public let id: Int

    public init(id: Int) { self.id = id }
}
