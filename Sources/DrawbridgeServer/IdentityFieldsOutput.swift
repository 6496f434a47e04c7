import DrawbridgeDecision

/// The identity fields written into the upstream request head.
extension IdentityFields {
    static func append(_ identity: RequestIdentity, to ob: IOBuffer) {
        switch identity {
        case .user(let s):
            ob.append(s.upstreamFields) // rendered once per session (see AuthenticatedSession)
        case .apiKey(let k):
            ob.append(k.upstreamFields) // rendered once per verified key (see AuthenticatedAPIKey)
        }
    }

    /// The identity fields for `route`: pseudonymous when it says so, else the full ones.
    static func append(_ identity: RequestIdentity, route: CompiledRoute, pseudonyms: inout PseudonymCache, to ob: IOBuffer) {
        guard let p = route.pseudonymizer else { append(identity, to: ob); return }
        pseudonyms.fields(identity, p).withUnsafeBytes { ob.append($0) }
    }
}
