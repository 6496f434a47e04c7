import DrawbridgeDecision

/// An open tunnel is held to the rules its upgrade request was judged by. After the 101 the
/// gateway sees no more requests on the connection, so the worker's sweep (five times a second)
/// judges the upgrade request again, with `decide` as if it came now: against the current
/// snapshot (a reload that removed or changed the route, a disabled user, an org's mode change,
/// a policy change) and the current sign-out list (a revoked key, a signed-out session), at the
/// current time (an expired session or key). A verdict other than forwarding to the same
/// destination ends the tunnel: a revoked credential must not keep a WebSocket open for hours.
extension ClientConnection {
    /// At most once a second, unless the snapshot or the sign-out list changed (then at once).
    func rejudgeTunnel() {
        guard let plan else { return }
        let current = worker.snapshot
        let revocations = worker.revocations // adopts a newly published list first
        let changed = current.generation != tunnelJudged.snapshot || worker.revocationGeneration != tunnelJudged.revocations
        guard changed || worker.now &- tunnelJudged.at >= 1_000_000_000 else { return }
        tunnelJudged = (current.generation, worker.revocationGeneration, worker.now)
        let verdict = decide(request, current.decision, credentials: revocations, now: worker.wallClock)
        if case .forward(let p) = verdict, p.route.sameDestination(as: plan.route) { return }
        if worker.services.audit.enabled {
            worker.services.audit.record("tunnel_closed", [("route", plan.route.label), ("reason", Self.reason(verdict)),
                                                           ("client", clientAddress), ("request_id", requestId.text)])
        }
        abortBoth()
    }

    private static func reason(_ v: Verdict) -> String {
        switch v {
        case .forward: return "route changed by a reload"
        case .notFound, .addSlash, .gatewayEndpoint: return "route removed by a reload"
        case .unauthenticated: return "credential no longer valid"
        case .denied: return "denied by the policy now"
        }
    }
}

extension CompiledRoute {
    /// Whether a request decided on `other` (maybe of an earlier snapshot) would go to the same
    /// place the same way: the same route configuration and the same upstream servers.
    func sameDestination(as other: CompiledRoute) -> Bool {
        self === other || (config == other.config && upstream.name == other.upstream.name && upstream.labels == other.upstream.labels)
    }
}
