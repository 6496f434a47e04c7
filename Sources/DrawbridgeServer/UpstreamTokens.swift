import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeOIDC
import Synchronization

/// One OAuth 2.0 client (client credentials grant) that routes use to authenticate to their
/// upstream, with its secret opened in memory. Routes with the same client share one object and
/// so one token; a reload that keeps the client (same settings and secret) keeps the object, and
/// with it the token already fetched.
/// A route holds it as its `TokenClientHandle` (the decision module knows no OAuth 2.0 client).
final class UpstreamTokenClient: TokenClientHandle, @unchecked Sendable {
    let config: UpstreamOAuth2Config
    let secret: String
    /// For logs: never the secret.
    let label: String

    private static let ids = Atomic<Int>(0)

    init(config: UpstreamOAuth2Config, secret: String) {
        self.config = config
        self.secret = secret
        label = "client \"\(config.clientId)\" at \(config.tokenEndpoint)"
        super.init(id: Self.ids.add(1, ordering: .relaxed).newValue)
    }

    var request: ClientCredentials.Client {
        ClientCredentials.Client(tokenEndpoint: config.tokenEndpoint, clientId: config.clientId, clientSecret: secret,
                                 method: config.authMethod == .clientSecretPost ? .post : .basic,
                                 scope: config.scope, audience: config.audience, caFile: config.caFile)
    }

    /// The client for `config`: the previous snapshot's when nothing changed, else a new one.
    /// Throws (naming the field) when the secret is missing or the endpoint cannot be used.
    static func make(_ config: UpstreamOAuth2Config, path: String, secrets: [String: [UInt8]],
                     reuse: [UpstreamTokenClient]) throws -> UpstreamTokenClient {
        guard let bytes = secrets[config.clientSecret] else {
            throw AuthSetupError(description: "\(path).clientSecret: no secret named \"\(config.clientSecret)\" (drawbridge secret set \(config.clientSecret))")
        }
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw AuthSetupError(description: "\(path).clientSecret: secret \"\(config.clientSecret)\" is not printable ASCII")
        }
        if let problem = ClientCredentials.urlProblem(config.tokenEndpoint) {
            throw AuthSetupError(description: "\(path).tokenEndpoint: \(problem)")
        }
        let secret = String(decoding: bytes, as: UTF8.self)
        if let same = reuse.first(where: { $0.config == config && $0.secret == secret }) { return same }
        return UpstreamTokenClient(config: config, secret: secret)
    }
}

/// Every client's token as the fetcher last published it. Immutable; workers read the newest
/// one without a lock (`Published`).
final class TokenBoard: PublishedValue, @unchecked Sendable {
    struct Entry {
        /// "Authorization: Bearer <token>\r\n", nil before the first token.
        let line: [UInt8]?
        /// Monotonic ns until which the token may be sent (a margin before it expires).
        let usableUntil: UInt64
        /// Monotonic ns of the next fetch attempt when there is no usable token (for Retry-After).
        let retryAt: UInt64
    }
    let generation: UInt64
    let entries: [Int: Entry]

    init(generation: UInt64, entries: [Int: Entry]) {
        self.generation = generation
        self.entries = entries
    }

    static let empty = TokenBoard(generation: 0, entries: [:])
}

/// What a request forwarded on a route carries for its upstream.
enum UpstreamCredentialLine {
    /// The credential field to add (nil: the route has none).
    case line([UInt8]?)
    /// The route's OAuth 2.0 token is not available: 502 with Retry-After (seconds).
    case unavailable(retryAfter: UInt64)
}

/// A worker's view of the published tokens: one atomic load per request on an OAuth 2.0 route,
/// the board adopted when it changed. Never blocks; the fetching is the fetcher thread's.
struct UpstreamTokenReader {
    private let published: Published<TokenBoard>
    private let reader: Int
    private var board: TokenBoard
    private var address: UInt

    init(_ published: Published<TokenBoard>?, reader: Int) {
        self.published = published ?? Published(TokenBoard.empty, readers: reader + 1)
        self.reader = reader
        address = self.published.currentAddress()
        board = self.published.adopt(address)
        self.published.announce(reader: reader, generation: board.generation)
    }

    /// The route's credential field now: its static one, its current token, or why there is none.
    mutating func credential(for route: CompiledRoute, now: UInt64) -> UpstreamCredentialLine {
        guard let client = route.tokenClient else { return .line(route.credentialLine) }
        refresh()
        guard let e = board.entries[client.id] else { return .unavailable(retryAfter: 1) } // first fetch under way
        if let line = e.line, now < e.usableUntil { return .line(line) }
        return .unavailable(retryAfter: e.retryAt > now ? max(1, (e.retryAt - now + 999_999_999) / 1_000_000_000) : 1)
    }

    /// Adopts a newly published board; also once per loop iteration, so an idle worker does not
    /// keep old boards alive.
    @inline(__always) mutating func refresh() {
        let a = published.currentAddress()
        if a != address { adopt(a) }
    }

    @inline(never) private mutating func adopt(_ a: UInt) {
        board = published.adopt(a)
        address = a
        published.announce(reader: reader, generation: board.generation)
    }

    func retire() { published.retire(reader: reader) }
}

/// The answer when a route's token endpoint has not given a token: the client may retry.
enum UpstreamTokenUnavailable {
    static let text = "The gateway could not obtain its credential for the service behind this address. Try again later."

    /// Negotiated like every gateway error (`GatewayResponse`), with Retry-After.
    static func response(retryAfter: UInt64, json: Bool) -> LocalResponse {
        var r = json ? LocalResponse.jsonError(502, "bad_gateway", message: text)
                     : .html(502, LoginPages.message("502 Bad Gateway", text, link: nil))
        r.headers.append(("Retry-After", String(retryAfter)))
        return r
    }
}
