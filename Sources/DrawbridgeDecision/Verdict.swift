import DrawbridgeHTTP
import DrawbridgePolicy

/// The one decision about a request (`decide`): where it goes and what is added and removed on
/// the way, or how the gateway answers it instead. A value: the caller writes the audit record
/// and the access-log line from it, and executes it.
public enum Verdict {
    /// Forward to the route's upstream with this plan.
    case forward(ForwardPlan)
    /// One of the gateway's own endpoints (`/.drawbridge/…`: sign-in pages, JWKS).
    case gatewayEndpoint
    /// `/admin` of an `/admin/` route: 301 (GET, HEAD) or 308 (other methods keep their body).
    case addSlash(status: Int)
    /// No route, or a protected route without an auth section: nothing is forwarded by default.
    /// `alwaysClose`: close even when no request body is pending.
    case notFound(alwaysClose: Bool)
    /// No usable credential: a browser is sent to sign in, an API client gets 401.
    /// `route`: the protected route asked for (refusals count on their route); `rejected`: a
    /// credential was presented and refused (for the audit record).
    case unauthenticated(route: CompiledRoute, rejected: Rejection?)
    /// The credential checked out but the policy refused.
    case denied(Refusal)

    /// A refused credential, for the audit record only (the client learns nothing of the reason).
    public struct Rejection: Equatable {
        public let reason: String, kind: String, subject: String
    }

    /// A policy refusal: 401 (answered like `unauthenticated`), a step-up to a second factor, or 403.
    public struct Refusal {
        public let route: CompiledRoute
        public let identity: RequestIdentity
        public let denial: Denial
    }
}

/// How a request is forwarded: the upstream handle (`route.upstream`), the fields removed
/// (`route.protectedFields`, hop-by-hop and gateway cookies) and added (the routing host, framing,
/// X-Forwarded-*, the identity fields, the route's upstream credential, the assertion for
/// `route.audience`). Three references: copied on every forwarded request, so kept cheap.
public struct ForwardPlan {
    public let route: CompiledRoute
    /// Who the request is from (protected routes): the identity fields and the signed assertion.
    public let identity: RequestIdentity?
    /// What only some requests carry (nil on most: no allocation for them).
    let extras: Extras?

    public var renewedSession: String? { extras?.renewedSession }
    public var audit: AllowedAudit? { extras?.audit }

    public final class Extras {
        /// A re-sealed session cookie to send with the response (sliding idle window).
        let renewedSession: String?
        /// An allowed decision the audit log records (sensitive permission, owner override).
        let audit: AllowedAudit?
        init(renewedSession: String?, audit: AllowedAudit?) {
            self.renewedSession = renewedSession
            self.audit = audit
        }
    }

    public struct AllowedAudit: Equatable {
        public let rule: String, viaOwnerOverride: Bool
        public var reason: String { viaOwnerOverride ? "owner override" : "allowed" }
    }

    init(route: CompiledRoute, identity: RequestIdentity?, renewedSession: String? = nil, audit: AllowedAudit? = nil) {
        self.route = route
        self.identity = identity
        extras = renewedSession == nil && audit == nil ? nil : Extras(renewedSession: renewedSession, audit: audit)
    }
}

extension Verdict {
    /// The route the verdict was reached on (nil: none matched, a gateway endpoint, a slash
    /// redirect), for the request counters.
    public var route: CompiledRoute? {
        switch self {
        case .forward(let p): return p.route
        case .unauthenticated(let route, _): return route
        case .denied(let r): return r.route
        case .gatewayEndpoint, .addSlash, .notFound: return nil
        }
    }

    /// Who the request is from, when the credential checked out.
    public var identity: RequestIdentity? {
        switch self {
        case .forward(let p): return p.identity
        case .denied(let r): return r.identity
        case .unauthenticated, .gatewayEndpoint, .addSlash, .notFound: return nil
        }
    }
}
