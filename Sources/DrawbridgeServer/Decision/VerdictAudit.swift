import DrawbridgeDecision

extension Verdict {
    /// Whether the audit log records this verdict (a refused credential, a denial, an allowed
    /// sensitive or owner-override request). Most requests are not audited: checked first, so
    /// they build no record.
    var isAudited: Bool {
        switch self {
        case .forward(let plan): return plan.audit != nil
        case .unauthenticated(_, let r): return r != nil
        case .denied: return true
        case .gatewayEndpoint, .addSlash, .notFound: return false
        }
    }
}

/// The audit records a verdict calls for, written by the caller of `decide` (which logs nothing).
extension AuditLog {
    /// `client`, `requestId`: the fields every record of a request ends with.
    func record(_ verdict: Verdict, _ request: RequestView, client: String, requestId: String) {
        guard enabled else { return }
        let tail: [(String, String?)] = [("client", client), ("request_id", requestId)]
        switch verdict {
        case .forward(let plan):
            guard let a = plan.audit else { return }
            decision("access_allowed", plan.route, plan.identity, request, rule: a.rule, reason: a.reason, tail)
        case .unauthenticated(_, let r?):
            record("credential_rejected", [("kind", r.kind), ("subject", r.subject.isEmpty ? nil : r.subject), ("reason", r.reason)] + tail)
        case .denied(let r):
            decision("access_denied", r.route, r.identity, request, rule: r.ruleText(method: request.methodText),
                     reason: r.denial.reason.description, tail)
        case .unauthenticated(_, nil), .gatewayEndpoint, .addSlash, .notFound:
            return
        }
    }

    private func decision(_ event: String, _ route: CompiledRoute, _ identity: RequestIdentity?, _ request: RequestView,
                          rule: String, reason: String, _ tail: [(String, String?)]) {
        var user: String?, org: String?, key: String?
        switch identity {
        case .user(let i)?: user = i.userId; org = i.orgId
        case .apiKey(let k)?: key = k.keyId; org = k.orgId
        case nil: break
        }
        record(event, [("user", user), ("api_key", key), ("org", org), ("method", request.methodText), ("path", request.pathText),
                       ("route", route.label), ("rule", rule.isEmpty ? nil : rule), ("reason", reason)] + tail)
    }
}
