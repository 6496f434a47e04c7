import DrawbridgeHTTP
import Foundation

/// A validated gateway configuration. Produced by `ConfigLoader`; all file paths are absolute.
public struct GatewayConfig: Sendable {
    /// Worker count; 0 means "one per online CPU" (see `resolvedWorkers`).
    public var workers: Int
    /// HTTPS listeners; never empty.
    public var httpsListen: [ListenAddress]
    /// Plain-HTTP listeners that only redirect to HTTPS; empty = off.
    public var httpRedirectListen: [ListenAddress]
    /// Port to put into redirect URLs; nil = port of the first HTTPS listener (see `resolvedRedirectPort`).
    public var redirectPort: UInt16?
    public var tls: TLSConfig
    public var hsts: HSTSConfig
    public var limits: LimitsConfig
    public var timeouts: TimeoutsConfig
    /// Upstreams by name.
    public var upstreams: [String: UpstreamConfig]
    /// Routes in file order; `routeTable.match` returns indices into this array.
    public var routes: [RouteConfig]
    public var accessLog: LogTarget
    /// The error and event log (`errorLog`, `errorLogLevel`; docs/OPERATIONS.md "Error log").
    public var errorLog: LogTarget = .stderr
    public var errorLogLevel: LogLevel = .info
    /// The main configuration file as the loader was given it, for messages about what it names
    /// (a key that does not match its certificate). Empty for configurations built in code.
    public var file = ""
    /// Identity: nil = no auth section (then every route must be public).
    public var auth: AuthConfig?
    public var organizations: [OrganizationConfig]
    /// Access control (see docs/POLICY.md): roles and groups, sorted by name.
    public var roles: [RoleConfig]
    public var groups: [GroupConfig]
    /// Compiled from `routes`.
    public var routeTable: RouteTable
    /// How request paths are normalised and what they may contain (strict unless widened in `paths`).
    public var pathPolicy = PathPolicy()
    /// Lowercased names of further client request fields never passed upstream (besides the
    /// gateway's X-Drawbridge-* namespace and the built-in identity and method-override names).
    public var stripRequestHeaders: [String] = []
    /// What happens to a request field whose name contains `_` (default: dropped).
    public var underscoreHeaders = UnderscoreHeaders.drop
    /// Scheduled encrypted backups of the state (docs/BACKUP.md); nil = none scheduled.
    public var backup: BackupConfig?
    /// The admin listener (metrics, health); nil = off.
    public var admin: AdminConfig?

    /// Memberwise; `routeTable` is compiled from `routes`. Performs no validation (use `ConfigLoader`).
    public init(workers: Int = 0, httpsListen: [ListenAddress], httpRedirectListen: [ListenAddress] = [],
                redirectPort: UInt16? = nil, tls: TLSConfig, hsts: HSTSConfig = HSTSConfig(),
                limits: LimitsConfig = LimitsConfig(), timeouts: TimeoutsConfig = TimeoutsConfig(),
                upstreams: [String: UpstreamConfig], routes: [RouteConfig], accessLog: LogTarget = .stdout,
                auth: AuthConfig? = nil, organizations: [OrganizationConfig] = [],
                roles: [RoleConfig] = [], groups: [GroupConfig] = []) {
        self.auth = auth
        self.roles = roles
        self.groups = groups
        self.organizations = organizations
        self.workers = workers
        self.httpsListen = httpsListen
        self.httpRedirectListen = httpRedirectListen
        self.redirectPort = redirectPort
        self.tls = tls
        self.hsts = hsts
        self.limits = limits
        self.timeouts = timeouts
        self.upstreams = upstreams
        self.routes = routes
        self.accessLog = accessLog
        self.routeTable = RouteTable(routes: routes, caseInsensitive: routes.map { upstreams[$0.upstream]?.caseInsensitivePaths ?? false })
    }

    /// `workers`, or the number of active processors when `workers` is 0.
    public var resolvedWorkers: Int {
        workers > 0 ? workers : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// `redirectPort`, or the port of the first HTTPS listener.
    public var resolvedRedirectPort: UInt16 {
        redirectPort ?? httpsListen.first?.port ?? 443
    }
}

/// `underscoreHeaders`: request fields whose name contains `_`, which CGI-style upstreams (WSGI,
/// PHP, Rack, many Java containers) merge with the `-` spelling of the same name.
public enum UnderscoreHeaders: String, Sendable, CaseIterable {
    /// Removed before forwarding (nginx `underscores_in_headers off`, Envoy `DROP_HEADER`).
    case drop
    /// Forwarded, except names that read as a field the gateway sets or strips (those are always removed).
    case forward
    /// The request is refused with 400 (Envoy `REJECT_REQUEST`).
    case reject
}

/// How much the error log says: `error` (failures), `warn` (also degradations: servers marked
/// down, limits reached) or `info` (also lifecycle: start, stop, signals, reloads, and TLS
/// handshake failures, which clients cause at will). Ordered: a level includes those before it.
public enum LogLevel: Int, Sendable, Equatable, CaseIterable, Comparable {
    case error, warn, info
    public var name: String { self == .error ? "error" : self == .warn ? "warn" : "info" }
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Where the access log goes.
public enum LogTarget: Sendable, Equatable {
    case stdout
    case stderr
    case off
    /// Absolute path of a file (appended to).
    case file(String)
}

/// An address to listen on: an IPv4 or IPv6 literal and a port.
public struct ListenAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// IPv4 literal (`0.0.0.0`) or IPv6 literal without brackets (`::`).
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// True when `host` is an IPv6 literal.
    public var isIPv6: Bool { host.contains(":") }

    /// `host:port`, with brackets around IPv6 hosts.
    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `"0.0.0.0:8443"`, `"[::]:8443"`, `"127.0.0.1:8443"` or `":8443"` (all IPv4 interfaces).
    /// Throws a `String` reason on failure.
    public init(parsing text: String) throws {
        let (host, port) = try AddressParsing.splitHostPort(text, allowEmptyHost: true)
        if host.isEmpty {
            self.init(host: "0.0.0.0", port: port)
        } else if AddressParsing.isIPv4Literal(host) || AddressParsing.isIPv6Literal(host) {
            self.init(host: host, port: port)
        } else {
            throw AddressError("listen host must be an IPv4 literal or a bracketed IPv6 literal, got \"\(host)\"")
        }
    }
}

/// TLS settings for the HTTPS listeners.
public struct TLSConfig: Sendable {
    /// Never empty; exactly one has `isDefault == true`.
    public var certificates: [CertificateConfig]
    /// Stateless session resumption with rotating ticket keys (default true).
    public var sessionTickets: Bool
    /// Ticket key rotation period, 60...604800 (default 3600).
    public var ticketKeyRotationSeconds: Int

    public init(certificates: [CertificateConfig], sessionTickets: Bool = true, ticketKeyRotationSeconds: Int = 3600) {
        self.certificates = certificates
        self.sessionTickets = sessionTickets
        self.ticketKeyRotationSeconds = ticketKeyRotationSeconds
    }

    /// The certificate used when SNI is absent or matches nothing.
    public var defaultCertificate: CertificateConfig? {
        certificates.first(where: \.isDefault) ?? certificates.first
    }
}

/// One certificate chain and its private key.
public struct CertificateConfig: Sendable, Equatable {
    /// Absolute path of the PEM certificate chain.
    public var certFile: String
    /// Absolute path of the PEM private key.
    public var keyFile: String
    /// Lowercased exact names or `*.example.com` wildcards; empty = take the names from the certificate.
    public var serverNames: [String]
    public var isDefault: Bool

    public init(certFile: String, keyFile: String, serverNames: [String] = [], isDefault: Bool = false) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverNames = serverNames
        self.isDefault = isDefault
    }
}

/// Strict-Transport-Security header settings.
public struct HSTSConfig: Sendable, Equatable {
    public var maxAgeSeconds: Int
    public var includeSubDomains: Bool
    public var preload: Bool

    public init(maxAgeSeconds: Int = 31_536_000, includeSubDomains: Bool = true, preload: Bool = true) {
        self.maxAgeSeconds = maxAgeSeconds
        self.includeSubDomains = includeSubDomains
        self.preload = preload
    }

    /// The header value, e.g. `max-age=31536000; includeSubDomains; preload`.
    public var headerValue: String {
        var value = "max-age=\(maxAgeSeconds)"
        if includeSubDomains { value += "; includeSubDomains" }
        if preload { value += "; preload" }
        return value
    }
}

/// Request-parsing and connection limits. The parsing defaults are DrawbridgeHTTP's own, so there
/// is one place that says what a safe default is.
public struct LimitsConfig: Sendable, Equatable {
    public var maxRequestLineBytes: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    public var maxChunkLineBytes: Int
    public var maxTrailerBytes: Int
    /// 0 = unlimited.
    public var maxRequestBodyBytes: Int64
    public var maxConnectionsPerWorker: Int

    public init(maxRequestLineBytes: Int = HTTPLimits().maxRequestLineBytes,
                maxHeaderBytes: Int = HTTPLimits().maxHeaderBytes,
                maxHeaderCount: Int = HTTPLimits().maxHeaderCount,
                maxChunkLineBytes: Int = HTTPLimits().maxChunkLineBytes,
                maxTrailerBytes: Int = HTTPLimits().maxTrailerBytes,
                maxRequestBodyBytes: Int64 = 0, maxConnectionsPerWorker: Int = 10000) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineBytes = maxChunkLineBytes
        self.maxTrailerBytes = maxTrailerBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxConnectionsPerWorker = maxConnectionsPerWorker
    }

    /// The parsing limits as the HTTP parsers take them.
    public var http: HTTPLimits {
        HTTPLimits(maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes,
                   maxHeaderCount: maxHeaderCount, maxChunkLineBytes: maxChunkLineBytes,
                   maxTrailerBytes: maxTrailerBytes)
    }
}

/// Timeouts in seconds; all > 0.
public struct TimeoutsConfig: Sendable, Equatable {
    /// Until the complete request head has arrived.
    public var clientHeaderSeconds: Double
    /// Max gap between two reads of the request body.
    public var clientBodySeconds: Double
    /// Keep-alive idle time between requests.
    public var clientIdleSeconds: Double
    /// Max gap while the client does not read what we send.
    public var clientSendSeconds: Double
    /// TCP (+TLS) connect to an upstream.
    public var upstreamConnectSeconds: Double
    /// Waiting for the response head, and between reads of the response body.
    public var upstreamResponseSeconds: Double
    /// Graceful stop: how long in-flight requests may finish.
    public var drainSeconds: Double
    /// The longest a tunnel (WebSocket) stays open, however busy.
    public var tunnelLifetimeSeconds: Double

    public init(clientHeaderSeconds: Double = 10, clientBodySeconds: Double = 60, clientIdleSeconds: Double = 60,
                clientSendSeconds: Double = 60, upstreamConnectSeconds: Double = 5,
                upstreamResponseSeconds: Double = 60, drainSeconds: Double = 30, tunnelLifetimeSeconds: Double = 86400) {
        self.clientHeaderSeconds = clientHeaderSeconds
        self.clientBodySeconds = clientBodySeconds
        self.clientIdleSeconds = clientIdleSeconds
        self.clientSendSeconds = clientSendSeconds
        self.upstreamConnectSeconds = upstreamConnectSeconds
        self.upstreamResponseSeconds = upstreamResponseSeconds
        self.drainSeconds = drainSeconds
        self.tunnelLifetimeSeconds = tunnelLifetimeSeconds
    }
}

public enum BalanceStrategy: String, Sendable, CaseIterable {
    case roundRobin = "round_robin"
    case leastConnections = "least_connections"
}

/// One upstream server: an IP literal or a DNS name (resolved by the server at load time) and a port.
public struct UpstreamServer: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// IPv4 literal, IPv6 literal without brackets, or a lowercased host name.
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `"127.0.0.1:9000"`, `"[::1]:9000"` or `"backend.internal:9000"`. Throws on failure.
    public init(parsing text: String) throws {
        let (host, port) = try AddressParsing.splitHostPort(text, allowEmptyHost: false)
        if AddressParsing.isIPv4Literal(host) || AddressParsing.isIPv6Literal(host) {
            self.init(host: host, port: port)
        } else if AddressParsing.isHostName(host) {
            self.init(host: host.lowercased(), port: port)
        } else {
            throw AddressError("invalid host \"\(host)\" (expected an IPv4 literal, a bracketed IPv6 literal or a DNS name)")
        }
    }
}

/// A named group of servers requests can be routed to.
public struct UpstreamConfig: Sendable, Equatable {
    public var name: String
    /// Never empty.
    public var servers: [UpstreamServer]
    /// Speak TLS to the servers (default false).
    public var tls: Bool
    /// Absolute path of a PEM CA bundle to verify the servers; nil = system trust store. Only with `tls`.
    public var caFile: String?
    /// SNI and name to verify; nil = each server's host. Only with `tls`.
    public var serverName: String?
    public var balance: BalanceStrategy
    /// Per-worker keep-alive pool size (0 = no reuse), default 32.
    public var maxIdleConnections: Int
    /// How long a pooled connection may stay idle, default 60.
    public var idleTimeoutSeconds: Double
    /// The upstream treats paths ASCII case-insensitively (IIS, ASP.NET, Express by default): routes
    /// to it match their prefix, and policy its `bind` template, case-folded (default false).
    public var caseInsensitivePaths: Bool
    /// Passive and active health (`maxFails`, `failTimeoutSeconds`, `healthCheck`).
    public var health: UpstreamHealthConfig

    public init(name: String, servers: [UpstreamServer], tls: Bool = false, caFile: String? = nil,
                serverName: String? = nil, balance: BalanceStrategy = .roundRobin,
                maxIdleConnections: Int = 32, idleTimeoutSeconds: Double = 60, caseInsensitivePaths: Bool = false,
                health: UpstreamHealthConfig = UpstreamHealthConfig()) {
        self.health = health
        self.caseInsensitivePaths = caseInsensitivePaths
        self.name = name
        self.servers = servers
        self.tls = tls
        self.caFile = caFile
        self.serverName = serverName
        self.balance = balance
        self.maxIdleConnections = maxIdleConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    /// The name to send as SNI and to verify for `server`.
    public func verifyName(for server: UpstreamServer) -> String {
        serverName ?? server.host
    }
}

/// One routing rule.
public struct RouteConfig: Sendable, Equatable {
    /// nil = any host; otherwise lowercased exact name or `*.example.com` wildcard.
    public var host: String?
    /// Starts with "/"; default "/".
    public var pathPrefix: String
    /// Name of an upstream in `GatewayConfig.upstreams`.
    public var upstream: String
    /// Reachable without a credential. Routes are protected unless they say `public: true`.
    public var isPublic: Bool
    /// Who may use a protected route (see docs/POLICY.md). nil on a protected route = denied to
    /// everyone ("route has no access rule"); always nil on a public route.
    public var access: AccessRule?
    /// A credential for the upstream itself, from the sealed secret store, added to every
    /// request forwarded on this route (the client's own field of that name is removed).
    public var upstreamCredential: UpstreamCredentialConfig?
    /// An OAuth 2.0 client credentials grant for the upstream (`upstreamCredential: { oauth2: {…} }`):
    /// the gateway's access token is sent as `Authorization: Bearer …` (see UpstreamOAuth2Config).
    public var upstreamOAuth2: UpstreamOAuth2Config?
    /// What the upstream learns about the user (`identity: "full" | "pseudonymous"`).
    public var identity: IdentityDisclosure = .full
    /// Override fields (`GatewayFieldNames.overrides`, e.g. `X-Forwarded-Prefix`) this route's
    /// upstream really needs from the client; forwarded as sent. Empty by default (all stripped).
    public var forwardOverrideHeaders: [String] = []

    /// `host` "*" is normalised to nil; other hosts are lowercased.
    public init(host: String? = nil, pathPrefix: String = "/", upstream: String, isPublic: Bool = false,
                access: AccessRule? = nil) {
        self.isPublic = isPublic
        self.access = access
        if let host, host != "*" {
            self.host = host.lowercased()
        } else {
            self.host = nil
        }
        self.pathPrefix = pathPrefix
        self.upstream = upstream
    }
}

/// `upstreamCredential: { header: "Authorization", secret: "billing-token", prefix: "Bearer " }`.
public struct UpstreamCredentialConfig: Sendable, Equatable {
    /// Field name as written (a token); compared case-insensitively.
    public var header: String
    /// Name of a secret in the secrets file; its value is opened in memory only.
    public var secret: String
    /// Text put before the secret ("Bearer ").
    public var prefix: String

    public init(header: String, secret: String, prefix: String = "") {
        self.header = header
        self.secret = secret
        self.prefix = prefix
    }
}

/// Reason a listen or upstream address did not parse.
public struct AddressError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
