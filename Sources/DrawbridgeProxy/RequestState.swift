import DrawbridgeHTTP

/// The timeouts one exchange runs under (from the snapshot its current request started with).
public struct ExchangeTimeouts: Sendable, Equatable {
    public var header: UInt64, body: UInt64, idle: UInt64, send: UInt64, connect: UInt64, response: UInt64
    /// Lingering close: how long unread client bytes are read and discarded after the last response.
    public var linger: UInt64 = 2_000_000_000
    /// How long a gateway endpoint's job (password hashing, an OIDC issuer) may take.
    public var job: UInt64 = 30_000_000_000
    /// The longest a tunnel stays open, however busy (`timeouts.tunnelLifetimeSeconds`).
    public var tunnel: UInt64 = 86_400_000_000_000

    public init(header: UInt64, body: UInt64, idle: UInt64, send: UInt64, connect: UInt64, response: UInt64) {
        (self.header, self.body, self.idle, self.send, self.connect, self.response) = (header, body, idle, send, connect, response)
    }
}

/// Where the request body is. `isActive`: bytes of it are still to come from the client.
public enum RequestBody: Sendable, Equatable {
    case none
    case length(remaining: UInt64)
    /// Chunked: `received` data bytes so far (the body limit holds for chunked bodies too).
    case chunked(received: UInt64)
    case done

    @inline(__always) public var isActive: Bool {
        switch self {
        case .length, .chunked: return true
        case .none, .done: return false
        }
    }
}

/// Where the upstream's response is.
public enum ResponseBody: Sendable, Equatable {
    case awaitingHead, length(remaining: UInt64), chunked, untilClose, done
}

/// What the machine needs of a request head (an HTTP/2 stream can yield the same).
public struct RequestSummary: Sendable, Equatable {
    public var framing: BodyFraming
    public var keepAlive: Bool
    public var expectContinue: Bool
    public var isHEAD: Bool
    public var http10: Bool
    public var webSocketUpgrade: Bool
    /// GET, HEAD, OPTIONS, PUT, DELETE (RFC 9110 §9.2.2): may be sent again after a failure.
    public var idempotent: Bool

    public init(framing: BodyFraming, keepAlive: Bool = true, expectContinue: Bool = false, isHEAD: Bool = false,
                http10: Bool = false, webSocketUpgrade: Bool = false, idempotent: Bool = true) {
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue
        self.isHEAD = isHEAD
        self.http10 = http10
        self.webSocketUpgrade = webSocketUpgrade
        self.idempotent = idempotent
    }

    public init(_ head: RequestHead) {
        self.init(framing: head.framing, keepAlive: head.keepAlive, expectContinue: head.expectContinue, isHEAD: head.isHEAD,
                  http10: head.version == .http10, webSocketUpgrade: head.isWebSocketUpgrade, idempotent: head.isIdempotent)
    }
}

/// Everything about one request on a connection. Replaced whole when the next request starts
/// (never reset field by field), so nothing of one request leaks into the next.
public struct RequestState: Sendable, Equatable {
    public let summary: RequestSummary
    public internal(set) var body: RequestBody
    public internal(set) var response: ResponseBody = .done
    /// The connection stays open after this exchange.
    public internal(set) var keepAlive: Bool
    /// The one retry (another server, or a fresh connection instead of a stale pooled one) is used.
    public internal(set) var retried = false
    /// The response head went to the client: from here a failure can only cut the connection.
    public internal(set) var responseStarted = false
    /// A byte of the upstream's response arrived (an interim one included): never retried after.
    public internal(set) var upstreamAnswered = false
    /// Interim (1xx) responses dropped so far (bounded: `ClientExchange.maxInterimResponses`).
    public internal(set) var interimResponses = 0
    /// The upstream's final head allows its connection to carry another request once the
    /// response is complete (keep-alive, framing exact, no body announced and not sent).
    public internal(set) var upstreamReusable = false
    /// The client gets chunked framing (a chunked or close-delimited upstream body, HTTP/1.1).
    public internal(set) var chunkToClient = false
    /// The upstream connection is still connecting or handshaking (the connect timeout runs).
    public internal(set) var upstreamConnecting = false
    // For the access log.
    public internal(set) var status = 0
    public var bytesSent: UInt64 = 0
    public var logged = false
    public let started: UInt64
    public internal(set) var upstreamStart: UInt64 = 0
    public internal(set) var upstreamHeadAt: UInt64 = 0
    /// When the request body was complete (the response timeout runs from then).
    public internal(set) var bodyDoneAt: UInt64 = 0

    @inline(__always) init(_ summary: RequestSummary, keepAlive: Bool, started: UInt64) {
        self.summary = summary
        self.keepAlive = keepAlive
        self.started = started
        switch summary.framing {
        case .none: body = .none
        case .contentLength(let n): body = n == 0 ? .done : .length(remaining: n)
        case .chunked: body = .chunked(received: 0)
        }
    }

    /// A head that did not parse (or never came): answered and the connection closed.
    static func unparsed(started: UInt64) -> RequestState {
        RequestState(RequestSummary(framing: .none, keepAlive: false), keepAlive: false, started: started)
    }
}
