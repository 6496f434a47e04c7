import CLinux
import COpenSSL
import DrawbridgeDecision
import DrawbridgeHTTP
import DrawbridgePolicy

/// One worker's counters: a fixed block of 64-bit words only its own thread writes (a relaxed
/// load and store: no lock, no locked instruction), summed over the workers when scraped.
/// Labels are slots fixed at configuration load (`MetricsRegistry`): route, upstream, method
/// class, status class, auth mode, outcome — never a user, key, address or path.
final class WorkerMetrics {
    /// Counting only when the admin listener is configured (read once, at start).
    let enabled: Bool
    let words: UnsafeMutablePointer<UInt64>

    init() {
        enabled = MetricsRegistry.shared.enabled
        words = .allocate(capacity: Layout.total)
        words.initialize(repeating: 0, count: Layout.total)
        MetricsRegistry.shared.add(self)
    }

    @inline(__always) private func bump(_ i: Int, _ v: UInt64 = 1) { CLinux_relaxed_bump(words + i, v) }

    /// A request is finished (where its access-log line is written).
    @inline(__always)
    func requestDone(route: CompiledRoute?, identity: RequestIdentity?, request: RequestView, status: Int,
                     durationNs: UInt64, upstreamNs: UInt64?) {
        guard enabled else { return }
        let auth: Int
        switch identity {
        case .user?: auth = 2
        case .apiKey?: auth = 3
        case nil: auth = route?.isPublic == true ? 1 : 0
        }
        let statusClass = status >= 100 && status < 600 ? status / 100 - 1 : 5
        let r = Layout.route(route?.metricsSlot ?? 0)
        bump(r + Layout.requestIndex(auth: auth, read: Self.isRead(request), statusClass: statusClass))
        observe(r + Layout.routeHistogram, durationNs)
        if let upstreamNs, let route {
            observe(Layout.upstream(route.upstream.metricsSlot) + Layout.upstreamHistogram, upstreamNs)
        }
    }

    @inline(__always) private func observe(_ h: Int, _ ns: UInt64) {
        bump(h + Layout.bucket(ns))
        bump(h + Layout.buckets, ns)
    }

    /// GET, HEAD and OPTIONS are the "read" method class; everything else "write".
    /// Reads the head in place (no copy of it per request).
    @inline(__always) static func isRead(_ request: RequestView) -> Bool {
        let m = request.head.method
        guard m.lowerBound < request.head.bytes.count else { return true }
        switch (request.head.bytes[m.lowerBound], m.count) {
        case (UInt8(ascii: "G"), 3), (UInt8(ascii: "H"), 4), (UInt8(ascii: "O"), 7): return true
        default: return false
        }
    }

    /// A client TLS handshake ended (`ok`: completed).
    func handshake(_ ssl: OpaquePointer?, ok: Bool) {
        guard enabled else { return }
        let v: Int
        // Before the server chose a cipher no version was agreed (SSL_version then reports the highest enabled).
        let agreed = ssl.map { ok || SSL_get_current_cipher($0) != nil } ?? false
        switch agreed ? SSL_version(ssl) : 0 {
        case TLS1_3_VERSION: v = 0
        case TLS1_2_VERSION: v = 1
        default: v = 2
        }
        bump(Layout.tls + v * 2 + (ok ? 0 : 1))
    }

    /// The outcome of `decide` on a protected route (a public route's forward, a gateway
    /// endpoint, no route: no decision). Called where the caller writes the audit record.
    @inline(__always) func decided(_ verdict: Verdict) {
        guard enabled else { return }
        switch verdict {
        case .forward(let p): if p.identity != nil { decision(p.audit?.viaOwnerOverride == true ? .ownerOverride : .allowed) }
        case .unauthenticated(_, nil): decision(.missingCredential)
        case .unauthenticated(_, let r?): rejected(kind: r.kind)
        case .denied(let r): denied(r.denial.reason)
        case .gatewayEndpoint, .addSlash, .notFound: break
        }
    }

    /// An access decision on a protected route.
    func decision(_ reason: DecisionReason) {
        guard enabled else { return }
        bump(Layout.decisions + reason.rawValue)
    }

    func denied(_ reason: DenyReason) { decision(DecisionReason(reason)) }

    func rejected(kind: String) { decision(kind == "session" ? .invalidSession : kind == "api_key" ? .invalidAPIKey : .invalidCredential) }

    /// Once per loop iteration: the connections the worker holds.
    @inline(__always) func clients(_ n: Int) {
        guard enabled else { return }
        CLinux_relaxed_store(words + Layout.clients, UInt64(n))
    }

    @inline(__always) func upstreamOpened(_ target: UpstreamTarget) {
        guard enabled else { return }
        bump(Layout.upstream(target.metricsSlot) + Layout.upstreamOpened)
    }

    @inline(__always) func upstreamClosed(_ target: UpstreamTarget) {
        guard enabled else { return }
        bump(Layout.upstream(target.metricsSlot) + Layout.upstreamClosed)
    }

    func read(_ i: Int) -> UInt64 { CLinux_relaxed_load(words + i) }
}

/// Why a protected request was allowed or refused: a fixed set, so a label value.
enum DecisionReason: Int, CaseIterable {
    case allowed, ownerOverride
    case unknownRoute, refusedMethod, noCredential, noAccessRule, credentialNotAccepted, methodOverrideInQuery,
         methodNotAllowed, templateMismatch, wrongOrganization, notGroupMember, apiKeyHasNoGroups, notOwner,
         targetOutsideOrganization, missingPermission, mfaRequired
    case missingCredential, invalidSession, invalidAPIKey, invalidCredential

    init(_ r: DenyReason) {
        switch r {
        case .unknownRoute: self = .unknownRoute
        case .refusedMethod: self = .refusedMethod
        case .noCredential: self = .noCredential
        case .noAccessRule: self = .noAccessRule
        case .credentialNotAccepted: self = .credentialNotAccepted
        case .methodOverrideInQuery: self = .methodOverrideInQuery
        case .methodNotAllowed: self = .methodNotAllowed
        case .templateMismatch: self = .templateMismatch
        case .wrongOrganization: self = .wrongOrganization
        case .notGroupMember: self = .notGroupMember
        case .apiKeyHasNoGroups: self = .apiKeyHasNoGroups
        case .notOwner: self = .notOwner
        case .targetOutsideOrganization: self = .targetOutsideOrganization
        case .missingPermission: self = .missingPermission
        case .mfaRequired: self = .mfaRequired
        }
    }

    var outcome: String {
        switch self {
        case .allowed, .ownerOverride: return "allow"
        case .missingCredential, .invalidSession, .invalidAPIKey, .invalidCredential: return "unauthenticated"
        default: return "deny"
        }
    }

    /// snake_case label value.
    var label: String {
        var out = ""
        for c in "\(self)" {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out.replacingOccurrences(of: "a_p_i", with: "api")
    }
}

/// Where each counter lives in a worker's block of words.
enum Layout {
    static let maxRoutes = 128, maxUpstreams = 64
    static let authModes = ["none", "public", "session", "api_key"]
    static let methodClasses = ["read", "write"]
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"]
    /// Upper bounds in seconds (Prometheus' defaults, with 1 ms and 2.5 ms for a gateway).
    static let bounds = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
    static let buckets = 14 // 13 bounds and the rest; then the sum in nanoseconds
    static let histogram = 15
    static let tlsVersions = ["TLSv1.3", "TLSv1.2", "unknown"]

    // Literal offsets (no lazily initialised globals on the request path); `MetricsPiecesTests`
    // checks them against the label lists above.
    static let requestCounters = 48           // authModes × methodClasses × statusClasses
    static let routeHistogram = 48
    static let routeStride = 63               // requestCounters + histogram
    static let upstreamHistogram = 0, upstreamOpened = 15, upstreamClosed = 16
    static let upstreamStride = 17            // histogram + 2

    static let upstreams = 8064               // maxRoutes × routeStride
    static let tls = 9152                     // upstreams + maxUpstreams × upstreamStride
    static let decisions = 9158               // tls + tlsVersions × 2
    static let clients = 9179                 // decisions + DecisionReason.allCases.count
    static let total = 9180

    @inline(__always) static func route(_ slot: Int) -> Int { slot * routeStride }
    @inline(__always) static func upstream(_ slot: Int) -> Int { upstreams + slot * upstreamStride }
    @inline(__always) static func requestIndex(auth: Int, read: Bool, statusClass: Int) -> Int {
        (auth * 2 + (read ? 0 : 1)) * 6 + statusClass
    }

    /// The bucket of a duration: the first bound it does not exceed, or 13 (over 10 s).
    @inline(__always) static func bucket(_ ns: UInt64) -> Int {
        if ns <= 5_000_000 { return ns <= 1_000_000 ? 0 : ns <= 2_500_000 ? 1 : 2 }
        if ns <= 100_000_000 { return ns <= 10_000_000 ? 3 : ns <= 25_000_000 ? 4 : ns <= 50_000_000 ? 5 : 6 }
        if ns <= 1_000_000_000 { return ns <= 250_000_000 ? 7 : ns <= 500_000_000 ? 8 : 9 }
        return ns <= 2_500_000_000 ? 10 : ns <= 5_000_000_000 ? 11 : ns <= 10_000_000_000 ? 12 : 13
    }
}
