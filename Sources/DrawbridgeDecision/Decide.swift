import DrawbridgeConfig
import DrawbridgeHTTP
import DrawbridgePolicy

/// What `decide` reads of a snapshot: the route table, the compiled routes, identity and the
/// compiled policy. Immutable; one per snapshot (built without TLS or sockets, so tests build it
/// from a configuration alone).
public final class DecisionTable {
    let routeTable: RouteTable
    /// In configuration order; `routeTable` matches indices into it.
    let routes: [CompiledRoute]
    /// nil: the configuration has no auth section (every route is public).
    let auth: AuthRuntime?
    let policy: PolicySnapshot

    public init(routeTable: RouteTable, routes: [CompiledRoute], auth: AuthRuntime?, policy: PolicySnapshot) {
        self.routeTable = routeTable
        self.routes = routes
        self.auth = auth
        self.policy = policy
    }
}

/// The one decision about a request: route → credential (with the mode cut-offs) → policy → the
/// rewrite plan. Pure in what it decides: no I/O, no logging, no clock (`now` is an argument,
/// evaluated only for a protected route).
/// The credential check goes through `credentials` (the sign-out list as this worker sees it and
/// its memo of opened session cookies and verified keys, which it may fill), taken only for a
/// protected route. Called for every HTTP/1 request and
/// callable from a forward-auth endpoint or an HTTP/2 stream with the same view.
public func decide(_ request: RequestView, _ table: DecisionTable, credentials: @autoclosure () -> Revocations,
                                     now clock: @autoclosure () -> UInt64) -> Verdict {
    if request.isGatewayPath { return .gatewayEndpoint }
    let match = request.head.bytes.withUnsafeBytes { raw in
        request.routing.withName(raw) { host in
            request.target.withUnsafeBytes { p in
                // OPTIONS * is answered by the host's root route.
                let isAsterisk = request.pathLength == 1 && p[0] == UInt8(ascii: "*")
                return table.routeTable.lookup(host: host, path: UnsafeRawBufferPointer(rebasing: p[0..<(isAsterisk ? 0 : request.pathLength)]))
            }
        }
    }
    let route: CompiledRoute
    switch match {
    case .none: return .notFound(alwaysClose: false) // no route: nothing is forwarded by default
    case .addSlash: return .addSlash(status: request.isMethod("get") || request.isMethod("head") ? 301 : 308) // decided by that route, never by a shorter one
    case .route(let index): route = table.routes[index]
    }
    if route.isPublic {
        return .forward(ForwardPlan(route: route, identity: nil))
    }
    // Deny by default: a protected route is forwarded only with a credential that checks out now.
    guard let auth = table.auth else { return .notFound(alwaysClose: true) }
    let now = clock()
    let identity: RequestIdentity, renewal: String?
    switch Authenticator.authenticate(request, auth: auth, revocations: credentials(), now: now) {
    case .user(let i, let r): identity = .user(i); renewal = r
    case .apiKey(let k): identity = .apiKey(k); renewal = nil
    case .missing: return .unauthenticated(route: route, rejected: nil)
    case .rejected(let reason, let kind, let subject):
        return .unauthenticated(route: route, rejected: Verdict.Rejection(reason: reason, kind: kind, subject: subject))
    }
    // Authorised on the path exactly as the upstream will receive it.
    func check(_ credential: Credential) -> Check {
        request.head.bytes.withUnsafeBytes { h in
            request.target.withUnsafeBytes { t in
                table.policy.check(route: route.policyRule, method: UnsafeRawBufferPointer(rebasing: h[request.head.method]),
                                   path: UnsafeRawBufferPointer(rebasing: t[0..<request.pathLength]),
                                   query: UnsafeRawBufferPointer(rebasing: t[request.pathLength...]),
                                   credential: credential, now: now)
            }
        }
    }
    // The credentials rendered once per verified key or opened session: passed, not copied.
    let decision: Check
    switch identity {
    case .user(let i): decision = check(i.credential)
    case .apiKey(let k): decision = check(k.credential)
    }
    switch decision {
    case .allow(let grant):
        let audit = grant.sensitive || grant.viaOwnerOverride
            ? ForwardPlan.AllowedAudit(rule: table.policy.permissionName(grant) ?? "", viaOwnerOverride: grant.viaOwnerOverride) : nil
        // The assertion's audience is the route's (`CompiledRoute.audience`, the grant's too).
        return .forward(ForwardPlan(route: route, identity: identity, renewedSession: renewal, audit: audit))
    case .deny(let d):
        return .denied(Verdict.Refusal(route: route, identity: identity, denial: d))
    }
}

extension Verdict.Refusal {
    /// The rule that judged a denied request, for the audit log (off the allowed path).
    public func ruleText(method: String) -> String {
        guard let access = route.config.access else { return "no access rule" }
        var text = "\(method) needs " + (access.methods[method] ?? access.methods["*"] ?? "(method not allowed)")
        if let bind = access.bind { text += " on \(bind.text)" }
        if access.mfa { text += " with MFA" }
        return text
    }
}
